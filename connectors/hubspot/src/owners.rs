//! Owners: the HubSpot users who can own tasks, paged.

use handoffd_contract::crm::{CrmError, CrmOwner};

use crate::client::{Api, Call};
use crate::wire::{Owner, Page, full_name};

pub async fn list(api: &Api) -> Result<Vec<CrmOwner>, CrmError> {
    let mut owners = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let mut call = Call::get("/crm/v3/owners", "list owners").query("limit", "100");
        if let Some(after) = &after {
            call = call.query("after", after.clone());
        }
        let page: Page<Owner> = api.json(&call).await?;
        owners.extend(page.results.iter().map(|o| CrmOwner {
            id: o.id.clone(),
            name: full_name(o.first_name.as_deref(), o.last_name.as_deref()),
            email: o.email.clone(),
            active: !o.archived,
        }));
        match page.next_after() {
            Some(next) if !page.results.is_empty() && after.as_deref() != Some(next) => after = Some(next.to_owned()),
            _ => break,
        }
    }
    Ok(owners)
}
