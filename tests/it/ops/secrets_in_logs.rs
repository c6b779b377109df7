//! Secrets from the configuration never reach a log line, even at debug level, while webhooks,
//! handshakes, refused requests and failing CRM calls go through the whole pipeline.

use super::child::Daemon;
use crate::spine::harness::{APP_SECRET, VERIFY_TOKEN, now_unix, post_signed, post_webhook, text_webhook};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_secret_appears_in_any_log_line() {
    let daemon = Daemon::start("", &[], &[("RUST_LOG", "debug"), ("HANDOFFD_LOG_FORMAT", "json")]);
    daemon.wait_listening();
    let base = format!("http://127.0.0.1:{}", daemon.port);
    let addr: std::net::SocketAddr = format!("127.0.0.1:{}", daemon.port).parse().unwrap();
    let client = reqwest::Client::new();

    // Handshakes with the right and a wrong verify token.
    let challenge =
        format!("{base}/webhooks/wa-main?hub.mode=subscribe&hub.verify_token={VERIFY_TOKEN}&hub.challenge=42");
    assert_eq!(client.get(challenge).send().await.unwrap().status(), 200);
    let wrong =
        format!("{base}/webhooks/wa-main?hub.mode=subscribe&hub.verify_token=not-{VERIFY_TOKEN}&hub.challenge=42");
    assert_eq!(client.get(wrong).send().await.unwrap().status(), 403);
    // Signed, badly signed, and a send through the proxy with the agent's token.
    let body = text_webhook("wamid.secret1", "919820012345", "Asha", "call me tomorrow morning", now_unix());
    assert_eq!(post_signed(addr, &body).await, 200);
    assert_eq!(post_webhook(addr, &body, Some("sha256=00".into())).await, 401);
    let send = serde_json::json!({"messaging_product": "whatsapp", "to": "919820012345", "type": "text", "text": {"body": "hi"}});
    let _ = client
        .post(format!("{base}/graph/v23.0/106540352242922/messages"))
        .bearer_auth("agent-desk-token")
        .json(&send)
        .send()
        .await
        .unwrap();
    // The quiet period ends and delivery to the unreachable CRM fails and retries, with its token.
    tokio::time::sleep(std::time::Duration::from_secs(4)).await;

    let (exit, log) = daemon.stop();
    assert!(exit.success(), "{log}");
    assert!(log.lines().count() > 10, "the daemon logged at debug level:\n{log}");
    assert!(log.contains("wamid.secret1") || log.contains("handoff"), "the pipeline ran:\n{log}");
    for secret in [APP_SECRET, VERIFY_TOKEN, "mock-hubspot-token", "agent-desk-token"] {
        let leaks: Vec<&str> = log.lines().filter(|line| line.contains(secret)).collect();
        assert!(leaks.is_empty(), "`{secret}` is in the log:\n{}", leaks.join("\n"));
    }
}
