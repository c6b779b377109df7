//! Lenient readers over `serde_json::Value`: Meta adds fields and types without notice, so the
//! parser reads what it knows and never fails (or panics) on what it does not.

use chrono::{DateTime, Utc};
use serde_json::Value;

/// The string at `path`, if every step is an object key and the leaf is a string.
pub(crate) fn str_at<'a>(value: &'a Value, path: &[&str]) -> Option<&'a str> {
    at(value, path)?.as_str()
}

/// Like [`str_at`], but an empty or blank string counts as absent.
pub(crate) fn text_at<'a>(value: &'a Value, path: &[&str]) -> Option<&'a str> {
    str_at(value, path).map(str::trim).filter(|s| !s.is_empty())
}

pub(crate) fn at<'a>(value: &'a Value, path: &[&str]) -> Option<&'a Value> {
    path.iter().try_fold(value, |node, key| node.get(key))
}

/// The array at `path`, or an empty slice when it is missing or not an array.
pub(crate) fn array_at<'a>(value: &'a Value, path: &[&str]) -> &'a [Value] {
    at(value, path).and_then(Value::as_array).map(Vec::as_slice).unwrap_or(&[])
}

/// A number written either as a JSON number or as a string (Meta mixes both), for display.
pub(crate) fn number_text(value: &Value) -> Option<String> {
    match value {
        Value::Number(n) => Some(n.to_string()),
        Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_owned()),
        _ => None,
    }
}

/// Meta's timestamps are unix seconds as a string ("1697043509"); accept a number too.
pub(crate) fn unix_seconds(value: Option<&Value>) -> Option<DateTime<Utc>> {
    let seconds = match value? {
        Value::String(s) => s.trim().parse::<i64>().ok()?,
        Value::Number(n) => n.as_i64()?,
        _ => return None,
    };
    DateTime::from_timestamp(seconds, 0)
}

/// A message's or status's time: Meta's `timestamp` when it is plausible (after WhatsApp
/// existed, and not more than a day after we received it), else the time we received it. A
/// signed event with a broken clock is still the customer's message: it is kept, timed by our
/// clock, and the repair is logged and counted, never dropped quietly.
pub(crate) fn event_time(value: Option<&Value>, received_at: DateTime<Utc>, what: &str) -> DateTime<Utc> {
    // 2009-01-01T00:00:00Z.
    let earliest = DateTime::from_timestamp(1_230_768_000, 0).unwrap_or(DateTime::<Utc>::MIN_UTC);
    let latest = received_at + chrono::Duration::days(1);
    match unix_seconds(value) {
        Some(at) if at >= earliest && at <= latest => at,
        other => {
            let given = value.map(Value::to_string).unwrap_or_else(|| "none".to_owned());
            let given: String = given.chars().take(40).collect();
            tracing::warn!(
                %what, timestamp = %given, parsed = other.is_some(), %received_at,
                "A WhatsApp event carries an implausible timestamp; it is kept with the time it was received."
            );
            metrics::counter!("handoffd_whatsapp_timestamps_repaired_total").increment(1);
            received_at
        }
    }
}
