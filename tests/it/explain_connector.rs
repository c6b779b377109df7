//! `handoffd explain --connector`: raw events for one customer go through the connector, the
//! store and the assembler as in the daemon, and the conversation and brief are printed.

use std::path::PathBuf;
use std::process::{Command, Output};

use serde_json::{Value, json};

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn explain(input: &str, extra: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_handoffd"))
        .args(["explain", "--config", "config/example.yaml", "--connector", "wa-main", "--input", input])
        .args(extra)
        .current_dir(repo())
        .output()
        .unwrap()
}

fn explain_json(input: &str) -> Value {
    let output = explain(input, &[]);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    serde_json::from_slice(&output.stdout).expect("one JSON document on stdout")
}

fn speakers_and_texts(conversation: &Value) -> Vec<(String, String)> {
    conversation["turns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| (t["from"].as_str().unwrap().to_owned(), t["text"].as_str().unwrap().to_owned()))
        .collect()
}

#[test]
fn a_burst_becomes_one_conversation_and_its_brief() {
    let out = explain_json("tests/fixtures/explain/whatsapp_burst.json");
    let handoffs = out["handoffs"].as_array().unwrap();
    assert_eq!(handoffs.len(), 1, "{out:#}");
    let made = &handoffs[0];
    // Webhook messages, the proxied send and the turn, in time order; the delivery status is
    // not a turn.
    let turns = speakers_and_texts(&made["conversation"]);
    let speakers: Vec<&str> = turns.iter().map(|(s, _)| s.as_str()).collect();
    assert_eq!(speakers, ["customer", "ai", "customer", "ai"], "{turns:?}");
    assert!(turns[0].1.starts_with("Hi, is the 3BHK in Baner"));
    assert!(turns[1].1.contains("start at 1.4 crore"), "the proxied send is the AI's turn");
    assert!(turns[2].1.contains("1.5 crore"), "a body given as a string is parsed as the raw body");
    // Turn times come from the vendor's timestamps, shown in the business's zone.
    assert_eq!(made["conversation"]["turns"][0]["at"], "2026-06-09T10:02:00+05:30");
    assert_eq!(made["conversation"]["timezone"], "Asia/Kolkata");
    // The turn's `handoff: true` ends the conversation at once: made when it arrived.
    assert_eq!(made["ended_by"], "handoff_marker");
    assert_eq!(made["conversation"]["now"], "2026-06-09T10:04:30+05:30");
    assert_eq!(
        made["conversation"]["customer"],
        json!({"name": "Rohan Mehta", "phones": ["+919812345678"], "emails": []})
    );

    let brief = &made["brief"];
    assert_eq!(brief["ended_by"], "handoff_marker");
    assert!(brief["customer"]["id"].is_string(), "the store's customer id, as the daemon sets it");
    let intents: Vec<&str> = brief["intents"].as_array().unwrap().iter().map(|i| i["code"].as_str().unwrap()).collect();
    assert!(intents.contains(&"availability") && intents.contains(&"pricing"), "{intents:?}");
    let budget = brief["do_not_ask"].as_array().unwrap().iter().find(|f| f["fact"] == "budget").expect("budget");
    assert_eq!(budget["value"], "1.5 crore");
    assert_eq!(budget["turn"], 2);
    assert!(out["quarantined"].as_array().unwrap().is_empty());
}

#[test]
fn the_conversation_printed_is_the_one_the_brief_is_made_of() {
    // Feeding the printed canonical conversation back to `explain --input` gives the same
    // findings: the replay prints exactly what the interpreter read.
    let out = explain_json("tests/fixtures/explain/whatsapp_burst.json");
    let made = &out["handoffs"][0];
    let dir = tempfile::tempdir().unwrap();
    let canonical = dir.path().join("conversation.json");
    std::fs::write(&canonical, made["conversation"].to_string()).unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_handoffd"))
        .args(["explain", "--config", "config/example.yaml", "--input", canonical.to_str().unwrap()])
        .current_dir(repo())
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let direct: Value = serde_json::from_slice(&output.stdout).unwrap();
    for field in ["intents", "objections", "urgency", "disposition", "do_not_ask", "requested_window", "stated_need"] {
        assert_eq!(direct[field], made["brief"][field], "`{field}` differs");
    }
}

#[test]
fn a_later_burst_reopens_the_handoff_as_the_daemon_does() {
    let out = explain_json("tests/fixtures/explain/whatsapp_two_bursts.json");
    let handoffs = out["handoffs"].as_array().unwrap();
    assert_eq!(handoffs.len(), 2, "made once per burst: {out:#}");
    assert_eq!(handoffs[0]["conversation"]["turns"].as_array().unwrap().len(), 4);
    // The second brief reads both bursts (the task is updated, not duplicated) and is made
    // when the quiet period (90s in config/example.yaml) after the new message has passed.
    let second = &handoffs[1];
    let turns = speakers_and_texts(&second["conversation"]);
    assert_eq!(turns.len(), 5, "{turns:?}");
    assert!(turns[4].1.contains("Nobody called me yet"));
    assert_eq!(second["conversation"]["now"], "2026-06-10T18:21:32+05:30");
    assert_eq!(second["brief"]["urgency"]["level"], "high");
    assert_eq!(second["brief"]["customer"]["id"], handoffs[0]["brief"]["customer"]["id"], "one customer");
}

#[test]
fn text_shows_turns_with_speaker_and_time_then_the_brief() {
    let output = explain("tests/fixtures/explain/whatsapp_burst.json", &["--format", "text"]);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let text = String::from_utf8(output.stdout).unwrap();
    assert!(text.contains("ended by handoff_marker"), "{text}");
    let customer = text.find("[2026-06-09 10:02:00 +05:30] customer: Hi, is the 3BHK").expect(&text);
    let ai = text.find("ai: Yes, 3BHK units in Baner start at 1.4 crore").expect(&text);
    let brief = text.find("Do not ask:").expect(&text);
    assert!(customer < ai && ai < brief, "turns first, then the brief:\n{text}");
    assert!(text.contains("budget = \"1.5 crore\" (turn 2)"), "{text}");
}

#[test]
fn an_unparseable_event_is_reported_as_quarantined_and_the_rest_is_used() {
    let mut events: Vec<Value> = serde_json::from_str(
        &std::fs::read_to_string(repo().join("tests/fixtures/explain/whatsapp_burst.json")).unwrap(),
    )
    .unwrap();
    events.insert(1, json!({"source": "webhook", "received_at": "2026-06-09T10:02:20+05:30", "body": "{not json"}));
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("events.json");
    std::fs::write(&input, serde_json::to_string(&events).unwrap()).unwrap();

    let output = explain(input.to_str().unwrap(), &[]);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("event [1] would be quarantined"), "{stderr}");
    let out: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(out["quarantined"][0]["event"], 1);
    assert_eq!(out["handoffs"][0]["conversation"]["turns"].as_array().unwrap().len(), 4);
}

#[test]
fn bad_input_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("events.json");
    std::fs::write(&input, r#"[{"source": "webhook", "received_at": "2026-06-09T10:02:00Z", "body": {}}, {"source": "sms", "received_at": "2026-06-09T10:03:00Z", "body": {}}]"#).unwrap();
    let output = explain(input.to_str().unwrap(), &[]);
    assert!(!output.status.success());
    let error = String::from_utf8_lossy(&output.stderr);
    assert!(error.contains("[1].source"), "{error}");

    let output = Command::new(env!("CARGO_BIN_EXE_handoffd"))
        .args(["explain", "--config", "config/example.yaml", "--connector", "wa-typo"])
        .args(["--input", "tests/fixtures/explain/whatsapp_burst.json"])
        .current_dir(repo())
        .output()
        .unwrap();
    assert!(!output.status.success());
    let error = String::from_utf8_lossy(&output.stderr);
    assert!(error.contains("no connector `wa-typo`") && error.contains("wa-main"), "{error}");
}

/// A body exactly as WhatsApp posts it (DESIGN.md: `explain --connector ID --input FILE`),
/// not wrapped in a list of stored events.
#[test]
fn a_raw_whatsapp_body_is_explained_as_the_vendor_posted_it() {
    let out = explain_json("tests/fixtures/explain/whatsapp_raw_body.json");
    let handoffs = out["handoffs"].as_array().unwrap();
    assert_eq!(handoffs.len(), 1, "{out:#}");
    let made = &handoffs[0];
    let turns = speakers_and_texts(&made["conversation"]);
    assert_eq!(turns.len(), 2, "{turns:?}");
    assert!(turns.iter().all(|(speaker, _)| speaker == "customer"), "{turns:?}");
    assert!(turns[0].1.starts_with("Hello, is the 2BHK in Wakad"), "{turns:?}");
    // A body carries no receipt time: it counts as received at its latest message, and the
    // handoff is made when the quiet period (90s) after it has passed.
    assert_eq!(made["brief"]["ended_by"], "quiet_period");
    assert_eq!(made["conversation"]["now"], "2026-07-14T11:07:10+05:30");
    assert_eq!(made["conversation"]["customer"]["phones"], json!(["+919845012345"]));

    let brief = &made["brief"];
    let intents: Vec<&str> = brief["intents"].as_array().unwrap().iter().map(|i| i["code"].as_str().unwrap()).collect();
    assert!(intents.contains(&"availability"), "{intents:?}");
    let budget = brief["do_not_ask"].as_array().unwrap().iter().find(|f| f["fact"] == "budget").expect("budget");
    assert_eq!(budget["value"], "90 lakh");
    assert_eq!(budget["turn"], 1);
    assert!(brief["recommended_owner"]["id"].is_string(), "routed as the daemon routes: {brief:#}");

    // The same body given as the one stored event it becomes prints the same.
    let body = std::fs::read_to_string(repo().join("tests/fixtures/explain/whatsapp_raw_body.json")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("events.json");
    let events = json!([{"source": "webhook", "received_at": "2026-07-14T11:05:40+05:30", "body": body}]);
    std::fs::write(&input, events.to_string()).unwrap();
    let as_events = explain_json(input.to_str().unwrap());
    let without_customer_id = |value: &Value| {
        let mut value = value.clone();
        value["handoffs"][0]["brief"]["customer"]["id"] = Value::Null;
        value
    };
    assert_eq!(without_customer_id(&as_events), without_customer_id(&out));
}

#[test]
fn a_raw_body_the_connector_cannot_parse_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("body.json");
    std::fs::write(&input, r#"{"object": "whatsapp_business_account", "entry": "not a list"}"#).unwrap();
    let output = explain(input.to_str().unwrap(), &[]);
    assert!(!output.status.success());
    let error = String::from_utf8_lossy(&output.stderr);
    assert!(error.contains("connector `wa-main` cannot parse this body"), "{error}");
    assert!(!error.contains("expected a sequence"), "not read as a list of events: {error}");
}

#[test]
fn a_raw_vapi_report_is_explained_with_its_vendor_analysis() {
    let output = Command::new(env!("CARGO_BIN_EXE_handoffd"))
        .args(["explain", "--config", "config/example.yaml", "--connector", "vapi-main"])
        .args(["--input", "tests/fixtures/explain/vapi_report.json"])
        .current_dir(repo())
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let out: Value = serde_json::from_slice(&output.stdout).expect("one JSON document on stdout");
    let made = &out["handoffs"][0];
    let turns = speakers_and_texts(&made["conversation"]);
    assert_eq!(turns.iter().map(|(s, _)| s.as_str()).collect::<Vec<_>>(), ["ai", "customer", "ai"], "{out:#}");
    assert_eq!(made["conversation"]["channel"], "voice");
    assert_eq!(made["conversation"]["vendor_analysis"]["vendor"], "vapi", "mapped by the connector's kind: {out:#}");
    assert_eq!(made["ended_by"], "call_ended", "a call's end ends the conversation at once");
    let brief = &made["brief"];
    let facts = brief["do_not_ask"].to_string();
    assert!(facts.contains("1.5 crore") && facts.contains("Powai"), "vendor data wins where explicit: {brief:#}");
    assert!(brief["intents"].to_string().contains("callback_request"), "{brief:#}");
}

#[test]
fn a_raw_retell_event_is_explained_as_a_call() {
    let output = Command::new(env!("CARGO_BIN_EXE_handoffd"))
        .args(["explain", "--config", "config/example.yaml", "--connector", "retell-main"])
        .args(["--input", "tests/fixtures/explain/retell_call_analyzed.json"])
        .current_dir(repo())
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let out: Value = serde_json::from_slice(&output.stdout).expect("one JSON document on stdout");
    let made = &out["handoffs"][0];
    assert_eq!(made["conversation"]["vendor_analysis"]["vendor"], "retell", "{out:#}");
    assert_eq!(made["conversation"]["customer"]["phones"], json!(["+919812341111"]));
    assert_eq!(made["ended_by"], "call_ended");
    // Turns are timed from the call's start: the first one at its start.
    assert_eq!(made["conversation"]["turns"][0]["at"], "2026-06-09T10:00:00+05:30");
    assert!(made["brief"]["intents"].to_string().contains("callback_request"), "{out:#}");
}
