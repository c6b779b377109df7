//! `handoffd backtest` over a week of history: routing decisions replayed per second, and the whole
//! run, at 20,000 recorded decisions (a busy week) with 20 owners.
//!
//! Run: `cargo bench --bench backtest` (prints figures; no harness). The history is written through
//! the store's own commit path (a brief and a `routed` audit entry per handoff), then replayed
//! through a candidate that reorders the owners and adds one.

use std::sync::Arc;
use std::time::Instant;

use chrono::{Duration, TimeZone, Utc};
use handoffd::route::backtest::{self, Backtest, Quiet};
use handoffd::store::{AuditEntry, BriefCommit, NewJob, NormalizedBatch, NormalizedInteraction, Store};
use handoffd_contract::conversation::Speaker;
use handoffd_contract::identity::IdentityKey;
use handoffd_contract::interaction::{Channel, Content, Direction, Interaction, Message};

const HANDOFFS: usize = 20_000;
const OWNERS: usize = 20;
const ROUND: usize = 500;

fn owners(ids: impl Iterator<Item = usize>) -> String {
    ids.map(|i| format!("    - {{id: \"u{i}\", name: \"Owner {i}\"}}\n")).collect()
}

fn config(db: &std::path::Path, owners: &str) -> String {
    format!(
        "store:\n  url: sqlite://{}\nserver:\n  listen: 127.0.0.1:0\nbusiness:\n  timezone: Asia/Kolkata\n  hours: {{mon: \"09:30-19:30\", tue: \"09:30-19:30\", wed: \"09:30-19:30\", thu: \"09:30-19:30\", fri: \"09:30-19:30\"}}\nrouting:\n  owners:\n{owners}delivery:\n  crm: hubspot-main\nconnectors:\n  - id: hubspot-main\n    kind: hubspot\n    base_url: http://127.0.0.1:9\n    access_token: t\n",
        db.display()
    )
}

fn brief(urgency: &str) -> String {
    serde_json::json!({
        "customer": {"id": null, "name": null, "phones": [], "emails": []},
        "source": null, "channel_history": [], "stated_need": "a test drive", "intents": [],
        "urgency": {"level": urgency, "reasons": []}, "disposition": "callback", "objections": [],
        "requested_window": null, "promised_next_step": null, "do_not_ask": [], "recommended_owner": null,
        "recommended_action": "Call.", "due": null, "reasked_facts": [], "actionable": true
    })
    .to_string()
}

#[tokio::main]
async fn main() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("handoffd.yaml");
    std::fs::write(&path, config(&dir.path().join("handoffd.db"), &owners(0..OWNERS))).unwrap();
    let running = handoffd::config::load(&path).expect("running configuration");
    let store: Arc<dyn Store> = handoffd::store::open(&running.store_url()).await.expect("store");
    let start = Utc.with_ymd_and_hms(2026, 11, 23, 4, 0, 0).unwrap();
    let written = Instant::now();
    for round in 0..HANDOFFS / ROUND {
        let batches: Vec<(i64, NormalizedBatch)> = (0..ROUND)
            .map(|j| {
                let i = round * ROUND + j;
                let at = start + Duration::seconds(i as i64 * 30);
                let key = IdentityKey::phone(format!("+9198{:08}", i));
                let keys = handoffd::ingest::match_keys(&key, None);
                let interaction = Interaction {
                    dedup_key: format!("m{i}"),
                    channel: Channel::Whatsapp,
                    direction: Direction::Inbound,
                    at,
                    keys: vec![key],
                    display_name: None,
                    content: Content::Message(Message {
                        from: Speaker::Customer,
                        kind: "text".into(),
                        text: Some("call me".into()),
                        ..Default::default()
                    }),
                };
                let batch = NormalizedBatch {
                    connector_id: "wa".into(),
                    received_at: at,
                    quiet_period: Duration::seconds(90),
                    reopen_after: Duration::days(7),
                    interactions: vec![NormalizedInteraction { interaction, keys, end_signal: None }],
                };
                (i as i64 + 1, batch)
            })
            .collect();
        handoffd::ingest::apply_interactions(store.as_ref(), &batches).await.expect("apply");
        let now = start + Duration::seconds(((round + 1) * ROUND) as i64 * 30 + 120);
        let ready = store.ready_handoffs(now, ROUND as u32).await.expect("ready");
        let commits: Vec<BriefCommit> = ready
            .iter()
            .enumerate()
            .map(|(j, h)| BriefCommit {
                handoff_id: h.id.clone(),
                brief: brief(["high", "medium", "low"][j % 3]),
                job: Some(NewJob { crm_id: "hubspot-main".into(), payload: "{}".into() }),
                audit: vec![AuditEntry {
                    at: h.ready_at,
                    handoff_id: Some(h.id.clone()),
                    customer_id: Some(h.customer_id.clone()),
                    event: "routed".into(),
                    detail: serde_json::json!({"owner": format!("u{}", (round * ROUND + j) % OWNERS), "rule": "default",
                        "due": {"at": (h.ready_at + Duration::hours(4)).to_rfc3339(), "reason": "medium"}}),
                }],
                now,
                assignment: None,
            })
            .collect();
        handoffd::conversation::commit_briefs(store.as_ref(), &commits, &[]).await.expect("commit");
    }
    println!("history: {HANDOFFS} routed handoffs written in {:.1?}", written.elapsed());

    let rules = dir.path().join("rules.yaml");
    std::fs::write(&rules, format!("routing:\n  owners:\n{}", owners((0..=OWNERS).rev()))).unwrap();
    let candidate = backtest::candidate::load(&rules, &path, &handoffd::config::process_env).expect("candidate");
    let run = Backtest {
        store: store.clone(),
        running: &running,
        candidate: &candidate.loaded.config,
        rules: rules.display().to_string(),
        since: start - Duration::days(1),
        until: start + Duration::days(30),
    };
    let timer = Instant::now();
    let report = backtest::run(&run, &mut Quiet).await.expect("backtest");
    let took = timer.elapsed();
    assert_eq!(report.decisions as usize, HANDOFFS, "every decision replayed");
    println!(
        "backtest: {} decisions replayed in {:.2?} ({:.0} decisions/s), {} assignments change, {} SLA at risk after",
        report.decisions,
        took,
        report.decisions as f64 / took.as_secs_f64(),
        report.changes.len(),
        report.sla_at_risk.after
    );
    let json = serde_json::to_string(&report).unwrap();
    println!("report: {} KiB of JSON", json.len() / 1024);
}
