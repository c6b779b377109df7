//! End-of-call reports into canonical voice interactions.

use handoffd_contract::conversation::Speaker;
use handoffd_contract::identity::IdentityKey;
use handoffd_contract::interaction::{CallOutcome, Channel, Content, Direction};
use handoffd_contract::webhook::ParseError;
use handoffd_vapi::parse_body;
use serde_json::json;

use super::{fixture, now};

#[test]
fn a_report_becomes_one_call_with_turns_analysis_and_the_customer() {
    let parsed = parse_body(&fixture("end_of_call_report.json"), now()).unwrap();
    assert_eq!(parsed.interactions.len(), 1);
    let interaction = &parsed.interactions[0];
    assert_eq!(interaction.dedup_key, "call_7f3c2a10-5b1e-4c8d-9a6f-2e4d8b1c0a99:end-of-call-report");
    assert_eq!((interaction.channel, interaction.direction), (Channel::Voice, Direction::Inbound));
    assert_eq!(interaction.at.to_rfc3339(), "2025-12-02T06:33:05+00:00");
    assert_eq!(interaction.keys, [IdentityKey::phone("+919820012345")]);
    assert_eq!(interaction.display_name.as_deref(), Some("Rahul Mehta"));
    let Content::Call(call) = &interaction.content else { panic!("a call: {:?}", interaction.content) };
    // System and tool messages are left out; user is the customer, bot the AI.
    let speakers: Vec<Speaker> = call.turns.iter().map(|t| t.from).collect();
    assert_eq!(speakers, [Speaker::Ai, Speaker::Customer, Speaker::Ai, Speaker::Customer]);
    assert_eq!(call.turns[1].offset_secs, Some(6.4));
    assert!(call.turns[3].text.contains("before 6 pm"));
    assert_eq!(call.duration_secs, Some(185));
    assert_eq!(call.recording_url.as_deref(), Some("https://storage.vapi.ai/rec-7f3c-mono.wav"));
    assert_eq!((call.ended_reason.as_deref(), call.outcome), (Some("customer-ended-call"), CallOutcome::Connected));
    assert_eq!(
        call.analysis,
        json!({
            "summary": "Caller wants a site visit for the 2BHK in Andheri on Saturday; budget 1.2 crore; asked for a callback before 6 pm.",
            "successEvaluation": "true",
            "callbackRequested": true, "budget": "1.2 crore", "preferredLocation": "Andheri",
            "leadScore": 8, "preferredDay": "Saturday"
        })
    );
}

#[test]
fn the_transcript_text_is_read_when_there_are_no_messages() {
    let body = json!({"message": {"type": "end-of-call-report", "endedReason": "assistant-ended-call",
        "call": {"id": "c-text", "type": "outboundPhoneCall", "customer": {"number": "+14155550100"}},
        "artifact": {"transcript": "AI: Hello, is this Sam?\nUser: Yes.\nI want a quote\nAI: Sure."}, "analysis": {}}});
    let parsed = parse_body(body.to_string().as_bytes(), now()).unwrap();
    let interaction = &parsed.interactions[0];
    assert_eq!(interaction.direction, Direction::Outbound);
    assert_eq!(interaction.keys, [IdentityKey::phone("+14155550100")], "the call's customer when the message has none");
    assert_eq!(interaction.at, now(), "no time in the report: when it arrived");
    let Content::Call(call) = &interaction.content else { panic!() };
    let texts: Vec<&str> = call.turns.iter().map(|t| t.text.as_str()).collect();
    assert_eq!(texts, ["Hello, is this Sam?", "Yes. I want a quote", "Sure."]);
    assert!(call.analysis.is_null());
}

#[test]
fn calls_that_did_not_connect_say_so() {
    let parsed = parse_body(&fixture("voicemail.json"), now()).unwrap();
    let Content::Call(call) = &parsed.interactions[0].content else { panic!() };
    assert_eq!(call.outcome, CallOutcome::Voicemail);
    for (reason, outcome) in [
        ("customer-busy", CallOutcome::Busy),
        ("customer-did-not-answer", CallOutcome::NoAnswer),
        ("twilio-failed-to-connect-call", CallOutcome::Failed),
        ("pipeline-error-openai-voice-failed", CallOutcome::Failed),
        ("call.start.error-get-customer", CallOutcome::Failed),
        ("silence-timed-out", CallOutcome::Connected),
        ("assistant-said-end-call-phrase", CallOutcome::Connected),
    ] {
        assert_eq!(handoffd_vapi::report::outcome_of(reason), outcome, "{reason}");
    }
}

#[test]
fn other_messages_are_ignored_and_bad_bodies_are_refused_with_a_reason() {
    let parsed = parse_body(&fixture("status_update.json"), now()).unwrap();
    assert!(parsed.interactions.is_empty());
    assert_eq!(parsed.ignored, ["message type `status-update`"]);
    assert!(matches!(parse_body(b"not json", now()), Err(ParseError::Json(_))));
    assert!(matches!(parse_body(b"{\"type\": \"end-of-call-report\"}", now()), Err(ParseError::Shape(_))));
    let no_id = json!({"message": {"type": "end-of-call-report", "call": {}, "artifact": {}, "analysis": {}}});
    let error = parse_body(no_id.to_string().as_bytes(), now()).unwrap_err();
    assert!(error.to_string().contains("call.id"), "{error}");
}
