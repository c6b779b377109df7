//! Backfill: a vendor's history read through its poller from a given time (`handoffd backfill
//! --connector ID --since 30d`), further back than the scheduled poller's look-back.
//!
//! The walk has its own cursor, started by [`PollSource::cursor_since`] and never stored: the
//! scheduled poller's cursor is left where it is. Each page is committed through an inbox (the
//! running daemon's, through its admin API, or the store's) exactly as a scheduled poll commits
//! it, so the normaliser's dedup keys make a second run, or an overlap with the poller or the
//! webhooks, harmless. The walk ends when the source has no more, when the cursor has passed
//! `until`, or when a source hands back the cursor it was given (it would loop).

use chrono::{DateTime, Utc};
use handoffd_contract::inbox::{InboxSink, InboxSource};
use handoffd_contract::poll::{PollError, PollSource};
use handoffd_contract::webhook::Verified;

/// Where a backfill stands after a page.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Progress {
    pub pages: u64,
    /// Interactions committed to the inbox (before dedup: a re-run counts them again).
    pub interactions: u64,
    /// The instant the walk has read up to, when the source can say.
    pub reached: Option<DateTime<Utc>>,
}

#[derive(Debug, thiserror::Error)]
pub enum BackfillError {
    #[error("connector `{0}` cannot start from a given time (its poller has no backfill)")]
    Unsupported(String),
    #[error("polling `{connector}` after {pages} pages: {error}")]
    Vendor { connector: String, pages: u64, error: PollError },
    #[error("committing a page of `{connector}` to the inbox: {message}")]
    Inbox { connector: String, message: String },
}

/// Walk `source` from `since` until it has no more (or past `until`), committing each page to
/// `inbox` before asking for the next; `progress` is called after each page.
pub async fn backfill(
    source: &dyn PollSource,
    inbox: &dyn InboxSink,
    since: DateTime<Utc>,
    until: Option<DateTime<Utc>>,
    mut progress: impl FnMut(&Progress),
) -> Result<Progress, BackfillError> {
    let id = source.id().to_owned();
    let mut cursor = source.cursor_since(since).ok_or_else(|| BackfillError::Unsupported(id.clone()))?;
    let mut done = Progress { reached: Some(since), ..Progress::default() };
    loop {
        let page = source.poll(Some(&cursor)).await.map_err(|error| BackfillError::Vendor {
            connector: id.clone(),
            pages: done.pages,
            error,
        })?;
        let found = page.interactions.len() as u64;
        if found > 0 {
            let body = serde_json::to_vec(&page.interactions)
                .map_err(|e| BackfillError::Inbox { connector: id.clone(), message: e.to_string() })?;
            inbox
                .accept(&id, InboxSource::Poll, Verified::produced_by_connector(body, Utc::now()))
                .await
                .map_err(|e| BackfillError::Inbox { connector: id.clone(), message: e.0 })?;
        }
        done.pages += 1;
        done.interactions += found;
        let next = page.next_cursor.filter(|next| *next != cursor);
        if let Some(reached) = next.as_deref().and_then(|next| source.cursor_reached(next)) {
            done.reached = Some(reached);
        }
        progress(&done);
        let past_until = until.is_some_and(|until| done.reached.is_some_and(|reached| reached >= until));
        match next {
            Some(next) if page.more && !past_until => cursor = next,
            _ => return Ok(done),
        }
    }
}

/// The store's inbox, for a backfill while no daemon runs (its next start normalises the pages).
pub struct StoreInbox(pub std::sync::Arc<dyn crate::store::Store>);

#[async_trait::async_trait]
impl InboxSink for StoreInbox {
    async fn accept(
        &self,
        connector_id: &str,
        source: InboxSource,
        event: Verified,
    ) -> Result<handoffd_contract::inbox::Committed, handoffd_contract::inbox::InboxError> {
        let new = crate::store::NewInboxEvent { connector_id: connector_id.to_owned(), source, event };
        let ids = self.0.insert_inbox(&[new]).await.map_err(|e| handoffd_contract::inbox::InboxError(e.to_string()))?;
        Ok(handoffd_contract::inbox::Committed { inbox_id: ids.first().copied().unwrap_or_default() })
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use async_trait::async_trait;
    use handoffd_contract::inbox::{Committed, InboxError};
    use handoffd_contract::poll::PollPage;

    use super::*;

    /// Pages of one empty interaction list per hour from its cursor (an RFC 3339 instant) to `end`.
    struct Hourly {
        end: DateTime<Utc>,
        asked: Mutex<Vec<String>>,
    }

    #[async_trait]
    impl PollSource for Hourly {
        fn id(&self) -> &str {
            "voice"
        }

        async fn poll(&self, cursor: Option<&str>) -> Result<PollPage, PollError> {
            let cursor = cursor.expect("a backfill always gives its cursor");
            self.asked.lock().unwrap().push(cursor.to_owned());
            let from = self.cursor_reached(cursor).unwrap();
            let next = (from + chrono::Duration::hours(1)).min(self.end);
            Ok(PollPage { interactions: Vec::new(), next_cursor: Some(next.to_rfc3339()), more: next < self.end })
        }

        fn cursor_since(&self, at: DateTime<Utc>) -> Option<String> {
            Some(at.to_rfc3339())
        }

        fn cursor_reached(&self, cursor: &str) -> Option<DateTime<Utc>> {
            DateTime::parse_from_rfc3339(cursor).ok().map(|at| at.to_utc())
        }
    }

    struct Nowhere;

    #[async_trait]
    impl InboxSink for Nowhere {
        async fn accept(&self, _: &str, _: InboxSource, _: Verified) -> Result<Committed, InboxError> {
            Ok(Committed { inbox_id: 0 })
        }
    }

    #[tokio::test]
    async fn the_walk_runs_to_the_end_or_stops_past_until() {
        let end = Utc::now();
        let source = Hourly { end, asked: Mutex::default() };
        let since = end - chrono::Duration::hours(5);
        let mut seen = Vec::new();
        let done = backfill(&source, &Nowhere, since, None, |p| seen.push(p.pages)).await.unwrap();
        assert_eq!(done.pages, 5);
        assert_eq!(seen, [1, 2, 3, 4, 5]);
        assert_eq!(done.reached, Some(DateTime::parse_from_rfc3339(&end.to_rfc3339()).unwrap().to_utc()));

        let until = since + chrono::Duration::minutes(90);
        let done = backfill(&source, &Nowhere, since, Some(until), |_| {}).await.unwrap();
        assert_eq!(done.pages, 2, "stops once the cursor has passed `until`");
    }

    #[tokio::test]
    async fn a_source_without_backfill_is_refused() {
        struct Plain;
        #[async_trait]
        impl PollSource for Plain {
            fn id(&self) -> &str {
                "plain"
            }
            async fn poll(&self, _: Option<&str>) -> Result<PollPage, PollError> {
                panic!("never asked")
            }
        }
        let refused = backfill(&Plain, &Nowhere, Utc::now(), None, |_| {}).await.unwrap_err();
        assert!(matches!(refused, BackfillError::Unsupported(_)), "{refused}");
    }
}
