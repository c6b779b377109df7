//! Whether a token was granted the scopes a connector needs, checked once before the first write (and by
//! `handoffd check --online`), so a missing scope is one clear error naming it, not a failed task per handoff.

use handoffd_contract::crm::CrmError;

/// One scope a connector needs, as the alternatives that grant it (e.g. `ZohoCRM.modules.ALL` or
/// `ZohoCRM.modules.tasks.ALL`), and what it is needed for.
#[derive(Clone, Copy, Debug)]
pub struct NeededScope {
    pub any_of: &'static [&'static str],
    pub for_what: &'static str,
}

/// `Err` naming every needed scope `granted` lacks. `granted` is the token answer's `scope`, separated by spaces
/// (RFC 6749) or commas (Pipedrive); `None` (the answer did not list them) passes: the vendor will say.
pub fn require_scopes(vendor: &str, granted: Option<&str>, needed: &[NeededScope]) -> Result<(), CrmError> {
    let Some(granted) = granted else { return Ok(()) };
    let has: Vec<&str> = granted.split([' ', ',']).map(str::trim).filter(|s| !s.is_empty()).collect();
    let missing: Vec<String> = needed
        .iter()
        .filter(|scope| !scope.any_of.iter().any(|wanted| has.contains(wanted)))
        .map(|scope| format!("`{}` ({})", scope.any_of.join("` or `"), scope.for_what))
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    Err(CrmError::Auth(format!(
        "the {vendor} token lacks the scope{} {}; it has: {}. Add {} to the app and authorise it again",
        if missing.len() == 1 { "" } else { "s" },
        missing.join(", "),
        if has.is_empty() { "none".to_owned() } else { has.join(" ") },
        if missing.len() == 1 { "it" } else { "them" },
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    const NEEDED: [NeededScope; 2] = [
        NeededScope { any_of: &["crm.all", "crm.tasks"], for_what: "writing tasks" },
        NeededScope { any_of: &["users:read"], for_what: "listing owners" },
    ];

    #[test]
    fn a_missing_scope_is_named_with_what_it_is_for() {
        assert!(require_scopes("X", Some("crm.tasks users:read"), &NEEDED).is_ok());
        assert!(require_scopes("X", Some("base,crm.all,users:read"), &NEEDED).is_ok(), "commas separate too");
        assert!(require_scopes("X", None, &NEEDED).is_ok(), "not listed: the vendor will say");
        let error = require_scopes("X", Some("crm.all"), &NEEDED).unwrap_err();
        let CrmError::Auth(message) = &error else { panic!("{error}") };
        assert!(message.contains("lacks the scope `users:read` (listing owners)"), "{message}");
        assert!(message.contains("it has: crm.all"), "{message}");
        let error = require_scopes("X", Some(""), &NEEDED).unwrap_err();
        assert!(error.to_string().contains("`crm.all` or `crm.tasks` (writing tasks), `users:read`"), "{error}");
    }
}
