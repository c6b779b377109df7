//! The optional LLM analyzer against a wiremock chat endpoint: a good answer refines the brief;
//! every kind of failure leaves the deterministic brief byte-identical.

use std::time::Duration;

use crate::interpret_common::{conversation, repo};
use handoffd::interpret::llm::LlmConfig;
use handoffd::interpret::{InterpretConfig, Interpreter};
use handoffd_contract::brief::{Brief, UrgencyLevel};
use handoffd_contract::conversation::Conversation;
use serde_json::{Value, json};
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const NOW: &str = "2026-06-09T11:00:00+05:30";
const TZ: &str = "Asia/Kolkata";
const SECRET: &str = "sk-test-do-not-log-0123456789";

fn interpreter_for(base_url: &str, timeout: &str) -> Interpreter {
    let llm: LlmConfig = serde_json::from_value(json!({
        "base_url": base_url, "model": "test-model", "api_key": SECRET, "timeout": timeout,
    }))
    .unwrap();
    let config = InterpretConfig { vocabulary: Some("config/vocabulary".into()), llm: Some(llm), ..Default::default() };
    Interpreter::load(&config, &repo()).expect("the shipped vocabulary loads")
}

/// A conversation the rules read only in part: they do not know "my wife has to see it".
fn chat() -> Conversation {
    conversation(
        NOW,
        TZ,
        &[
            ("ai", "Hi Asha, thanks for your interest in Green Acres. How can I help?"),
            ("customer", "Is the corner flat still there? My wife has to see it first before anything."),
            ("ai", "Yes it is. I will ask our sales team to call you."),
        ],
    )
}

/// A chat completion whose message content is `content` (a JSON value, sent as a string).
fn completion(content: &Value) -> Value {
    json!({
        "id": "chatcmpl-1", "object": "chat.completion", "model": "test-model",
        "choices": [{"index": 0, "finish_reason": "stop",
            "message": {"role": "assistant", "content": content.to_string(), "refusal": null}}],
    })
}

/// A valid answer that adds an objection, a fact and a window, and raises urgency.
fn good_answer() -> Value {
    json!({
        "stated_need": "Wants to know if the corner flat is available",
        "intents": [{"code": "availability", "evidence": "Is the corner flat still there?"}],
        "objections": [{"code": "authority", "evidence": "My wife has to see it first"}],
        "facts": [{"fact": "decision_maker", "value": "wife"}],
        "urgency": "high",
        "urgency_reason": "customer wants to move quickly",
        "disposition": "callback",
        "requested_window": {"not_before": "2026-06-10T10:00:00+05:30", "not_after": "2026-06-10T12:00:00+05:30"},
        "promised_next_step": "sales team will call",
    })
}

async fn serve(template: ResponseTemplate) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("POST")).and(path("/v1/chat/completions")).respond_with(template).mount(&server).await;
    server
}

/// Refine the brief through `server`, returning (deterministic, refined).
async fn refine_with(server_uri: &str, timeout: &str) -> (Brief, Brief) {
    refine_by(&interpreter_for(server_uri, timeout)).await
}

async fn refine_by(interpreter: &Interpreter) -> (Brief, Brief) {
    let chat = chat();
    let deterministic = interpreter.interpret(&chat).unwrap();
    let refined = interpreter.llm().expect("configured").refine(&chat, deterministic.clone()).await;
    (deterministic, refined)
}

/// The answer is refused for `reason` and the deterministic brief stands byte-identical.
async fn assert_unchanged(template: ResponseTemplate, timeout: &str, reason: &str) {
    let server = serve(template).await;
    let interpreter = interpreter_for(&server.uri(), timeout);
    let error = interpreter.llm().unwrap().ask(&chat()).await.expect_err("the answer must be refused");
    assert_eq!(error.reason(), reason, "{error}");
    let (deterministic, refined) = refine_by(&interpreter).await;
    assert_eq!(
        serde_json::to_string(&refined).unwrap(),
        serde_json::to_string(&deterministic).unwrap(),
        "the deterministic brief must stand byte-identical"
    );
    assert_eq!(server.received_requests().await.unwrap().len(), 2, "the endpoint was asked (ask, then refine)");
}

#[tokio::test]
async fn a_good_answer_refines_the_brief_and_keeps_the_rules_findings() {
    let server = serve(ResponseTemplate::new(200).set_body_json(completion(&good_answer()))).await;
    let (deterministic, refined) = refine_with(&server.uri(), "5s").await;

    assert!(!deterministic.objections.iter().any(|f| f.code == "authority"), "precondition: the rules miss it");
    let authority = refined.objections.iter().find(|f| f.code == "authority").expect("the model's objection is added");
    assert_eq!(authority.turn, None);
    assert_eq!(authority.evidence, "llm: My wife has to see it first");
    let fact = refined.do_not_ask.iter().find(|f| f.fact == "decision_maker").expect("fact added");
    assert_eq!((fact.value.as_str(), fact.turn), ("wife", None));
    // Everything the rules found is still there, with its turn evidence.
    for finding in deterministic.intents.iter().chain(&deterministic.objections) {
        assert!(refined.intents.contains(finding) || refined.objections.contains(finding), "{finding:?} kept");
    }
    assert_eq!(refined.urgency.level, UrgencyLevel::High);
    assert!(refined.urgency.reasons.iter().any(|r| r.code == "llm" && r.evidence.starts_with("llm: ")));
    if deterministic.requested_window.is_none() {
        let window = refined.requested_window.as_ref().expect("window filled");
        assert_eq!(window.not_before.to_rfc3339(), "2026-06-10T10:00:00+05:30");
    } else {
        assert_eq!(refined.requested_window, deterministic.requested_window, "a rules window is never replaced");
    }
    assert_eq!(refined.disposition, deterministic.disposition);
    assert!(refined.notes.iter().any(|n| n.starts_with("llm: refined by `test-model`")), "{:?}", refined.notes);
    assert!(refined.recommended_action.contains("authority") || refined.recommended_action.contains("decision maker"));
}

#[tokio::test]
async fn the_request_carries_the_turns_the_codes_and_a_strict_schema() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/chat/completions"))
        .and(header("authorization", format!("Bearer {SECRET}").as_str()))
        .respond_with(ResponseTemplate::new(200).set_body_json(completion(&good_answer())))
        .expect(1)
        .mount(&server)
        .await;
    let (_, refined) = refine_with(&server.uri(), "5s").await;
    assert!(refined.notes.iter().any(|n| n.starts_with("llm: refined")), "the bearer-matched mock answered");

    let requests = server.received_requests().await.unwrap();
    let body: Value = serde_json::from_slice(&requests[0].body).unwrap();
    assert_eq!(body["model"], "test-model");
    assert_eq!(body["response_format"]["type"], "json_schema");
    assert_eq!(body["response_format"]["json_schema"]["strict"], true);
    let schema = &body["response_format"]["json_schema"]["schema"];
    let objection_codes = &schema["properties"]["objections"]["items"]["properties"]["code"]["enum"];
    assert!(objection_codes.as_array().unwrap().contains(&json!("authority")), "{objection_codes}");
    let fact_codes = &schema["properties"]["facts"]["items"]["properties"]["fact"]["enum"];
    assert!(fact_codes.as_array().unwrap().contains(&json!("decision_maker")));
    let system = body["messages"][0]["content"].as_str().unwrap();
    assert!(system.contains("availability") && system.contains("authority") && system.contains("budget"), "{system}");
    let user: Value = serde_json::from_str(body["messages"][1]["content"].as_str().unwrap()).unwrap();
    assert_eq!(user["turns"].as_array().unwrap().len(), 3);
    assert_eq!(user["turns"][1]["from"], "customer");
    assert!(user["turns"][1]["text"].as_str().unwrap().contains("My wife"));
}

#[tokio::test]
async fn garbage_leaves_the_brief_unchanged() {
    assert_unchanged(ResponseTemplate::new(200).set_body_string("<html>bad gateway</html>"), "5s", "garbage").await;
    // Valid completion, but the content is not the brief's JSON.
    let not_json = json!({"choices": [{"message": {"content": "Sure! Here is the brief: ..."}}]});
    assert_unchanged(ResponseTemplate::new(200).set_body_json(not_json), "5s", "garbage").await;
}

#[tokio::test]
async fn a_server_error_leaves_the_brief_unchanged() {
    assert_unchanged(ResponseTemplate::new(500).set_body_string("internal error"), "5s", "status").await;
    let echo = format!("Incorrect API key provided: {SECRET}");
    let server = serve(ResponseTemplate::new(401).set_body_string(echo)).await;
    let error = interpreter_for(&server.uri(), "5s").llm().unwrap().ask(&chat()).await.unwrap_err();
    assert!(!error.to_string().contains(SECRET), "an echoed key is not logged: {error}");
    assert!(error.to_string().contains("HTTP 401"), "{error}");
}

#[tokio::test]
async fn a_timeout_leaves_the_brief_unchanged() {
    // The delay is far beyond the timeout, so the outcome does not depend on machine load.
    let template =
        ResponseTemplate::new(200).set_body_json(completion(&good_answer())).set_delay(Duration::from_secs(30));
    assert_unchanged(template, "200ms", "timeout").await;
}

#[tokio::test]
async fn an_unknown_code_leaves_the_brief_unchanged() {
    let mut answer = good_answer();
    answer["objections"] = json!([{"code": "astrology", "evidence": "the stars are wrong"}]);
    assert_unchanged(ResponseTemplate::new(200).set_body_json(completion(&answer)), "5s", "invalid").await;
    let mut answer = good_answer();
    answer["facts"] = json!([{"fact": "shoe_size", "value": "9"}]);
    assert_unchanged(ResponseTemplate::new(200).set_body_json(completion(&answer)), "5s", "invalid").await;
    let mut answer = good_answer();
    answer["urgency"] = json!("critical");
    assert_unchanged(ResponseTemplate::new(200).set_body_json(completion(&answer)), "5s", "invalid").await;
}

#[tokio::test]
async fn an_invalid_window_leaves_the_brief_unchanged() {
    let mut answer = good_answer();
    answer["requested_window"] = json!({"not_before": "tomorrow morning", "not_after": "2026-06-10T12:00:00+05:30"});
    assert_unchanged(ResponseTemplate::new(200).set_body_json(completion(&answer)), "5s", "invalid").await;
    let mut answer = good_answer();
    answer["requested_window"] =
        json!({"not_before": "2026-06-10T12:00:00+05:30", "not_after": "2026-06-10T10:00:00+05:30"});
    assert_unchanged(ResponseTemplate::new(200).set_body_json(completion(&answer)), "5s", "invalid").await;
    // Already over when the conversation is handed off (NOW is 2026-06-09 11:00).
    let mut answer = good_answer();
    answer["requested_window"] =
        json!({"not_before": "2026-06-08T10:00:00+05:30", "not_after": "2026-06-08T12:00:00+05:30"});
    assert_unchanged(ResponseTemplate::new(200).set_body_json(completion(&answer)), "5s", "invalid").await;
}

#[tokio::test]
async fn a_refusal_leaves_the_brief_unchanged() {
    let refusal = json!({"choices": [{"finish_reason": "stop",
        "message": {"role": "assistant", "content": null, "refusal": "I can't help with that."}}]});
    assert_unchanged(ResponseTemplate::new(200).set_body_json(refusal), "5s", "refused").await;
}

#[tokio::test]
async fn an_unreachable_endpoint_leaves_the_brief_unchanged() {
    // A port that was free a moment ago: nothing listens there.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let base_url = format!("http://127.0.0.1:{port}");
    let interpreter = interpreter_for(&base_url, "2s");
    let error = interpreter.llm().unwrap().ask(&chat()).await.unwrap_err();
    assert_eq!(error.reason(), "request", "{error}");
    let (deterministic, refined) = refine_by(&interpreter).await;
    assert_eq!(serde_json::to_string(&refined).unwrap(), serde_json::to_string(&deterministic).unwrap());
}

#[tokio::test]
async fn nothing_to_act_on_makes_no_request() {
    let server = serve(ResponseTemplate::new(200).set_body_json(completion(&good_answer()))).await;
    let interpreter = interpreter_for(&server.uri(), "5s");
    let idle = conversation(NOW, TZ, &[("ai", "Hi! Are you still interested?")]);
    let brief = interpreter.interpret(&idle).unwrap();
    assert!(!brief.actionable);
    let refined = interpreter.llm().unwrap().refine(&idle, brief.clone()).await;
    assert_eq!(refined, brief);
    assert!(server.received_requests().await.unwrap().is_empty());
}

#[test]
fn the_api_key_is_never_in_debug_output() {
    let interpreter = interpreter_for("http://127.0.0.1:9", "5s");
    let shown = format!("{:?} {:?}", interpreter, interpreter.llm().unwrap());
    assert!(!shown.contains(SECRET), "{shown}");
    assert!(shown.contains("test-model"), "the rest is shown: {shown}");
}

#[test]
fn the_config_rejects_unknown_keys_and_defaults_the_timeout() {
    let error = serde_json::from_value::<LlmConfig>(json!({"base_url": "http://x", "model": "m", "temprature": 0.2}));
    assert!(error.unwrap_err().to_string().contains("temprature"));
    let config: LlmConfig = serde_json::from_value(json!({"base_url": "http://x", "model": "m"})).unwrap();
    assert_eq!(config.timeout.get(), Duration::from_secs(5));
}

/// The daemon's handoff maker calls the analyzer after the rules: the task written to the
/// CRM carries what only the model found.
#[tokio::test]
async fn the_daemon_refines_briefs_through_the_configured_endpoint() {
    let llm = MockServer::start().await;
    let mut answer = good_answer();
    answer["requested_window"] = Value::Null; // the daemon runs at the real current time
    Mock::given(method("POST"))
        .and(path("/v1/chat/completions"))
        .respond_with(ResponseTemplate::new(200).set_body_json(completion(&answer)))
        .mount(&llm)
        .await;
    let mock = crate::spine::harness::start_mock(Default::default()).await;
    let Some(harness) = crate::spine::harness::Harness::new(mock.base_url()) else { return };
    let text = harness.config_text().replace(
        "interpret:\n  vocabulary: vocabulary\n",
        &format!(
            "interpret:\n  vocabulary: vocabulary\n  llm:\n    base_url: {}\n    model: test-model\n    api_key: {SECRET}\n    timeout: 5s\n",
            llm.uri()
        ),
    );
    assert!(text.contains("llm:"), "the harness config has the expected `interpret:` block");
    let config = handoffd::config::parse(&text, &|_| None).unwrap_or_else(|p| panic!("{p:?}"));
    let loaded = handoffd::config::Loaded { config, path: repo().join("config/test.yaml") };
    let daemon = handoffd::daemon::start(&loaded).await.expect("daemon starts");

    let body = crate::spine::harness::text_webhook(
        "wamid.LLM0",
        "919820055555",
        "Asha Verma",
        "Is the corner flat still there? My wife has to see it first before anything.",
        crate::spine::harness::now_unix(),
    );
    assert_eq!(crate::spine::harness::post_signed(daemon.addr, &body).await, 200);
    let tasks = crate::spine::harness::eventually(Duration::from_secs(20), "a task in the CRM", || async {
        Some(mock.tasks()).filter(|t| !t.is_empty())
    })
    .await;
    let task_body = &tasks[0].properties["hs_task_body"];
    assert!(task_body.contains("decision maker"), "the model's `authority` objection reached the task: {task_body}");
    assert_eq!(llm.received_requests().await.unwrap().len(), 1);
    daemon.shutdown().await.unwrap();
}
