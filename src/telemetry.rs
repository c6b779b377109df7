//! Logs on standard error: human-readable by default, JSON with `HANDOFFD_LOG_FORMAT=json`;
//! level from `RUST_LOG` (default `info`).
//!
//! Colours only when standard error is a terminal: a file, a pipe or the journal gets plain text
//! (journald shows escape codes as they are). `NO_COLOR` turns them off on a terminal too.
//!
//! `log.redact` replaces personal data in every line, whatever logged it: phone numbers are
//! found by their shape in the whole line as written (fields and messages alike, both formats);
//! message text is found by the fields that carry it ([`TEXT_FIELDS`]): in the human format the
//! fields are written redacted, in JSON the line is rewritten. A message that wants to show what
//! someone said must put it in one of those fields, never in its format string.

use std::io::{IsTerminal, Write};
use std::sync::LazyLock;

use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;

use crate::config::schema::RedactConfig;

/// Fields whose values are what someone said (a message, a transcript, a quoted phrase).
pub const TEXT_FIELDS: &[&str] =
    &["text", "body", "transcript", "turns", "content", "evidence", "stated_need", "promised_next_step", "caption"];

const PHONE_MARK: &str = "[phone]";
const TEXT_MARK: &str = "[text]";

/// A run of 10 to 15 digits standing alone, with its `+` if it has one.
static PHONE: LazyLock<regex::Regex> =
    LazyLock::new(|| regex::Regex::new(r"\+?\b\d{10,15}\b").expect("a valid expression"));

/// Logging without redaction (`demo`, `mock-crm`: no customer's data).
pub fn init() {
    init_with(RedactConfig::default());
}

/// Logging for the daemon, with `log.redact`.
pub fn init_with(redact: RedactConfig) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let colours = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
    let json = std::env::var("HANDOFFD_LOG_FORMAT").as_deref() == Ok("json");
    let writer = Redacting { redact, json };
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(writer).with_ansi(colours);
    let _ = if json {
        builder.json().try_init()
    } else if redact.text {
        builder.fmt_fields(text_redacting_fields()).try_init()
    } else {
        builder.try_init()
    };
}

/// The human format's fields, with the values of [`TEXT_FIELDS`] written as `[text]`.
fn text_redacting_fields() -> impl for<'w> tracing_subscriber::fmt::FormatFields<'w> + Send + Sync + 'static {
    use tracing_subscriber::field::MakeExt;
    tracing_subscriber::fmt::format::debug_fn(|writer, field, value| match field.name() {
        "message" => write!(writer, "{value:?}"),
        name if TEXT_FIELDS.contains(&name) => write!(writer, "{name}={TEXT_MARK}"),
        name => write!(writer, "{name}={value:?}"),
    })
    .delimited(" ")
}

/// Standard error, each line redacted on its way out.
#[derive(Clone, Copy)]
struct Redacting {
    redact: RedactConfig,
    json: bool,
}

impl<'a> MakeWriter<'a> for Redacting {
    type Writer = RedactingLine;

    fn make_writer(&'a self) -> Self::Writer {
        RedactingLine { redact: self.redact, json: self.json }
    }
}

/// One event's line: the formatter writes it whole, in one call.
struct RedactingLine {
    redact: RedactConfig,
    json: bool,
}

impl Write for RedactingLine {
    fn write(&mut self, line: &[u8]) -> std::io::Result<usize> {
        let mut stderr = std::io::stderr().lock();
        // Text in the human format is redacted field by field as it is formatted; the rest here.
        let rewrites = self.redact.phones || (self.redact.text && self.json);
        if rewrites {
            stderr.write_all(redact_line(&String::from_utf8_lossy(line), self.redact, self.json).as_bytes())?;
        } else {
            stderr.write_all(line)?;
        }
        // The whole line was taken, whatever its redacted length.
        Ok(line.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        std::io::stderr().flush()
    }
}

/// `line` with what `redact` asks replaced; a JSON line stays valid JSON.
pub fn redact_line(line: &str, redact: RedactConfig, json: bool) -> String {
    if json && let Ok(mut value) = serde_json::from_str::<serde_json::Value>(line.trim_end()) {
        redact_value(&mut value, None, redact);
        return format!("{value}\n");
    }
    if redact.phones { PHONE.replace_all(line, PHONE_MARK).into_owned() } else { line.to_owned() }
}

fn redact_value(value: &mut serde_json::Value, key: Option<&str>, redact: RedactConfig) {
    use serde_json::Value;
    if redact.text && key.is_some_and(|key| TEXT_FIELDS.contains(&key)) && !value.is_null() {
        *value = Value::String(TEXT_MARK.to_owned());
        return;
    }
    match value {
        Value::String(text) if redact.phones && PHONE.is_match(text) => {
            *text = PHONE.replace_all(text, PHONE_MARK).into_owned();
        }
        Value::Array(items) => items.iter_mut().for_each(|item| redact_value(item, key, redact)),
        Value::Object(fields) => fields.iter_mut().for_each(|(key, item)| redact_value(item, Some(key), redact)),
        // A bare number can be a phone too (`wa_id` parsed as a number).
        Value::Number(number) if redact.phones && PHONE.is_match(&number.to_string()) => {
            *value = Value::String(PHONE_MARK.to_owned());
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL: RedactConfig = RedactConfig { phones: true, text: true };

    #[test]
    fn phones_go_in_any_line_and_dates_and_short_numbers_stay() {
        let line = "2026-12-05T18:44:50Z INFO customer +919820012345 (wa_id=919820012345) sent 3 messages at 18:44\n";
        let redacted = redact_line(line, ALL, false);
        assert_eq!(redacted, "2026-12-05T18:44:50Z INFO customer [phone] (wa_id=[phone]) sent 3 messages at 18:44\n");
        assert_eq!(redact_line(line, RedactConfig::default(), false), line, "off: unchanged");
    }

    #[test]
    fn a_json_line_loses_text_fields_and_phones_and_stays_json() {
        let line = r#"{"fields":{"message":"Parsed a message from +5511987654321.","text":"call me at 6","n":12},"level":"DEBUG"}"#;
        let redacted: serde_json::Value = serde_json::from_str(&redact_line(line, ALL, true)).unwrap();
        assert_eq!(redacted["fields"]["message"], "Parsed a message from [phone].");
        assert_eq!(redacted["fields"]["text"], "[text]");
        assert_eq!(redacted["fields"]["n"], 12);
        let phones_only = redact_line(line, RedactConfig { phones: true, text: false }, true);
        assert!(phones_only.contains("call me at 6"), "{phones_only}");
    }
}
