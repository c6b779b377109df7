//! Exact accounting once the daemon has drained: every acknowledged message must be in a handoff whose task
//! the CRM holds (otherwise it is lost), and no handoff may have two tasks (a duplicate).

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use anyhow::Context;
use chrono::{DateTime, Utc};

use super::stats::Samples;
use crate::mockcrm::MockTaskView;
use crate::store::{StageCounts, Store};

/// The outcome of a run, counted exactly.
#[derive(Debug, Default)]
pub struct Outcome {
    /// Tasks beyond the first for one handoff id.
    pub duplicates: u64,
    /// Acknowledged messages that reached no task.
    pub lost: u64,
    /// The first few lost message ids, to reproduce.
    pub lost_examples: Vec<String>,
    /// From the end of the quiet period (last acknowledged message of the burst + quiet period) to the task.
    pub handoff_latency: Samples,
}

pub async fn account(
    store: &dyn Store,
    tasks: &[MockTaskView],
    acked: &HashMap<String, DateTime<Utc>>,
    quiet: Duration,
) -> anyhow::Result<Outcome> {
    let mut outcome = Outcome::default();
    let mut seen_handoffs = HashSet::new();
    let mut effected = HashSet::new();
    let quiet = chrono::Duration::from_std(quiet)?;
    for task in tasks {
        let Some(handoff_id) = task.properties.get("handoffd_handoff_id") else { continue };
        if !seen_handoffs.insert(handoff_id.clone()) {
            outcome.duplicates += 1;
            continue;
        }
        let conversation = store
            .handoff_conversation(handoff_id)
            .await
            .with_context(|| format!("task {} names handoff {handoff_id}", task.id))?;
        let created: DateTime<Utc> = task.created_at.parse().context("the mock's created_at")?;
        // The task was made from the messages acknowledged a quiet period before it at least; later ones (a
        // flood keeps customers talking) only update it, so they say nothing of how fast it came.
        let mut last_before_task = None;
        for stored in &conversation.interactions {
            effected.insert(stored.interaction.dedup_key.clone());
            if let Some(acked_at) = acked.get(&stored.interaction.dedup_key).filter(|at| **at + quiet <= created) {
                last_before_task = last_before_task.max(Some(*acked_at));
            }
        }
        if let Some(last) = last_before_task {
            outcome.handoff_latency.push((created - (last + quiet)).to_std()?);
        }
    }
    let mut lost: Vec<&String> = acked.keys().filter(|wamid| !effected.contains(*wamid)).collect();
    lost.sort();
    outcome.lost = lost.len() as u64;
    outcome.lost_examples = lost.into_iter().take(5).cloned().collect();
    Ok(outcome)
}

/// Nothing left to do: the inbox is processed, no burst is waiting for its quiet period, the outbox is empty.
pub fn drained(counts: &StageCounts) -> bool {
    counts.inbox_unprocessed == 0 && counts.handoffs_collecting == 0 && counts.outbox_pending == 0
}
