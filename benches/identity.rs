//! Resolve latency and memory of the identity index at 1,000,000 identities.
//!
//! Run: `cargo bench --bench identity` (prints figures; no harness). Each identity is one
//! match key of the mix the daemon sees (phones, emails, WhatsApp user ids), two per customer.

use std::hint::black_box;
use std::time::{Duration, Instant};

use handoffd::identity::{CustomerId, IdentityIndex, Resolution};

const IDENTITIES: u64 = 1_000_000;
const QUERIES: usize = 200_000;

/// The key of identity `i`: 60% phones, 25% emails, 15% WhatsApp business-scoped ids.
fn key(i: u64) -> String {
    match i % 20 {
        0..12 => format!("phone:+91{}", 7_000_000_000 + i * 2_711 % 2_999_999_999),
        12..17 => format!("email:customer.{i}@example{}.com", i % 97),
        _ => format!("vendor:whatsapp_bsuid:IN.{:016x}", i.wrapping_mul(0x9e37_79b9_7f4a_7c15)),
    }
}

/// splitmix64: spreads queries over the whole index so caches do not flatter the figures.
fn next(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

fn resident_bytes() -> Option<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages * 4096)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn report(name: &str, mut samples: Vec<Duration>) {
    samples.sort_unstable();
    let mean = samples.iter().sum::<Duration>() / samples.len() as u32;
    println!(
        "{name:<36} median {:>6} ns  p99 {:>6} ns  mean {:>6} ns  (n = {})",
        percentile(&samples, 0.5).as_nanos(),
        percentile(&samples, 0.99).as_nanos(),
        mean.as_nanos(),
        samples.len()
    );
}

fn main() {
    let rss_before = resident_bytes();
    let started = Instant::now();
    let mut index = IdentityIndex::new();
    let mut key_bytes = 0usize;
    for i in 0..IDENTITIES {
        let key = key(i);
        key_bytes += key.len();
        index.insert(&key, CustomerId((i / 2) as i64));
    }
    let build = started.elapsed();
    let grown_bytes = index.memory_bytes();
    index.shrink_to_fit();
    let rss_after = resident_bytes();
    println!("identities: {}  customers: {}  built in {build:.2?}", index.len(), IDENTITIES / 2);
    println!(
        "index memory: {} bytes = {:.1} bytes per identity (of which key text {:.1}); {:.1} before shrink_to_fit",
        index.memory_bytes(),
        index.memory_bytes() as f64 / IDENTITIES as f64,
        key_bytes as f64 / IDENTITIES as f64,
        grown_bytes as f64 / IDENTITIES as f64,
    );
    if let (Some(before), Some(after)) = (rss_before, rss_after) {
        println!(
            "resident set growth (/proc/self/statm): {:.1} bytes per identity",
            after.saturating_sub(before) as f64 / IDENTITIES as f64
        );
    }

    // An inbound WhatsApp message: a known phone plus a user id the index has not seen.
    let mut state = 42;
    let interactions: Vec<[String; 2]> = (0..QUERIES)
        .map(|_| {
            let i = next(&mut state) % IDENTITIES;
            [key(i), format!("vendor:whatsapp_bsuid:IN.new{i}")]
        })
        .collect();
    let mut samples = Vec::with_capacity(QUERIES);
    let mut found = 0usize;
    for keys in &interactions {
        let t = Instant::now();
        let resolution = black_box(index.resolve(black_box(keys)));
        samples.push(t.elapsed());
        found += usize::from(matches!(resolution, Resolution::One(_)));
    }
    assert_eq!(found, QUERIES, "every known key must resolve");
    report("resolve(known key + unknown key)", samples);

    let unknown: Vec<[String; 1]> = (0..QUERIES).map(|n| [format!("phone:+55119{:08}", n)]).collect();
    let mut samples = Vec::with_capacity(QUERIES);
    for keys in &unknown {
        let t = Instant::now();
        let resolution = black_box(index.resolve(black_box(keys)));
        samples.push(t.elapsed());
        assert_eq!(resolution, Resolution::Unknown);
    }
    report("resolve(one unknown key)", samples);

    // Two customers' keys in one interaction: the evidence for a merge.
    let linking: Vec<[String; 2]> =
        (0..QUERIES).map(|_| [key(next(&mut state) % IDENTITIES), key(next(&mut state) % IDENTITIES)]).collect();
    let mut samples = Vec::with_capacity(QUERIES);
    for keys in &linking {
        let t = Instant::now();
        black_box(index.resolve(black_box(keys)));
        samples.push(t.elapsed());
    }
    report("resolve(keys of two customers)", samples);
}
