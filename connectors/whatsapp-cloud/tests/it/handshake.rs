use handoffd_contract::webhook::Handshake;

use crate::handshake;

#[test]
fn the_right_token_gets_the_challenge_back() {
    let query = "hub.mode=subscribe&hub.challenge=1158201444&hub.verify_token=verify-me-4471";
    assert_eq!(handshake(query), Handshake::Accept("1158201444".to_owned()));
}

#[test]
fn parameters_are_url_decoded() {
    let query = "hub.verify_token=verify%2Dme%2D4471&hub.mode=subscribe&hub.challenge=a%20b%2Bc";
    assert_eq!(handshake(query), Handshake::Accept("a b+c".to_owned()));
}

#[test]
fn a_wrong_or_missing_token_is_forbidden() {
    for query in [
        "hub.mode=subscribe&hub.challenge=1&hub.verify_token=verify-me-4472",
        "hub.mode=subscribe&hub.challenge=1&hub.verify_token=",
        "hub.mode=subscribe&hub.challenge=1",
        "hub.mode=unsubscribe&hub.challenge=1&hub.verify_token=verify-me-4471",
        "hub.mode=subscribe&hub.verify_token=verify-me-4471",
    ] {
        assert_eq!(handshake(query), Handshake::Forbidden, "{query}");
    }
}

#[test]
fn a_query_without_hub_parameters_is_not_a_handshake() {
    assert_eq!(handshake(""), Handshake::NotAHandshake);
    assert_eq!(handshake("page=2&token=x"), Handshake::NotAHandshake);
}
