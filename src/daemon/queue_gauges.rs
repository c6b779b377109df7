//! Each stage's queue on `/metrics`: `handoffd_queue_depth{stage}` and
//! `handoffd_queue_oldest_age_seconds{stage}`, refreshed from the store on a schedule (one cheap
//! query, [`StatusStore::queue_ages`]) rather than at each scrape. A stage that is stuck shows as
//! an oldest age that keeps growing while its depth does not fall (the alert `HandoffdStageStuck`).
//! Every instance reports the same store: aggregate with `max`, not `sum`.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio_util::sync::CancellationToken;

use crate::store::{QueueAge, StatusStore};

/// How often the gauges are refreshed.
pub const REFRESH_EVERY: Duration = Duration::from_secs(15);

/// Refresh the gauges now, then every [`REFRESH_EVERY`] until `stop`.
pub async fn run(store: Arc<dyn StatusStore>, stop: CancellationToken) {
    loop {
        match crate::daemon::supervisor::catch_round("queue_gauges", async { Ok(store.queue_ages(Utc::now()).await?) })
            .await
        {
            Ok(queues) => record(&queues, Utc::now()),
            Err(error) => {
                tracing::warn!(error = %format!("{error:#}"), "The queue gauges could not be read from the store; they keep their last values.")
            }
        }
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tokio::time::sleep(REFRESH_EVERY) => {}
        }
    }
}

/// Set the gauges of `queues` as of `now` (an empty queue's oldest age is 0).
pub fn record(queues: &[QueueAge], now: DateTime<Utc>) {
    for queue in queues {
        metrics::gauge!("handoffd_queue_depth", "stage" => queue.stage).set(queue.depth as f64);
        metrics::gauge!("handoffd_queue_oldest_age_seconds", "stage" => queue.stage).set(oldest_age(queue, now));
    }
}

fn oldest_age(queue: &QueueAge, now: DateTime<Utc>) -> f64 {
    queue.oldest.map_or(0.0, |oldest| (now - oldest).num_milliseconds().max(0) as f64 / 1000.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_queue_is_zero_old_and_a_waiting_one_ages() {
        let now = Utc::now();
        let empty = QueueAge { stage: "outbox", depth: 0, oldest: None };
        let waiting = QueueAge { stage: "inbox", depth: 3, oldest: Some(now - chrono::Duration::seconds(90)) };
        assert_eq!(oldest_age(&empty, now), 0.0);
        assert_eq!(oldest_age(&waiting, now), 90.0);
    }
}
