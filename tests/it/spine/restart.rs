//! Stopping the daemon at awkward moments loses nothing and duplicates nothing.

use std::time::Duration;

use handoffd_mocks::{FaultPlan, MockOptions};

use super::harness::*;

const WAIT: Duration = Duration::from_secs(15);

#[tokio::test]
async fn a_restart_during_the_quiet_period_still_makes_exactly_one_task() {
    let mock = start_mock(MockOptions::default()).await;
    let Some(mut harness) = Harness::new(mock.base_url()) else { return };
    harness.quiet_period = "2s";
    let daemon = harness.start().await;
    for i in 0..3 {
        let body = text_webhook(
            &format!("wamid.RST{i}"),
            "919820066666",
            "Asha",
            "need a site visit this weekend",
            now_unix(),
        );
        assert_eq!(post_signed(daemon.addr, &body).await, 200);
    }
    // Acknowledged, not yet handed off: stop now.
    daemon.shutdown().await.unwrap();
    assert_eq!(mock.report().tasks_created, 0, "the quiet period had not passed");

    let daemon = harness.start().await;
    eventually(WAIT, "the task after restart", || async { Some(()).filter(|_| mock.report().tasks_created == 1) })
        .await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let report = mock.report();
    assert_eq!((report.tasks_created, report.duplicate_tasks), (1, 0), "{report:?}");
    daemon.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_restart_after_a_write_whose_answer_was_lost_does_not_duplicate() {
    let mock = start_mock(MockOptions::default()).await;
    mock.set_faults(FaultPlan {
        rate_lost: 1.0,
        lost_hang_ms: 0,
        paths: vec!["tasks/batch/create".to_owned()],
        ..FaultPlan::default()
    })
    .unwrap();
    let Some(harness) = Harness::new(mock.base_url()) else { return };
    let daemon = harness.start().await;
    let body = text_webhook("wamid.CRASH1", "919820077777", "Vikram", "is the price negotiable?", now_unix());
    assert_eq!(post_signed(daemon.addr, &body).await, 200);
    eventually(WAIT, "the write applied, its answer lost", || async {
        Some(()).filter(|_| mock.report().faults_injected.lost_responses >= 1)
    })
    .await;
    daemon.shutdown().await.unwrap();
    mock.set_faults(FaultPlan::default()).unwrap();

    let daemon = harness.start().await;
    let store = daemon.store.clone();
    eventually(WAIT, "the outbox drained", || {
        let store = store.clone();
        async move { store.stage_counts().await.ok().filter(|c| c.outbox_pending == 0) }
    })
    .await;
    let report = mock.report();
    assert_eq!((report.tasks_created, report.duplicate_tasks), (1, 0), "{report:?}");
    daemon.shutdown().await.unwrap();
}
