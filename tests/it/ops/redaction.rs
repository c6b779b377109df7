//! `log.redact`: with it on, the phones and message texts that went through the pipeline at
//! debug level are in no log line (either format); with it off they are, so the test can fail.

use super::child::Daemon;
use crate::spine::harness::{now_unix, post_signed, text_webhook};

const PHONES: [&str; 2] = ["919820012345", "5511987654321"];
const TEXTS: [&str; 2] = ["please call me tomorrow about the quokka apartment", "orçamento do telhado zebra"];

/// Run a chat of each phone through a daemon at debug level, and return its log.
async fn log_of_a_run(redact: &str, format: &str) -> String {
    let daemon = Daemon::start_edited("", &[], &[("RUST_LOG", "debug"), ("HANDOFFD_LOG_FORMAT", format)], |text| {
        format!("{text}\nlog:\n  redact: {redact}\n")
    });
    daemon.wait_listening();
    let addr: std::net::SocketAddr = format!("127.0.0.1:{}", daemon.port).parse().unwrap();
    for (i, (phone, text)) in PHONES.iter().zip(TEXTS).enumerate() {
        let body = text_webhook(&format!("wamid.redact{i}"), phone, "Asha", text, now_unix());
        assert_eq!(post_signed(addr, &body).await, 200);
    }
    // The quiet period ends, a brief is made and delivery to the unreachable CRM fails and retries.
    tokio::time::sleep(std::time::Duration::from_secs(4)).await;
    let (exit, log) = daemon.stop();
    assert!(exit.success(), "{log}");
    assert!(log.contains("wamid.redact0"), "the pipeline ran at debug level:\n{log}");
    log
}

fn leaks(log: &str) -> Vec<&str> {
    let text_words = TEXTS.iter().flat_map(|t| t.split_whitespace()).filter(|w| ["quokka", "zebra"].contains(w));
    let needles: Vec<&str> = PHONES.iter().copied().chain(text_words).collect();
    log.lines().filter(|line| needles.iter().any(|needle| line.contains(needle))).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn phones_and_texts_are_in_no_log_line_when_redacted_and_are_when_not() {
    let plain = log_of_a_run("{phones: false, text: false}", "json").await;
    let found = leaks(&plain);
    assert!(
        PHONES.iter().all(|p| found.iter().any(|l| l.contains(p))) && found.iter().any(|l| l.contains("quokka")),
        "without redaction the phones and texts are logged (else this test proves nothing):\n{plain}"
    );
    for format in ["json", "text"] {
        let log = log_of_a_run("{phones: true, text: true}", format).await;
        let found = leaks(&log);
        assert!(found.is_empty(), "redacted ({format}), yet:\n{}", found.join("\n"));
        assert!(log.contains("[phone]"), "the phones were replaced, not dropped ({format}):\n{log}");
    }
}
