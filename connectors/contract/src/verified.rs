//! [`Verified`]: an event whose request passed its connector's check, with what parsing needs.
//!
//! It has four doors, each named for who may open it, so that a body nobody checked cannot
//! reach a parser unnoticed (svix bridge's `Validated`):
//! - [`Verified::check`]: a request and the check it passed (what [`crate::webhook::WebhookSource::verify`] and
//!   connectors' own routes use);
//! - [`Verified::produced_by_connector`]: an event a connector wrote itself (a send it forwarded and
//!   the vendor accepted): there is nothing to verify;
//! - [`Verified::from_inbox_row`]: the store, reading back a row that was verified before it was committed;
//! - [`Verified::for_offline_tool`]: `handoffd explain --connector ID --input FILE`, which feeds a raw
//!   vendor payload from a file the admin chose.

use chrono::{DateTime, Utc};

use crate::webhook::{RawRequest, VerifyError};

/// A verified event: the query string, the headers its connector asked to keep, the raw body,
/// and when it arrived. Fields are private: only the constructors below make one.
#[derive(Clone, PartialEq, Eq)]
pub struct Verified {
    received_at: DateTime<Utc>,
    query: String,
    /// Lowercase names, in the order the connector listed them; a repeated header is joined
    /// with `, ` (RFC 9110 section 5.3).
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Verified {
    /// Run `check` on `request` and, when it passes, keep its query, the `kept_headers` it
    /// carries and its body.
    pub fn check(
        request: &RawRequest<'_>,
        kept_headers: &[&str],
        check: impl FnOnce(&RawRequest<'_>) -> Result<(), VerifyError>,
    ) -> Result<Self, VerifyError> {
        check(request)?;
        let headers = kept_headers
            .iter()
            .filter_map(|name| {
                let values: Vec<&str> =
                    request.headers.get_all(*name).iter().filter_map(|value| value.to_str().ok()).collect();
                (!values.is_empty()).then(|| (name.to_ascii_lowercase(), values.join(", ")))
            })
            .collect();
        Ok(Self {
            received_at: request.received_at,
            query: request.query.to_owned(),
            headers,
            body: request.body.to_vec(),
        })
    }

    /// An event a connector's own route wrote itself, e.g. a send it forwarded and the vendor
    /// accepted: the connector is its author, so there is no signature to check.
    pub fn produced_by_connector(body: Vec<u8>, received_at: DateTime<Utc>) -> Self {
        Self { received_at, query: String::new(), headers: Vec::new(), body }
    }

    /// For the store only: a committed inbox row, which was verified before it was written.
    /// Nothing else reads inbox rows, so nothing else may call this.
    pub fn from_inbox_row(
        received_at: DateTime<Utc>,
        query: String,
        headers: Vec<(String, String)>,
        body: Vec<u8>,
    ) -> Self {
        Self { received_at, query, headers, body }
    }

    /// For offline tools (`handoffd explain --connector ID --input FILE`): a raw vendor payload
    /// read from a file the admin chose, parsed as if it had arrived at `received_at` with no
    /// query and no headers. Never for anything that came over the network.
    pub fn for_offline_tool(body: Vec<u8>, received_at: DateTime<Utc>) -> Self {
        Self::produced_by_connector(body, received_at)
    }

    pub fn received_at(&self) -> DateTime<Utc> {
        self.received_at
    }

    /// The raw query string, without `?` (empty when there was none).
    pub fn query(&self) -> &str {
        &self.query
    }

    /// The kept headers, as (lowercase name, value).
    pub fn headers(&self) -> &[(String, String)] {
        &self.headers
    }

    /// A kept header's value (`name` in any case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(kept, _)| kept.eq_ignore_ascii_case(name)).map(|(_, value)| value.as_str())
    }

    pub fn body(&self) -> &[u8] {
        &self.body
    }
}

// Bodies can be large and hold personal data: the debug form names their size only.
impl std::fmt::Debug for Verified {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Verified")
            .field("received_at", &self.received_at)
            .field("query", &self.query)
            .field("headers", &self.headers)
            .field("body_bytes", &self.body.len())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use http::{HeaderMap, HeaderValue, Method};

    use super::*;

    fn request<'a>(headers: &'a HeaderMap, body: &'a [u8]) -> RawRequest<'a> {
        RawRequest {
            method: &Method::POST,
            path: "/webhooks/x",
            query: "a=1&b=2",
            headers,
            body,
            received_at: Utc::now(),
            peer: None,
        }
    }

    #[test]
    fn a_failed_check_gives_no_verified_event() {
        let headers = HeaderMap::new();
        let refused = Verified::check(&request(&headers, b"{}"), &[], |_| Err(VerifyError::Mismatch));
        assert_eq!(refused, Err(VerifyError::Mismatch));
    }

    #[test]
    fn only_the_asked_headers_are_kept_and_repeats_are_joined() {
        let mut headers = HeaderMap::new();
        headers.insert("content-type", HeaderValue::from_static("application/json"));
        headers.insert("x-signature", HeaderValue::from_static("secret-ish"));
        headers.append("x-event", HeaderValue::from_static("a"));
        headers.append("x-event", HeaderValue::from_static("b"));
        let verified =
            Verified::check(&request(&headers, b"{}"), &["X-Event", "content-type", "absent"], |_| Ok(())).unwrap();
        assert_eq!(
            verified.headers(),
            [("x-event".to_owned(), "a, b".to_owned()), ("content-type".to_owned(), "application/json".to_owned())]
        );
        assert_eq!(verified.header("Content-Type"), Some("application/json"));
        assert_eq!(verified.header("x-signature"), None);
        assert_eq!((verified.query(), verified.body()), ("a=1&b=2", &b"{}"[..]));
    }
}
