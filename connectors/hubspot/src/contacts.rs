//! Contacts: find by phone/email in few searches, create, and the change feed for the cache.

use std::collections::{BTreeMap, HashSet};
use std::ops::Range;

use chrono::{DateTime, TimeZone, Utc};
use handoffd_contract::crm::{ContactPage, CrmContact, CrmError, NewContact};
use handoffd_contract::identity::IdentityKey;

use crate::client::{Api, Call};
use crate::wire::{
    BatchInputs, BatchResponse, CreateInput, CrmObject, Filter, FilterGroup, ObjectCreate, Page, PropertyCreate,
    SearchRequest, Sort, full_name,
};

const SEARCH_PATH: &str = "/crm/v3/objects/contacts/search";
const BATCH_CREATE_PATH: &str = "/crm/v3/objects/contacts/batch/create";
const PROPERTIES: [&str; 8] = [
    "firstname",
    "lastname",
    "phone",
    "mobilephone",
    "email",
    "hubspot_owner_id",
    "lastmodifieddate",
    "hs_merged_object_ids",
];
/// Values in one `IN` filter (HubSpot's limit for the operator).
const IN_VALUES: usize = 100;
/// Filter groups (OR-ed) in one search: HubSpot's maximum.
const MAX_FILTER_GROUPS: usize = 5;
/// Results per search page (HubSpot's maximum).
const PAGE_SIZE: u32 = 100;
/// HubSpot's search stops at 10,000 results per query, whatever the paging.
const SEARCH_CAP: u64 = 10_000;
/// The contact property naming the daemon that created a contact (`contact_marker` in the config).
pub const MARKER_PROPERTY: &str = "handoffd_created_by";

/// Creates the contact property [`MARKER_PROPERTY`] unless it exists (HubSpot refuses a contact carrying a
/// property it does not know).
pub async fn prepare(api: &Api) -> Result<(), CrmError> {
    let path = format!("/crm/v3/properties/contacts/{MARKER_PROPERTY}");
    match api.send(&Call::get(path, "read the contact property `handoffd_created_by`")).await {
        Ok(_) => return Ok(()),
        Err(CrmError::Rejected { status: 404, .. }) => {}
        Err(e) => return Err(e),
    }
    let property = PropertyCreate {
        name: MARKER_PROPERTY,
        label: "Created by handoffd",
        kind: "string",
        field_type: "text",
        group_name: "contactinformation",
    };
    let call =
        Call::write("/crm/v3/properties/contacts", &property, "create the contact property `handoffd_created_by`")?;
    match api.send(&call).await {
        // 409: another instance created it meanwhile.
        Ok(_) | Err(CrmError::Rejected { status: 409, .. }) => Ok(()),
        Err(e) => Err(e),
    }
}

pub async fn find(api: &Api, keys: &[IdentityKey]) -> Result<Vec<CrmContact>, CrmError> {
    let mut phones = Vec::new();
    let mut emails = Vec::new();
    let mut ids = Vec::new();
    for key in keys {
        match key {
            IdentityKey::Phone { value } => push_unique(&mut phones, value.trim().to_owned()),
            // HubSpot stores emails lowercased, and IN on a string property matches lowercase values.
            IdentityKey::Email { value } => push_unique(&mut emails, value.trim().to_lowercase()),
            IdentityKey::Vendor { system, id } if system == "hubspot" => push_unique(&mut ids, id.clone()),
            IdentityKey::Vendor { .. } => {}
        }
    }
    let mut found = Vec::new();
    let mut seen = HashSet::new();
    for mut groups in search_groups(&phones, &emails, &ids) {
        let mut after = None;
        loop {
            let request = SearchRequest {
                filter_groups: std::mem::take(&mut groups),
                properties: PROPERTIES.to_vec(),
                limit: PAGE_SIZE,
                after: after.clone(),
                sorts: Vec::new(),
            };
            let page: Page<CrmObject> = api.json(&Call::search(SEARCH_PATH, &request, "search contacts")?).await?;
            groups = request.filter_groups;
            collect_contacts(&page, &mut seen, &mut found);
            match page.continue_after() {
                Some(next) => after = Some(next.to_owned()),
                None => break,
            }
        }
    }
    Ok(found)
}

/// The filter groups of each search: the keys in `IN` chunks of 100, OR-ed, as many to a search as HubSpot takes
/// (five groups). A chunk of phones needs two groups (`phone`, `mobilephone`), so one search covers 200 phones, or
/// 100 phones, 100 emails and 100 ids. Searches have their own, stricter limit (4 a second): fewer is faster.
fn search_groups(phones: &[String], emails: &[String], ids: &[String]) -> Vec<Vec<FilterGroup>> {
    let mut units: Vec<Vec<FilterGroup>> = Vec::new();
    for chunk in phones.chunks(IN_VALUES) {
        units.push(vec![
            FilterGroup { filters: vec![Filter::is_in("phone", chunk.to_vec())] },
            FilterGroup { filters: vec![Filter::is_in("mobilephone", chunk.to_vec())] },
        ]);
    }
    for chunk in emails.chunks(IN_VALUES) {
        units.push(vec![FilterGroup { filters: vec![Filter::is_in("email", chunk.to_vec())] }]);
    }
    for chunk in ids.chunks(IN_VALUES) {
        units.push(vec![FilterGroup { filters: vec![Filter::is_in("hs_object_id", chunk.to_vec())] }]);
    }
    let mut searches: Vec<Vec<FilterGroup>> = Vec::new();
    for unit in units {
        match searches.last_mut() {
            Some(search) if search.len() + unit.len() <= MAX_FILTER_GROUPS => search.extend(unit),
            _ => searches.push(unit),
        }
    }
    searches
}

/// The contacts of a search page, each contact once across pages and searches.
pub fn collect_contacts(page: &Page<CrmObject>, seen: &mut HashSet<String>, found: &mut Vec<CrmContact>) {
    for object in &page.results {
        if seen.insert(object.id.clone()) {
            found.push(to_contact(object));
        }
    }
}

pub async fn create(api: &Api, marker: Option<&str>, contact: &NewContact) -> Result<CrmContact, CrmError> {
    let call = Call::write(
        "/crm/v3/objects/contacts",
        &ObjectCreate { properties: properties_of(contact, marker) },
        "create a contact",
    )?;
    match api.json::<CrmObject>(&call).await {
        Ok(object) => Ok(to_contact(&object)),
        // A contact with this email exists (created meanwhile, or missed by an earlier search):
        // answer with it rather than fail the handoff.
        Err(CrmError::Rejected { status: 409, message }) => {
            let existing = existing_id(&message);
            let email = contact.email.iter().map(|e| IdentityKey::email(e.clone()));
            let by_id = existing.iter().map(|id| IdentityKey::vendor("hubspot", id.clone()));
            let keys = by_id.chain(email).collect::<Vec<_>>();
            let found = find(api, &keys).await?;
            found
                .into_iter()
                .find(|c| existing.as_deref().is_none_or(|id| c.id == id))
                .ok_or(CrmError::Rejected { status: 409, message })
        }
        Err(e) => Err(e),
    }
}

/// Creates contacts with `/batch/create`, `max_batch` a call; one result per input, in input order.
///
/// The batches go out together (a round's two batches cost one answer time, not two), as a wave. HubSpot refuses
/// a batch as a whole when one input is wrong (an email another contact has: 409), so a refused batch is split in
/// halves for the next wave until the refused input stands alone, and a lone input goes through [`create`], which
/// answers a 409 with the existing contact. A failed call fails its inputs with the call's error, and the inputs
/// of later waves with the same, without sending them: the budget is better spent after the backoff.
pub async fn create_many(
    api: &Api,
    max_batch: usize,
    marker: Option<&str>,
    contacts: &[NewContact],
) -> Vec<Result<CrmContact, CrmError>> {
    let inputs: Vec<CreateInput> = contacts
        .iter()
        .enumerate()
        .map(|(i, c)| CreateInput {
            properties: properties_of(c, marker),
            associations: Vec::new(),
            object_write_trace_id: i.to_string(),
        })
        .collect();
    let mut results: Vec<Option<Result<CrmContact, CrmError>>> = (0..contacts.len()).map(|_| None).collect();
    let mut wave: Vec<Range<usize>> =
        (0..inputs.len()).step_by(max_batch.max(1)).map(|s| s..(s + max_batch).min(inputs.len())).collect();
    while !wave.is_empty() {
        let calls = wave.iter().map(|range| create_range(api, marker, contacts, &inputs, range.clone()));
        let answers = futures::future::join_all(calls).await;
        let mut failure = None;
        let mut next = Vec::new();
        for (range, answer) in wave.into_iter().zip(answers) {
            match answer {
                Ok(created) => {
                    for (i, result) in created {
                        results[i] = Some(result);
                    }
                }
                Err(CrmError::Rejected { .. }) if range.len() > 1 => {
                    let middle = range.start + range.len() / 2;
                    next.extend([range.start..middle, middle..range.end]);
                }
                Err(e) => {
                    for i in range {
                        results[i] = Some(Err(e.clone()));
                    }
                    failure.get_or_insert(e);
                }
            }
        }
        if let Some(e) = failure {
            return fill(results, &e);
        }
        wave = next;
    }
    fill(results, &CrmError::Protocol("a contact was neither created nor refused".to_owned()))
}

/// One call of [`create_many`]: the inputs of `range`, a lone one through [`create`].
async fn create_range(
    api: &Api,
    marker: Option<&str>,
    contacts: &[NewContact],
    inputs: &[CreateInput],
    range: Range<usize>,
) -> Result<Vec<(usize, Result<CrmContact, CrmError>)>, CrmError> {
    if range.len() == 1 {
        // A lone input's refusal is its own result, not a reason to split.
        return Ok(vec![(range.start, create(api, marker, &contacts[range.start]).await)]);
    }
    let call = Call::write(BATCH_CREATE_PATH, &BatchInputs { inputs: &inputs[range.clone()] }, "create contacts")?;
    let answer = api.json::<BatchResponse>(&call).await?;
    Ok(match_created(&contacts[range.clone()], range.start, &answer.results)
        .into_iter()
        .map(|(i, created)| {
            let missing =
                || CrmError::Protocol(format!("HubSpot created a batch of contacts without the one for input {i}"));
            (i, created.ok_or_else(missing))
        })
        .collect())
}

/// The results so far, with `error` for every input that has none.
fn fill(results: Vec<Option<Result<CrmContact, CrmError>>>, error: &CrmError) -> Vec<Result<CrmContact, CrmError>> {
    results.into_iter().map(|r| r.unwrap_or_else(|| Err(error.clone()))).collect()
}

/// Which created object belongs to which input (`first` is the index of `inputs[0]`): by the echoed
/// `objectWriteTraceId`, else by email, else by phone. Results come in no promised order.
fn match_created(inputs: &[NewContact], first: usize, objects: &[CrmObject]) -> Vec<(usize, Option<CrmContact>)> {
    let mut unclaimed: Vec<&CrmObject> = objects.iter().collect();
    let mut take = |found: &dyn Fn(&CrmObject) -> bool| {
        let at = unclaimed.iter().position(|o| found(o))?;
        Some(to_contact(unclaimed.swap_remove(at)))
    };
    inputs
        .iter()
        .enumerate()
        .map(|(offset, input)| {
            let trace = (first + offset).to_string();
            let email = input.email.as_deref().map(str::to_lowercase);
            let contact = take(&|o| o.object_write_trace_id.as_deref() == Some(trace.as_str()))
                .or_else(|| {
                    let email = email.as_deref()?;
                    take(&|o| o.prop("email").is_some_and(|e| e.eq_ignore_ascii_case(email)))
                })
                .or_else(|| {
                    let phone = input.phone.as_deref()?;
                    take(&|o| o.prop("phone") == Some(phone))
                });
            (first + offset, contact)
        })
        .collect()
}

/// HubSpot has no single name field: first word as first name, the rest as last name. The marker, when
/// configured, says which daemon created the contact (see [`changed_elsewhere`]).
fn properties_of(contact: &NewContact, marker: Option<&str>) -> BTreeMap<&'static str, String> {
    let mut properties = BTreeMap::new();
    if let Some(marker) = marker {
        properties.insert(MARKER_PROPERTY, marker.to_owned());
    }
    if let Some(name) = contact.name.as_deref().map(str::trim).filter(|n| !n.is_empty()) {
        let (first, last) = name.split_once(char::is_whitespace).unwrap_or((name, ""));
        properties.insert("firstname", first.to_owned());
        if !last.trim().is_empty() {
            properties.insert("lastname", last.trim().to_owned());
        }
    }
    if let Some(phone) = &contact.phone {
        properties.insert("phone", phone.clone());
    }
    if let Some(email) = &contact.email {
        properties.insert("email", email.clone());
    }
    properties
}

/// `Contact already exists. Existing ID: 123` -> `123`.
pub fn existing_id(message: &str) -> Option<String> {
    let (_, tail) = message.split_once("Existing ID:")?;
    let id = tail.trim().chars().take_while(char::is_ascii_digit).collect::<String>();
    (!id.is_empty()).then_some(id)
}

/// Where the change feed resumes: contacts modified at or after `since_ms`, skipping `after`.
#[derive(Debug, PartialEq)]
pub struct Cursor {
    pub since_ms: i64,
    pub after: Option<String>,
}

impl Cursor {
    pub fn parse(text: &str) -> Result<Self, CrmError> {
        let invalid = || CrmError::Protocol(format!("invalid HubSpot contact cursor `{text}`"));
        let rest = text.strip_prefix("v1:").ok_or_else(invalid)?;
        let (since, after) = rest.split_once(':').ok_or_else(invalid)?;
        let since_ms = since.parse().map_err(|_| invalid())?;
        Ok(Self { since_ms, after: (!after.is_empty()).then(|| after.to_owned()) })
    }

    /// The stored cursor, or the start of the feed.
    pub fn resume(text: Option<&str>) -> Result<Self, CrmError> {
        Ok(text.map(Self::parse).transpose()?.unwrap_or(Self { since_ms: 0, after: None }))
    }

    fn encode(&self) -> String {
        format!("v1:{}:{}", self.since_ms, self.after.as_deref().unwrap_or(""))
    }
}

/// The change feed. GTE (not GT) on the timestamp: when the 10,000-result cap forces a new
/// query from the last timestamp seen, contacts sharing that millisecond are read again rather
/// than skipped (the cache sync is idempotent).
pub async fn changed_since(api: &Api, cursor: Option<&str>) -> Result<ContactPage, CrmError> {
    let cursor = Cursor::resume(cursor)?;
    let request = SearchRequest {
        filter_groups: vec![FilterGroup {
            filters: vec![Filter::compare("lastmodifieddate", "GTE", cursor.since_ms.to_string())],
        }],
        properties: PROPERTIES.to_vec(),
        limit: PAGE_SIZE,
        after: cursor.after.clone(),
        sorts: vec![Sort { property_name: "lastmodifieddate", direction: "ASCENDING" }],
    };
    let page: Page<CrmObject> = api.json(&Call::search(SEARCH_PATH, &request, "list changed contacts")?).await?;
    Ok(changes(&cursor, &page))
}

/// The change feed without the contacts `marker` created since `since` (see `Crm::contacts_changed_elsewhere`).
///
/// Three filter groups, OR-ed, each on contacts modified at or after `since`: those without the marker (created by
/// anyone else, or before the marker existed), those with another daemon's marker, and those created before
/// `since` (our own too: a contact we created earlier that someone changed since). Left out: contacts this daemon
/// created at or after `since`, which it cached when it created them, even if someone changed them since.
///
/// The page cursor is `<from_ms>:<after>`: pages go by the last modification time read (GTE: contacts sharing
/// that millisecond are read again), not by offset alone, so a contact modified again while we page (it moves to
/// the end of the order) does not shift one we have not read onto a page we have.
pub async fn changed_elsewhere(
    api: &Api,
    marker: &str,
    since: DateTime<Utc>,
    page: Option<&str>,
) -> Result<ContactPage, CrmError> {
    let since_ms = since.timestamp_millis();
    let invalid = || CrmError::Protocol(format!("invalid HubSpot change-feed page `{}`", page.unwrap_or_default()));
    let (from_ms, after) = match page {
        None => (since_ms, None),
        Some(text) => {
            let (from, after) = text.split_once(':').ok_or_else(invalid)?;
            (from.parse::<i64>().map_err(|_| invalid())?, (!after.is_empty()).then(|| after.to_owned()))
        }
    };
    let modified = || Filter::compare("lastmodifieddate", "GTE", from_ms.to_string());
    let request = SearchRequest {
        filter_groups: vec![
            FilterGroup { filters: vec![modified(), Filter::exists(MARKER_PROPERTY, false)] },
            FilterGroup { filters: vec![modified(), Filter::compare(MARKER_PROPERTY, "NEQ", marker.to_owned())] },
            FilterGroup { filters: vec![modified(), Filter::compare("createdate", "LT", since_ms.to_string())] },
        ],
        properties: PROPERTIES.to_vec(),
        limit: PAGE_SIZE,
        after: after.clone(),
        sorts: vec![Sort { property_name: "lastmodifieddate", direction: "ASCENDING" }],
    };
    let found: Page<CrmObject> =
        api.json(&Call::search(SEARCH_PATH, &request, "list contacts changed elsewhere")?).await?;
    let read = changes(&Cursor { since_ms: from_ms, after: None }, &found);
    let next = found.next_after().filter(|_| !found.results.is_empty()).map(|offset| {
        let last = found.results.iter().rev().find_map(modified_at).map(|t| t.timestamp_millis());
        match last {
            // Resume from the last time read; the contacts of that millisecond are read again.
            Some(last) if last > from_ms => format!("{last}:"),
            // A whole page within one millisecond: by offset, within that millisecond's query.
            _ => format!("{from_ms}:{offset}"),
        }
    });
    Ok(ContactPage { contacts: read.contacts, next_cursor: next })
}

/// One page of the change feed, read from `cursor`: its contacts (with those merged away) and
/// where the feed resumes.
pub fn changes(cursor: &Cursor, page: &Page<CrmObject>) -> ContactPage {
    let mut contacts = Vec::with_capacity(page.results.len());
    for object in &page.results {
        let contact = to_contact(object);
        // The survivor of a merge lists the ids merged into it: tell the cache where they went.
        for merged in object.prop("hs_merged_object_ids").unwrap_or("").split(';').map(str::trim) {
            if !merged.is_empty() && merged != contact.id {
                contacts.push(merged_away(merged, &contact.id));
            }
        }
        contacts.push(contact);
    }
    let next_cursor = match page.next_after() {
        None => None,
        Some(_) if page.results.is_empty() => None,
        Some(after) => {
            let offset = after.parse::<u64>().unwrap_or(0);
            if offset.saturating_add(u64::from(PAGE_SIZE)) <= SEARCH_CAP {
                Some(Cursor { since_ms: cursor.since_ms, after: Some(after.to_owned()) })
            } else {
                let last = page.results.iter().rev().find_map(modified_at).map(|t| t.timestamp_millis());
                // More than 10,000 contacts in one millisecond would loop: step past it.
                let since_ms = match last {
                    Some(last) if last > cursor.since_ms => last,
                    _ => cursor.since_ms.saturating_add(1),
                };
                Some(Cursor { since_ms, after: None })
            }
        }
    };
    ContactPage { contacts, next_cursor: next_cursor.map(|c| c.encode()) }
}

fn merged_away(id: &str, survivor: &str) -> CrmContact {
    CrmContact {
        id: id.to_owned(),
        name: None,
        phones: Vec::new(),
        emails: Vec::new(),
        owner_id: None,
        updated_at: None,
        merged_into: Some(survivor.to_owned()),
    }
}

pub fn to_contact(object: &CrmObject) -> CrmContact {
    let phones = ["phone", "mobilephone"].iter().filter_map(|p| object.prop(p)).map(str::to_owned).collect();
    CrmContact {
        id: object.id.clone(),
        name: full_name(object.prop("firstname"), object.prop("lastname")),
        phones,
        emails: object.prop("email").map(str::to_owned).into_iter().collect(),
        owner_id: object.prop("hubspot_owner_id").map(str::to_owned),
        updated_at: modified_at(object),
        merged_into: None,
    }
}

fn modified_at(object: &CrmObject) -> Option<DateTime<Utc>> {
    object.prop("lastmodifieddate").and_then(parse_time).or_else(|| object.updated_at.as_deref().and_then(parse_time))
}

/// HubSpot writes datetimes as ISO 8601 (v3 answers) or as epoch milliseconds (filters, some
/// older properties).
pub fn parse_time(text: &str) -> Option<DateTime<Utc>> {
    if let Ok(ms) = text.parse::<i64>() {
        return Utc.timestamp_millis_opt(ms).single();
    }
    DateTime::parse_from_rfc3339(text).ok().map(|t| t.with_timezone(&Utc))
}

fn push_unique(values: &mut Vec<String>, value: String) {
    if !value.is_empty() && !values.contains(&value) {
        values.push(value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(prefix: &str, count: usize) -> Vec<String> {
        (0..count).map(|i| format!("{prefix}{i}")).collect()
    }

    #[test]
    fn one_search_covers_200_phones_and_100_emails() {
        let searches = search_groups(&values("+91980", 200), &values("e", 100), &[]);
        assert_eq!(searches.len(), 1);
        let groups: Vec<(&str, usize)> = searches[0]
            .iter()
            .map(|g| (g.filters[0].property_name, g.filters[0].values.as_ref().map_or(0, Vec::len)))
            .collect();
        assert_eq!(
            groups,
            [("phone", 100), ("mobilephone", 100), ("phone", 100), ("mobilephone", 100), ("email", 100)]
        );
    }

    #[test]
    fn a_chunk_of_phones_keeps_both_of_its_groups_in_one_search() {
        let searches = search_groups(&values("+91980", 250), &values("e", 50), &values("", 3));
        let sizes: Vec<usize> = searches.iter().map(Vec::len).collect();
        assert_eq!(sizes, [4, 4], "{searches:?}");
        assert!(searches.iter().all(|s| s.len() <= MAX_FILTER_GROUPS));
        let phones: usize = searches
            .iter()
            .flatten()
            .filter(|g| g.filters[0].property_name == "mobilephone")
            .map(|g| g.filters[0].values.as_ref().map_or(0, Vec::len))
            .sum();
        assert_eq!(phones, 250);
    }

    #[test]
    fn cursor_round_trips() {
        let c = Cursor { since_ms: 1_700_000_000_000, after: Some("200".into()) };
        assert_eq!(Cursor::parse(&c.encode()).unwrap(), c);
        let c = Cursor { since_ms: 5, after: None };
        assert_eq!(Cursor::parse(&c.encode()).unwrap(), c);
        assert!(Cursor::parse("garbage").is_err());
    }

    fn page(json: &str) -> Page<CrmObject> {
        serde_json::from_str(json).unwrap()
    }

    // HubSpot's `after` is an offset, but it is HubSpot's text: one past u64 overflowed the
    // check against the 10,000-result cap.
    #[test]
    fn a_huge_paging_offset_restarts_from_the_last_timestamp() {
        let page = page(
            r#"{"results":[{"id":"1","properties":{"lastmodifieddate":"1763712000000"}}],
                "paging":{"next":{"after":"18446744073709551615"}}}"#,
        );
        let next = changes(&Cursor { since_ms: 5, after: None }, &page).next_cursor.unwrap();
        assert_eq!(Cursor::parse(&next).unwrap(), Cursor { since_ms: 1_763_712_000_000, after: None });
    }

    // A stored cursor at the end of time must not overflow when the feed steps past it.
    #[test]
    fn the_feed_cannot_step_past_the_last_millisecond() {
        let page = page(r#"{"results":[{"id":"1"}],"paging":{"next":{"after":"10000"}}}"#);
        let next = changes(&Cursor { since_ms: i64::MAX, after: None }, &page).next_cursor.unwrap();
        assert_eq!(Cursor::parse(&next).unwrap().since_ms, i64::MAX);
    }

    #[test]
    fn existing_id_is_read_from_the_conflict_message() {
        assert_eq!(existing_id("Contact already exists. Existing ID: 123").as_deref(), Some("123"));
        assert_eq!(existing_id("Something else"), None);
    }

    #[test]
    fn times_parse_in_both_formats() {
        let iso = parse_time("2026-03-01T10:00:00.000Z").unwrap();
        assert_eq!(parse_time(&iso.timestamp_millis().to_string()), Some(iso));
    }
}
