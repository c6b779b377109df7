//! Meta's subscription handshake: `GET ?hub.mode=subscribe&hub.verify_token=..&hub.challenge=..`.

use handoffd_contract::webhook::Handshake;
use subtle::ConstantTimeEq;

/// Answer the handshake in `query` (the raw query string, URL-encoded, without `?`).
pub fn answer(query: &str, verify_token: &str) -> Handshake {
    let mut mode = None;
    let mut token = None;
    let mut challenge = None;
    let mut saw_hub = false;
    for (key, value) in url::form_urlencoded::parse(query.as_bytes()) {
        match key.as_ref() {
            "hub.mode" => mode = Some(value.into_owned()),
            "hub.verify_token" => token = Some(value.into_owned()),
            "hub.challenge" => challenge = Some(value.into_owned()),
            other if other.starts_with("hub.") => {}
            _ => continue,
        }
        saw_hub = true;
    }
    if !saw_hub {
        return Handshake::NotAHandshake;
    }
    // An unset token must never match an empty one.
    let token_matches = !verify_token.is_empty()
        && token.is_some_and(|token| bool::from(token.as_bytes().ct_eq(verify_token.as_bytes())));
    match (mode.as_deref(), challenge) {
        (Some("subscribe"), Some(challenge)) if token_matches => Handshake::Accept(challenge),
        _ => Handshake::Forbidden,
    }
}
