//! The poll-source side of the contract (Airbyte's `read` with state): the host persists the
//! cursor; the connector resumes from it and says where the next call should resume.

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::Deserialize;

use crate::interaction::Interaction;
use crate::kind::ConfigProblem;

/// When the host polls a source that does not say: every five minutes.
pub const DEFAULT_SCHEDULE: &str = "0 */5 * * * *";

/// One call's worth of changes.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PollPage {
    /// What changed since the cursor, each with a stable dedup key (a page fetched twice after
    /// a crash is deduplicated, not doubled).
    pub interactions: Vec<Interaction>,
    /// Where the next call resumes. The host stores it only after it has committed
    /// `interactions`, so a crash replays this page instead of skipping it.
    pub next_cursor: Option<String>,
    /// The vendor has more right now: poll again at once instead of waiting for the schedule.
    pub more: bool,
}

#[derive(Clone, Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PollError {
    /// 429, 5xx, a network failure: try again on the next round (after `retry_after` if given).
    #[error("the vendor is unavailable: {message}")]
    Unavailable { retry_after: Option<std::time::Duration>, message: String },
    /// The stored cursor is no longer accepted (expired, from another account): the host resets
    /// it to `None` and the connector starts over (dedup keys absorb the overlap).
    #[error("the stored cursor is no longer valid: {0}")]
    InvalidCursor(String),
    /// Credentials refused: an admin must act.
    #[error("the vendor refused our credentials: {0}")]
    Auth(String),
    #[error("unexpected answer from the vendor: {0}")]
    Protocol(String),
}

/// A vendor read on a schedule (cron expressions in the host's config).
#[async_trait]
pub trait PollSource: Send + Sync {
    /// The connector id from the config.
    fn id(&self) -> &str;

    /// When to poll: a cron expression with seconds (`sec min hour day month weekday`).
    fn schedule(&self) -> &str {
        DEFAULT_SCHEDULE
    }

    /// What changed since `cursor` (`None`: the connector's own starting point, a bounded
    /// look-back from now).
    async fn poll(&self, cursor: Option<&str>) -> Result<PollPage, PollError>;

    /// The cursor from which a poll reads everything since `at` (a backfill's `--since`, older
    /// than the look-back a `None` cursor starts from). `None`: this source cannot start from a
    /// given time, and `handoffd backfill` refuses it. The host never stores this cursor as the
    /// scheduled poller's own: a backfill walks its own cursor.
    fn cursor_since(&self, at: DateTime<Utc>) -> Option<String> {
        let _ = at;
        None
    }

    /// The instant a cursor (one this source returned) has read up to, so a backfill knows when
    /// it has passed its `--until`. `None`: unknown (the backfill runs until the source has no more).
    fn cursor_reached(&self, cursor: &str) -> Option<DateTime<Utc>> {
        let _ = cursor;
        None
    }
}

/// The `poll:` block a connector with a poller takes (the same keys on every such kind).
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PollSettings {
    /// When to poll, as a cron expression with seconds (`sec min hour day month weekday`);
    /// default every five minutes (`0 */5 * * * *`).
    #[serde(default = "default_schedule")]
    pub schedule: String,
    /// How far back the first poll (and a poll whose stored cursor the vendor refused) looks,
    /// e.g. `24h` (the default). Bounds the work after an outage or a reset.
    #[serde(default = "default_look_back")]
    pub look_back: String,
    /// How long after a call ends the poller leaves it to the webhook (which carries the
    /// vendor's analysis once it is done), e.g. `5m` (the default). The cursor never passes a
    /// call that is still running or ended more recently than this.
    #[serde(default = "default_settle")]
    pub settle: String,
}

impl Default for PollSettings {
    fn default() -> Self {
        Self { schedule: default_schedule(), look_back: default_look_back(), settle: default_settle() }
    }
}

fn default_schedule() -> String {
    DEFAULT_SCHEDULE.to_owned()
}

fn default_look_back() -> String {
    "24h".to_owned()
}

fn default_settle() -> String {
    "5m".to_owned()
}

impl PollSettings {
    /// `look_back` as a duration (after [`PollSettings::validate`] passed).
    pub fn look_back(&self) -> Duration {
        humantime::parse_duration(self.look_back.trim()).unwrap_or(Duration::from_secs(24 * 3600))
    }

    /// `settle` as a duration (after [`PollSettings::validate`] passed).
    pub fn settle(&self) -> Duration {
        humantime::parse_duration(self.settle.trim()).unwrap_or(Duration::from_secs(300))
    }

    /// Every problem in the block, keys under `poll.`. Pure.
    pub fn validate(&self) -> Vec<ConfigProblem> {
        let mut problems = Vec::new();
        if let Err(error) = <cron::Schedule as std::str::FromStr>::from_str(&self.schedule) {
            // The parser's message repeats the expression with a caret line; its last line says why.
            let error = error.to_string();
            let why = error.lines().rfind(|line| !line.trim().is_empty()).unwrap_or_default();
            problems.push(ConfigProblem::at(
                "poll.schedule",
                format!(
                    "`{}` is not a cron expression with seconds (sec min hour day month weekday): {why}",
                    self.schedule
                ),
            ));
        }
        for (key, text) in [("poll.look_back", &self.look_back), ("poll.settle", &self.settle)] {
            if let Err(error) = humantime::parse_duration(text.trim()) {
                problems
                    .push(ConfigProblem::at(key, format!("`{text}` is not a duration like `5m` or `24h`: {error}")));
            }
        }
        if problems.is_empty() && self.look_back() <= self.settle() {
            problems.push(ConfigProblem::at("poll.look_back", "must be longer than `poll.settle`"));
        }
        problems
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_bad_values_are_named_by_key() {
        assert!(PollSettings::default().validate().is_empty());
        let bad =
            PollSettings { schedule: "every minute".into(), look_back: "1 fortnight".into(), settle: "5m".into() };
        let keys: Vec<String> = bad.validate().into_iter().map(|p| p.key).collect();
        assert_eq!(keys, ["poll.schedule", "poll.look_back"]);
        let short = PollSettings { look_back: "1m".into(), ..PollSettings::default() };
        assert_eq!(short.validate()[0].key, "poll.look_back");
    }
}
