//! Errors building the connector from its config (call errors are the contract's `CrmError`).

/// Why a `kind: hubspot` connector could not be built.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HubspotError {
    #[error("connector `{id}`: set exactly one of `access_token` and `oauth`")]
    AuthChoice { id: String },
    #[error("connector `{id}`: `base_url` `{url}` is not a valid URL: {reason}")]
    BaseUrl { id: String, url: String, reason: String },
    #[error("connector `{id}`: `limits.{key}` {reason}")]
    Limit { id: String, key: &'static str, reason: String },
    #[error("connector `{id}`: `request_timeout` must be more than zero")]
    Timeout { id: String },
}
