//! The `kind: vapi` config block. Credentials take Vapi's own shape: an admin pastes the
//! credential's `authenticationPlan` as Vapi's API shows it, or the legacy inline `secret`.

use handoffd_contract::poll::PollSettings;
use serde::Deserialize;

/// Vapi's API host, for the poller.
pub const DEFAULT_BASE_URL: &str = "https://api.vapi.ai";

/// One Vapi organisation (or one assistant's server URL) sending end-of-call reports.
#[derive(Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct VapiConfig {
    /// The connector id: Vapi's server URL is `https://<host>/webhooks/<id>`.
    pub id: String,
    /// The credential Vapi uses to call the server URL, as Vapi's API shows it
    /// (`server.credentialId`'s `authenticationPlan`): `{type: hmac, secretKey, algorithm, ...}`
    /// or `{type: bearer, token, headerName, bearerPrefixEnabled}`.
    #[serde(default)]
    pub authentication_plan: Option<AuthenticationPlan>,
    /// The legacy inline server secret, which Vapi sends as the `X-Vapi-Secret` header (the same
    /// as a bearer plan with `headerName: X-Vapi-Secret` and no prefix).
    #[serde(default)]
    pub secret: Option<String>,
    /// The region for customer numbers written without a country code (ISO 3166, e.g. `IN`).
    #[serde(default)]
    pub default_region: Option<String>,
    /// Vapi's API, for the poller (default `https://api.vapi.ai`); a mock or proxy in tests.
    #[serde(default = "default_base_url")]
    pub base_url: String,
    /// A Vapi private API key: with it, a poller lists recent calls and fills the gaps of
    /// reports that never arrived (Vapi sends each report once and does not retry).
    #[serde(default)]
    pub api_key: Option<String>,
    /// When and how far back the poller looks (needs `api_key`).
    #[serde(default)]
    pub poll: Option<PollSettings>,
}

fn default_base_url() -> String {
    DEFAULT_BASE_URL.to_owned()
}

/// Vapi's credential plans for server URLs (OAuth 2.0 plans authenticate Vapi to a token
/// endpoint, which handoffd does not serve, so they are not offered).
#[derive(Clone, Deserialize, schemars::JsonSchema)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum AuthenticationPlan {
    Hmac(HmacPlan),
    Bearer(BearerPlan),
}

/// Vapi's `HMACAuthenticationPlan`.
#[derive(Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct HmacPlan {
    /// The HMAC key.
    pub secret_key: String,
    /// `sha256`, `sha512` or `sha1`.
    pub algorithm: HmacAlgorithm,
    /// The header carrying the signature (default `x-signature`).
    #[serde(default = "default_signature_header")]
    pub signature_header: String,
    /// The header carrying the timestamp (default `x-timestamp`).
    #[serde(default = "default_timestamp_header")]
    pub timestamp_header: String,
    /// Text before the signature in its header, e.g. `sha256=` (default none).
    #[serde(default)]
    pub signature_prefix: String,
    /// Whether the timestamp is signed with the body, as `{timestamp}.{body}` (default true).
    /// A signed timestamp must be within five minutes of our clock, either way.
    #[serde(default = "yes")]
    pub include_timestamp: bool,
    /// What is signed, when not the default: `{body}`, `{timestamp}`, `{method}` and
    /// `{svix-id}` (the `messageIdHeader` value) are replaced. `{url}` is refused: behind a
    /// proxy the URL Vapi called is not the one handoffd sees.
    #[serde(default)]
    pub payload_format: Option<String>,
    /// The header carrying a message id, for `{svix-id}` in `payloadFormat`.
    #[serde(default)]
    pub message_id_header: Option<String>,
    /// `hex` (default) or `base64`.
    #[serde(default)]
    pub signature_encoding: SignatureEncoding,
    /// Whether `secretKey` is base64 and is decoded before use (default false).
    #[serde(default)]
    pub secret_is_base64: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum HmacAlgorithm {
    Sha256,
    Sha512,
    Sha1,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum SignatureEncoding {
    #[default]
    Hex,
    Base64,
}

/// Vapi's `BearerAuthenticationPlan`.
#[derive(Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct BearerPlan {
    /// The token Vapi sends.
    pub token: String,
    /// The header it is sent in (default `Authorization`).
    #[serde(default = "default_bearer_header")]
    pub header_name: String,
    /// Whether the value is `Bearer <token>` (default true) or the token alone.
    #[serde(default = "yes")]
    pub bearer_prefix_enabled: bool,
}

fn default_signature_header() -> String {
    "x-signature".to_owned()
}

fn default_timestamp_header() -> String {
    "x-timestamp".to_owned()
}

fn default_bearer_header() -> String {
    "Authorization".to_owned()
}

fn yes() -> bool {
    true
}

// Secrets never reach a log: the debug forms say whether each is set, never its value.
impl std::fmt::Debug for VapiConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VapiConfig")
            .field("id", &self.id)
            .field("authentication_plan", &self.authentication_plan)
            .field("secret", &self.secret.as_ref().map(|_| "<redacted>"))
            .field("default_region", &self.default_region)
            .field("base_url", &self.base_url)
            .field("api_key", &self.api_key.as_ref().map(|_| "<redacted>"))
            .field("poll", &self.poll)
            .finish()
    }
}

impl std::fmt::Debug for AuthenticationPlan {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Hmac(plan) => f
                .debug_struct("Hmac")
                .field("secret_key", &"<redacted>")
                .field("algorithm", &plan.algorithm)
                .field("signature_header", &plan.signature_header)
                .field("timestamp_header", &plan.timestamp_header)
                .field("signature_prefix", &plan.signature_prefix)
                .field("include_timestamp", &plan.include_timestamp)
                .field("payload_format", &plan.payload_format)
                .field("signature_encoding", &plan.signature_encoding)
                .field("secret_is_base64", &plan.secret_is_base64)
                .finish(),
            Self::Bearer(plan) => f
                .debug_struct("Bearer")
                .field("token", &"<redacted>")
                .field("header_name", &plan.header_name)
                .field("bearer_prefix_enabled", &plan.bearer_prefix_enabled)
                .finish(),
        }
    }
}
