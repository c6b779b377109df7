//! `handoffd explain`: the brief handoffd makes of a conversation.
//!
//! Two inputs: a canonical conversation (`--input FILE`), or, with `--connector ID`, the raw
//! events one customer sent through that connector. Raw events take the daemon's own path in a
//! scratch SQLite store: parsed by the connector, normalised, attached to handoffs by the
//! quiet period and end signals, assembled into the canonical conversation and interpreted, so
//! what is printed is what the daemon would have made (routing and delivery excepted).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use handoffd_contract::brief::Brief;
use handoffd_contract::conversation::Conversation;
use serde_json::Value;

use crate::interpret::Interpreter;

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub config: super::ConfigArg,
    /// The conversation: a canonical `input` object, or a whole eval case holding one. With
    /// `--connector`: a JSON array of raw events `{source, received_at, body}`.
    #[arg(long)]
    pub input: PathBuf,
    /// Read `--input` as raw events received by this connector (its `id` in the configuration).
    #[arg(long)]
    pub connector: Option<String>,
    /// `json` (the brief, default) or `text` (a readable view with evidence).
    #[arg(long, value_enum, default_value_t = Format::Json)]
    pub format: Format,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Json,
    Text,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let loaded = crate::config::load(&args.config.config)?;
    let interpreter = Interpreter::load(&loaded.config.interpret, loaded.base_dir())?;
    if let Some(connector) = &args.connector {
        let events = read_events(&args.input)?;
        let runtime = tokio::runtime::Runtime::new().context("starting the async runtime")?;
        let replay = runtime
            .block_on(events::replay(&loaded.config, &interpreter, connector, &events))
            .with_context(|| format!("`{}`", args.input.display()))?;
        for skipped in &replay.quarantined {
            eprintln!("warning: event [{}] would be quarantined by the daemon: {}", skipped.event, skipped.reason);
        }
        match args.format {
            Format::Json => println!("{}", serde_json::to_string_pretty(&replay.json())?),
            Format::Text => {
                if replay.handoffs.is_empty() {
                    println!("No handoff was opened: no customer message among the events.");
                }
                for (i, made) in replay.handoffs.iter().enumerate() {
                    if replay.handoffs.len() > 1 {
                        println!("### Handoff {} of {}\n", i + 1, replay.handoffs.len());
                    }
                    println!(
                        "Handoff made at {}, ended by {}.",
                        made.conversation.now.to_rfc3339(),
                        made.handoff.ended_by.as_deref().unwrap_or("quiet_period")
                    );
                    print!("{}", render_turns(&made.conversation));
                    print!("\n{}", render_text(&made.brief, &interpreter, &made.conversation));
                }
            }
        }
        return Ok(ExitCode::SUCCESS);
    }
    let conversation = read_conversation(&args.input)?;
    let brief = interpreter.interpret(&conversation).with_context(|| format!("`{}`", args.input.display()))?;
    match args.format {
        Format::Json => println!("{}", serde_json::to_string_pretty(&brief)?),
        Format::Text => print!("{}", render_text(&brief, &interpreter, &conversation)),
    }
    Ok(ExitCode::SUCCESS)
}

/// Read a conversation file: the `input` object itself, or an eval case `{input, expect}`.
/// Errors name the field at fault (`turns[2].at: premature end of input`, ...).
pub fn read_conversation(path: &Path) -> anyhow::Result<Conversation> {
    let text = std::fs::read_to_string(path).with_context(|| format!("cannot read `{}`", path.display()))?;
    parse_conversation(&text).with_context(|| format!("`{}`", path.display()))
}

pub fn parse_conversation(text: &str) -> anyhow::Result<Conversation> {
    let mut value: Value = serde_json::from_str(text).context("not valid JSON")?;
    let is_case = value.get("turns").is_none() && value.get("input").is_some();
    let (value, prefix) = match value.get_mut("input") {
        Some(input) if is_case => (input.take(), "input."),
        _ => (value, ""),
    };
    serde_path_to_error::deserialize(value).map_err(|error| {
        let path = error.path().to_string();
        let field = if path == "." { "(top level)".to_owned() } else { format!("{prefix}{path}") };
        anyhow::anyhow!("field `{field}`: {}", error.inner())
    })
}

/// Read a file of raw events; errors name the event and field at fault (`[2].received_at`).
pub fn read_events(path: &Path) -> anyhow::Result<Vec<events::RawEvent>> {
    let text = std::fs::read_to_string(path).with_context(|| format!("cannot read `{}`", path.display()))?;
    let value: Value = serde_json::from_str(&text).with_context(|| format!("`{}`: not valid JSON", path.display()))?;
    serde_path_to_error::deserialize(value)
        .map_err(|error| anyhow::anyhow!("`{}`: event field `{}`: {}", path.display(), error.path(), error.inner()))
}

/// The conversation as interpretation reads it: one line per turn, with time and speaker.
fn render_turns(conversation: &Conversation) -> String {
    let mut out = format!(
        "Conversation ({}, {} turns, now {}):\n",
        conversation.channel,
        conversation.turns.len(),
        conversation.now.format("%Y-%m-%d %H:%M %:z")
    );
    for turn in &conversation.turns {
        let from = serde_json::to_value(turn.from).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default();
        out.push_str(&format!("  [{}] {from:>8}: {}\n", turn.at.format("%Y-%m-%d %H:%M:%S %:z"), turn.text));
    }
    out
}

fn render_text(brief: &Brief, interpreter: &Interpreter, conversation: &Conversation) -> String {
    let task = interpreter.task_text(brief, conversation);
    let mut out = format!("{}\n{}\n", task.subject, "=".repeat(task.subject.chars().count()));
    out.push_str(&format!(
        "disposition: {}   urgency: {}   actionable: {}\n",
        brief.disposition.as_str(),
        brief.urgency.level.as_str(),
        brief.actionable
    ));
    let turn = |t: Option<usize>| t.map_or("vendor".to_owned(), |t| format!("turn {t}"));
    let section = |out: &mut String, title: &str, lines: Vec<String>| {
        if !lines.is_empty() {
            out.push_str(&format!("\n{title}:\n"));
            for line in lines {
                out.push_str(&format!("  - {line}\n"));
            }
        }
    };
    section(
        &mut out,
        "Urgency reasons",
        brief.urgency.reasons.iter().map(|r| format!("{} ({}): \"{}\"", r.code, turn(r.turn), r.evidence)).collect(),
    );
    section(
        &mut out,
        "Intents",
        brief.intents.iter().map(|r| format!("{} ({}): \"{}\"", r.code, turn(r.turn), r.evidence)).collect(),
    );
    section(
        &mut out,
        "Objections",
        brief.objections.iter().map(|r| format!("{} ({}): \"{}\"", r.code, turn(r.turn), r.evidence)).collect(),
    );
    section(
        &mut out,
        "Do not ask",
        brief.do_not_ask.iter().map(|f| format!("{} = \"{}\" ({})", f.fact, f.value, turn(f.turn))).collect(),
    );
    section(
        &mut out,
        "Re-asked after the handoff",
        brief.reasked_facts.iter().map(|f| format!("{} ({}): \"{}\"", f.fact, turn(f.turn), f.evidence)).collect(),
    );
    if let Some(window) = &brief.requested_window {
        out.push_str(&format!(
            "\nRequested window: {} .. {}\n",
            window.not_before.to_rfc3339(),
            window.not_after.to_rfc3339()
        ));
    }
    out.push_str("\nTask:\n");
    for fact in &task.facts {
        out.push_str(&format!("  {}: {}\n", fact.label, fact.value));
    }
    section(&mut out, "Notes", brief.notes.clone());
    out
}

/// Raw events replayed through the daemon's own stages in a scratch store.
mod events {
    use std::path::PathBuf;
    use std::sync::Arc;

    use anyhow::Context;
    use chrono::{DateTime, FixedOffset, Utc};
    use handoffd_contract::brief::Brief;
    use handoffd_contract::conversation::Conversation;
    use handoffd_contract::inbox::InboxSource;
    use handoffd_contract::kind::BuildContext;
    use handoffd_contract::webhook::Verified;
    use serde::Deserialize;
    use serde_json::{Value, json};
    use tokio::sync::Notify;

    use crate::config::Config;
    use crate::conversation::assemble;
    use crate::deliver::StoreVault;
    use crate::ingest::Normalizer;
    use crate::interpret::Interpreter;
    use crate::registry::Connectors;
    use crate::store::{BriefCommit, HandoffRow, NewInboxEvent, NewJob, Store};

    /// One raw event as a connector received it.
    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct RawEvent {
        /// Which door it came through: a vendor webhook, the turns endpoint, or the send proxy.
        pub source: EventSource,
        /// When handoffd received it (RFC 3339): it drives the quiet period, as in the daemon.
        pub received_at: DateTime<FixedOffset>,
        /// The body: a JSON value, or a string holding the body byte for byte.
        pub body: Value,
    }

    #[derive(Debug, Clone, Copy, Deserialize)]
    #[serde(rename_all = "snake_case")]
    pub enum EventSource {
        Webhook,
        Turn,
        ProxiedSend,
    }

    impl EventSource {
        fn as_str(self) -> &'static str {
            match self {
                Self::Webhook => "webhook",
                Self::Turn => "turn",
                Self::ProxiedSend => "proxied_send",
            }
        }
    }

    impl RawEvent {
        fn body_bytes(&self) -> Vec<u8> {
            match &self.body {
                Value::String(raw) => raw.clone().into_bytes(),
                other => other.to_string().into_bytes(),
            }
        }
    }

    /// One handoff the daemon would have made.
    pub struct MadeHandoff {
        pub handoff: HandoffRow,
        pub conversation: Conversation,
        pub brief: Brief,
    }

    /// An event the connector could not parse (the daemon quarantines it).
    pub struct Quarantined {
        /// 0-based index in the events file.
        pub event: usize,
        pub reason: String,
    }

    pub struct Replay {
        pub handoffs: Vec<MadeHandoff>,
        pub quarantined: Vec<Quarantined>,
    }

    impl Replay {
        pub fn json(&self) -> Value {
            json!({
                "handoffs": self.handoffs.iter().map(|made| json!({
                    "ready_at": made.handoff.ready_at.to_rfc3339(),
                    "ended_by": made.handoff.ended_by,
                    "conversation": made.conversation,
                    "brief": made.brief,
                })).collect::<Vec<_>>(),
                "quarantined": self.quarantined.iter()
                    .map(|q| json!({"event": q.event, "reason": q.reason}))
                    .collect::<Vec<_>>(),
            })
        }
    }

    /// A folder removed when dropped (the scratch store lives there).
    struct ScratchDir(PathBuf);

    impl ScratchDir {
        fn new() -> anyhow::Result<Self> {
            let nanos = Utc::now().timestamp_nanos_opt().unwrap_or_default();
            let dir = std::env::temp_dir().join(format!("handoffd-explain-{}-{nanos}", std::process::id()));
            std::fs::create_dir_all(&dir).with_context(|| format!("cannot create `{}`", dir.display()))?;
            Ok(Self(dir))
        }
    }

    impl Drop for ScratchDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    /// Feed `events` to the daemon's stages as if they arrived at their `received_at`, making
    /// each handoff when it becomes ready (before the next event arrives), as the daemon does.
    pub async fn replay(
        config: &Config,
        interpreter: &Interpreter,
        connector_id: &str,
        events: &[RawEvent],
    ) -> anyhow::Result<Replay> {
        if !config.connectors.iter().any(|c| c.id() == connector_id) {
            let known: Vec<&str> = config.connectors.iter().map(|c| c.id()).collect();
            anyhow::bail!("no connector `{connector_id}` is configured (configured: {})", known.join(", "));
        }
        let scratch = ScratchDir::new()?;
        let store = crate::store::open(&format!("sqlite://{}/explain.db", scratch.0.display()))
            .await
            .context("opening the scratch store")?;
        run_events(config, interpreter, connector_id, events, store).await
    }

    async fn run_events(
        config: &Config,
        interpreter: &Interpreter,
        connector_id: &str,
        events: &[RawEvent],
        store: Arc<dyn Store>,
    ) -> anyhow::Result<Replay> {
        let context = BuildContext { vault: Arc::new(StoreVault(store.clone())), http: reqwest::Client::new() };
        let connectors = Arc::new(Connectors::build(&config.connectors, &context)?);
        if events.iter().any(|e| matches!(e.source, EventSource::Webhook))
            && !connectors.webhooks.contains_key(connector_id)
        {
            anyhow::bail!("connector `{connector_id}` does not receive webhooks");
        }
        let timezone: chrono_tz::Tz =
            config.business.timezone.parse().map_err(|e| anyhow::anyhow!("business.timezone: {e}"))?;
        let normalizer = Normalizer {
            store: store.clone(),
            connectors,
            quiet_period: chrono::Duration::from_std(config.conversation.quiet_period.get())?,
            reopen_after: chrono::Duration::from_std(config.conversation.reopen_after.get())?,
            handoff_phrases: config.conversation.handoff_phrases.iter().map(|p| p.to_lowercase()).collect(),
            inbox_committed: Arc::new(Notify::new()),
            handoffs_changed: Arc::new(Notify::new()),
        };
        let maker = Maker { store: store.clone(), interpreter, config, timezone };

        let mut handoffs = Vec::new();
        let mut inbox_ids = Vec::new();
        for event in events {
            let received_at = event.received_at.with_timezone(&Utc);
            handoffs.extend(maker.make_ready(received_at).await?);
            // Read from a file the admin chose: the offline tools' door to a verified event.
            let new = NewInboxEvent {
                connector_id: connector_id.to_owned(),
                source: InboxSource::from_stored(event.source.as_str()),
                event: Verified::for_offline_tool(event.body_bytes(), received_at),
            };
            inbox_ids.extend(store.insert_inbox(&[new]).await?);
            while normalizer.round().await? > 0 {}
        }
        // Every handoff still collecting becomes ready once its quiet period has passed.
        let last = events.iter().map(|e| e.received_at.with_timezone(&Utc)).max().unwrap_or_else(Utc::now);
        let quiet_period = chrono::Duration::from_std(config.conversation.quiet_period.get())?;
        handoffs.extend(maker.make_ready(last + quiet_period + chrono::Duration::seconds(1)).await?);

        let mut quarantined = store
            .list_quarantine(u32::MAX)
            .await?
            .into_iter()
            .filter_map(|entry| {
                let event = inbox_ids.iter().position(|id| *id == entry.inbox_id)?;
                Some(Quarantined { event, reason: entry.reason })
            })
            .collect::<Vec<_>>();
        quarantined.sort_by_key(|q| q.event);
        Ok(Replay { handoffs, quarantined })
    }

    /// The handoff maker's steps up to the brief (`src/conversation/maker.rs`), without routing.
    struct Maker<'a> {
        store: Arc<dyn Store>,
        interpreter: &'a Interpreter,
        config: &'a Config,
        timezone: chrono_tz::Tz,
    }

    impl Maker<'_> {
        async fn make_ready(&self, now: DateTime<Utc>) -> anyhow::Result<Vec<MadeHandoff>> {
            let mut made = Vec::new();
            loop {
                let ready = self.store.ready_handoffs(now, 64).await?;
                if ready.is_empty() {
                    return Ok(made);
                }
                for handoff in ready {
                    made.push(self.make(handoff).await?);
                }
            }
        }

        /// Made at `ready_at`: the moment the daemon would have picked the handoff up.
        async fn make(&self, handoff: HandoffRow) -> anyhow::Result<MadeHandoff> {
            let at = handoff.ready_at;
            let stored = self.store.handoff_conversation(&handoff.id).await?;
            let conversation = assemble(&stored, at, self.timezone, &self.config.business.hours);
            let mut brief = self
                .interpreter
                .interpret(&conversation)
                .with_context(|| format!("the conversation of the handoff ready at {}", at.to_rfc3339()))?;
            brief.customer.id = Some(stored.customer.id.clone());
            brief.ended_by = Some(handoff.ended_by.clone().unwrap_or_else(|| "quiet_period".to_owned()));
            let history = crate::identity::channel_history(&stored, at, self.timezone);
            if !history.is_empty() {
                brief.channel_history = history;
            }
            // Committed as the daemon does, so a later burst of the customer reopens this handoff
            // (an actionable brief is queued) instead of opening a new one.
            let job =
                brief.actionable.then(|| NewJob { crm_id: self.config.delivery.crm.clone(), payload: "{}".to_owned() });
            let commit = BriefCommit {
                handoff_id: handoff.id.clone(),
                brief: serde_json::to_string(&brief)?,
                job,
                audit: Vec::new(),
                now: at,
            };
            self.store.commit_brief(commit).await?;
            Ok(MadeHandoff { handoff, conversation, brief })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_and_invalid_fields_are_named() {
        let error =
            parse_conversation(r#"{"now": "2026-01-01T10:00:00Z", "timezone": "UTC", "channel": "sms"}"#).unwrap_err();
        assert!(format!("{error:#}").contains("turns"), "{error:#}");
        let error = parse_conversation(
            r#"{"input": {"now": "yesterday", "timezone": "UTC", "channel": "sms", "turns": []}, "expect": {}}"#,
        )
        .unwrap_err();
        assert!(format!("{error:#}").contains("input.now"), "{error:#}");
        assert!(parse_conversation("{not json").is_err());
    }
}
