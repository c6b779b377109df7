//! Canonical identity keys and the match keys under which they join.
//!
//! Key strings have one of four prefixes, and the store persists them as they are:
//! `phone:+<E.164>`, `phone_raw:<digits as written>` (a phone we could not read),
//! `email:<lowercased>` and `vendor:<system>:<id>`.

use handoffd_contract::identity::IdentityKey;

use super::phone;

/// One identity key in canonical form.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct NormalizedKey {
    /// The key's one canonical string, e.g. `phone:+919820012345`, `email:a@b.com`,
    /// `vendor:whatsapp:919820012345`, or `phone_raw:12345` for a phone we could not read.
    pub canonical: String,
    /// Every string under which this key must match others (the canonical one first). Empty
    /// when the key must never link anyone (a withheld caller id, an empty value).
    pub match_keys: Vec<String>,
    /// The value as the connector reported it, kept when the phone could not be parsed.
    pub raw: Option<String>,
    /// Why the key is not a clean canonical key, in a sentence the brief can show.
    pub problem: Option<String>,
}

impl NormalizedKey {
    /// A clean key that matches under its canonical string only.
    pub(crate) fn clean(canonical: String) -> Self {
        Self { match_keys: vec![canonical.clone()], canonical, raw: None, problem: None }
    }

    /// The E.164 number when this is a parsed phone.
    pub fn e164(&self) -> Option<&str> {
        self.canonical.strip_prefix(PHONE_PREFIX)
    }

    /// The email address when this is an email key.
    pub fn email(&self) -> Option<&str> {
        self.canonical.strip_prefix(EMAIL_PREFIX)
    }

    /// Whether this key came from a phone we could not read.
    pub fn is_raw_phone(&self) -> bool {
        self.canonical.starts_with(PHONE_RAW_PREFIX)
    }
}

pub const PHONE_PREFIX: &str = "phone:";
pub const PHONE_RAW_PREFIX: &str = "phone_raw:";
pub const EMAIL_PREFIX: &str = "email:";
pub const VENDOR_PREFIX: &str = "vendor:";

/// Whether a match key is weak evidence: a raw phone matches by its exact spelling only, so it
/// may attach an interaction to a customer but never merges two customers on its own.
pub fn is_weak_match_key(key: &str) -> bool {
    key.starts_with(PHONE_RAW_PREFIX)
}

/// Normalises one key. `default_region` is the connector's ISO 3166 region (`IN`, `BR`, ...)
/// used for phones written without a country code. Never panics, never drops a key.
pub fn normalize(key: &IdentityKey, default_region: Option<&str>) -> NormalizedKey {
    match key {
        IdentityKey::Phone { value } => phone::normalize_phone(value, default_region),
        IdentityKey::Email { value } => normalize_email(value),
        IdentityKey::Vendor { system, id } => normalize_vendor(system, id),
    }
}

/// Normalises every key of one interaction, dropping exact duplicates (same canonical key).
pub fn normalize_all(keys: &[IdentityKey], default_region: Option<&str>) -> Vec<NormalizedKey> {
    let mut out: Vec<NormalizedKey> = Vec::with_capacity(keys.len());
    for key in keys {
        let normalized = normalize(key, default_region);
        if !out.iter().any(|seen| seen.canonical == normalized.canonical) {
            out.push(normalized);
        }
    }
    out
}

/// The distinct match keys of several normalised keys, in order.
pub fn match_keys_of(keys: &[NormalizedKey]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for key in keys.iter().flat_map(|k| &k.match_keys) {
        if !out.contains(key) {
            out.push(key.clone());
        }
    }
    out
}

fn normalize_email(value: &str) -> NormalizedKey {
    let mut address = value.trim();
    // "Name <a@b.com>" as some CRMs and mail headers write it: the address is inside the brackets.
    if let (Some(open), Some(close)) = (address.rfind('<'), address.rfind('>'))
        && open < close
    {
        address = address[open + 1..close].trim();
    }
    // `mailto:` links pasted into CRM fields.
    if let Some(scheme) = address.get(..7)
        && scheme.eq_ignore_ascii_case("mailto:")
    {
        address = address[7..].trim();
    }
    let address = address.to_lowercase();
    let canonical = format!("{EMAIL_PREFIX}{address}");
    let looks_valid = match address.split_once('@') {
        Some((local, domain)) => {
            !local.is_empty() && domain.contains('.') && !domain.contains('@') && !address.contains(char::is_whitespace)
        }
        None => false,
    };
    if looks_valid {
        return NormalizedKey::clean(canonical);
    }
    // A malformed address still matches itself exactly (it identifies someone in that CRM),
    // but an empty one must not link everyone who left the field blank.
    NormalizedKey {
        match_keys: if address.is_empty() { Vec::new() } else { vec![canonical.clone()] },
        canonical,
        raw: Some(value.to_owned()),
        problem: Some(format!("'{}' does not look like an email address", value.trim())),
    }
}

fn normalize_vendor(system: &str, id: &str) -> NormalizedKey {
    // Systems are config names (case carries no meaning); ids are the vendor's, kept exact
    // (WhatsApp business-scoped user ids are case-sensitive).
    let system = system.trim().to_ascii_lowercase();
    let id = id.trim();
    let canonical = format!("{VENDOR_PREFIX}{system}:{id}");
    if id.is_empty() || system.is_empty() {
        return NormalizedKey {
            canonical,
            match_keys: Vec::new(),
            raw: None,
            problem: Some(format!("empty vendor id for system '{system}'")),
        };
    }
    NormalizedKey::clean(canonical)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn email_is_trimmed_lowercased_and_unwrapped() {
        let key = normalize(&IdentityKey::email("  Priya Shah <Priya.Shah@Example.COM> "), None);
        assert_eq!(key.canonical, "email:priya.shah@example.com");
        assert_eq!(key.match_keys, vec!["email:priya.shah@example.com"]);
        assert_eq!(key.problem, None);
        let key = normalize(&IdentityKey::email("MAILTO:a@b.co"), None);
        assert_eq!(key.canonical, "email:a@b.co");
    }

    #[test]
    fn malformed_and_empty_emails_are_flagged() {
        let key = normalize(&IdentityKey::email("priya at example"), None);
        assert!(key.problem.is_some());
        assert_eq!(key.match_keys, vec!["email:priya at example"]);
        let key = normalize(&IdentityKey::email("   "), None);
        assert!(key.match_keys.is_empty());
    }

    #[test]
    fn vendor_keys_keep_the_id_exact() {
        let key = normalize(&IdentityKey::vendor("WhatsApp_BSUID", " BR.1aBc "), None);
        assert_eq!(key.canonical, "vendor:whatsapp_bsuid:BR.1aBc");
        let key = normalize(&IdentityKey::vendor("vapi", ""), None);
        assert!(key.match_keys.is_empty());
        assert!(key.problem.is_some());
    }

    #[test]
    fn normalize_all_drops_duplicates() {
        let keys = [IdentityKey::phone("+91 98200 12345"), IdentityKey::phone("09820012345")];
        assert_eq!(normalize_all(&keys, Some("IN")).len(), 1);
    }
}
