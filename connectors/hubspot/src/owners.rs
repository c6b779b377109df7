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
        owners.extend(page.results.iter().map(to_owner));
        match page.continue_after() {
            Some(next) if after.as_deref() != Some(next) => after = Some(next.to_owned()),
            _ => break,
        }
    }
    Ok(owners)
}

pub fn to_owner(owner: &Owner) -> CrmOwner {
    CrmOwner {
        id: owner.id.clone(),
        name: full_name(owner.first_name.as_deref(), owner.last_name.as_deref()),
        email: owner.email.clone(),
        active: !owner.archived,
    }
}
