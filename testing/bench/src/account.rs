//! Exact accounting once the daemon has drained, from the daemon's `/metrics` and the mock CRM's tasks and contacts
//! (the bench never opens the daemon's store):
//!
//! - **lost**: acknowledged messages that reached no task. The daemon counts the interactions in handoffs whose task
//!   the CRM accepted (`handoffd_interactions_with_task`). The bench is the daemon's only sender and each of its
//!   messages is one interaction, so acknowledged minus that count is the number lost: exact when every message
//!   sent was acknowledged, and a lower bound otherwise (such a run is not exact anyway).
//! - **tasks the daemon and the CRM disagree on**: handoffs the daemon holds a task for against the distinct handoff
//!   ids among the CRM's tasks. A task the daemon recorded that the CRM does not hold would hide its messages from
//!   the count above, and a task the CRM holds that the daemon never recorded is a write it lost track of; either
//!   way the run is not exact.
//! - **duplicates**: tasks beyond the first for one handoff id.
//! - **handoff latency**: a task is matched to its customer through the contact it is linked to (the contact's
//!   phone is the customer's `wa_id`); a customer makes one handoff, which stays open through the run.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use anyhow::Context;
use chrono::{DateTime, Utc};
use handoffd_mocks::{MockContactView, MockTaskView};

use super::load::Acked;
use super::metrics::DaemonCounts;
use super::stats::Samples;

/// The property that carries a task's handoff id.
const HANDOFF_ID: &str = "handoffd_handoff_id";

/// The outcome of a run, counted exactly.
#[derive(Debug, Default)]
pub struct Outcome {
    /// Tasks beyond the first for one handoff id.
    pub duplicates: u64,
    /// Acknowledged messages that reached no task.
    pub lost: u64,
    /// Customers with acknowledged messages and no task linked to their contact: where to look first when
    /// messages were lost.
    pub customers_without_task: Vec<String>,
    /// Handoffs with a task: as the daemon holds them, and distinct handoff ids among the CRM's tasks.
    pub daemon_tasks: u64,
    pub crm_tasks: u64,
    /// From the end of the quiet period (last acknowledged message of the burst + quiet period) to the task.
    pub handoff_latency: Samples,
}

impl Outcome {
    /// How many handoffs the daemon and the CRM disagree on having a task for.
    pub fn task_mismatch(&self) -> u64 {
        self.daemon_tasks.abs_diff(self.crm_tasks)
    }
}

pub fn account(
    daemon: &DaemonCounts,
    tasks: &[MockTaskView],
    contacts: &[MockContactView],
    acked: &HashMap<String, Acked>,
    quiet: Duration,
) -> anyhow::Result<Outcome> {
    let mut outcome = Outcome {
        lost: (acked.len() as u64).saturating_sub(u64::try_from(daemon.interactions_with_task).unwrap_or(0)),
        daemon_tasks: u64::try_from(daemon.handoffs_with_task).unwrap_or(0),
        ..Outcome::default()
    };
    let quiet = chrono::Duration::from_std(quiet)?;
    let phones: HashMap<&str, Vec<String>> = contacts
        .iter()
        .map(|contact| {
            let phones = ["phone", "mobilephone"]
                .iter()
                .filter_map(|name| contact.properties.get(*name))
                .map(|phone| phone.trim_start_matches('+').to_owned())
                .collect();
            (contact.id.as_str(), phones)
        })
        .collect();
    let mut acks_by_customer: HashMap<&str, Vec<DateTime<Utc>>> = HashMap::new();
    for ack in acked.values() {
        acks_by_customer.entry(ack.wa_id.as_str()).or_default().push(ack.at);
    }

    let mut seen_handoffs = HashSet::new();
    let mut customers_with_task = HashSet::new();
    for task in tasks {
        let Some(handoff_id) = task.properties.get(HANDOFF_ID) else { continue };
        if !seen_handoffs.insert(handoff_id.clone()) {
            outcome.duplicates += 1;
            continue;
        }
        let created: DateTime<Utc> = task.created_at.parse().context("the mock's created_at")?;
        let customers = task.associations.iter().filter_map(|a| phones.get(a.to_id.as_str())).flatten();
        for customer in customers {
            customers_with_task.insert(customer.clone());
            // The task was made from the messages acknowledged a quiet period before it at least; later ones (a
            // flood keeps customers talking) only update it, so they say nothing of how fast it came.
            let acks = acks_by_customer.get(customer.as_str()).into_iter().flatten();
            if let Some(last) = acks.filter(|at| **at + quiet <= created).max() {
                outcome.handoff_latency.push((created - (*last + quiet)).to_std()?);
            }
        }
    }
    outcome.crm_tasks = seen_handoffs.len() as u64;
    let mut without: Vec<String> = acks_by_customer
        .keys()
        .filter(|customer| !customers_with_task.contains(**customer))
        .map(|c| c.to_string())
        .collect();
    without.sort();
    outcome.customers_without_task = without.into_iter().take(5).collect();
    Ok(outcome)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use handoffd_mocks::MockAssociation;

    use super::*;

    fn task(id: &str, handoff: &str, contact: &str, created_at: &str) -> MockTaskView {
        MockTaskView {
            id: id.into(),
            properties: BTreeMap::from([(HANDOFF_ID.to_owned(), handoff.to_owned())]),
            associations: vec![MockAssociation {
                to_id: contact.into(),
                association_category: "HUBSPOT_DEFINED".into(),
                association_type_id: 204,
            }],
            created_at: created_at.into(),
            updated_at: created_at.into(),
        }
    }

    fn contact(id: &str, phone: &str) -> MockContactView {
        MockContactView { id: id.into(), properties: BTreeMap::from([("phone".to_owned(), phone.to_owned())]) }
    }

    fn ack(wa_id: &str, at: &str) -> Acked {
        Acked { at: at.parse().unwrap(), wa_id: wa_id.into() }
    }

    #[test]
    fn lost_duplicates_mismatch_and_latency_come_from_the_metrics_and_the_crm() {
        let acked = HashMap::from([
            ("m1".to_owned(), ack("919700000001", "2026-12-05T10:00:00Z")),
            ("m2".to_owned(), ack("919700000001", "2026-12-05T10:00:00.500Z")),
            // Acknowledged after the task was made: it only updates it.
            ("m3".to_owned(), ack("919700000001", "2026-12-05T10:00:05Z")),
            ("m4".to_owned(), ack("919700000002", "2026-12-05T10:00:00Z")),
        ]);
        let tasks = [
            task("t1", "h1", "c1", "2026-12-05T10:00:01.700Z"),
            // Written twice: the second is a duplicate.
            task("t2", "h1", "c1", "2026-12-05T10:00:02Z"),
        ];
        let contacts = [contact("c1", "+919700000001"), contact("c2", "+919700000002")];
        // The daemon holds one handoff with a task and three interactions in it: m4 reached no task.
        let daemon = DaemonCounts { handoffs_with_task: 1, interactions_with_task: 3, ..DaemonCounts::default() };
        let outcome = account(&daemon, &tasks, &contacts, &acked, Duration::from_secs(1)).unwrap();
        assert_eq!((outcome.lost, outcome.duplicates, outcome.task_mismatch()), (1, 1, 0));
        assert_eq!(outcome.customers_without_task, vec!["919700000002".to_owned()]);
        // From m2 + 1 s to the task: 200 ms.
        assert_eq!(outcome.handoff_latency.quantile(0.5), Some(Duration::from_millis(200)));

        // The daemon believes in a task the CRM does not hold.
        let daemon = DaemonCounts { handoffs_with_task: 2, interactions_with_task: 4, ..DaemonCounts::default() };
        let outcome = account(&daemon, &tasks, &contacts, &acked, Duration::from_secs(1)).unwrap();
        assert_eq!((outcome.lost, outcome.task_mismatch()), (0, 1));
    }
}
