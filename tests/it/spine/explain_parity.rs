//! `handoffd explain --connector` prints the brief the daemon stores for the same raw events:
//! both go through one brief maker, the LLM refinement and the store's additions included.

use std::time::Duration;

use chrono::Utc;
use handoffd_mocks::MockOptions;
use serde_json::{Value, json};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use super::harness::*;

/// A chat endpoint that adds what the rules cannot read (the `authority` objection).
async fn llm_endpoint() -> MockServer {
    let answer = json!({
        "stated_need": null,
        "intents": [{"code": "availability", "evidence": "Is the corner flat still there?"}],
        "objections": [{"code": "authority", "evidence": "My wife has to see it first"}],
        "facts": [{"fact": "decision_maker", "value": "wife"}],
        "urgency": "high",
        "urgency_reason": "customer wants to move quickly",
        "disposition": "callback",
        "requested_window": null,
        "promised_next_step": null,
    });
    let completion = json!({
        "id": "chatcmpl-1", "object": "chat.completion", "model": "test-model",
        "choices": [{"index": 0, "finish_reason": "stop",
            "message": {"role": "assistant", "content": answer.to_string(), "refusal": null}}],
    });
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/chat/completions"))
        .respond_with(ResponseTemplate::new(200).set_body_json(completion))
        .mount(&server)
        .await;
    server
}

async fn stored_brief(db: &std::path::Path) -> Option<Value> {
    let options = sqlx::sqlite::SqliteConnectOptions::new().filename(db).read_only(true);
    let pool = sqlx::sqlite::SqlitePoolOptions::new().max_connections(1).connect_with(options).await.ok()?;
    let brief: Option<String> =
        sqlx::query_scalar("SELECT brief FROM handoffs WHERE brief IS NOT NULL").fetch_optional(&pool).await.ok()??;
    pool.close().await;
    serde_json::from_str(&brief?).ok()
}

#[tokio::test]
async fn explain_prints_the_brief_the_daemon_stored_for_the_same_events() {
    let llm = llm_endpoint().await;
    let mock = start_mock(MockOptions::default()).await;
    let Some(harness) = Harness::new(mock.base_url()) else { return };
    let text = harness.config_text().replace(
        "interpret:\n  vocabulary: vocabulary\n",
        &format!("interpret:\n  vocabulary: vocabulary\n  llm: {{base_url: \"{}\", model: test-model}}\n", llm.uri()),
    );
    assert!(text.contains("llm:"), "the harness config has the expected `interpret:` block");
    let config = handoffd::config::parse(&text, &|_| None).unwrap_or_else(|p| panic!("{p:?}"));
    let repo = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let loaded = handoffd::config::Loaded { config, path: repo.join("config/test.yaml") };
    let daemon = handoffd::daemon::start(&loaded).await.expect("daemon starts");

    // One customer's burst, as WhatsApp posts it; each event with the time it was sent.
    let sent_at = now_unix();
    let texts =
        ["Is the corner flat still there? My wife has to see it first before anything.", "My budget is 1.2 crore."];
    let mut events = Vec::new();
    for (i, text) in texts.iter().enumerate() {
        let body = text_webhook(&format!("wamid.PARITY{i}"), "919820077777", "Kavya Rao", text, sent_at + i as i64);
        let received_at = Utc::now();
        assert_eq!(post_signed(daemon.addr, &body).await, 200);
        events.push(json!({"source": "webhook", "received_at": received_at.to_rfc3339(), "body": body}));
    }
    let db = harness.state_dir.path().join("handoffd.db");
    let stored =
        eventually(Duration::from_secs(20), "the daemon's stored brief", || async { stored_brief(&db).await }).await;
    daemon.shutdown().await.unwrap();

    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("events.json");
    std::fs::write(&input, Value::Array(events).to_string()).unwrap();
    let config_file = dir.path().join("handoffd.yaml");
    let vocabulary = repo.join("config/vocabulary");
    std::fs::write(
        &config_file,
        text.replace("vocabulary: vocabulary", &format!("vocabulary: {}", vocabulary.display())),
    )
    .unwrap();
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_handoffd"))
        .args(["explain", "--connector", "wa-main", "--config"])
        .arg(&config_file)
        .arg("--input")
        .arg(&input)
        .output()
        .await
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let out: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(out["handoffs"].as_array().map(Vec::len), Some(1), "{out:#}");
    let explained = out["handoffs"][0]["brief"].clone();

    // The steps explain used to miss are in what the daemon stored.
    let notes = stored["notes"].as_array().unwrap();
    assert!(notes.iter().any(|n| n.as_str().unwrap().starts_with("llm:")), "the LLM refined it: {notes:?}");
    assert!(stored["objections"].to_string().contains("authority"), "{stored:#}");
    assert_eq!(llm.received_requests().await.unwrap().len(), 2, "once by the daemon, once by explain");

    // What differs by nature: the store's customer id (another store), and the due time, made
    // from the moment the brief was made (the daemon's round comes a moment after `ready_at`).
    let due_at = |brief: &Value| chrono::DateTime::parse_from_rfc3339(brief["due"]["at"].as_str().unwrap()).unwrap();
    assert!((due_at(&stored) - due_at(&explained)).num_seconds().abs() <= 5, "{stored:#}\n{explained:#}");
    let comparable = |brief: &Value| {
        let mut brief = brief.clone();
        brief["customer"]["id"] = Value::Null;
        brief["due"]["at"] = Value::Null;
        brief
    };
    assert_eq!(comparable(&explained), comparable(&stored));
}
