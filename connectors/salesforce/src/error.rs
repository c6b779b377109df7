//! Errors building the connector from its config (call errors are the contract's `CrmError`).

use handoffd_contract::kind::ConfigProblem;

/// Why a `kind: salesforce` connector could not be built.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SalesforceError {
    /// The config has the problems [`crate::validate`] reports (what `handoffd check` prints).
    #[error("connector `{id}`: {}", problems.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
    Invalid { id: String, problems: Vec<ConfigProblem> },
}
