//! A customer's consent to be messaged: a message that is only STOP (or one of its usual spellings) opts the
//! customer out of confirmations; START opts back in. WhatsApp users send these words as they are, and so do
//! the quick replies businesses offer; a sentence that merely contains "stop" is no opt-out.

/// What a customer's message says about consent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Consent {
    OptOut,
    OptIn,
}

const OPT_OUT: &[&str] = &["stop", "stop all", "unsubscribe", "opt out", "optout", "opt-out", "cancel messages"];
const OPT_IN: &[&str] = &["start", "unstop", "subscribe", "opt in", "opt-in"];

/// Whether a customer's message text is an opt-out or an opt-in keyword (whole message, any case, trailing
/// punctuation ignored).
pub fn consent_in(text: &str) -> Option<Consent> {
    let words = text.trim().trim_end_matches(['.', '!']).trim().to_lowercase();
    if OPT_OUT.contains(&words.as_str()) {
        Some(Consent::OptOut)
    } else if OPT_IN.contains(&words.as_str()) {
        Some(Consent::OptIn)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_keyword_on_its_own_changes_consent() {
        assert_eq!(consent_in("STOP"), Some(Consent::OptOut));
        assert_eq!(consent_in("  Unsubscribe! "), Some(Consent::OptOut));
        assert_eq!(consent_in("start"), Some(Consent::OptIn));
        assert_eq!(consent_in("please stop calling me at work"), None);
        assert_eq!(consent_in("Stop by Saturday?"), None);
        assert_eq!(consent_in(""), None);
    }
}
