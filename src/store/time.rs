//! Times are stored as fixed-width RFC 3339 UTC text, so that they sort and compare as text in
//! every database (sqlx's own SQLite encoding varies the width of the fraction).

use chrono::{DateTime, SecondsFormat, Utc};

use super::StoreError;

pub fn format_ts(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Micros, true)
}

pub fn parse_ts(text: &str) -> Result<DateTime<Utc>, StoreError> {
    DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| StoreError::Corrupt(format!("timestamp `{text}`: {e}")))
}
