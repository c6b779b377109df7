use handoffd_contract::conversation::Speaker;
use handoffd_contract::identity::IdentityKey;
use handoffd_contract::interaction::Direction;
use handoffd_contract::webhook::ParseError;
use handoffd_whatsapp_cloud::parse_turn;
use serde_json::json;

use crate::{message, unix};

#[test]
fn an_ai_handoff_turn_is_an_outbound_message() {
    let body = json!({"to": "+919820011111", "at": "2025-11-25T14:05:00+05:30", "from": "ai",
        "text": "I'm connecting you with our sales expert now.", "handoff": true, "message_id": "bot-7781"});
    let turn = parse_turn(body.to_string().as_bytes()).unwrap();
    assert_eq!(turn.dedup_key, "bot-7781");
    assert_eq!(turn.direction, Direction::Outbound);
    assert_eq!(turn.at, unix(1_764_059_700)); // 08:35 UTC
    assert_eq!(turn.keys, vec![IdentityKey::phone("+919820011111"), IdentityKey::vendor("whatsapp", "919820011111")]);
    let said = message(&turn);
    assert_eq!((said.from, said.handoff), (Speaker::Ai, true));
    assert_eq!(said.text.as_deref(), Some("I'm connecting you with our sales expert now."));
}

#[test]
fn without_a_message_id_the_key_is_a_stable_hash_of_the_content() {
    let body = |text: &str, from: &str| {
        json!({"to": "+919820011111", "at": "2025-11-25T14:05:00+05:30", "from": from, "text": text}).to_string()
    };
    let first = parse_turn(body("Budget is 90L, right?", "agent").as_bytes()).unwrap();
    let again = parse_turn(body("Budget is 90L, right?", "agent").as_bytes()).unwrap();
    let same_instant_in_utc = json!({"to": "+919820011111", "at": "2025-11-25T08:35:00Z", "from": "agent",
        "text": "Budget is 90L, right?"});
    let utc = parse_turn(same_instant_in_utc.to_string().as_bytes()).unwrap();
    assert_eq!(first.dedup_key, again.dedup_key);
    assert_eq!(first.dedup_key, utc.dedup_key);
    assert!(first.dedup_key.starts_with("turn:"));
    assert_ne!(first.dedup_key, parse_turn(body("Budget is 80L, right?", "agent").as_bytes()).unwrap().dedup_key);
    assert_ne!(first.dedup_key, parse_turn(body("Budget is 90L, right?", "ai").as_bytes()).unwrap().dedup_key);
    assert_eq!(message(&first).from, Speaker::Agent);
    assert!(!message(&first).handoff);
}

#[test]
fn bad_bodies_are_rejected_with_the_right_class() {
    let shape = |body: serde_json::Value| matches!(parse_turn(body.to_string().as_bytes()), Err(ParseError::Shape(_)));
    assert!(shape(json!({"to": "+9198", "at": "2025-11-25T08:35:00Z", "from": "ai", "text": "x", "extra": 1})));
    assert!(shape(json!({"to": "+9198", "at": "2025-11-25T08:35:00Z", "from": "customer", "text": "x"})));
    assert!(shape(json!({"to": "+9198", "at": "yesterday", "from": "ai", "text": "x"})));
    assert!(shape(json!({"to": "+9198", "at": "2025-11-25T08:35:00Z", "from": "ai"})));
    assert!(shape(json!({"to": " ", "at": "2025-11-25T08:35:00Z", "from": "ai", "text": "x"})));
    assert!(shape(json!({"to": "+9198", "at": "2025-11-25T08:35:00Z", "from": "ai", "text": "  "})));
    assert!(matches!(parse_turn(b"{\"to\":"), Err(ParseError::Json(_))));
}
