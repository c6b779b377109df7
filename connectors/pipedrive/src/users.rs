//! Owners: Pipedrive's users (`GET /v1/users`), the active ones marked so.

use handoffd_contract::crm::{CrmError, CrmOwner};
use serde::Deserialize;

use crate::client::{Api, Call, Cost};

#[derive(Debug, Deserialize)]
struct User {
    id: u64,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    email: Option<String>,
    #[serde(default)]
    active_flag: Option<bool>,
}

pub async fn list(api: &Api) -> Result<Vec<CrmOwner>, CrmError> {
    let users =
        api.json::<Vec<User>>(&Call::get("/v1/users", Cost::List, "list users")).await?.data.unwrap_or_default();
    Ok(users
        .into_iter()
        .map(|user| CrmOwner {
            id: user.id.to_string(),
            name: user.name.filter(|n| !n.is_empty()),
            email: user.email.filter(|e| !e.is_empty()),
            active: user.active_flag.unwrap_or(true),
        })
        .collect())
}
