//! `handoffd audit --customer KEY`: a customer's whole timeline (interactions on every channel,
//! handoffs, audit events) in time order; `handoffd audit --handoff ID`: the decisions recorded
//! for one handoff. Through the running daemon's admin API or, when none runs, the store.
//!
//! A handoff's entries read as sentences: classified as X because Y, routed by rule R to O (others
//! out because ...), task T created at t; any other kind (the SLA watcher's `reminded`,
//! `reassigned`, `completed`, ...) prints as `kind: detail`, so a stage that adds events needs
//! nothing here.

use std::process::ExitCode;

use super::admin_client::{Via, connect, segment};
use crate::store::{AuditEntry, CustomerTimeline};

#[derive(Debug, clap::Args)]
#[command(group(clap::ArgGroup::new("subject").required(true).args(["customer", "handoff"])))]
pub struct Args {
    #[command(flatten)]
    pub config: super::ConfigArg,
    /// The customer: a phone (`+919820012345`, `09820012345` with `--region IN`), an email,
    /// a match key (`vendor:whatsapp:9198...`) or the store's customer id.
    #[arg(long)]
    pub customer: Option<String>,
    /// A handoff id: the audit entries recorded for it (classified, routed, task written, ...).
    #[arg(long)]
    pub handoff: Option<String>,
    /// Region for a phone written without a country code.
    #[arg(long)]
    pub region: Option<String>,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let runtime = super::CommandRuntime::new()?;
    runtime.block_on(async {
        let via = connect(&args.config).await?;
        if let Some(handoff) = &args.handoff {
            return print_handoff(&via, handoff, args.json).await;
        }
        let given = args.customer.as_deref().unwrap_or_default();
        let Some(timeline) = timeline(&via, given, args.region.as_deref()).await? else {
            eprintln!("No customer is known by `{given}`.");
            return Ok(ExitCode::FAILURE);
        };
        if args.json {
            println!("{}", serde_json::to_string_pretty(&timeline)?);
            return Ok(ExitCode::SUCCESS);
        }
        println!(
            "customer {}{}",
            timeline.customer_id,
            timeline.display_name.map(|n| format!(" ({n})")).unwrap_or_default()
        );
        if let Some(survivor) = &timeline.merged_into {
            println!("merged into {survivor}: its timeline continues there");
        }
        let keys: Vec<&str> = timeline.keys.iter().map(|(k, _)| k.as_str()).collect();
        println!("keys: {}", keys.join(", "));
        for event in &timeline.events {
            println!(
                "{}\t{:<11}\t{:<18}\t{}",
                event.at.format("%Y-%m-%d %H:%M:%S"),
                event.source,
                event.label,
                event.summary
            );
        }
        Ok(ExitCode::SUCCESS)
    })
}

async fn timeline(via: &Via, given: &str, region: Option<&str>) -> anyhow::Result<Option<CustomerTimeline>> {
    match via {
        Via::Daemon(api) => {
            let mut path = format!("/admin/audit/customers/{}", segment(given));
            if let Some(region) = region {
                path.push_str(&format!("?region={}", segment(region)));
            }
            api.get_optional(&path).await
        }
        Via::Store(store) => {
            let Some(customer) = crate::identity::lookup::find_customer(store.as_ref(), given, region).await? else {
                return Ok(None);
            };
            Ok(Some(store.customer_timeline(&customer).await?))
        }
    }
}

async fn print_handoff(via: &Via, handoff: &str, json: bool) -> anyhow::Result<ExitCode> {
    let entries: Vec<AuditEntry> = match via {
        Via::Daemon(api) => api.get(&format!("/admin/audit/handoffs/{}", segment(handoff))).await?,
        Via::Store(store) => store.audit_for_handoff(handoff).await?,
    };
    if json {
        let json: Vec<serde_json::Value> = entries
            .iter()
            .map(|e| serde_json::json!({"at": e.at, "event": e.event, "sentence": sentence(e), "detail": e.detail}))
            .collect();
        println!("{}", serde_json::to_string_pretty(&json)?);
        return Ok(ExitCode::SUCCESS);
    }
    if entries.is_empty() {
        eprintln!("No audit entry is recorded for handoff `{handoff}`.");
        return Ok(ExitCode::FAILURE);
    }
    println!("handoff {handoff}");
    for entry in &entries {
        println!("{}\t{}", entry.at.format("%Y-%m-%d %H:%M:%S"), sentence(entry));
    }
    Ok(ExitCode::SUCCESS)
}

/// One audit entry as a sentence. The kinds routing and delivery write read as prose; any other
/// kind (the SLA watcher's `reminded`, `reassigned`, `completed`, ...) prints as `kind: detail`.
pub fn sentence(entry: &AuditEntry) -> String {
    let detail = &entry.detail;
    let text = |v: &serde_json::Value| match v {
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Null => "-".to_owned(),
        other => other.to_string(),
    };
    let list = |v: &serde_json::Value| {
        v.as_array().map(|items| items.iter().map(text).collect::<Vec<_>>().join(", ")).unwrap_or_default()
    };
    match entry.event.as_str() {
        "classified" => {
            let reasons: Vec<String> = detail["reasons"]
                .as_array()
                .map(|rs| rs.iter().map(|r| format!("{} (\"{}\")", text(&r["code"]), text(&r["evidence"]))).collect())
                .unwrap_or_default();
            format!(
                "classified as {} urgency, {}, intents [{}]{}",
                text(&detail["urgency"]),
                text(&detail["disposition"]),
                list(&detail["intents"]),
                if reasons.is_empty() { String::new() } else { format!(" because {}", reasons.join("; ")) }
            )
        }
        "routed" => {
            let decision = &detail["decision"];
            let out: Vec<String> = decision["pools"]
                .as_array()
                .into_iter()
                .flatten()
                .flat_map(|pool| pool["candidates"].as_array().cloned().unwrap_or_default())
                .filter(|c| c["excluded"].is_string())
                .map(|c| format!("{}: {}", text(&c["owner"]), text(&c["excluded"])))
                .collect();
            let owner = match decision["owner"].as_object() {
                Some(owner) => format!(
                    "{} [{}] from pool `{}` ({})",
                    owner.get("name").filter(|n| n.is_string()).map(text).unwrap_or_else(|| text(&owner["key"])),
                    text(&owner["id"]),
                    text(&owner["pool"]),
                    text(&owner["tie_break"])
                ),
                None if decision.is_object() => format!("nobody: UNASSIGNED ({})", text(&decision["unassigned"])),
                None => text(&detail["owner"]),
            };
            let mut line = format!("routed by rule `{}` to {owner}", text(&detail["rule"]));
            if !out.is_empty() {
                line.push_str(&format!("; others out because {}", out.join("; ")));
            }
            if detail["due"].is_object() {
                line.push_str(&format!("; due {} ({})", text(&detail["due"]["at"]), text(&detail["due"]["reason"])));
            }
            line
        }
        "task_created" | "task_updated" => format!(
            "task {} {} in CRM `{}`",
            text(&detail["task_id"]),
            if entry.event == "task_created" { "created" } else { "updated" },
            text(&detail["crm"])
        ),
        other => format!("{other}: {detail}"),
    }
}
