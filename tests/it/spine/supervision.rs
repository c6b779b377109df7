//! Supervised stages in the running daemon: a stage that ends or panics turns `/readyz` to 503
//! and ends the run with an error naming it (so `handoffd run` exits non-zero and systemd
//! restarts it).

use std::time::Duration;

use handoffd_mocks::MockOptions;

use super::harness::*;

async fn readyz(addr: std::net::SocketAddr) -> (u16, String) {
    let response = reqwest::get(format!("http://{addr}/readyz")).await.unwrap();
    (response.status().as_u16(), response.text().await.unwrap())
}

#[tokio::test]
async fn a_stage_that_ends_makes_the_daemon_unready_and_ends_the_run_with_its_name() {
    let mock = start_mock(MockOptions::default()).await;
    let Some(harness) = Harness::new(mock.base_url()) else { return };
    let daemon = harness.start().await;
    assert_eq!(readyz(daemon.addr).await.0, 200);

    daemon.spawn_stage("short_lived", |_stop| async {});
    let addr = daemon.addr;
    let (status, body) = eventually(Duration::from_secs(5), "/readyz to fail", || async {
        Some(readyz(addr).await).filter(|(status, _)| *status != 200)
    })
    .await;
    assert_eq!(status, 503);
    assert!(body.contains("`short_lived` stage ended"), "{body}");

    let run = tokio::time::timeout(Duration::from_secs(30), daemon.run_until(std::future::pending())).await;
    let error = run.expect("the run ends by itself").expect_err("a failed stage is an error");
    assert!(format!("{error:#}").contains("`short_lived`"), "{error:#}");
}

#[tokio::test]
async fn a_stage_that_panics_ends_the_run_and_the_others_shut_down() {
    let mock = start_mock(MockOptions::default()).await;
    let Some(harness) = Harness::new(mock.base_url()) else { return };
    let daemon = harness.start().await;
    let health = daemon.stage_health();
    daemon.spawn_stage("fragile", |_stop| async { panic!("the fragile stage broke") });
    let error = tokio::time::timeout(Duration::from_secs(30), daemon.run_until(std::future::pending()))
        .await
        .expect("the run ends by itself")
        .expect_err("a panicked stage is an error");
    assert!(format!("{error:#}").contains("`fragile` stage panicked: the fragile stage broke"), "{error:#}");
    let failed: Vec<&str> = health.failures().iter().map(|f| f.stage).collect();
    assert_eq!(failed, ["fragile"], "the daemon's own stages stopped as asked, not failed");
}
