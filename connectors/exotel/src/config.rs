//! The `kind: exotel` config block.

use handoffd_contract::poll::PollSettings;
use serde::Deserialize;

/// `kind: exotel`: one Exotel account's call events and its Call Details API.
///
/// Exotel signs nothing. A request is authenticated by a secret `token` that only the
/// callback URL carries (`https://hooks.example.com/webhooks/{id}?token=...`, given to Exotel
/// as the StatusCallback or Passthru URL) and, optionally, by the address it comes from. That
/// is weaker than a signature: anyone who sees the URL (a proxy log, a browser history, an
/// Exotel dashboard user) can post events until the token is changed, and the body is not
/// protected in transit beyond what HTTPS gives. Serve the endpoint over HTTPS only, keep the
/// token long and random, and set `allowed_sources` to Exotel's published addresses.
#[derive(Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ExotelConfig {
    /// The connector id: events arrive on `/webhooks/{id}` (POST for StatusCallback, GET for
    /// Passthru).
    pub id: String,
    /// The secret every callback URL carries as `?token=` (compared in constant time; it is
    /// removed from the query before the event is stored).
    pub token: String,
    /// Source addresses allowed to deliver events: IP addresses or CIDR ranges
    /// (`203.0.113.7`, `203.0.113.0/24`, `2001:db8::/32`). Empty: any address. The address is
    /// the one the daemon's socket sees, so behind a reverse proxy list the proxy (and let the
    /// proxy filter Exotel's addresses).
    #[serde(default)]
    pub allowed_sources: Vec<String>,
    /// The account SID: the Call Details API path. Required with `poll`.
    #[serde(default)]
    pub account_sid: Option<String>,
    /// The API key of the Call Details API (Basic authentication user name). Required with `poll`.
    #[serde(default)]
    pub api_key: Option<String>,
    /// The API token of the Call Details API (Basic authentication password); not the callback
    /// `token`. Required with `poll`.
    #[serde(default)]
    pub api_token: Option<String>,
    /// The API host of the account's cluster: `https://api.exotel.com` (Singapore) or
    /// `https://api.in.exotel.com` (Mumbai).
    #[serde(default = "default_base_url")]
    pub base_url: String,
    /// The UTC offset Exotel writes its times in (`YYYY-MM-DD HH:mm:ss`, no zone): the account's
    /// zone, `+05:30` for Indian accounts.
    #[serde(default = "default_utc_offset")]
    pub utc_offset: String,
    /// Poll the Call Details API for finished calls whose StatusCallback never came (Exotel:
    /// delivery "may be delayed or fail"): `schedule` (cron with seconds), `look_back` (at most
    /// 31 days, the API's longest range), `settle` (how long a finished call is left to its
    /// callback). Absent: no poller.
    #[serde(default)]
    pub poll: Option<PollSettings>,
    /// Calls per page of the Call Details API (Exotel allows up to 100).
    #[serde(default = "default_poll_page_size")]
    pub poll_page_size: u32,
    /// ISO 3166 region for numbers written without a country code (`IN`: Exotel often writes
    /// `09876543210`).
    #[serde(default)]
    pub default_region: Option<String>,
}

fn default_base_url() -> String {
    "https://api.exotel.com".to_owned()
}

fn default_utc_offset() -> String {
    "+05:30".to_owned()
}

fn default_poll_page_size() -> u32 {
    100
}

// Secrets never reach logs, not even through `{:?}`.
impl std::fmt::Debug for ExotelConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ExotelConfig")
            .field("id", &self.id)
            .field("allowed_sources", &self.allowed_sources)
            .field("account_sid", &self.account_sid)
            .field("base_url", &self.base_url)
            .field("utc_offset", &self.utc_offset)
            .field("poll", &self.poll)
            .field("poll_page_size", &self.poll_page_size)
            .field("default_region", &self.default_region)
            .finish_non_exhaustive()
    }
}
