//! Owners: Zoho's active users (`GET /crm/v8/users?type=ActiveUsers`), paged.

use handoffd_contract::crm::{CrmError, CrmOwner};

use crate::client::{Api, Call};
use crate::wire::Users;

/// Users per page (Zoho's maximum).
const PAGE_SIZE: u32 = 200;

pub async fn list(api: &Api) -> Result<Vec<CrmOwner>, CrmError> {
    let mut owners = Vec::new();
    let mut page = 1u32;
    loop {
        let call = Call::get("/crm/v8/users", "list users")
            .query("type", "ActiveUsers")
            .query("per_page", PAGE_SIZE.to_string())
            .query("page", page.to_string());
        let Some(users) = api.read::<Users>(&call).await? else { break };
        owners.extend(users.users.iter().map(|user| CrmOwner {
            id: user.id.clone(),
            name: user.full_name.clone().filter(|n| !n.is_empty()),
            email: user.email.clone().filter(|e| !e.is_empty()),
            // Asked for active users; a status other than `active` (Zoho's word) is taken at its word.
            active: user.status.as_deref().is_none_or(|s| s.eq_ignore_ascii_case("active")),
        }));
        if !users.info.as_ref().is_some_and(|info| info.more_records) {
            break;
        }
        page += 1;
    }
    Ok(owners)
}
