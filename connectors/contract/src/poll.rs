//! The poll-source side of the contract (Airbyte's `read` with state): the host persists the
//! cursor; the connector resumes from it and says where the next call should resume.

use async_trait::async_trait;

use crate::interaction::Interaction;

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

    /// What changed since `cursor` (`None`: the connector's own starting point).
    async fn poll(&self, cursor: Option<&str>) -> Result<PollPage, PollError>;
}
