//! `handoffd explain`: the brief handoffd makes of a conversation.
//!
//! Two inputs: a canonical conversation (`--input FILE`), or, with `--connector ID`, what one
//! customer sent through that connector: a body exactly as the vendor posted it, or a list of
//! stored events. Those take the daemon's own path in a scratch SQLite store (see `events`):
//! parsed by the connector, normalised, attached to handoffs by the quiet period and end
//! signals, and made into briefs by the daemon's own brief maker, so what is printed is what
//! the daemon stores (delivery excepted).

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

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
    /// `--connector`: a body exactly as the vendor posted it, or a JSON array of stored events
    /// `{source, received_at, body}`.
    #[arg(long)]
    pub input: PathBuf,
    /// Read `--input` as what this connector received (its `id` in the configuration).
    #[arg(long)]
    pub connector: Option<String>,
    /// `json` (the brief, default) or `text` (a readable view with evidence).
    #[arg(long, value_enum, default_value_t = Format::Json)]
    pub format: Format,
    /// With `--format json` and `--input`: print `{brief, routing}`, the routing decision (every
    /// pool tried, every candidate and why each was out) beside the brief. Text always shows it.
    #[arg(long)]
    pub routing: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Json,
    Text,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let loaded = crate::config::load(&args.config.config)?;
    let interpreter = Arc::new(Interpreter::load(&loaded.config.interpret, loaded.base_dir())?);
    if let Some(connector) = &args.connector {
        let input = events::read_connector_input(&args.input)?;
        let runtime = super::CommandRuntime::new()?;
        let replay = runtime
            .block_on(events::replay(&loaded.config, interpreter.clone(), connector, input))
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
                        made.made.conversation.now.to_rfc3339(),
                        made.handoff.ended_by.as_deref().unwrap_or("quiet_period")
                    );
                    print!("{}", render_turns(&made.made.conversation));
                    print!("\n{}", render_text(&made.made.brief, &interpreter, &made.made.conversation));
                    if let Some(routing) = &made.made.routing {
                        print!("\n{}", render_routing(routing));
                    }
                }
            }
        }
        return Ok(ExitCode::SUCCESS);
    }
    let conversation = read_conversation(&args.input)?;
    let mut brief = interpreter.interpret(&conversation).with_context(|| format!("`{}`", args.input.display()))?;
    // Routed as the daemon routes, against no store: every rotation at its start, nobody's
    // handoffs open, owners as configured (`--connector` replays read a scratch store instead).
    let routing = if brief.actionable {
        let router = crate::route::Router::from_config(&loaded.config, None)?;
        let facts = crate::route::RouteFacts {
            channel: Some(conversation.channel.clone()),
            language: brief.language.clone(),
            ..Default::default()
        };
        let now = conversation.now.with_timezone(&chrono::Utc);
        Some(router.route(&mut brief, &facts, now, &mut crate::route::RoutingRound::default()))
    } else {
        None
    };
    match args.format {
        Format::Json if args.routing => {
            println!("{}", serde_json::to_string_pretty(&serde_json::json!({"brief": brief, "routing": routing}))?)
        }
        Format::Json => println!("{}", serde_json::to_string_pretty(&brief)?),
        Format::Text => {
            print!("{}", render_text(&brief, &interpreter, &conversation));
            if let Some(routing) = &routing {
                print!("\n{}", render_routing(routing));
            }
        }
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

/// The routing decision as an admin reads it: the rule, each pool tried with every candidate and
/// why each was out, the tie-break, and the due time with its reason.
pub fn render_routing(decision: &crate::route::RouteDecision) -> String {
    let mut out = format!(
        "Routing: rule `{}`{}\n",
        decision.rule,
        match decision.confirm {
            Some(true) => " (confirm to the customer)",
            Some(false) => " (no confirmation to the customer)",
            None => "",
        }
    );
    for pool in &decision.pools {
        out.push_str(&format!("  pool `{}` ({}):\n", pool.pool, pool.strategy.as_str()));
        for (i, candidate) in pool.candidates.iter().enumerate() {
            let id = candidate.id.as_deref().map(|id| format!(" [{id}]")).unwrap_or_default();
            let verdict = match (&candidate.excluded, pool.chosen == Some(i)) {
                (_, true) => "CHOSEN".to_owned(),
                (Some(why), _) => format!("out: {why}"),
                (None, false) => "available".to_owned(),
            };
            out.push_str(&format!("    - {}{id}: {verdict}\n", candidate.owner));
        }
        out.push_str(&format!("    => {}\n", pool.tie_break));
    }
    match (&decision.owner, &decision.unassigned) {
        (Some(owner), _) => out.push_str(&format!(
            "  owner: {} [{}] from pool `{}`\n",
            owner.name.as_deref().unwrap_or(&owner.key),
            owner.id,
            owner.pool
        )),
        (None, Some(why)) => out.push_str(&format!("  owner: UNASSIGNED ({why})\n")),
        (None, None) => {}
    }
    if let Some(due) = &decision.due {
        out.push_str(&format!("  due: {} ({})\n", due.at.to_rfc3339(), due.reason));
    }
    out
}

mod events;

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
