//! `handoffd audit --customer KEY`: a customer's whole timeline (interactions on every channel,
//! handoffs, audit events) in time order; `handoffd audit --handoff ID`: the decisions recorded
//! for one handoff. Through the running daemon's admin API or, when none runs, the store.
//!
//! Entries are printed as stored (time, event, detail as JSON): the stages that add events
//! (routing, the SLA watcher) need nothing here.

use std::process::ExitCode;

use anyhow::Context;

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
    let runtime = tokio::runtime::Runtime::new().context("starting the async runtime")?;
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
        println!("{}", serde_json::to_string_pretty(&entries)?);
        return Ok(ExitCode::SUCCESS);
    }
    if entries.is_empty() {
        eprintln!("No audit entry is recorded for handoff `{handoff}`.");
        return Ok(ExitCode::FAILURE);
    }
    for entry in &entries {
        println!("{}", entry_line(entry));
    }
    Ok(ExitCode::SUCCESS)
}

/// One entry on one line, whatever its event: time, event, customer, detail as compact JSON.
fn entry_line(entry: &AuditEntry) -> String {
    format!(
        "{}\t{:<14}\t{}\t{}",
        entry.at.format("%Y-%m-%d %H:%M:%S"),
        entry.event,
        entry.customer_id.as_deref().unwrap_or("-"),
        entry.detail
    )
}
