//! Exotel voice connector: StatusCallback (POST, form or JSON) and Passthru (GET with query
//! parameters) events, authenticated by a per-connector `token` in the callback URL and an
//! optional source-address allowlist, and the Call Details API polled for missed callbacks.
//!
//! **Exotel signs nothing.** The token in the URL and the source address are all there is to
//! tell Exotel's requests from anyone else's; that is weaker than a signature (see
//! [`ExotelConfig`]'s docs).
//!
//! Layout:
//! - `config`: the `kind: exotel` config block, field by field ([`ExotelConfig`]).
//! - [`access`]: the token and the allowlist.
//! - [`parse`]: events into interactions; which calls are not handoffs.
//! - [`poll`]: the Call Details API as a poll source.
//! - [`kind`]: `kind: exotel` for the daemon's registry.

pub mod access;
mod config;
pub mod kind;
pub mod parse;
pub mod poll;

use chrono::FixedOffset;
use handoffd_contract::webhook::{
    Handshake, ParseError, ParsedEvent, RawRequest, Verified, VerifyError, WebhookSource,
};

pub use access::SourceRange;
pub use config::ExotelConfig;
pub use kind::ExotelKind;
pub use poll::ExotelCalls;

/// One Exotel account as a webhook source.
#[derive(Debug)]
pub struct Exotel {
    config: ExotelConfig,
    allowed: Vec<SourceRange>,
    offset: FixedOffset,
}

impl Exotel {
    /// Fails on what validation refuses (a bad range or offset).
    pub fn new(config: ExotelConfig) -> Result<Self, String> {
        let allowed = config.allowed_sources.iter().map(|s| SourceRange::parse(s)).collect::<Result<_, _>>()?;
        let offset = parse_offset(&config.utc_offset)?;
        Ok(Self { config, allowed, offset })
    }
}

/// `+05:30`, `-03:00`, `Z`.
pub fn parse_offset(text: &str) -> Result<FixedOffset, String> {
    if text.trim().eq_ignore_ascii_case("z") {
        return Ok(FixedOffset::east_opt(0).expect("zero is a valid offset"));
    }
    let bad = || format!("`{text}` is not a UTC offset such as `+05:30`");
    let (sign, rest) = match text.trim().split_at_checked(1).ok_or_else(bad)? {
        ("+", rest) => (1, rest),
        ("-", rest) => (-1, rest),
        _ => return Err(bad()),
    };
    let (hours, minutes) = rest.split_once(':').ok_or_else(bad)?;
    let (hours, minutes): (i32, i32) = (hours.parse().map_err(|_| bad())?, minutes.parse().map_err(|_| bad())?);
    if !(0..60).contains(&minutes) {
        return Err(bad());
    }
    FixedOffset::east_opt(sign * (hours * 3600 + minutes * 60)).ok_or_else(bad)
}

impl WebhookSource for Exotel {
    fn id(&self) -> &str {
        &self.config.id
    }

    fn handshake(&self, _request: &RawRequest<'_>) -> Handshake {
        Handshake::NotAHandshake
    }

    /// Passthru delivers its events as GET query parameters.
    fn events_by_get(&self) -> bool {
        true
    }

    fn authenticate(&self, request: &RawRequest<'_>) -> Result<(), VerifyError> {
        access::check(&self.config.token, &self.allowed, request).map_err(|refusal| {
            tracing::warn!(connector = %self.config.id, peer = ?request.peer, reason = %refusal.reason,
                "Refused an Exotel event.");
            refusal.error
        })
    }

    /// As the default, but the token is taken out of the query before the event is kept: the
    /// inbox must not hold the secret.
    fn verify(&self, request: &RawRequest<'_>) -> Result<Verified, VerifyError> {
        self.authenticate(request)?;
        let query = access::query_without_token(request.query);
        let stored = RawRequest { query: &query, ..*request };
        // Authenticated just above, on the request as it arrived.
        Verified::check(&stored, self.kept_headers(), |_| Ok(()))
    }

    fn parse(&self, event: &Verified) -> Result<ParsedEvent, ParseError> {
        parse::parse(event, self.offset)
    }
}
