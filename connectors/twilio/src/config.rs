//! The `kind: twilio` config block.

use handoffd_contract::poll::PollSettings;
use serde::Deserialize;

/// `kind: twilio`: one Twilio account's voice status callbacks and its Calls API.
#[derive(Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TwilioConfig {
    /// The connector id: callbacks arrive on `/webhooks/{id}` (give Twilio that URL as the
    /// call's `StatusCallback`, with any query string you like).
    pub id: String,
    /// The account's Auth Token: Twilio signs every callback with it (`X-Twilio-Signature`,
    /// HMAC-SHA1), and the poller authenticates to the Calls API with it.
    pub auth_token: String,
    /// The account SID (`AC...`): the Calls API path and the poller's user name. Required
    /// with `poll`.
    #[serde(default)]
    pub account_sid: Option<String>,
    /// The URL Twilio was given for this connector, without its query string, when the daemon
    /// sits behind a proxy that rewrites the host, scheme or path (e.g.
    /// `https://hooks.example.com/twilio`). Twilio signs the URL it called, so without this key
    /// the URL is rebuilt from the request (`Host`, `X-Forwarded-Proto`, path and query) and a
    /// rewritten request is refused, with the URLs that were checked in the log.
    #[serde(default)]
    pub public_url: Option<String>,
    /// The secret of a Twilio SharedKey, when a Webhooks Rule makes Twilio sign this URL with it
    /// (the request then carries `X-Twilio-Webhooks-Signature-Settings: key=...,algorithm=...`,
    /// usually HMAC-SHA256). Requests without that header are still checked with `auth_token`.
    #[serde(default)]
    pub shared_key: Option<String>,
    /// The REST API host (the poller reads `{base_url}/2010-04-01/Accounts/{account_sid}/Calls.json`).
    #[serde(default = "default_base_url")]
    pub base_url: String,
    /// Poll the Calls API for finished calls whose status callback never arrived: `schedule`
    /// (cron with seconds), `look_back` (where a first or reset poll starts), `settle` (how
    /// long a finished call is left to its callback). Absent: no poller.
    #[serde(default)]
    pub poll: Option<PollSettings>,
    /// Calls per page of the Calls API (Twilio allows up to 1000).
    #[serde(default = "default_poll_page_size")]
    pub poll_page_size: u32,
    /// ISO 3166 region for numbers written without a country code.
    #[serde(default)]
    pub default_region: Option<String>,
}

fn default_base_url() -> String {
    "https://api.twilio.com".to_owned()
}

fn default_poll_page_size() -> u32 {
    100
}

// Secrets never reach logs, not even through `{:?}`.
impl std::fmt::Debug for TwilioConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TwilioConfig")
            .field("id", &self.id)
            .field("account_sid", &self.account_sid)
            .field("public_url", &self.public_url)
            .field("shared_key", &self.shared_key.as_ref().map(|_| "***"))
            .field("base_url", &self.base_url)
            .field("poll", &self.poll)
            .field("poll_page_size", &self.poll_page_size)
            .field("default_region", &self.default_region)
            .finish_non_exhaustive()
    }
}
