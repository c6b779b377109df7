//! Several CRM contacts claiming one customer: pick one and say so, never merge them.

use std::collections::HashSet;

use handoffd_contract::crm::CrmContact;
use handoffd_contract::identity::IdentityKey;
use serde::{Deserialize, Serialize};

use super::keys::normalize;
use crate::store::CustomerRecord;

/// How to choose among CRM contacts that claim the same customer.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ContactPickRule {
    /// The contact updated last (the one sales is working in).
    #[default]
    MostRecentlyUpdated,
    /// A contact that has an owner, then the most recently updated.
    PreferOwned,
    /// The lowest numeric id: the first created, in CRMs whose ids grow (HubSpot).
    OldestId,
}

impl ContactPickRule {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::MostRecentlyUpdated => "most_recently_updated",
            Self::PreferOwned => "prefer_owned",
            Self::OldestId => "oldest_id",
        }
    }
}

/// The contact to use.
#[derive(Clone, Debug, PartialEq)]
pub struct ContactChoice<'a> {
    pub id: String,
    /// `None` when the chosen id is a merge survivor the CRM did not return itself.
    pub contact: Option<&'a CrmContact>,
    /// Contacts the CRM had merged into this one, followed to it.
    pub followed_from: Vec<String>,
}

/// Several distinct contacts claimed the customer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ContactConflict {
    pub chosen: String,
    pub others: Vec<String>,
    /// The key the contacts share (E.164 phone or email), when they share one.
    pub shared_key: Option<String>,
    /// For the brief's notes, e.g. "2 HubSpot contacts share +919820012345: 101 (updated
    /// 2026-06-01) chosen over 202 (updated 2026-05-20)."
    pub sentence: String,
}

/// Picks one contact among those the CRM returned for a customer's keys. `crm` names the CRM
/// in the sentence ("HubSpot"); `default_region` reads the CRM's phones. A contact the CRM
/// merged (`merged_into`) is followed to its survivor. `None` when `contacts` is empty.
pub fn pick_contact<'a>(
    contacts: &'a [CrmContact],
    rule: ContactPickRule,
    crm: &str,
    default_region: Option<&str>,
) -> Option<(ContactChoice<'a>, Option<ContactConflict>)> {
    // Follow merges to survivors; a cycle (a CRM bug) stops where it would repeat.
    let mut candidates: Vec<ContactChoice<'a>> = Vec::new();
    for contact in contacts {
        let mut id = contact.id.as_str();
        let mut seen = HashSet::from([id]);
        while let Some(next) = contacts.iter().find(|c| c.id == id).and_then(|c| c.merged_into.as_deref()) {
            if !seen.insert(next) {
                break;
            }
            id = next;
        }
        let survivor = contacts.iter().find(|c| c.id == id);
        match candidates.iter_mut().find(|c| c.id == id) {
            Some(existing) => {
                if contact.id != id {
                    existing.followed_from.push(contact.id.clone());
                }
            }
            None => candidates.push(ContactChoice {
                id: id.to_owned(),
                contact: survivor,
                followed_from: if contact.id != id { vec![contact.id.clone()] } else { Vec::new() },
            }),
        }
    }
    if candidates.is_empty() {
        return None;
    }
    candidates.sort_by_key(|c| std::cmp::Reverse(rank(rule, c)));
    let mut rest = candidates.split_off(1);
    let chosen = candidates.pop()?;
    if rest.is_empty() {
        return Some((chosen, None));
    }
    let shared_key = shared_key(std::iter::once(&chosen).chain(rest.iter()), default_region);
    let describe = |c: &ContactChoice<'_>| match c.contact.and_then(|c| c.updated_at) {
        Some(at) => format!("{} (updated {})", c.id, at.format("%Y-%m-%d")),
        None => format!("{} (no update time)", c.id),
    };
    let others: Vec<String> = rest.iter().map(describe).collect();
    let claim = match &shared_key {
        Some(key) => format!("share {key}"),
        None => "match this customer".to_owned(),
    };
    let by_rule = match rule {
        ContactPickRule::MostRecentlyUpdated => String::new(),
        other => format!(" by rule {}", other.as_str()),
    };
    let sentence = format!(
        "{} {crm} contacts {claim}: {} chosen over {}{by_rule}.",
        rest.len() + 1,
        describe(&chosen),
        others.join(", ")
    );
    let conflict = ContactConflict {
        chosen: chosen.id.clone(),
        others: rest.drain(..).map(|c| c.id).collect(),
        shared_key,
        sentence,
    };
    Some((chosen, Some(conflict)))
}

/// The match keys of a CRM contact's phones and emails (for the identity cache).
pub fn contact_match_keys(contact: &CrmContact, default_region: Option<&str>) -> Vec<String> {
    let keys: Vec<IdentityKey> = contact
        .phones
        .iter()
        .map(|p| IdentityKey::phone(p.as_str()))
        .chain(contact.emails.iter().map(|e| IdentityKey::email(e.as_str())))
        .collect();
    super::keys::match_keys_of(&super::keys::normalize_all(&keys, default_region))
}

/// Notes for the brief about a customer's keys: a phone that could not be read is kept as
/// written and flagged, never guessed into a number.
/// What the owner should know about a customer's identity, for the brief's `notes`: an unreadable phone
/// kept as written, an unresolved identity conflict, several CRM contacts of one account claiming the
/// customer (and which one delivery uses).
pub fn customer_notes(customer: &CustomerRecord) -> Vec<String> {
    let mut notes = key_notes(&customer.keys);
    notes.extend(customer.open_conflicts.iter().map(|reason| format!("identity conflict: {reason}")));
    for (crm_id, contacts) in &customer.cached_contacts {
        if let Some((_, Some(conflict))) = pick_contact(contacts, Default::default(), crm_id, None) {
            notes.push(conflict.sentence);
        }
    }
    notes
}

pub fn key_notes(keys: &[(String, String)]) -> Vec<String> {
    let mut notes = Vec::new();
    for (match_key, raw) in keys {
        if match_key.starts_with(super::keys::PHONE_RAW_PREFIX) {
            let note = format!("the phone '{raw}' could not be read as a number: kept as written ({match_key})");
            if !notes.contains(&note) {
                notes.push(note);
            }
        }
    }
    notes
}

/// Sort key: larger is better.
fn rank(rule: ContactPickRule, choice: &ContactChoice<'_>) -> (bool, i128, std::cmp::Reverse<String>) {
    let contact = choice.contact;
    let updated = contact.and_then(|c| c.updated_at).map_or(i64::MIN, |at| at.timestamp_millis()) as i128;
    // Ties fall to the lower id, so the choice never depends on the CRM's answer order.
    let tie = std::cmp::Reverse(format!("{:0>24}", choice.id));
    match rule {
        ContactPickRule::MostRecentlyUpdated => (true, updated, tie),
        ContactPickRule::PreferOwned => (contact.is_some_and(|c| c.owner_id.is_some()), updated, tie),
        ContactPickRule::OldestId => {
            let numeric = choice.id.parse::<i128>().ok();
            (numeric.is_some(), numeric.map_or(0, |n| -n), tie)
        }
    }
}

/// A phone or email every candidate holds, as the brief shows it.
fn shared_key<'c, 'a: 'c>(
    candidates: impl Iterator<Item = &'c ContactChoice<'a>>,
    default_region: Option<&str>,
) -> Option<String> {
    let mut shared: Option<Vec<String>> = None;
    for candidate in candidates {
        let contact = candidate.contact?;
        let keys: Vec<String> = contact
            .phones
            .iter()
            .map(|p| IdentityKey::phone(p.as_str()))
            .chain(contact.emails.iter().map(|e| IdentityKey::email(e.as_str())))
            .map(|k| normalize(&k, default_region))
            .filter(|k| !k.match_keys.is_empty())
            .map(|k| k.e164().or(k.email()).map(str::to_owned).unwrap_or(k.canonical))
            .collect();
        shared = Some(match shared {
            None => keys,
            Some(previous) => previous.into_iter().filter(|k| keys.contains(k)).collect(),
        });
    }
    shared.and_then(|keys| keys.into_iter().next())
}

#[cfg(test)]
mod tests {
    use chrono::{DateTime, Utc};

    use super::*;

    fn contact(id: &str, phone: &str, updated: Option<&str>) -> CrmContact {
        CrmContact {
            id: id.into(),
            name: None,
            phones: vec![phone.into()],
            emails: vec![],
            owner_id: None,
            updated_at: updated.map(|d| format!("{d}T10:00:00Z").parse::<DateTime<Utc>>().unwrap()),
            merged_into: None,
        }
    }

    #[test]
    fn most_recent_wins_and_the_conflict_is_explained() {
        let contacts =
            [contact("202", "098200 12345", Some("2026-05-20")), contact("101", "+91 98200 12345", Some("2026-06-01"))];
        let (chosen, conflict) = pick_contact(&contacts, ContactPickRule::default(), "HubSpot", Some("IN")).unwrap();
        assert_eq!(chosen.id, "101");
        let conflict = conflict.expect("two contacts are a conflict");
        assert_eq!(conflict.others, vec!["202"]);
        assert_eq!(conflict.shared_key.as_deref(), Some("+919820012345"));
        assert_eq!(
            conflict.sentence,
            "2 HubSpot contacts share +919820012345: 101 (updated 2026-06-01) chosen over 202 (updated 2026-05-20)."
        );
    }

    #[test]
    fn a_configured_rule_overrides_recency() {
        let mut owned = contact("202", "+5511987654321", Some("2026-01-01"));
        owned.owner_id = Some("77".into());
        let contacts = [contact("101", "+55 11 8765-4321", Some("2026-06-01")), owned];
        let (chosen, conflict) = pick_contact(&contacts, ContactPickRule::PreferOwned, "HubSpot", None).unwrap();
        assert_eq!(chosen.id, "202");
        let conflict = conflict.unwrap();
        assert_eq!(conflict.shared_key.as_deref(), Some("+5511987654321"), "the BR ninth digit joins");
        assert!(conflict.sentence.ends_with("by rule prefer_owned."), "{}", conflict.sentence);
        let (chosen, _) = pick_contact(&contacts, ContactPickRule::OldestId, "HubSpot", None).unwrap();
        assert_eq!(chosen.id, "101");
    }

    #[test]
    fn merged_contacts_are_followed_to_the_survivor() {
        let mut merged = contact("202", "+14155552671", Some("2026-06-09"));
        merged.merged_into = Some("101".into());
        let contacts = [merged, contact("101", "+14155552671", Some("2026-01-01"))];
        let (chosen, conflict) = pick_contact(&contacts, ContactPickRule::default(), "HubSpot", None).unwrap();
        assert_eq!(chosen.id, "101");
        assert_eq!(chosen.followed_from, vec!["202"]);
        assert!(chosen.contact.is_some());
        assert_eq!(conflict, None);

        // A survivor the CRM did not return is still where the merge points.
        let mut alone = contact("303", "+14155552671", None);
        alone.merged_into = Some("404".into());
        let contacts = [alone];
        let (chosen, conflict) = pick_contact(&contacts, ContactPickRule::default(), "HubSpot", None).unwrap();
        assert_eq!(chosen.id, "404");
        assert_eq!(chosen.contact, None);
        assert_eq!(conflict, None);
    }

    #[test]
    fn contact_keys_and_raw_phone_notes() {
        let mut brazil = contact("7", "(11) 8765-4321", None);
        brazil.emails.push(" Ana@Example.com ".into());
        let keys = contact_match_keys(&brazil, Some("BR"));
        assert!(keys.contains(&"phone:+5511987654321".to_owned()), "{keys:?}");
        assert!(keys.contains(&"email:ana@example.com".to_owned()), "{keys:?}");

        let notes = key_notes(&[
            ("phone:+919820012345".into(), "+919820012345".into()),
            ("phone_raw:+9112345678".into(), "+91 12345 678".into()),
        ]);
        assert_eq!(notes.len(), 1);
        assert!(notes[0].contains("'+91 12345 678'"), "{notes:?}");
    }

    #[test]
    fn a_merge_cycle_does_not_loop() {
        let mut a = contact("1", "+14155552671", None);
        a.merged_into = Some("2".into());
        let mut b = contact("2", "+14155552671", None);
        b.merged_into = Some("1".into());
        assert!(pick_contact(&[a, b], ContactPickRule::default(), "HubSpot", None).is_some());
        assert!(pick_contact(&[], ContactPickRule::default(), "HubSpot", None).is_none());
    }
}
