//! Status callbacks into interactions: finished calls only, who the customer is, which calls
//! are not handoffs, recordings referenced.

use handoffd_contract::identity::IdentityKey;
use handoffd_contract::interaction::{CallOutcome, Content, Direction};
use handoffd_contract::webhook::{ParseError, Verified, WebhookSource};
use handoffd_twilio::Twilio;

use super::*;

fn call(parsed: &ParsedEvent) -> &handoffd_contract::interaction::Call {
    match &parsed.interactions[0].content {
        Content::Call(call) => call,
        other => panic!("not a call: {other:?}"),
    }
}

#[test]
fn a_completed_inbound_call_is_the_callers_with_its_recording_referenced() {
    let parsed = parse(&fixture("completed_inbound.form")).unwrap();
    assert_eq!(parsed.interactions.len(), 1);
    let interaction = &parsed.interactions[0];
    assert_eq!(interaction.dedup_key, "CA7d3b2f9e8c1a4b5d6e7f8091a2b3c4d5:completed");
    assert_eq!(interaction.direction, Direction::Inbound);
    assert_eq!(interaction.keys, [IdentityKey::phone("+919820012345")]);
    assert_eq!(interaction.display_name.as_deref(), Some("Priya Nair"));
    assert_eq!(interaction.at.to_rfc3339(), "2026-12-05T09:12:40+00:00");
    let call = call(&parsed);
    assert_eq!(call.duration_secs, Some(187));
    assert!(call.recording_url.as_deref().unwrap().ends_with("/Recordings/RE1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f"));
    assert_eq!(call.outcome, CallOutcome::Connected, "a completed call answered by a person connected");
}

#[test]
fn calls_that_did_not_connect_say_why() {
    for (fixture_name, outcome) in [
        ("busy_outbound.form", CallOutcome::Busy),
        ("no_answer_outbound.form", CallOutcome::NoAnswer),
        ("machine_outbound.form", CallOutcome::Voicemail),
    ] {
        let parsed = parse(&fixture(fixture_name)).unwrap();
        assert_eq!(call(&parsed).outcome, outcome, "{fixture_name}");
        // Outbound: the customer is the number called.
        assert_eq!(parsed.interactions[0].keys, [IdentityKey::phone("+919820054321")], "{fixture_name}");
        assert_eq!(parsed.interactions[0].direction, Direction::Outbound);
    }
    for (status, outcome) in [("failed", CallOutcome::Failed), ("canceled", CallOutcome::NoAnswer)] {
        let body = format!("CallSid=CA5&CallStatus={status}&Direction=outbound-api&To=%2B919820054321");
        assert_eq!(call(&parse(body.as_bytes()).unwrap()).outcome, outcome, "{status}");
    }
}

#[test]
fn a_call_still_in_progress_is_ignored_until_it_ends() {
    let parsed = parse(&fixture("ringing_inbound.form")).unwrap();
    assert!(parsed.interactions.is_empty());
    assert!(parsed.ignored[0].contains("ringing"), "{:?}", parsed.ignored);
}

#[test]
fn each_status_of_a_call_has_its_own_dedup_key_and_a_redelivery_the_same() {
    let completed = parse(&fixture("completed_inbound.form")).unwrap();
    let again = parse(&fixture("completed_inbound.form")).unwrap();
    assert_eq!(completed.interactions[0].dedup_key, again.interactions[0].dedup_key);
    let busy = parse(b"CallSid=CA7d3b2f9e8c1a4b5d6e7f8091a2b3c4d5&CallStatus=busy&From=%2B919820012345").unwrap();
    assert_ne!(completed.interactions[0].dedup_key, busy.interactions[0].dedup_key);
}

#[test]
fn a_json_callback_is_read_like_a_form() {
    let parsed = parse(&fixture("completed_inbound.json")).unwrap();
    assert_eq!(parsed.interactions[0].dedup_key, "CA44dd55ee66ff7788990011223344aabb:completed");
    assert_eq!(parsed.interactions[0].keys, [IdentityKey::phone("+5511987654321")]);
    assert_eq!(call(&parsed).duration_secs, Some(64));
}

#[test]
fn a_recording_callback_is_referenced_not_downloaded_and_makes_no_call() {
    let parsed = parse(&fixture("recording_completed.form")).unwrap();
    assert!(parsed.interactions.is_empty());
    assert!(parsed.ignored[0].contains("RE1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f"), "{:?}", parsed.ignored);
    assert!(parsed.ignored[0].contains("https://api.twilio.com/"), "the URL is kept: {:?}", parsed.ignored);
}

#[test]
fn a_signed_body_without_a_call_sid_or_status_is_a_shape_error() {
    assert!(matches!(parse(b"CallStatus=completed"), Err(ParseError::Shape(m)) if m.contains("CallSid")));
    assert!(matches!(parse(b"CallSid=CA1&From=%2B1"), Err(ParseError::Shape(m)) if m.contains("CallStatus")));
    let connector = Twilio::new(config(serde_json::json!({})));
    let broken = Verified::for_offline_tool(b"{\"CallSid\": ".to_vec(), chrono::Utc::now());
    assert!(matches!(connector.parse(&broken), Err(ParseError::Json(_))));
}

#[test]
fn an_offline_tool_parses_the_raw_form_body_as_posted() {
    let connector = Twilio::new(config(serde_json::json!({})));
    let event = Verified::for_offline_tool(fixture("completed_inbound.form"), chrono::Utc::now());
    let parsed = connector.parse(&event).unwrap();
    assert_eq!(parsed.interactions[0].dedup_key, "CA7d3b2f9e8c1a4b5d6e7f8091a2b3c4d5:completed");
}

#[test]
fn client_and_anonymous_callers_give_no_phone_key() {
    let parsed = parse(b"CallSid=CA8&CallStatus=completed&Direction=inbound&From=client%3Aalice").unwrap();
    assert!(parsed.interactions[0].keys.is_empty());
    let anonymous = parse(b"CallSid=CA9&CallStatus=completed&Direction=inbound&From=%2B266696687").unwrap();
    assert!(anonymous.interactions[0].keys.is_empty());
}
