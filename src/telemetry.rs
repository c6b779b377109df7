//! Logs on standard error: human-readable by default, JSON with `HANDOFFD_LOG_FORMAT=json`;
//! level from `RUST_LOG` (default `info`).
//!
//! Colours only when standard error is a terminal: a file, a pipe or the journal gets plain text
//! (journald shows escape codes as they are). `NO_COLOR` turns them off on a terminal too.

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

pub fn init() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let colours = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_ansi(colours);
    let _ = if std::env::var("HANDOFFD_LOG_FORMAT").as_deref() == Ok("json") {
        builder.json().try_init()
    } else {
        builder.try_init()
    };
}
