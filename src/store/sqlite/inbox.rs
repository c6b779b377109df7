//! The inbox's rows: verified events written by the group commit, read back by normalisation.
//!
//! A row keeps what parsing needs (query string, the headers its connector keeps, the body), and reading
//! one back is the only place a stored row becomes a [`Verified`] event again.

use handoffd_contract::inbox::InboxSource;
use handoffd_contract::webhook::Verified;
use sqlx::sqlite::SqliteRow;
use sqlx::{QueryBuilder, Row, Sqlite, SqlitePool};

use super::INBOX_SCHEMA;
use crate::store::{InboxEvent, NewInboxEvent, StoreError, format_ts, parse_ts};

/// Commit `events` in one transaction on the inbox's own writer; their ids in order.
pub(super) async fn insert(inbox_writer: &SqlitePool, events: &[NewInboxEvent]) -> Result<Vec<i64>, StoreError> {
    if events.is_empty() {
        return Ok(Vec::new());
    }
    let mut tx = inbox_writer.begin().await?;
    let mut ids = Vec::with_capacity(events.len());
    // One multi-row INSERT per chunk (SQLite binds at most 32766 parameters).
    for chunk in events.chunks(1000) {
        let mut query =
            QueryBuilder::<Sqlite>::new("INSERT INTO inbox (connector_id, source, received_at, query, headers, body) ");
        query.push_values(chunk, |mut row, new| {
            row.push_bind(&new.connector_id)
                .push_bind(new.source.as_str().to_owned())
                .push_bind(format_ts(new.event.received_at()))
                .push_bind(new.event.query().to_owned())
                .push_bind(headers_json(new.event.headers()))
                .push_bind(new.event.body().to_vec());
        });
        query.push(" RETURNING id");
        let rows = query.build().fetch_all(&mut *tx).await?;
        ids.extend(rows.iter().map(|row| row.get::<i64, _>(0)));
    }
    tx.commit().await?;
    Ok(ids)
}

/// The columns [`event`] reads, for `SELECT {COLUMNS} FROM inbox_db.inbox ...`.
pub(super) fn columns() -> String {
    format!("id, connector_id, source, received_at, query, headers, body FROM {INBOX_SCHEMA}.inbox")
}

/// A row selected with [`columns`], as the verified event it was committed as.
pub(super) fn event(row: &SqliteRow) -> Result<InboxEvent, StoreError> {
    let id: i64 = row.get("id");
    let headers = parse_headers(row.get("headers"))
        .map_err(|error| StoreError::Corrupt(format!("inbox row {id}: headers: {error}")))?;
    let event = Verified::from_inbox_row(parse_ts(row.get("received_at"))?, row.get("query"), headers, row.get("body"));
    Ok(InboxEvent {
        id,
        connector_id: row.get("connector_id"),
        source: InboxSource::from_stored(row.get("source")),
        event,
    })
}

/// Kept headers as a JSON object (name -> value): the column's form since the first inbox.
fn headers_json(headers: &[(String, String)]) -> String {
    let object: serde_json::Map<String, serde_json::Value> =
        headers.iter().map(|(name, value)| (name.clone(), serde_json::Value::from(value.as_str()))).collect();
    serde_json::Value::Object(object).to_string()
}

fn parse_headers(text: &str) -> Result<Vec<(String, String)>, String> {
    let object: serde_json::Map<String, serde_json::Value> = serde_json::from_str(text).map_err(|e| e.to_string())?;
    object
        .into_iter()
        .map(|(name, value)| match value {
            serde_json::Value::String(value) => Ok((name, value)),
            other => Err(format!("`{name}` is {other}, not a string")),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use chrono::{SubsecRound, Utc};
    use handoffd_contract::webhook::RawRequest;
    use http::{HeaderMap, HeaderValue, Method};

    use super::*;
    use crate::store::InboxStore;
    use crate::store::sqlite::SqliteStore;

    /// What a connector verified comes back from the inbox as it was: query, kept headers, body, source.
    #[tokio::test]
    async fn a_verified_event_reads_back_from_its_row_as_it_was_committed() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&format!("sqlite://{}", dir.path().join("h.db").display())).await.unwrap();
        let mut headers = HeaderMap::new();
        headers.insert("content-type", HeaderValue::from_static("application/x-www-form-urlencoded"));
        headers.insert("x-twilio-signature", HeaderValue::from_static("not kept"));
        headers.insert("x-retell-timestamp", HeaderValue::from_static("1764057600"));
        let request = RawRequest {
            method: &Method::GET,
            path: "/webhooks/ex",
            query: "CallSid=CA1&token=t%201",
            headers: &headers,
            body: b"Status=completed",
            // The store keeps microseconds.
            received_at: Utc::now().trunc_subsecs(6),
            peer: None,
        };
        let verified = Verified::check(&request, &["content-type", "x-retell-timestamp"], |_| Ok(())).expect("checked");
        let route = InboxSource::Route("turn".to_owned());
        let new = [
            NewInboxEvent { connector_id: "ex".into(), source: InboxSource::Webhook, event: verified.clone() },
            NewInboxEvent { connector_id: "ex".into(), source: route.clone(), event: verified.clone() },
        ];
        store.insert_inbox(&new).await.unwrap();
        let rows = store.unprocessed_inbox(10).await.unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!((&rows[0].source, &rows[1].source), (&InboxSource::Webhook, &route));
        let mut back = rows[0].event.headers().to_vec();
        back.sort();
        let mut kept = verified.headers().to_vec();
        kept.sort();
        assert_eq!(back, kept);
        assert_eq!(rows[0].event.query(), "CallSid=CA1&token=t%201");
        assert_eq!(rows[0].event.body(), b"Status=completed");
        assert_eq!(rows[0].event.received_at(), verified.received_at());
        assert_eq!(rows[0].event.header("x-twilio-signature"), None);
    }

    #[test]
    fn kept_headers_read_back_as_written() {
        let headers =
            vec![("content-type".to_owned(), "application/json".to_owned()), ("x-a".to_owned(), "1, 2".to_owned())];
        let mut back = parse_headers(&headers_json(&headers)).unwrap();
        back.sort();
        assert_eq!(back, headers);
        assert!(parse_headers("{\"a\": 1}").is_err());
        assert_eq!(parse_headers("{}").unwrap(), vec![]);
    }
}
