//! StatusCallback and Passthru events into interactions.

use handoffd_contract::identity::IdentityKey;
use handoffd_contract::interaction::{Call, CallOutcome, Content, Direction};
use handoffd_contract::webhook::Verified;

use super::*;

fn call(parsed: &ParsedEvent) -> &Call {
    match &parsed.interactions[0].content {
        Content::Call(call) => call,
        other => panic!("not a call: {other:?}"),
    }
}

fn passthru(name: &str) -> Arrived {
    Arrived::passthru(std::str::from_utf8(&fixture(name)).unwrap())
}

#[test]
fn a_status_callback_form_is_a_finished_call_of_the_number_called() {
    let parsed =
        Arrived::post(&fixture("statuscallback_completed.form"), "application/x-www-form-urlencoded").parse().unwrap();
    let interaction = &parsed.interactions[0];
    assert_eq!(interaction.dedup_key, "b6cfaf5f5cef3ca0fc937749ef96d245:completed");
    assert_eq!(interaction.direction, Direction::Outbound);
    assert_eq!(interaction.keys, [IdentityKey::phone("09876543210")], "Exotel's `To` is the customer");
    // `EndTime` in the account's offset (+05:30).
    assert_eq!(interaction.at.to_rfc3339(), "2026-12-05T08:44:29+00:00");
    let call = call(&parsed);
    assert_eq!(call.duration_secs, Some(241));
    assert!(call.recording_url.as_deref().unwrap().ends_with("b6cfaf5f5cef3ca0fc937749ef96d245.mp3"));
    assert_eq!(call.outcome, CallOutcome::Connected);
}

#[test]
fn a_json_status_callback_with_no_answer_did_not_connect() {
    let parsed = Arrived::post(&fixture("statuscallback_no_answer.json"), "application/json").parse().unwrap();
    assert_eq!(parsed.interactions[0].dedup_key, "c1d2e3f4a5b6c7d8e9f0a1b2c3d4e5f6:no-answer");
    assert_eq!(call(&parsed).outcome, CallOutcome::NoAnswer);
    assert_eq!(parsed.interactions[0].keys, [IdentityKey::phone("+919876500011")]);
}

#[test]
fn busy_failed_and_canceled_calls_did_not_connect() {
    for (status, reason) in
        [("busy", CallOutcome::Busy), ("failed", CallOutcome::Failed), ("canceled", CallOutcome::NoAnswer)]
    {
        let body = format!("CallSid=S1&Status={status}&Direction=outbound-api&To=09876543210");
        let parsed = Arrived::post(body.as_bytes(), "application/x-www-form-urlencoded").parse().unwrap();
        assert_eq!(call(&parsed).outcome, reason, "{status}");
    }
}

#[test]
fn an_agentstream_passthru_is_the_voice_bots_finished_call() {
    let parsed = passthru("passthru_agentstream.query").parse().unwrap();
    let interaction = &parsed.interactions[0];
    assert_eq!(interaction.dedup_key, "7a9e41c2b0d3f58e61a2c4d5e6f70812:completed");
    assert_eq!(interaction.direction, Direction::Inbound);
    // `From=+91...` unencoded in the query: the `+` is kept.
    assert_eq!(interaction.keys, [IdentityKey::phone("+918888012345")]);
    let call = call(&parsed);
    assert_eq!(call.duration_secs, Some(143));
    assert!(call.recording_url.as_deref().unwrap().starts_with("https://recordings.exotel.com/"));
    assert_eq!(call.analysis["disconnected_by"], "user");
    assert_eq!(call.analysis["flow_id"], "voicebot-flow-sales01");
}

#[test]
fn a_passthru_in_the_middle_of_a_flow_is_ignored() {
    let parsed = passthru("passthru_midflow.query").parse().unwrap();
    assert!(parsed.interactions.is_empty());
    assert!(parsed.ignored[0].contains("8b0f52d3c1e4069f72b3d5e6f7081923"), "{:?}", parsed.ignored);
}

#[test]
fn a_caller_whose_agent_was_busy_still_called() {
    let parsed = passthru("passthru_agent_busy.query").parse().unwrap();
    assert_eq!(parsed.interactions[0].dedup_key, "9c1a63e4d2f5170a83c4e6f708192a34:completed");
    assert_eq!(parsed.interactions[0].keys, [IdentityKey::phone("09812345678")]);
    assert_eq!(call(&parsed).outcome, CallOutcome::Connected, "the caller reached the flow");
    assert_eq!(call(&parsed).analysis["dial_call_status"], "busy");
}

#[test]
fn a_stream_sent_as_one_json_parameter_is_read() {
    let stream = r#"{"StreamSID":"s1","Status":"completed","Duration":"12","DisconnectedBy":"bot"}"#;
    let query = format!(
        "CallSid=CS1&Direction=inbound&From=%2B918888000001&Stream={}",
        url::form_urlencoded::byte_serialize(stream.as_bytes()).collect::<String>()
    );
    let parsed = Arrived::passthru(&query).parse().unwrap();
    assert_eq!(parsed.interactions[0].dedup_key, "CS1:completed");
    assert_eq!(call(&parsed).duration_secs, Some(12));
}

#[test]
fn an_offline_tool_takes_a_passthru_url_or_a_form_body() {
    let connector = connector(serde_json::json!({}));
    let line = format!(
        "GET https://hooks.example.com/webhooks/ex-main?{}",
        String::from_utf8(fixture("passthru_agentstream.query")).unwrap()
    );
    let parsed = connector.parse(&Verified::for_offline_tool(line.into_bytes(), chrono::Utc::now())).unwrap();
    assert_eq!(parsed.interactions[0].dedup_key, "7a9e41c2b0d3f58e61a2c4d5e6f70812:completed");
    let form = Verified::for_offline_tool(fixture("statuscallback_completed.form"), chrono::Utc::now());
    assert_eq!(connector.parse(&form).unwrap().interactions.len(), 1);
}

#[test]
fn an_event_without_a_call_sid_or_with_broken_json_is_a_parse_error() {
    let no_sid = Arrived::post(b"Status=completed", "application/x-www-form-urlencoded").parse();
    assert!(matches!(no_sid, Err(ParseError::Shape(m)) if m.contains("CallSid")));
    let broken = Arrived::post(b"{\"CallSid\": ", "application/json").parse();
    assert!(matches!(broken, Err(ParseError::Json(_))));
}
