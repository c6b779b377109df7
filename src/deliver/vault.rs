//! OAuth tokens a connector refreshed, kept in the store so a restart does not spend a refresh
//! and a rotated refresh token is never lost: encrypted at rest when `store.token_keys` is set.
//!
//! A stored token is `enc:v1:<key id>:<base64(nonce || ciphertext)>`, sealed with
//! XChaCha20-Poly1305 under the first configured key, with the connector's id as associated
//! data (a token copied onto another connector's row does not open). The key id is the first 8
//! hex digits of the key's SHA-256, so a value names the key it needs without revealing it.
//!
//! Rotation: put the new key first and keep the old one after it; every token read under an
//! older key (or stored before encryption was turned on) is sealed again under the first key at
//! once, so after one start (each CRM connector loads its token at start) the old key can go.
//!
//! Instances sharing the store share the tokens: the right to refresh one is a lease in the store
//! (`oauth-refresh:<connector id>`), so one instance refreshes while the others wait and read what it saved.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use handoffd_contract::auth::{StoredToken, TokenVault};
use sha2::{Digest, Sha256};

use crate::store::{LeaseTake, Store};

const PREFIX: &str = "enc:v1:";

/// The keys tokens are sealed with: the first seals, every one opens.
#[derive(Clone)]
pub struct TokenKeys(Vec<TokenKey>);

#[derive(Clone)]
struct TokenKey {
    id: String,
    cipher: XChaCha20Poly1305,
}

impl std::fmt::Debug for TokenKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.0.iter().map(|key| &key.id)).finish()
    }
}

impl TokenKeys {
    /// Keys as the configuration gives them: base64 of 32 random bytes each
    /// (`openssl rand -base64 32`). The error says which one is wrong, never its value.
    pub fn parse(encoded: &[String]) -> Result<Self, String> {
        let mut keys = Vec::with_capacity(encoded.len());
        for (index, text) in encoded.iter().enumerate() {
            let bytes = BASE64
                .decode(text.trim())
                .map_err(|_| format!("key {index} is not base64 (make one with `openssl rand -base64 32`)"))?;
            let cipher = XChaCha20Poly1305::new_from_slice(&bytes)
                .map_err(|_| format!("key {index} is {} bytes; a key is 32 random bytes", bytes.len()))?;
            let id = hex::encode(&Sha256::digest(&bytes)[..4]);
            keys.push(TokenKey { id, cipher });
        }
        Ok(Self(keys))
    }

    fn seal(&self, connector_id: &str, plain: &[u8]) -> Result<String, String> {
        let key = self.0.first().ok_or("no key to seal with")?;
        let nonce_bytes: [u8; 24] = rand::random();
        let nonce = XNonce::from(nonce_bytes);
        let sealed = key
            .cipher
            .encrypt(&nonce, Payload { msg: plain, aad: connector_id.as_bytes() })
            .map_err(|_| "sealing the token failed".to_owned())?;
        let mut blob = nonce_bytes.to_vec();
        blob.extend_from_slice(&sealed);
        Ok(format!("{PREFIX}{}:{}", key.id, BASE64.encode(blob)))
    }

    /// The plain text, and whether it was sealed under a key other than the first.
    fn open(&self, connector_id: &str, stored: &str) -> Result<(Vec<u8>, bool), String> {
        let rest = stored.strip_prefix(PREFIX).ok_or("not a sealed value")?;
        let (key_id, blob) = rest.split_once(':').ok_or("a sealed value without its key id")?;
        let position = self.0.iter().position(|key| key.id == key_id).ok_or_else(|| {
            format!("it was sealed with key id {key_id}, which is not among store.token_keys (ids {:?})", self)
        })?;
        let blob = BASE64.decode(blob).map_err(|_| "a sealed value that is not base64")?;
        if blob.len() < 24 {
            return Err("a sealed value too short to hold its nonce".into());
        }
        let (nonce, sealed) = blob.split_at(24);
        let nonce: [u8; 24] = nonce.try_into().map_err(|_| "a sealed value with a bad nonce")?;
        let plain = self.0[position]
            .cipher
            .decrypt(&XNonce::from(nonce), Payload { msg: sealed, aad: connector_id.as_bytes() })
            .map_err(|_| format!("key id {key_id} does not open it (altered, or another connector's)"))?;
        Ok((plain, position != 0))
    }
}

pub struct StoreVault {
    store: Arc<dyn Store>,
    /// `None`: tokens are stored as plain JSON (the daemon warns at start).
    keys: Option<TokenKeys>,
}

impl StoreVault {
    pub fn new(store: Arc<dyn Store>, keys: Option<TokenKeys>) -> Self {
        Self { store, keys }
    }

    async fn write(&self, connector_id: &str, plain: &str) -> Result<(), String> {
        let text = match &self.keys {
            Some(keys) => keys.seal(connector_id, plain.as_bytes())?,
            None => plain.to_owned(),
        };
        self.store.save_token(connector_id, &text, chrono::Utc::now()).await.map_err(|e| e.to_string())
    }
}

#[async_trait]
impl TokenVault for StoreVault {
    async fn load(&self, connector_id: &str) -> Result<Option<StoredToken>, String> {
        let Some(text) = self.store.load_token(connector_id).await.map_err(|e| e.to_string())? else {
            return Ok(None);
        };
        let (plain, reseal) = match (&self.keys, text.starts_with(PREFIX)) {
            (Some(keys), true) => {
                let (plain, older_key) =
                    keys.open(connector_id, &text).map_err(|e| format!("stored token of `{connector_id}`: {e}"))?;
                (
                    String::from_utf8(plain).map_err(|_| format!("stored token of `{connector_id}` is not text"))?,
                    older_key,
                )
            }
            (None, true) => {
                return Err(format!(
                    "the stored token of `{connector_id}` is encrypted, and store.token_keys is not set"
                ));
            }
            // Stored before encryption was turned on: sealed now.
            (keys, false) => (text, keys.is_some()),
        };
        let token = serde_json::from_str(&plain).map_err(|e| format!("stored token of `{connector_id}`: {e}"))?;
        if reseal {
            self.write(connector_id, &plain).await?;
            tracing::info!(connector = connector_id, "Sealed a stored token under the current store.token_keys key.");
        }
        Ok(Some(token))
    }

    async fn save(&self, connector_id: &str, token: &StoredToken) -> Result<(), String> {
        let text = serde_json::to_string(token).map_err(|e| e.to_string())?;
        self.write(connector_id, &text).await
    }

    async fn begin_refresh(&self, connector_id: &str, holder: &str, hold: Duration) -> Result<bool, String> {
        let now = chrono::Utc::now();
        let until = now + chrono::Duration::from_std(hold).map_err(|e| e.to_string())?;
        match self.store.take_lease(&refresh_lease(connector_id), holder, now, until).await {
            Ok(LeaseTake::Granted { .. }) => Ok(true),
            Ok(LeaseTake::Held { .. }) => Ok(false),
            Err(e) => Err(e.to_string()),
        }
    }

    async fn end_refresh(&self, connector_id: &str, holder: &str) -> Result<(), String> {
        self.store
            .release_lease(&refresh_lease(connector_id), holder, chrono::Utc::now())
            .await
            .map_err(|e| e.to_string())
    }
}

fn refresh_lease(connector_id: &str) -> String {
    format!("oauth-refresh:{connector_id}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(byte: u8) -> String {
        BASE64.encode([byte; 32])
    }

    #[test]
    fn a_sealed_token_opens_only_under_its_connector_and_a_known_key() {
        let keys = TokenKeys::parse(&[key(1)]).unwrap();
        let sealed = keys.seal("hubspot-main", b"{\"refresh\":\"r-123\"}").unwrap();
        assert!(sealed.starts_with("enc:v1:") && !sealed.contains("r-123"), "{sealed}");
        assert_eq!(keys.open("hubspot-main", &sealed).unwrap(), (b"{\"refresh\":\"r-123\"}".to_vec(), false));
        assert!(keys.open("zoho-main", &sealed).unwrap_err().contains("does not open"));
        let other = TokenKeys::parse(&[key(2)]).unwrap();
        assert!(other.open("hubspot-main", &sealed).unwrap_err().contains("not among store.token_keys"));
        // Rotated: the new key first, the old one after it still opens, and says so.
        let rotated = TokenKeys::parse(&[key(2), key(1)]).unwrap();
        assert!(rotated.open("hubspot-main", &sealed).unwrap().1, "an older key says so");
    }

    #[test]
    fn a_bad_key_is_named_by_position_never_by_value() {
        let error = TokenKeys::parse(&[key(1), "c2hvcnQ=".into()]).unwrap_err();
        assert_eq!(error, "key 1 is 5 bytes; a key is 32 random bytes");
        assert!(TokenKeys::parse(&["not base64!".into()]).unwrap_err().starts_with("key 0 is not base64"));
    }

    #[tokio::test]
    async fn tokens_stored_plain_or_under_an_old_key_are_sealed_again_under_the_first() {
        let dir = tempfile::tempdir().unwrap();
        let store = crate::store::open(&format!("sqlite://{}", dir.path().join("v.db").display())).await.unwrap();
        let token = StoredToken {
            access_token: "a-1".into(),
            refresh_token: Some("r-1".into()),
            expires_at: None,
            instance_url: None,
            scope: None,
        };
        StoreVault::new(store.clone(), None).save("crm", &token).await.unwrap();
        assert!(store.load_token("crm").await.unwrap().unwrap().contains("r-1"), "plain before keys are set");

        let old = TokenKeys::parse(&[key(1)]).unwrap();
        assert_eq!(StoreVault::new(store.clone(), Some(old)).load("crm").await.unwrap(), Some(token.clone()));
        let sealed_old = store.load_token("crm").await.unwrap().unwrap();
        assert!(!sealed_old.contains("r-1"), "sealed once keys are set: {sealed_old}");

        let rotated = TokenKeys::parse(&[key(2), key(1)]).unwrap();
        assert_eq!(StoreVault::new(store.clone(), Some(rotated)).load("crm").await.unwrap(), Some(token.clone()));
        let only_new = TokenKeys::parse(&[key(2)]).unwrap();
        assert_eq!(StoreVault::new(store.clone(), Some(only_new)).load("crm").await.unwrap(), Some(token));
        assert!(StoreVault::new(store, None).load("crm").await.unwrap_err().contains("store.token_keys is not set"));
    }
}
