//! The daemon's counts, read from its `/metrics` endpoint on `admin.listen` (Prometheus text format): the bench
//! never opens the daemon's store. Every figure here is a gauge the daemon reads from its store at scrape time, so
//! it is exact and survives a restart (a counter would start again at zero after each `kill -9`).

use std::time::Duration;

use anyhow::Context;

/// The counts the bench waits on and accounts with.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DaemonCounts {
    /// `handoffd_inbox_unprocessed`: raw events committed (acknowledged) but not yet normalised.
    pub inbox_unprocessed: i64,
    /// `handoffd_handoffs_collecting`: bursts still waiting for their quiet period.
    pub handoffs_collecting: i64,
    /// `handoffd_outbox_pending`: deliveries not done yet.
    pub outbox_pending: i64,
    /// `handoffd_outbox_unleased`: of those, the ones no delivery round holds (handoffs waiting for a round).
    pub outbox_unleased: i64,
    /// `handoffd_dead_letters`: deliveries that exhausted their retries.
    pub dead_letters: i64,
    /// `handoffd_interactions`: interactions stored (redeliveries deduplicated).
    pub interactions: i64,
    /// `handoffd_handoffs_with_task`: handoffs whose task the CRM accepted.
    pub handoffs_with_task: i64,
    /// `handoffd_interactions_with_task`: interactions in a handoff whose task the CRM accepted.
    pub interactions_with_task: i64,
}

impl DaemonCounts {
    /// Every message normalised and every handoff made (the outbox holds the rest).
    pub fn made(&self) -> bool {
        self.inbox_unprocessed == 0 && self.handoffs_collecting == 0
    }

    /// Nothing left to do: the inbox is processed, no burst is waiting for its quiet period, the outbox is empty.
    pub fn drained(&self) -> bool {
        self.made() && self.outbox_pending == 0
    }

    /// Reads the counts from a Prometheus text exposition; a missing metric is an error (a daemon too old for this
    /// bench, or one whose store could not be read at scrape time).
    pub fn parse(exposition: &str) -> anyhow::Result<Self> {
        let value = |name: &str| -> anyhow::Result<i64> {
            let line = exposition
                .lines()
                .find(|line| line.split_whitespace().next() == Some(name))
                .with_context(|| format!("the daemon's /metrics has no `{name}`"))?;
            let number = line.split_whitespace().nth(1).unwrap_or_default();
            let number: f64 = number.parse().with_context(|| format!("`{name}` is not a number: `{line}`"))?;
            // Gauges are floats on the wire; these are counts, exact below 2^53.
            Ok(number as i64)
        };
        Ok(Self {
            inbox_unprocessed: value("handoffd_inbox_unprocessed")?,
            handoffs_collecting: value("handoffd_handoffs_collecting")?,
            outbox_pending: value("handoffd_outbox_pending")?,
            outbox_unleased: value("handoffd_outbox_unleased")?,
            dead_letters: value("handoffd_dead_letters")?,
            interactions: value("handoffd_interactions")?,
            handoffs_with_task: value("handoffd_handoffs_with_task")?,
            interactions_with_task: value("handoffd_interactions_with_task")?,
        })
    }
}

/// Scrapes the daemons' `/metrics`. Their gauges are read from the one store they share, so any live instance
/// gives the same counts: the first that answers does.
#[derive(Debug, Clone)]
pub struct MetricsReader {
    urls: Vec<String>,
    client: reqwest::Client,
}

impl MetricsReader {
    /// For daemons whose `admin.listen` is `127.0.0.1:{port}`, one port each.
    pub fn new(admin_ports: &[u16]) -> Self {
        let urls = admin_ports.iter().map(|port| format!("http://127.0.0.1:{port}/metrics")).collect();
        Self { urls, client: reqwest::Client::new() }
    }

    pub async fn read(&self) -> anyhow::Result<DaemonCounts> {
        let mut last_error = anyhow::anyhow!("no daemon to scrape");
        for index in 0..self.urls.len() {
            match self.exposition(index).await {
                Ok(text) => return DaemonCounts::parse(&text),
                Err(error) => last_error = error,
            }
        }
        Err(last_error)
    }

    /// The `index`th daemon's exposition.
    pub async fn exposition(&self, index: usize) -> anyhow::Result<String> {
        let url = &self.urls[index];
        let response = self
            .client
            .get(url)
            .timeout(Duration::from_secs(10))
            .send()
            .await
            .with_context(|| format!("scraping `{url}`"))?;
        anyhow::ensure!(response.status().is_success(), "`{url}` answered {}", response.status());
        response.text().await.with_context(|| format!("reading `{url}`"))
    }

    /// Which daemon says it holds lease `lease` (`handoffd_lease_held{lease="..."} 1`), if one does.
    pub async fn lease_holder(&self, lease: &str) -> Option<usize> {
        for index in 0..self.urls.len() {
            if let Ok(text) = self.exposition(index).await
                && holds_lease(&text, lease)
            {
                return Some(index);
            }
        }
        None
    }
}

/// Whether an exposition says its daemon holds `lease`.
pub fn holds_lease(exposition: &str, lease: &str) -> bool {
    let series = format!("handoffd_lease_held{{lease=\"{lease}\"}}");
    exposition.lines().any(|line| {
        let mut parts = line.split_whitespace();
        parts.next() == Some(series.as_str()) && parts.next().and_then(|v| v.parse::<f64>().ok()) == Some(1.0)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_come_from_label_free_gauges_and_a_missing_one_is_named() {
        let exposition = "# TYPE handoffd_inbox_unprocessed gauge\nhandoffd_inbox_unprocessed 3\n\
            handoffd_inbox_unprocessed_total{connector=\"wa\"} 99\nhandoffd_handoffs_collecting 0\n\
            handoffd_outbox_pending 2\nhandoffd_outbox_unleased 1\nhandoffd_dead_letters 0\n\
            handoffd_interactions 1000\nhandoffd_handoffs_with_task 199\nhandoffd_interactions_with_task 995\n";
        let counts = DaemonCounts::parse(exposition).expect("every gauge is there");
        assert_eq!(counts.inbox_unprocessed, 3);
        assert_eq!((counts.handoffs_with_task, counts.interactions_with_task), (199, 995));
        assert!(!counts.made() && !counts.drained());

        let missing = exposition.replace("handoffd_interactions_with_task 995\n", "");
        let error = DaemonCounts::parse(&missing).expect_err("a gauge is missing").to_string();
        assert!(error.contains("handoffd_interactions_with_task"), "{error}");
    }

    #[test]
    fn the_lease_holder_says_1_and_the_others_0() {
        let holder = "handoffd_lease_held{lease=\"crm:hubspot-main\"} 1\nhandoffd_lease_held{lease=\"crm_sync:hubspot-main\"} 0\n";
        assert!(holds_lease(holder, "crm:hubspot-main"));
        assert!(!holds_lease(holder, "crm_sync:hubspot-main"));
        assert!(!holds_lease(holder, "crm:other"));
        assert!(!holds_lease("handoffd_lease_held{lease=\"crm:hubspot-main\"} 0\n", "crm:hubspot-main"));
    }
}
