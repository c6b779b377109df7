//! Which customer an admin means by what they typed: a phone, an email, a match key or a customer
//! id (`handoffd audit --customer`, and the admin API's audit lookup).

use handoffd_contract::identity::IdentityKey;

use crate::store::{IdentityStore, StoreError};

/// The customer a key names: its match keys, tried in turn, then a customer id as given.
pub async fn find_customer(
    store: &dyn IdentityStore,
    given: &str,
    region: Option<&str>,
) -> Result<Option<String>, StoreError> {
    let given = given.trim();
    let key = if given.contains(':') && !given.starts_with('+') {
        None
    } else if given.contains('@') {
        Some(IdentityKey::email(given))
    } else {
        Some(IdentityKey::phone(given))
    };
    let candidates: Vec<String> = match &key {
        Some(key) => crate::ingest::match_keys(key, region).into_iter().map(|(k, _)| k).collect(),
        None => vec![given.to_owned()],
    };
    for candidate in &candidates {
        if let Some(customer) = store.customer_for_key(candidate).await? {
            return Ok(Some(customer));
        }
    }
    // A customer id (a UUID) as `identity conflicts` prints it.
    match store.customer_timeline(given).await {
        Ok(_) => Ok(Some(given.to_owned())),
        Err(StoreError::NotFound(_)) => Ok(None),
        Err(error) => Err(error),
    }
}
