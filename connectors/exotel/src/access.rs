//! Who may deliver events: the `?token=` secret and the source-address allowlist. Exotel signs
//! nothing, so this is all there is (see the config's docs for what that does not protect).

use std::net::IpAddr;

use handoffd_contract::webhook::{RawRequest, VerifyError};
use subtle::ConstantTimeEq;

/// The query parameter that carries the connector's token.
pub const TOKEN_PARAM: &str = "token";

/// An address or a CIDR range.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SourceRange {
    network: IpAddr,
    prefix: u8,
}

impl SourceRange {
    /// `203.0.113.7`, `203.0.113.0/24`, `2001:db8::/32`.
    pub fn parse(text: &str) -> Result<Self, String> {
        let (address, prefix) = match text.trim().split_once('/') {
            Some((address, prefix)) => (address, Some(prefix)),
            None => (text.trim(), None),
        };
        let network: IpAddr = address.parse().map_err(|_| format!("`{text}` is not an IP address or CIDR range"))?;
        let max = if network.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => max,
            Some(p) => {
                p.parse::<u8>().ok().filter(|p| *p <= max).ok_or_else(|| format!("`{text}`: bad prefix length"))?
            }
        };
        Ok(Self { network, prefix })
    }

    pub fn contains(&self, address: IpAddr) -> bool {
        // An IPv4 client may reach a dual-stack socket as `::ffff:a.b.c.d`.
        let address = match address {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(address, IpAddr::V4),
            v4 => v4,
        };
        let bits = |ip: IpAddr| -> u128 {
            match ip {
                IpAddr::V4(v4) => u128::from(u32::from(v4)),
                IpAddr::V6(v6) => u128::from(v6),
            }
        };
        let width: u32 = if self.network.is_ipv4() { 32 } else { 128 };
        if self.network.is_ipv4() != address.is_ipv4() {
            return false;
        }
        let host_bits = width - u32::from(self.prefix);
        let mask = if host_bits >= 128 { 0 } else { u128::MAX << host_bits };
        (bits(self.network) & mask) == (bits(address) & mask)
    }
}

/// Why a request was refused, for the log.
#[derive(Debug)]
pub struct Refusal {
    pub error: VerifyError,
    pub reason: String,
}

/// Check the token, then the source address.
pub fn check(token: &str, allowed: &[SourceRange], request: &RawRequest<'_>) -> Result<(), Refusal> {
    let given = url::form_urlencoded::parse(request.query.as_bytes())
        .find(|(name, _)| name == TOKEN_PARAM)
        .map(|(_, value)| value.into_owned())
        .ok_or_else(|| Refusal {
            error: VerifyError::Missing("token (a query parameter of the callback URL)"),
            reason: "the URL carries no `token`".to_owned(),
        })?;
    let matches = given.len() == token.len() && bool::from(given.as_bytes().ct_eq(token.as_bytes()));
    if !matches {
        return Err(Refusal { error: VerifyError::Mismatch, reason: "the `token` is wrong".to_owned() });
    }
    if !allowed.is_empty() {
        let allowed_peer = request.peer.is_some_and(|peer| allowed.iter().any(|range| range.contains(peer)));
        if !allowed_peer {
            let peer = request.peer.map_or_else(|| "an unknown address".to_owned(), |p| p.to_string());
            return Err(Refusal {
                error: VerifyError::Mismatch,
                reason: format!("the request came from {peer}, which `allowed_sources` does not list"),
            });
        }
    }
    Ok(())
}

/// The query without the token, as it is stored.
pub fn query_without_token(query: &str) -> String {
    let kept: Vec<(String, String)> = url::form_urlencoded::parse(query.as_bytes())
        .filter(|(name, _)| name != TOKEN_PARAM)
        .map(|(n, v)| (n.into_owned(), v.into_owned()))
        .collect();
    url::form_urlencoded::Serializer::new(String::new()).extend_pairs(kept).finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_contain_what_they_cover_and_nothing_else() {
        let v4 = SourceRange::parse("203.0.113.0/24").unwrap();
        assert!(v4.contains("203.0.113.200".parse().unwrap()));
        assert!(v4.contains("::ffff:203.0.113.9".parse().unwrap()));
        assert!(!v4.contains("203.0.114.1".parse().unwrap()));
        let one = SourceRange::parse("198.51.100.7").unwrap();
        assert!(one.contains("198.51.100.7".parse().unwrap()) && !one.contains("198.51.100.8".parse().unwrap()));
        let v6 = SourceRange::parse("2001:db8::/32").unwrap();
        assert!(v6.contains("2001:db8:1::5".parse().unwrap()) && !v6.contains("2001:db9::1".parse().unwrap()));
        let any = SourceRange::parse("0.0.0.0/0").unwrap();
        assert!(any.contains("8.8.8.8".parse().unwrap()));
        assert!(SourceRange::parse("10.0.0.0/33").is_err() && SourceRange::parse("exotel.com").is_err());
    }

    #[test]
    fn the_token_is_removed_from_the_stored_query() {
        assert_eq!(query_without_token("CallSid=a&token=s3cret&From=%2B91"), "CallSid=a&From=%2B91");
    }
}
