//! An in-memory resolver from match key to customer.
//!
//! Layout, chosen for millions of keys in little memory: the key strings live back to back in
//! one byte arena; `entries` holds, per key, its 64-bit hash, where its bytes are and its
//! customer (24 bytes); `slots` is an open-addressing table (linear probing) of `u32` entry
//! numbers. A lookup compares the full hash first and then the key bytes, so two keys whose
//! hashes collide never answer for each other.

use std::hash::{BuildHasher, RandomState};

use super::CustomerId;

/// What the index knows about the keys of one interaction.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Resolution {
    /// No key is known.
    Unknown,
    /// Every known key belongs to this customer.
    One(CustomerId),
    /// The keys belong to several customers (in the order their keys came): evidence that links
    /// them. [`IdentityIndex::matches`] says which key pointed where.
    Several(Vec<CustomerId>),
}

/// One key and the customer it belongs to, if any.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyMatch {
    pub key: String,
    pub customer: Option<CustomerId>,
}

#[derive(Clone, Copy, Debug)]
struct Entry {
    hash: u64,
    key_start: u32,
    key_len: u32,
    customer: CustomerId,
}

/// Slot value for "empty"; other values are entry number + 1.
const EMPTY: u32 = 0;

/// Below this many dead arena bytes, compaction is not worth a pass.
const MIN_DEAD_BYTES_TO_COMPACT: usize = 1 << 16;

/// Match key -> customer, compact. See the module documentation for the layout.
#[derive(Clone)]
pub struct IdentityIndex {
    /// Seeded per process, so nobody can choose keys that pile onto one probe chain.
    hasher: RandomState,
    slots: Vec<u32>,
    entries: Vec<Entry>,
    key_bytes: Vec<u8>,
    /// Arena bytes of removed keys, reclaimed once they outweigh the live ones.
    dead_key_bytes: usize,
}

impl std::fmt::Debug for IdentityIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IdentityIndex")
            .field("keys", &self.entries.len())
            .field("memory_bytes", &self.memory_bytes())
            .finish()
    }
}

impl Default for IdentityIndex {
    fn default() -> Self {
        Self::new()
    }
}

impl IdentityIndex {
    pub fn new() -> Self {
        Self::with_capacity(0, 0)
    }

    /// Room for `keys` keys totalling `key_bytes` bytes without growing (e.g. at start-up,
    /// from the store's counts).
    pub fn with_capacity(keys: usize, key_bytes: usize) -> Self {
        Self {
            hasher: RandomState::new(),
            slots: vec![EMPTY; slot_count_for(keys)],
            entries: Vec::with_capacity(keys),
            key_bytes: Vec::with_capacity(key_bytes),
            dead_key_bytes: 0,
        }
    }

    /// Number of keys held.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Heap bytes the index holds (capacity, not just what is used).
    pub fn memory_bytes(&self) -> usize {
        self.slots.capacity() * size_of::<u32>()
            + self.entries.capacity() * size_of::<Entry>()
            + self.key_bytes.capacity()
    }

    /// Gives back the spare capacity of the growable parts (after a bulk load).
    pub fn shrink_to_fit(&mut self) {
        self.entries.shrink_to_fit();
        self.key_bytes.shrink_to_fit();
    }

    /// Binds `key` to `customer`; returns the customer it was bound to before, if any.
    pub fn insert(&mut self, key: &str, customer: CustomerId) -> Option<CustomerId> {
        let hash = self.hasher.hash_one(key.as_bytes());
        match self.find(hash, key) {
            Found::Entry { entry, .. } => {
                let previous = self.entries[entry].customer;
                self.entries[entry].customer = customer;
                Some(previous)
            }
            Found::Vacant(_) => {
                if (self.entries.len() + 1) * 4 > self.slots.len() * 3 {
                    self.grow();
                }
                let Found::Vacant(slot) = self.find(hash, key) else {
                    unreachable!("a key absent before growing is absent after");
                };
                let key_start = u32::try_from(self.key_bytes.len()).expect("identity index arena exceeds 4 GiB");
                let key_len = u32::try_from(key.len()).expect("identity key longer than 4 GiB");
                self.key_bytes.extend_from_slice(key.as_bytes());
                self.entries.push(Entry { hash, key_start, key_len, customer });
                self.slots[slot] = entry_slot_value(self.entries.len() - 1);
                None
            }
        }
    }

    /// The customer `key` is bound to.
    pub fn get(&self, key: &str) -> Option<CustomerId> {
        match self.find(self.hasher.hash_one(key.as_bytes()), key) {
            Found::Entry { entry, .. } => Some(self.entries[entry].customer),
            Found::Vacant(_) => None,
        }
    }

    /// Unbinds `key`; returns the customer it was bound to.
    pub fn remove(&mut self, key: &str) -> Option<CustomerId> {
        let Found::Entry { slot, entry } = self.find(self.hasher.hash_one(key.as_bytes()), key) else {
            return None;
        };
        let removed = self.entries[entry];
        self.clear_slot(slot);
        self.dead_key_bytes += removed.key_len as usize;
        let last = self.entries.len() - 1;
        self.entries.swap_remove(entry);
        if entry != last {
            // The former last entry now lives at `entry`: repoint its slot.
            let moved_slot = self.slot_holding(self.entries[entry].hash, last);
            self.slots[moved_slot] = entry_slot_value(entry);
        }
        if self.dead_key_bytes > MIN_DEAD_BYTES_TO_COMPACT && self.dead_key_bytes > self.key_bytes.len() / 2 {
            self.compact_arena();
        }
        Some(removed.customer)
    }

    /// Binds every key in `keys` to `customer` (a merge, a split, a changed number).
    pub fn reassign<K: AsRef<str>>(&mut self, keys: &[K], customer: CustomerId) {
        for key in keys {
            self.insert(key.as_ref(), customer);
        }
    }

    /// The keys bound to `customer`. Scans the whole index: for merges and tools, not the hot path.
    pub fn keys_of(&self, customer: CustomerId) -> Vec<String> {
        self.entries.iter().filter(|e| e.customer == customer).map(|e| self.key_str(e).to_owned()).collect()
    }

    /// Which customers the keys of one interaction point at.
    pub fn resolve<K: AsRef<str>>(&self, keys: &[K]) -> Resolution {
        let mut found: Vec<CustomerId> = Vec::new();
        for key in keys {
            if let Some(customer) = self.get(key.as_ref())
                && !found.contains(&customer)
            {
                found.push(customer);
            }
        }
        match found.len() {
            0 => Resolution::Unknown,
            1 => Resolution::One(found[0]),
            _ => Resolution::Several(found),
        }
    }

    /// Per key, the customer it points at: the evidence behind a [`Resolution`].
    pub fn matches<K: AsRef<str>>(&self, keys: &[K]) -> Vec<KeyMatch> {
        keys.iter().map(|key| KeyMatch { key: key.as_ref().to_owned(), customer: self.get(key.as_ref()) }).collect()
    }

    fn key_str(&self, entry: &Entry) -> &str {
        let start = entry.key_start as usize;
        // Only whole `&str`s are copied in, at recorded boundaries.
        std::str::from_utf8(&self.key_bytes[start..start + entry.key_len as usize]).unwrap_or_default()
    }

    fn find(&self, hash: u64, key: &str) -> Found {
        let mask = self.slots.len() - 1;
        let mut slot = hash as usize & mask;
        loop {
            let value = self.slots[slot];
            if value == EMPTY {
                return Found::Vacant(slot);
            }
            let entry = value as usize - 1;
            let candidate = &self.entries[entry];
            // The full hash rules out nearly every other key before the bytes are compared.
            if candidate.hash == hash && self.key_str(candidate).as_bytes() == key.as_bytes() {
                return Found::Entry { slot, entry };
            }
            slot = (slot + 1) & mask;
        }
    }

    /// The slot that holds entry number `entry`, whose hash is `hash`.
    fn slot_holding(&self, hash: u64, entry: usize) -> usize {
        let mask = self.slots.len() - 1;
        let mut slot = hash as usize & mask;
        while self.slots[slot] != entry_slot_value(entry) {
            slot = (slot + 1) & mask;
        }
        slot
    }

    /// Backward-shift deletion: keeps every probe chain unbroken without tombstones.
    fn clear_slot(&mut self, mut hole: usize) {
        let mask = self.slots.len() - 1;
        let mut next = (hole + 1) & mask;
        loop {
            let value = self.slots[next];
            if value == EMPTY {
                break;
            }
            let home = self.entries[value as usize - 1].hash as usize & mask;
            // Move it into the hole unless its home lies cyclically after the hole.
            if next.wrapping_sub(home) & mask >= next.wrapping_sub(hole) & mask {
                self.slots[hole] = value;
                hole = next;
            }
            next = (next + 1) & mask;
        }
        self.slots[hole] = EMPTY;
    }

    fn grow(&mut self) {
        let mask = self.slots.len() * 2 - 1;
        let mut slots = vec![EMPTY; self.slots.len() * 2];
        for (number, entry) in self.entries.iter().enumerate() {
            let mut slot = entry.hash as usize & mask;
            while slots[slot] != EMPTY {
                slot = (slot + 1) & mask;
            }
            slots[slot] = entry_slot_value(number);
        }
        self.slots = slots;
    }

    fn compact_arena(&mut self) {
        let mut arena = Vec::with_capacity(self.key_bytes.len() - self.dead_key_bytes);
        for entry in &mut self.entries {
            let start = entry.key_start as usize;
            let new_start = arena.len() as u32;
            arena.extend_from_slice(&self.key_bytes[start..start + entry.key_len as usize]);
            entry.key_start = new_start;
        }
        self.key_bytes = arena;
        self.dead_key_bytes = 0;
    }
}

enum Found {
    Entry { slot: usize, entry: usize },
    Vacant(usize),
}

fn entry_slot_value(entry: usize) -> u32 {
    u32::try_from(entry + 1).expect("identity index holds more than 4 billion keys")
}

/// A power of two that keeps the table at most 3/4 full.
fn slot_count_for(keys: usize) -> usize {
    (keys * 4 / 3 + 1).next_power_of_two().max(16)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn insert_get_and_overwrite() {
        let mut index = IdentityIndex::new();
        assert_eq!(index.insert("phone:+919820012345", CustomerId(1)), None);
        assert_eq!(index.get("phone:+919820012345"), Some(CustomerId(1)));
        assert_eq!(index.insert("phone:+919820012345", CustomerId(2)), Some(CustomerId(1)));
        assert_eq!(index.get("phone:+919820012345"), Some(CustomerId(2)));
        assert_eq!(index.get("phone:+919820012346"), None);
        assert_eq!(index.len(), 1);
    }

    #[test]
    fn resolve_reports_unknown_one_and_several() {
        let mut index = IdentityIndex::new();
        index.insert("phone:+5511987654321", CustomerId(7));
        index.insert("vendor:whatsapp:5511987654321", CustomerId(7));
        index.insert("email:ana@example.com.br", CustomerId(9));
        assert_eq!(index.resolve(&["email:nobody@example.com"]), Resolution::Unknown);
        assert_eq!(
            index.resolve(&["phone:+5511987654321", "vendor:whatsapp:5511987654321", "x"]),
            Resolution::One(CustomerId(7))
        );
        assert_eq!(
            index.resolve(&["email:ana@example.com.br", "phone:+5511987654321"]),
            Resolution::Several(vec![CustomerId(9), CustomerId(7)])
        );
    }

    #[test]
    fn many_inserts_and_removals_stay_consistent() {
        // Against a HashMap model: growth, backward-shift deletion and swap_remove repointing.
        let mut index = IdentityIndex::new();
        let mut model = std::collections::HashMap::new();
        for i in 0..20_000i64 {
            let key = format!("vendor:test:{i}");
            index.insert(&key, CustomerId(i % 97));
            model.insert(key, CustomerId(i % 97));
        }
        let total_bytes: usize = model.keys().map(String::len).sum();
        for i in (0..20_000i64).filter(|i| i % 3 != 0) {
            let key = format!("vendor:test:{i}");
            assert_eq!(index.remove(&key), model.remove(&key));
        }
        assert_eq!(index.remove("vendor:test:1"), None, "already removed");
        assert_eq!(index.len(), model.len());
        for i in 0..20_000i64 {
            let key = format!("vendor:test:{i}");
            assert_eq!(index.get(&key), model.get(&key).copied(), "{key}");
        }
        // The arena was compacted at least once and still reads back right.
        let live_bytes: usize = model.keys().map(String::len).sum();
        assert!(index.key_bytes.len() < total_bytes);
        assert_eq!(index.key_bytes.len(), live_bytes + index.dead_key_bytes);
    }

    #[test]
    fn equal_hashes_do_not_answer_for_each_other() {
        // Force a collision by writing an entry with another key's hash.
        let mut index = IdentityIndex::new();
        index.insert("email:a@b.co", CustomerId(1));
        let hash = index.entries[0].hash;
        index.key_bytes.extend_from_slice(b"email:c@d.co");
        index.entries.push(Entry { hash, key_start: 12, key_len: 12, customer: CustomerId(2) });
        let slot = {
            let mask = index.slots.len() - 1;
            let mut slot = hash as usize & mask;
            while index.slots[slot] != EMPTY {
                slot = (slot + 1) & mask;
            }
            slot
        };
        index.slots[slot] = 2;
        assert_eq!(index.get("email:a@b.co"), Some(CustomerId(1)));
        assert!(index.find(hash, "email:c@d.co").is_entry());
        assert!(!index.find(hash, "email:e@f.co").is_entry());
    }

    impl Found {
        fn is_entry(&self) -> bool {
            matches!(self, Found::Entry { .. })
        }
    }
}
