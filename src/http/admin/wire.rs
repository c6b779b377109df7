//! The admin API's answers as JSON: what the daemon sends and what `handoffd dlq|quarantine|
//! audit|connector` print, whether they read them from the API or straight from the store.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::store::{DeadLetter, QuarantineEntry};

/// A delivery that exhausted its retries.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DeadLetterView {
    pub id: i64,
    pub handoff_id: String,
    pub crm_id: String,
    pub attempts: u32,
    pub last_error: String,
    pub failed_at: DateTime<Utc>,
    /// The task it would write (JSON; `null` in a listing).
    #[serde(default)]
    pub payload: serde_json::Value,
}

impl DeadLetterView {
    /// In full, with its payload.
    pub fn full(letter: DeadLetter) -> Self {
        let payload =
            serde_json::from_str(&letter.payload).unwrap_or(serde_json::Value::String(letter.payload.clone()));
        Self { payload, ..Self::brief(letter) }
    }

    /// For a listing: without the payload.
    pub fn brief(letter: DeadLetter) -> Self {
        Self {
            id: letter.id,
            handoff_id: letter.handoff_id,
            crm_id: letter.crm_id,
            attempts: letter.attempts,
            last_error: letter.last_error,
            failed_at: letter.failed_at,
            payload: serde_json::Value::Null,
        }
    }
}

/// A signed body that could not be parsed.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct QuarantineView {
    pub id: i64,
    pub inbox_id: i64,
    pub connector_id: String,
    pub received_at: DateTime<Utc>,
    pub reason: String,
    /// Its size in bytes.
    pub bytes: usize,
    /// The body as text (invalid UTF-8 replaced); empty in a listing.
    #[serde(default)]
    pub body: String,
}

impl QuarantineView {
    pub fn full(entry: QuarantineEntry) -> Self {
        let body = String::from_utf8_lossy(&entry.body).into_owned();
        Self { body, ..Self::brief(entry) }
    }

    pub fn brief(entry: QuarantineEntry) -> Self {
        Self {
            id: entry.id,
            inbox_id: entry.inbox_id,
            connector_id: entry.connector_id,
            received_at: entry.received_at,
            reason: entry.reason,
            bytes: entry.body.len(),
            body: String::new(),
        }
    }
}

/// A configured connector as the admin API shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConnectorView {
    pub id: String,
    pub kind: String,
    /// What it does here: `webhook`, `poller`, `crm` (the one tasks go to: `delivery`), `messenger`.
    pub roles: Vec<String>,
    /// Whether it can be paused (a poller or the delivery CRM; see `daemon::controls`).
    pub pausable: bool,
    pub paused: bool,
}

/// The configuration running now.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConfigFileView {
    pub path: String,
    /// SHA-256 (hex) of the file's bytes as written, before interpolation (`config::file_sha256`).
    pub sha256: String,
}

/// What pause, resume and poll answer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ControlOutcome {
    pub connector: String,
    /// `paused`, `resumed`, `polling`.
    pub state: String,
    /// False when nothing changed (paused twice, resumed when not paused).
    pub changed: bool,
}
