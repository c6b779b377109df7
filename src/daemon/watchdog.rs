//! systemd's watchdog, fed by the supervisor: a ping every half timeout while no stage is wedged.
//!
//! A timer that always pings proves only that the runtime runs. Here a stage stuck in one round
//! for longer than `service.stuck_after` (a lock never released, a connection that never
//! answers) stops the pings, so systemd restarts the service; a runtime that is blocked stops
//! them too, since this task then never runs.

use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::notify::ServiceManager;
use super::supervisor::StageHealth;

pub async fn run(manager: ServiceManager, health: StageHealth, interval: Duration, stop: CancellationToken) {
    let mut wedged_stage: Option<&'static str> = None;
    loop {
        match health.wedged() {
            None => {
                manager.watchdog_ping();
                if let Some(stage) = wedged_stage.take() {
                    tracing::info!(stage, "The `{stage}` stage is moving again; watchdog pings resume.");
                    manager.status("Running");
                }
            }
            Some(wedged) => {
                if wedged_stage != Some(wedged.stage) {
                    tracing::error!(
                        stage = wedged.stage,
                        seconds = wedged.running_for.as_secs(),
                        "{wedged}; watchdog pings stop so that the service manager restarts handoffd."
                    );
                    manager.status(&format!("Wedged: {wedged}"));
                    metrics::counter!("handoffd_stage_wedged_total", "stage" => wedged.stage).increment(1);
                    wedged_stage = Some(wedged.stage);
                }
            }
        }
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tokio::time::sleep(interval) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::net::UnixDatagram;

    use super::*;
    use crate::daemon::supervisor::{Supervisor, catch_round};

    /// Every datagram that arrives within `window`.
    fn drain(socket: &UnixDatagram, window: Duration) -> Vec<String> {
        socket.set_read_timeout(Some(Duration::from_millis(20))).unwrap();
        let until = std::time::Instant::now() + window;
        let mut messages = Vec::new();
        let mut buffer = [0u8; 512];
        while std::time::Instant::now() < until {
            if let Ok(n) = socket.recv(&mut buffer) {
                messages.push(String::from_utf8_lossy(&buffer[..n]).into_owned());
            }
        }
        messages
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_wedged_stage_stops_the_pings_and_a_healthy_one_does_not() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("notify.sock");
        let socket = UnixDatagram::bind(&path).unwrap();
        let manager = ServiceManager::to_socket(path, Some(Duration::from_millis(40)));
        let supervisor = Supervisor::with_stuck_after(Duration::from_millis(300));
        let health = supervisor.health();
        let interval = manager.watchdog_interval().unwrap();
        let (pinger, pinged_health) = (manager.clone(), health.clone());
        supervisor.spawn_stage("watchdog", move |stop| run(pinger, pinged_health, interval, stop));
        // A healthy stage: short rounds, forever.
        supervisor.spawn_stage("healthy", |stop| async move {
            while !stop.is_cancelled() {
                let _ = catch_round("healthy", async { Ok(()) }).await;
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        });
        let socket = tokio::task::spawn_blocking(move || {
            let before = drain(&socket, Duration::from_millis(200));
            (socket, before)
        });
        let (socket, before) = socket.await.unwrap();
        assert!(before.iter().filter(|m| *m == "WATCHDOG=1").count() >= 3, "pings while all is well: {before:?}");

        // A stage whose round never ends.
        supervisor.spawn_stage("stuck", |_stop| async {
            let _ = catch_round("stuck", std::future::pending::<anyhow::Result<()>>()).await;
        });
        let (socket, wedging) = tokio::task::spawn_blocking(move || {
            let wedging = drain(&socket, Duration::from_millis(500));
            (socket, wedging)
        })
        .await
        .unwrap();
        let status = wedging.iter().position(|m| m.starts_with("STATUS=Wedged: the `stuck` stage"));
        let status = status.unwrap_or_else(|| panic!("the status says which stage is wedged: {wedging:?}"));
        let after = tokio::task::spawn_blocking(move || drain(&socket, Duration::from_millis(300))).await.unwrap();
        assert!(
            wedging[status..].iter().chain(&after).all(|m| m != "WATCHDOG=1"),
            "no ping once a stage is wedged: {wedging:?} then {after:?}"
        );
        assert_eq!(health.wedged().map(|w| w.stage), Some("stuck"));
    }
}
