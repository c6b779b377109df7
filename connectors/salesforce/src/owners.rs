//! Users who can own tasks (standard users, not the org's automated ones), with the time zone each works in.

use std::collections::HashMap;

use chrono_tz::Tz;
use handoffd_contract::crm::{CrmError, CrmOwner};

use crate::client::Api;
use crate::wire::UserRecord;

const USERS: &str = "SELECT Id, Name, Email, IsActive, TimeZoneSidKey FROM User WHERE UserType = 'Standard'";

/// The owners, and the time zone of those whose zone Salesforce names.
pub async fn list(api: &Api) -> Result<(Vec<CrmOwner>, HashMap<String, Tz>), CrmError> {
    let users: Vec<UserRecord> = api.query(USERS, "list users").await?;
    let zones = users
        .iter()
        .filter_map(|user| Some((user.id.clone(), user.time_zone_sid_key.as_deref()?.parse::<Tz>().ok()?)))
        .collect();
    let owners = users
        .into_iter()
        .map(|user| CrmOwner { id: user.id, name: user.name, email: user.email, active: user.is_active })
        .collect();
    Ok((owners, zones))
}
