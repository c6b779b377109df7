//! `call_ended` and `call_analyzed` into canonical voice interactions.

use handoffd_contract::conversation::Speaker;
use handoffd_contract::identity::IdentityKey;
use handoffd_contract::interaction::{CallOutcome, Channel, Content, Direction};
use handoffd_contract::webhook::ParseError;
use handoffd_retell::parse_body;
use serde_json::json;

use super::{fixture, now};

#[test]
fn an_analysed_call_has_its_turns_analysis_and_customer() {
    let parsed = parse_body(&fixture("call_analyzed.json"), now()).unwrap();
    let interaction = &parsed.interactions[0];
    assert_eq!(interaction.dedup_key, "Jd8s2LqP0vXy71Tz:call_analyzed");
    assert_eq!((interaction.channel, interaction.direction), (Channel::Voice, Direction::Inbound));
    assert_eq!(interaction.keys, [IdentityKey::phone("+14155550142")], "the caller of an inbound call");
    assert_eq!(interaction.display_name.as_deref(), Some("Dana Whitfield"));
    assert_eq!(interaction.at.timestamp_millis(), 1764659532000);
    let Content::Call(call) = &interaction.content else { panic!() };
    let speakers: Vec<Speaker> = call.turns.iter().map(|t| t.from).collect();
    assert_eq!(speakers, [Speaker::Ai, Speaker::Customer, Speaker::Ai]);
    assert_eq!(call.turns[1].offset_secs, Some(4.1));
    assert_eq!(call.duration_secs, Some(132));
    assert_eq!(call.outcome, CallOutcome::Connected);
    assert_eq!(call.ended_reason.as_deref(), Some("user_hangup"));
    assert_eq!(
        call.analysis["call_summary"],
        json!(
            "Caller has a painful cracked tooth and wants to be seen today; agent promised a callback within the hour."
        )
    );
    assert_eq!(call.analysis["callback_requested"], json!(true), "custom analysis data is merged flat");
    assert_eq!(call.analysis["urgency"], json!("high"));
    assert!(call.analysis.get("custom_analysis_data").is_none());
}

#[test]
fn call_ended_is_keyed_apart_from_call_analyzed() {
    let mut body: serde_json::Value = serde_json::from_slice(&fixture("call_analyzed.json")).unwrap();
    body["event"] = json!("call_ended");
    body["call"].as_object_mut().unwrap().remove("call_analysis");
    let parsed = parse_body(body.to_string().as_bytes(), now()).unwrap();
    assert_eq!(parsed.interactions[0].dedup_key, "Jd8s2LqP0vXy71Tz:call_ended");
    let Content::Call(call) = &parsed.interactions[0].content else { panic!() };
    assert!(call.analysis.is_null());
}

#[test]
fn a_call_nobody_answered_says_so_and_keys_the_callee() {
    let parsed = parse_body(&fixture("call_ended_no_answer.json"), now()).unwrap();
    let interaction = &parsed.interactions[0];
    assert_eq!(interaction.direction, Direction::Outbound);
    assert_eq!(interaction.keys, [IdentityKey::phone("+14155550177")], "the callee of an outbound call");
    let Content::Call(call) = &interaction.content else { panic!() };
    assert_eq!(call.outcome, CallOutcome::NoAnswer);
    assert!(call.turns.is_empty());
    use handoffd_retell::call::outcome_of;
    let none = serde_json::Value::Null;
    assert_eq!(outcome_of(Some("voicemail_reached"), Some("ended"), &none), CallOutcome::Voicemail);
    assert_eq!(outcome_of(Some("dial_busy"), Some("not_connected"), &none), CallOutcome::Busy);
    assert_eq!(outcome_of(Some("dial_failed"), None, &none), CallOutcome::Failed);
    assert_eq!(outcome_of(Some("error_llm_websocket_open"), None, &none), CallOutcome::Failed);
    assert_eq!(outcome_of(Some("agent_hangup"), Some("ended"), &json!({"in_voicemail": true})), CallOutcome::Voicemail);
    assert_eq!(outcome_of(Some("agent_hangup"), Some("ended"), &none), CallOutcome::Connected);
}

#[test]
fn other_events_are_ignored_and_bad_bodies_are_refused() {
    let parsed = parse_body(&fixture("call_started.json"), now()).unwrap();
    assert!(parsed.interactions.is_empty());
    assert_eq!(parsed.ignored, ["event `call_started`"]);
    assert!(matches!(parse_body(b"{", now()), Err(ParseError::Json(_))));
    assert!(matches!(parse_body(br#"{"call": {}}"#, now()), Err(ParseError::Shape(_))));
    assert!(matches!(parse_body(br#"{"event": "call_ended"}"#, now()), Err(ParseError::Shape(_))));
    assert!(matches!(
        parse_body(br#"{"event": "call_ended", "call": {"call_status": "ended"}}"#, now()),
        Err(ParseError::Shape(_))
    ));
    // The transcript text is read when there is no transcript object.
    let text = json!({"event": "call_ended", "call": {"call_id": "t1", "direction": "inbound", "from_number": "+14155550142",
        "transcript": "Agent: Hello.\nUser: I need help\nwith billing."}});
    let parsed = parse_body(text.to_string().as_bytes(), now()).unwrap();
    let Content::Call(call) = &parsed.interactions[0].content else { panic!() };
    assert_eq!(call.turns.iter().map(|t| t.text.as_str()).collect::<Vec<_>>(), ["Hello.", "I need help with billing."]);
}
