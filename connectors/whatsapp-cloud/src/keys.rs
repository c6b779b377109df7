//! Identity keys of a WhatsApp user, as the connector saw them (no normalisation here).

use handoffd_contract::identity::IdentityKey;

/// Vendor-key system for a `wa_id` (the digits of the user's number, no `+`).
pub const WHATSAPP: &str = "whatsapp";
/// Vendor-key system for a business-scoped user id (`US.1349...`), which a user may have with
/// no phone number at all.
pub const WHATSAPP_BSUID: &str = "whatsapp_bsuid";

/// Keys for a user known by a `wa_id` (or an E.164 `to`) and/or a business-scoped user id.
///
/// A `wa_id` always carries its country code, so it is reported as `+<digits>`; a value that
/// is not a phone number (a BSUID passed as `to`, a group id) gets no phone key.
pub fn user_keys(wa_id: Option<&str>, user_id: Option<&str>) -> Vec<IdentityKey> {
    let mut keys = Vec::new();
    if let Some(raw) = wa_id.map(str::trim).filter(|s| !s.is_empty()) {
        let digits = raw.strip_prefix('+').unwrap_or(raw);
        if is_phone_digits(digits) {
            keys.push(IdentityKey::phone(format!("+{digits}")));
            keys.push(IdentityKey::vendor(WHATSAPP, digits));
        } else if looks_like_bsuid(raw) {
            keys.push(IdentityKey::vendor(WHATSAPP_BSUID, raw));
        } else {
            keys.push(IdentityKey::vendor(WHATSAPP, raw));
        }
    }
    if let Some(user_id) = user_id.map(str::trim).filter(|s| !s.is_empty()) {
        let key = IdentityKey::vendor(WHATSAPP_BSUID, user_id);
        if !keys.contains(&key) {
            keys.push(key);
        }
    }
    keys
}

/// Add `more` to `keys`, skipping any already there (order kept: first seen first).
pub fn merge(keys: &mut Vec<IdentityKey>, more: Vec<IdentityKey>) {
    for key in more {
        if !keys.contains(&key) {
            keys.push(key);
        }
    }
}

fn is_phone_digits(value: &str) -> bool {
    (5..=15).contains(&value.len()) && value.bytes().all(|b| b.is_ascii_digit())
}

/// BSUIDs start with an ISO 3166 alpha-2 code and a dot (`US.13491208655302741918`).
fn looks_like_bsuid(value: &str) -> bool {
    let bytes = value.as_bytes();
    bytes.len() > 3 && bytes[0].is_ascii_uppercase() && bytes[1].is_ascii_uppercase() && bytes[2] == b'.'
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_wa_id_gives_a_phone_and_a_vendor_key() {
        assert_eq!(
            user_keys(Some("919820012345"), None),
            vec![IdentityKey::phone("+919820012345"), IdentityKey::vendor("whatsapp", "919820012345")]
        );
        assert_eq!(user_keys(Some("+919820012345"), None), user_keys(Some("919820012345"), None));
    }

    #[test]
    fn a_user_with_only_a_bsuid_has_no_phone_key() {
        assert_eq!(user_keys(None, Some("IN.778899")), vec![IdentityKey::vendor("whatsapp_bsuid", "IN.778899")]);
        assert_eq!(user_keys(Some("IN.778899"), None), vec![IdentityKey::vendor("whatsapp_bsuid", "IN.778899")]);
    }

    #[test]
    fn an_id_that_is_not_a_phone_stays_a_vendor_key() {
        assert_eq!(user_keys(Some("grp-42"), None), vec![IdentityKey::vendor("whatsapp", "grp-42")]);
        assert!(user_keys(Some("  "), Some("")).is_empty());
    }
}
