//! The field mapping, configured in YAML for "Parlance", a vendor the connector has never seen:
//! nested payloads, roles in the vendor's words, analysis kept under our names, calls that are
//! not handoffs, chats, events filtered out, and payloads that cannot be mapped.

use handoffd_contract::conversation::Speaker;
use handoffd_contract::identity::IdentityKey;
use handoffd_contract::interaction::{CallOutcome, Channel, Content};
use handoffd_contract::webhook::{ParseError, ParsedEvent};
use handoffd_webhook::signature::{standard_webhooks_key, standard_webhooks_sign};

use super::*;

const SECRET: &str = "whsec_cGFybGFuY2UtdGVzdC1zZWNyZXQtMDEyMzQ1Njc4OQ==";

const PARLANCE: &str = r#"
id: parlance
signature:
  scheme: standard_webhooks
  secret: whsec_cGFybGFuY2UtdGVzdC1zZWNyZXQtMDEyMzQ1Njc4OQ==
accept:
  pointer: /event
  values: [conversation.completed]
fields:
  dedup_key: [/data/conversation/uid, /event]
  phone: /data/conversation/participant/msisdn
  email: /data/conversation/participant/mail
  name: /data/conversation/participant/full_name
  channel: /data/conversation/medium
  time: /data/conversation/finished_at
  turns: /data/conversation/script
  turn_role: /who
  turn_text: /said
  turn_offset: /t
  duration: /data/conversation/length_seconds
  recording_url: /data/conversation/media/audio
  ended_reason: /data/conversation/outcome
  analysis:
    summary: /data/conversation/insights/recap
    structured_data: /data/conversation/insights/fields
roles:
  customer: [lead]
  ai: [agent]
call_outcomes:
  voicemail: [voicemail, answering-machine]
  no_answer: [unanswered]
default_region: IN
"#;

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"))).expect("fixture exists")
}

/// Sign `body` as Parlance would, verify it, parse it.
fn deliver(yaml: &str, body: &[u8]) -> Result<ParsedEvent, ParseError> {
    let connector = connector(yaml);
    let now = chrono::Utc::now();
    let key = standard_webhooks_key(SECRET).unwrap();
    let signature = standard_webhooks_sign(&key, "msg_parlance_1", now.timestamp(), body);
    let headers = headers(&[
        ("webhook-id", "msg_parlance_1"),
        ("webhook-timestamp", &now.timestamp().to_string()),
        ("webhook-signature", &signature),
    ]);
    let verified = verify(&connector, &headers, body, now).expect("signed as configured");
    connector.parse(&verified)
}

fn edited(change: impl FnOnce(&mut serde_json::Value)) -> Vec<u8> {
    let mut payload: serde_json::Value = serde_json::from_slice(&fixture("parlance_call_completed.json")).unwrap();
    change(&mut payload);
    payload.to_string().into_bytes()
}

#[test]
fn a_vendor_never_seen_before_is_mapped_onto_a_call_by_configuration_alone() {
    let parsed = deliver(PARLANCE, &fixture("parlance_call_completed.json")).unwrap();
    assert_eq!(parsed.interactions.len(), 1);
    let interaction = &parsed.interactions[0];
    assert_eq!(interaction.dedup_key, "conv_8HqZ2v:conversation.completed");
    assert_eq!(interaction.channel, Channel::Voice);
    assert_eq!(interaction.keys, [IdentityKey::phone("+919820033445"), IdentityKey::email("Meera.Iyer@Example.com")]);
    assert_eq!(interaction.display_name.as_deref(), Some("Meera Iyer"));
    assert_eq!(interaction.at.to_rfc3339(), "2026-12-05T09:20:00+00:00");
    let Content::Call(call) = &interaction.content else { panic!("a call") };
    assert_eq!(call.call_id, "conv_8HqZ2v:conversation.completed");
    let speakers: Vec<Speaker> = call.turns.iter().map(|t| t.from).collect();
    assert_eq!(speakers, [Speaker::Ai, Speaker::Customer, Speaker::Ai, Speaker::Customer]);
    assert_eq!(call.turns[3].text, "After 6 PM please, not before.");
    assert_eq!(call.turns[1].offset_secs, Some(4.9));
    assert_eq!(call.duration_secs, Some(213));
    assert_eq!(call.recording_url.as_deref(), Some("https://media.parlance.example/conv_8HqZ2v.ogg"));
    assert_eq!(
        call.analysis["summary"],
        "Lead wants a 3BHK in Whitefield around 1.2 Cr; callback after 6 PM tomorrow."
    );
    assert_eq!(call.analysis["structured_data"]["locality"], "Whitefield");
    assert_eq!(call.outcome, CallOutcome::Connected);
    assert!(parsed.ignored.iter().any(|i| i.contains("system")), "the unknown role is reported: {:?}", parsed.ignored);
}

#[test]
fn a_listed_reason_says_the_call_did_not_connect_and_a_silent_customer_has_no_turn() {
    let voicemail = edited(|p| p["data"]["conversation"]["outcome"] = "Answering-Machine".into());
    let Content::Call(call) = &deliver(PARLANCE, &voicemail).unwrap().interactions[0].content else { panic!() };
    assert_eq!(call.outcome, CallOutcome::Voicemail);
    let unanswered = edited(|p| p["data"]["conversation"]["outcome"] = "unanswered".into());
    let Content::Call(call) = &deliver(PARLANCE, &unanswered).unwrap().interactions[0].content else { panic!() };
    assert_eq!(call.outcome, CallOutcome::NoAnswer);
    // Connected, but the lead never spoke: no customer turn, which the pipeline reads as silent.
    let silent = edited(|p| {
        let script = p["data"]["conversation"]["script"].as_array_mut().unwrap();
        script.retain(|turn| turn["who"] != "lead");
    });
    let Content::Call(call) = &deliver(PARLANCE, &silent).unwrap().interactions[0].content else { panic!() };
    assert_eq!(call.outcome, CallOutcome::Connected);
    assert!(call.turns.iter().all(|t| t.from != Speaker::Customer) && !call.turns.is_empty());
}

#[test]
fn events_the_config_does_not_accept_are_ignored() {
    let started = edited(|p| p["event"] = "conversation.started".into());
    let parsed = deliver(PARLANCE, &started).unwrap();
    assert!(parsed.interactions.is_empty());
    assert!(parsed.ignored[0].contains("conversation.started"));
}

#[test]
fn a_payload_that_cannot_be_mapped_is_a_parse_error_with_the_pointer() {
    let no_id = edited(|p| p["data"]["conversation"].as_object_mut().unwrap().remove("uid").map(|_| ()).unwrap());
    assert!(matches!(deliver(PARLANCE, &no_id), Err(ParseError::Shape(m)) if m.contains("/data/conversation/uid")));
    let nobody = edited(|p| p["data"]["conversation"]["participant"] = serde_json::json!({}));
    assert!(matches!(deliver(PARLANCE, &nobody), Err(ParseError::Shape(m)) if m.contains("phone")));
    assert!(matches!(deliver(PARLANCE, b"not json"), Err(ParseError::Json(_))));
}

#[test]
fn a_transcript_as_text_becomes_turns_and_a_chat_becomes_messages() {
    let transcript = r#"
id: texty
signature: {scheme: standard_webhooks, secret: whsec_cGFybGFuY2UtdGVzdC1zZWNyZXQtMDEyMzQ1Njc4OQ==}
fields: {phone: /from, text: /transcript}
"#;
    let body = br#"{"from": "+15550123", "transcript": "AI: Hello, how can I help?\nUser: I need a plumber today\nfor a leak.\nAI: Booking one."}"#;
    let parsed = deliver(transcript, body).unwrap();
    assert_eq!(parsed.interactions[0].dedup_key, "msg_parlance_1", "the webhook-id is the default dedup key");
    let Content::Call(call) = &parsed.interactions[0].content else { panic!("a call") };
    let turns: Vec<(Speaker, &str)> = call.turns.iter().map(|t| (t.from, t.text.as_str())).collect();
    assert_eq!(
        turns,
        [
            (Speaker::Ai, "Hello, how can I help?"),
            (Speaker::Customer, "I need a plumber today for a leak."),
            (Speaker::Ai, "Booking one.")
        ]
    );

    let chat = r#"
id: chatty
channel: webchat
signature: {scheme: standard_webhooks, secret: whsec_cGFybGFuY2UtdGVzdC1zZWNyZXQtMDEyMzQ1Njc4OQ==}
fields: {email: /visitor/email, dedup_key: /session, turns: /messages}
"#;
    let body = br#"{"session": "s-77", "visitor": {"email": "ana@example.com"}, "messages": [
        {"role": "user", "text": "Do you ship to Lisbon?"}, {"role": "assistant", "text": "Yes, in 3 days."}]}"#;
    let parsed = deliver(chat, body).unwrap();
    let keys: Vec<&str> = parsed.interactions.iter().map(|i| i.dedup_key.as_str()).collect();
    assert_eq!(keys, ["s-77:0", "s-77:1"]);
    assert!(parsed.interactions.iter().all(|i| i.channel == Channel::Webchat));
    assert!(matches!(&parsed.interactions[0].content, Content::Message(m) if m.from == Speaker::Customer));
}
