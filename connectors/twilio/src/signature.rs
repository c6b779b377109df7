//! `X-Twilio-Signature`: Twilio signs the URL it called followed by the POST parameters.
//!
//! The signed string is the full URL (scheme, host, path and query, as Twilio called it), then
//! every POST parameter sorted by name, each written as name followed by value with nothing in
//! between; a name sent several times contributes each of its distinct values, in sorted order
//! (as Twilio's SDKs compute it). The HMAC is keyed with the account's Auth Token (SHA-1) or,
//! when the request carries `X-Twilio-Webhooks-Signature-Settings`, with a SharedKey secret and
//! the algorithm the header names. The digest is base64.
//!
//! Twilio's own SDKs check the URL with and without its port (its signing is not consistent
//! about the default port), and so does this module. A JSON body is not signed as parameters:
//! Twilio adds `bodySHA256` (the SHA-256 hex of the body) to the URL's query and signs the URL
//! alone, so the body is checked against that hash.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use handoffd_contract::webhook::{RawRequest, VerifyError};
use hmac::{Hmac, KeyInit, Mac};
use http::Method;
use sha1::Sha1;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// The header Twilio puts the signature in.
pub const SIGNATURE_HEADER: &str = "X-Twilio-Signature";
/// Present when a Webhooks Rule made Twilio sign with a SharedKey: `key=KS...,algorithm=HMAC_SHA256`.
pub const SETTINGS_HEADER: &str = "X-Twilio-Webhooks-Signature-Settings";
/// The query parameter that carries the SHA-256 hex of a JSON body.
pub const BODY_HASH_PARAM: &str = "bodySHA256";

/// The HMAC a signature is made with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Algorithm {
    /// The default, keyed with the Auth Token.
    HmacSha1,
    /// A SharedKey's usual algorithm.
    HmacSha256,
}

impl Algorithm {
    /// The settings header's name for it (`HMAC_SHA1`, `HMAC_SHA256`).
    fn from_settings(name: &str) -> Option<Self> {
        match name.trim().to_ascii_uppercase().as_str() {
            "HMAC_SHA1" | "HMAC-SHA1" => Some(Self::HmacSha1),
            "HMAC_SHA256" | "HMAC-SHA256" => Some(Self::HmacSha256),
            _ => None,
        }
    }
}

/// The string Twilio signs: `url`, then each parameter's name and value, sorted by name, a
/// repeated name's distinct values sorted.
pub fn signed_string(url: &str, params: &[(String, String)]) -> String {
    let mut sorted: Vec<(&str, &str)> = params.iter().map(|(name, value)| (name.as_str(), value.as_str())).collect();
    sorted.sort_unstable();
    sorted.dedup();
    let mut signed = String::with_capacity(url.len() + sorted.iter().map(|(n, v)| n.len() + v.len()).sum::<usize>());
    signed.push_str(url);
    for (name, value) in sorted {
        signed.push_str(name);
        signed.push_str(value);
    }
    signed
}

/// The base64 signature of `url` and `params` keyed with `key`.
pub fn sign(algorithm: Algorithm, key: &[u8], url: &str, params: &[(String, String)]) -> String {
    let signed = signed_string(url, params);
    let digest = match algorithm {
        Algorithm::HmacSha1 => {
            let mut mac = Hmac::<Sha1>::new_from_slice(key).expect("HMAC accepts keys of any length");
            mac.update(signed.as_bytes());
            mac.finalize().into_bytes().to_vec()
        }
        Algorithm::HmacSha256 => {
            let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC accepts keys of any length");
            mac.update(signed.as_bytes());
            mac.finalize().into_bytes().to_vec()
        }
    };
    BASE64.encode(digest)
}

/// The SHA-256 hex of a body, as Twilio writes it into `bodySHA256`.
pub fn body_hash(body: &[u8]) -> String {
    hex::encode(Sha256::digest(body))
}

/// The secrets a connector checks signatures with.
pub struct Keys<'a> {
    pub auth_token: &'a str,
    pub shared_key: Option<&'a str>,
    /// The URL Twilio was given, without query (see the config's `public_url`).
    pub public_url: Option<&'a str>,
}

/// Why a request was refused, with the URLs that were tried (for the log: a proxy that rewrote
/// the URL shows here).
#[derive(Debug)]
pub struct Refusal {
    pub error: VerifyError,
    pub checked_urls: Vec<String>,
}

impl Refusal {
    fn new(error: VerifyError) -> Self {
        Self { error, checked_urls: Vec::new() }
    }
}

/// Check a request's `X-Twilio-Signature` against every URL Twilio may have signed.
pub fn verify(keys: &Keys<'_>, request: &RawRequest<'_>) -> Result<(), Refusal> {
    // Twilio sends one signature; two would leave which one to trust to the order of headers.
    if request.headers.get_all(SIGNATURE_HEADER).iter().nth(1).is_some() {
        return Err(Refusal::new(VerifyError::Malformed(format!("`{SIGNATURE_HEADER}` is repeated"))));
    }
    let signature = header(request, SIGNATURE_HEADER)?
        .ok_or_else(|| Refusal::new(VerifyError::Missing(SIGNATURE_HEADER)))?
        .trim()
        .to_owned();
    let (algorithm, key) = match header(request, SETTINGS_HEADER)? {
        None => (Algorithm::HmacSha1, keys.auth_token),
        Some(settings) => {
            let algorithm = settings_algorithm(settings).map_err(|m| Refusal::new(VerifyError::Malformed(m)))?;
            let key = keys.shared_key.ok_or_else(|| {
                Refusal::new(VerifyError::Malformed(format!(
                    "the request was signed with a SharedKey (`{SETTINGS_HEADER}`) but no `shared_key` is configured"
                )))
            })?;
            (algorithm, key)
        }
    };
    let query_params: Vec<(String, String)> = form_pairs(request.query.as_bytes());
    let params = match query_params.iter().find(|(name, _)| name == BODY_HASH_PARAM) {
        Some((_, expected)) => {
            // A JSON body: its hash is in the signed URL, the parameters are not signed.
            if !constant_time_eq(body_hash(request.body).as_bytes(), expected.as_bytes()) {
                return Err(Refusal::new(VerifyError::Mismatch));
            }
            Vec::new()
        }
        None if request.method == Method::POST => form_pairs(request.body),
        None => Vec::new(),
    };
    let urls = candidate_urls(keys.public_url, request).map_err(|m| Refusal::new(VerifyError::Malformed(m)))?;
    let matched = urls.iter().any(|url| {
        let expected = sign(algorithm, key.as_bytes(), url, &params);
        constant_time_eq(expected.as_bytes(), signature.as_bytes())
    });
    if matched { Ok(()) } else { Err(Refusal { error: VerifyError::Mismatch, checked_urls: urls }) }
}

/// `key=KS...,algorithm=HMAC_SHA256` -> the algorithm.
fn settings_algorithm(settings: &str) -> Result<Algorithm, String> {
    let name = settings
        .split(',')
        .filter_map(|part| part.split_once('='))
        .find(|(name, _)| name.trim().eq_ignore_ascii_case("algorithm"))
        .map(|(_, value)| value.trim())
        .ok_or_else(|| format!("`{SETTINGS_HEADER}` names no algorithm"))?;
    Algorithm::from_settings(name).ok_or_else(|| format!("`{SETTINGS_HEADER}` names an unsupported algorithm `{name}`"))
}

fn header<'a>(request: &'a RawRequest<'_>, name: &'static str) -> Result<Option<&'a str>, Refusal> {
    request
        .headers
        .get(name)
        .map(|value| {
            value
                .to_str()
                .map_err(|_| Refusal::new(VerifyError::Malformed(format!("the `{name}` header is not ASCII"))))
        })
        .transpose()
}

/// The decoded name/value pairs of a form body or a query string, in order.
pub fn form_pairs(encoded: &[u8]) -> Vec<(String, String)> {
    url::form_urlencoded::parse(encoded).map(|(name, value)| (name.into_owned(), value.into_owned())).collect()
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && bool::from(a.ct_eq(b))
}

/// Every URL Twilio may have signed for this request: the configured public URL or the one
/// rebuilt from the request, each as it is, with its scheme's default port and without a port.
pub fn candidate_urls(public_url: Option<&str>, request: &RawRequest<'_>) -> Result<Vec<String>, String> {
    let query = if request.query.is_empty() { String::new() } else { format!("?{}", request.query) };
    let bases: Vec<String> = match public_url {
        Some(public) => vec![format!("{}{query}", public.trim_end_matches('?'))],
        None => {
            let host = request
                .headers
                .get(http::header::HOST)
                .and_then(|value| value.to_str().ok())
                .filter(|host| !host.is_empty())
                .ok_or("the request has no Host header to rebuild the URL Twilio signed; set `public_url`")?;
            let forwarded = request
                .headers
                .get("x-forwarded-proto")
                .and_then(|value| value.to_str().ok())
                .and_then(|value| value.split(',').next())
                .map(|scheme| scheme.trim().to_ascii_lowercase())
                .filter(|scheme| scheme == "http" || scheme == "https");
            // Without a proxy's word for it the scheme is unknown (TLS may end before the daemon).
            let schemes = forwarded.map_or_else(|| vec!["https".to_owned(), "http".to_owned()], |s| vec![s]);
            schemes.iter().map(|scheme| format!("{scheme}://{host}{}{query}", request.path)).collect()
        }
    };
    let mut urls = Vec::new();
    for base in bases {
        for url in [Some(base.clone()), with_default_port(&base), without_port(&base)].into_iter().flatten() {
            if !urls.contains(&url) {
                urls.push(url);
            }
        }
    }
    Ok(urls)
}

/// `scheme://[userinfo@]hostport` and the rest of the URL.
fn split_authority(url: &str) -> Option<(&str, &str, &str, &str)> {
    let (scheme, rest) = url.split_once("://")?;
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(end);
    let (userinfo, hostport) = match authority.rfind('@') {
        Some(at) => authority.split_at(at + 1),
        None => ("", authority),
    };
    Some((scheme, userinfo, hostport, tail))
}

/// The host and, when given, the port of `host[:port]` (IPv6 hosts in brackets).
fn split_port(hostport: &str) -> (&str, Option<&str>) {
    let port_start = if hostport.starts_with('[') {
        hostport.find(']').map(|end| end + 1).filter(|&end| hostport[end..].starts_with(':'))
    } else {
        hostport.rfind(':')
    };
    match port_start {
        Some(colon) => (&hostport[..colon], Some(&hostport[colon + 1..])),
        None => (hostport, None),
    }
}

fn with_default_port(url: &str) -> Option<String> {
    let (scheme, userinfo, hostport, tail) = split_authority(url)?;
    let (host, port) = split_port(hostport);
    let default = match scheme.to_ascii_lowercase().as_str() {
        "https" => "443",
        "http" => "80",
        _ => return None,
    };
    port.is_none().then(|| format!("{scheme}://{userinfo}{host}:{default}{tail}"))
}

fn without_port(url: &str) -> Option<String> {
    let (scheme, userinfo, hostport, tail) = split_authority(url)?;
    let (host, port) = split_port(hostport);
    port.map(|_| format!("{scheme}://{userinfo}{host}{tail}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter().map(|(n, v)| ((*n).to_owned(), (*v).to_owned())).collect()
    }

    #[test]
    fn repeated_names_contribute_each_distinct_value_in_order() {
        let params = pairs(&[("b", "2"), ("a", "z"), ("a", "y"), ("a", "z")]);
        assert_eq!(signed_string("U", &params), "Uayazb2");
    }

    #[test]
    fn ports_are_added_and_removed_around_the_host_only() {
        assert_eq!(with_default_port("https://u:p@x.com/a?b=:1").as_deref(), Some("https://u:p@x.com:443/a?b=:1"));
        assert_eq!(with_default_port("http://x.com").as_deref(), Some("http://x.com:80"));
        assert_eq!(with_default_port("https://x.com:8443/a"), None);
        assert_eq!(without_port("https://x.com:8443/a").as_deref(), Some("https://x.com/a"));
        assert_eq!(without_port("http://[::1]:8080/a").as_deref(), Some("http://[::1]/a"));
        assert_eq!(with_default_port("http://[::1]/a").as_deref(), Some("http://[::1]:80/a"));
        assert_eq!(without_port("https://x.com/a"), None);
    }

    #[test]
    fn the_settings_header_names_the_algorithm() {
        assert_eq!(settings_algorithm("key=KS123,algorithm=HMAC_SHA256"), Ok(Algorithm::HmacSha256));
        assert_eq!(settings_algorithm(" algorithm = hmac_sha1 , key=KS1"), Ok(Algorithm::HmacSha1));
        assert!(settings_algorithm("key=KS1").is_err());
        assert!(settings_algorithm("key=KS1,algorithm=HMAC_MD5").unwrap_err().contains("HMAC_MD5"));
    }
}
