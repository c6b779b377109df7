//! The customer's own clock in the daemon: a Brazilian customer of a business in India asks for
//! "amanhã de manhã" and the task shows São Paulo's morning beside the owner's time.

use std::time::Duration;

use handoffd_mocks::MockOptions;

use super::harness::*;

#[tokio::test]
async fn a_customer_abroad_gets_their_own_morning_on_the_task() {
    let mock = start_mock(MockOptions::default()).await;
    let Some(harness) = Harness::new(mock.base_url()) else { return };
    let daemon = harness.start().await;
    let body = text_webhook(
        "wamid.CLOCK1",
        "5511912345678",
        "Ana Souza",
        "Quero visitar o apartamento de 3 quartos. Pode me ligar amanhã de manhã?",
        now_unix(),
    );
    assert_eq!(post_signed(daemon.addr, &body).await, 200);
    let tasks =
        eventually(Duration::from_secs(15), "the task", || async { Some(mock.tasks()).filter(|t| !t.is_empty()) })
            .await;
    let text = &tasks[0].properties["hs_task_body"];
    // The business is in Asia/Kolkata (the harness); the customer's morning is 09:00-12:00 BRT.
    assert!(text.contains("IST (customer: ") && text.contains(" 09:00-12:00 Sao Paulo time)"), "{text}");
    daemon.shutdown().await.unwrap();
}
