//! What the mock holds, behind one mutex (it is a mock: simplicity over throughput).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Instant;

use chrono::{DateTime, SecondsFormat, Utc};
use rand::SeedableRng;
use rand::rngs::StdRng;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::faults::FaultInjector;
use super::report::{Counters, GraphMessage};
use super::{AnswerDelay, BatchErrorMode, MockOAuthApp, MockOptions, MockSecret};
use crate::hubspot::limits::RateLimits;

/// The contact properties that hold phone numbers.
pub const PHONE_PROPERTIES: [&str; 2] = ["phone", "mobilephone"];

/// A HubSpot owner (a user tasks can be assigned to).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MockOwner {
    /// The owner id that `hubspot_owner_id` holds.
    pub id: String,
    pub email: String,
    pub first_name: String,
    pub last_name: String,
    /// The owner's HubSpot user id.
    pub user_id: u64,
}

impl MockOwner {
    /// The two owners the mock has unless told otherwise: `75480001` and `75480002`.
    pub fn defaults() -> Vec<Self> {
        vec![
            Self {
                id: "75480001".into(),
                email: "asha.rao@example.com".into(),
                first_name: "Asha".into(),
                last_name: "Rao".into(),
                user_id: 9100001,
            },
            Self {
                id: "75480002".into(),
                email: "miguel.torres@example.com".into(),
                first_name: "Miguel".into(),
                last_name: "Torres".into(),
                user_id: 9100002,
            },
        ]
    }
}

/// The CRM object types the mock serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ObjectKind {
    Contacts,
    Tasks,
}

impl ObjectKind {
    /// Parses a path segment (`contacts`, `tasks`, or HubSpot's type ids `0-1`, `0-27`).
    pub fn from_path(segment: &str) -> Option<Self> {
        match segment {
            "contacts" | "contact" | "0-1" => Some(Self::Contacts),
            "tasks" | "task" | "0-27" => Some(Self::Tasks),
            _ => None,
        }
    }

    /// The name HubSpot uses in messages (`CONTACT`, `TASK`).
    pub fn upper_name(self) -> &'static str {
        match self {
            Self::Contacts => "CONTACT",
            Self::Tasks => "TASK",
        }
    }

    /// The properties HubSpot sets itself: (created, last modified).
    pub fn system_dates(self) -> (&'static str, &'static str) {
        match self {
            Self::Contacts => ("createdate", "lastmodifieddate"),
            Self::Tasks => ("hs_createdate", "hs_lastmodifieddate"),
        }
    }

    /// What a read returns when it names no properties.
    pub fn default_properties(self) -> &'static [&'static str] {
        match self {
            Self::Contacts => &["createdate", "email", "firstname", "hs_object_id", "lastmodifieddate", "lastname"],
            Self::Tasks => &["hs_createdate", "hs_lastmodifieddate", "hs_object_id"],
        }
    }
}

/// An association from a task to another object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Association {
    pub to_id: String,
    pub category: String,
    pub type_id: u32,
}

/// A contact or a task.
#[derive(Debug, Clone)]
pub struct CrmObject {
    pub id: u64,
    pub properties: BTreeMap<String, String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub associations: Vec<Association>,
    /// Echoed back in results and errors, as HubSpot does.
    pub object_write_trace_id: Option<String>,
}

impl CrmObject {
    pub fn new(id: u64, kind: ObjectKind, mut properties: BTreeMap<String, String>, now: DateTime<Utc>) -> Self {
        let (created, modified) = kind.system_dates();
        properties.insert(created.to_owned(), iso(now));
        properties.insert(modified.to_owned(), iso(now));
        properties.insert("hs_object_id".to_owned(), id.to_string());
        Self { id, properties, created_at: now, updated_at: now, associations: Vec::new(), object_write_trace_id: None }
    }

    /// A property's value; `hs_object_id` is always the id.
    pub fn property(&self, name: &str) -> Option<&str> {
        self.properties.get(name).map(String::as_str)
    }

    pub fn touch(&mut self, kind: ObjectKind, now: DateTime<Utc>) {
        self.updated_at = now;
        self.properties.insert(kind.system_dates().1.to_owned(), iso(now));
    }

    /// HubSpot's `SimplePublicObject`: the requested properties (null when unset) plus the system ones;
    /// every property when `requested` is `None` (what a write answers with).
    pub fn to_json(&self, kind: ObjectKind, requested: Option<&[String]>) -> Value {
        let mut properties = Map::new();
        match requested {
            None => {
                for (name, value) in &self.properties {
                    properties.insert(name.clone(), Value::String(value.clone()));
                }
            }
            Some(requested) => {
                let (created, modified) = kind.system_dates();
                let always = [created, modified, "hs_object_id"];
                let defaults = kind.default_properties();
                let names: Vec<&str> = if requested.is_empty() {
                    defaults.to_vec()
                } else {
                    requested.iter().map(String::as_str).chain(always).collect()
                };
                for name in names {
                    let value = self.properties.get(name).map_or(Value::Null, |v| Value::String(v.clone()));
                    properties.insert(name.to_owned(), value);
                }
            }
        }
        let mut object = json!({
            "id": self.id.to_string(),
            "properties": properties,
            "createdAt": iso(self.created_at),
            "updatedAt": iso(self.updated_at),
            "archived": false,
        });
        if let Some(trace) = &self.object_write_trace_id {
            object["objectWriteTraceId"] = Value::String(trace.clone());
        }
        object
    }
}

/// HubSpot's timestamp format: UTC, milliseconds, `Z`.
pub fn iso(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// The phone of the `index`-th seeded contact (0-based): `+9197` and eight digits. Every fifth seeded contact
/// has it in `mobilephone` instead of `phone`, so both matches get exercised.
pub fn seed_contact_phone(index: usize) -> String {
    format!("+9197{:08}", index + 1)
}

/// An access token the OAuth endpoint issued.
#[derive(Debug, Clone)]
pub struct IssuedToken {
    pub account: String,
    pub expires_at: Instant,
}

/// Everything mutable in the mock.
#[derive(Debug)]
pub struct MockState {
    pub contacts: BTreeMap<u64, CrmObject>,
    pub tasks: BTreeMap<u64, CrmObject>,
    /// Indexes kept by [`MockState::insert_contact`] and [`MockState::insert_task`], so that a bench with 100,000
    /// contacts and tasks does not scan them all on every create.
    contact_emails: HashMap<String, u64>,
    contact_phones: HashSet<String>,
    handoff_tasks: HashSet<String>,
    next_contact_id: u64,
    next_task_id: u64,
    pub owners: Vec<MockOwner>,
    /// Custom properties created through the properties API, by object type and name.
    pub custom_properties: BTreeMap<(ObjectKind, String), Value>,
    pub issued_tokens: HashMap<String, IssuedToken>,
    /// The refresh token the OAuth app accepts now, once one was rotated (`None`: the configured one).
    pub current_refresh_token: Option<String>,
    /// Refresh tokens given up by rotation, and how often one was offered again (a client that lost a rotation).
    pub spent_refresh_tokens: HashSet<String>,
    pub spent_refresh_tokens_offered: u64,
    pub limits: RateLimits,
    pub faults: FaultInjector,
    /// Shuffles batch results: HubSpot does not promise input order.
    pub shuffle: StdRng,
    pub counters: Counters,
    pub graph_messages: Vec<GraphMessage>,
    /// The Salesforce org (its own records: it shares only the faults and counters with HubSpot's).
    pub salesforce: crate::salesforce::org::Org,
}

impl MockState {
    pub fn next_id(&mut self, kind: ObjectKind) -> u64 {
        let next = match kind {
            ObjectKind::Contacts => &mut self.next_contact_id,
            ObjectKind::Tasks => &mut self.next_task_id,
        };
        *next += 1;
        *next
    }

    /// Stores a new contact; returns whether it shares a phone with a contact already there.
    pub fn insert_contact(&mut self, contact: CrmObject) -> bool {
        if let Some(email) = contact.property("email").filter(|e| !e.is_empty()) {
            self.contact_emails.insert(email.to_lowercase(), contact.id);
        }
        let mut shares_a_phone = false;
        for phone in PHONE_PROPERTIES.iter().filter_map(|name| contact.property(name)).filter(|p| !p.is_empty()) {
            shares_a_phone |= !self.contact_phones.insert(phone.to_owned());
        }
        self.contacts.insert(contact.id, contact);
        shares_a_phone
    }

    /// The contact holding an email (HubSpot compares emails without case).
    pub fn contact_with_email(&self, email: &str) -> Option<u64> {
        self.contact_emails.get(&email.to_lowercase()).copied()
    }

    /// Stores a new task; returns whether a task for the same handoff id was there already (a duplicate).
    pub fn insert_task(&mut self, task: CrmObject) -> bool {
        let duplicate = match task.property("handoffd_handoff_id").filter(|id| !id.is_empty()) {
            Some(handoff_id) => !self.handoff_tasks.insert(handoff_id.to_owned()),
            None => false,
        };
        self.tasks.insert(task.id, task);
        duplicate
    }

    pub fn objects(&self, kind: ObjectKind) -> &BTreeMap<u64, CrmObject> {
        match kind {
            ObjectKind::Contacts => &self.contacts,
            ObjectKind::Tasks => &self.tasks,
        }
    }

    pub fn is_owner(&self, owner_id: &str) -> bool {
        self.owners.iter().any(|owner| owner.id == owner_id)
    }

    /// Looks an object up by id, or by a property holding that value when `id_property` is given.
    pub fn find(&self, kind: ObjectKind, id: &str, id_property: Option<&str>) -> Option<&CrmObject> {
        match id_property {
            None | Some("hs_object_id") => id.parse().ok().and_then(|id: u64| self.objects(kind).get(&id)),
            Some(property) => self.objects(kind).values().find(|object| object.property(property) == Some(id)),
        }
    }

    fn seed_contacts(&mut self, count: usize, now: DateTime<Utc>) {
        const FIRST: [&str; 6] = ["Priya", "Rahul", "Ana", "Lucas", "Fatima", "Kenji"];
        const LAST: [&str; 6] = ["Sharma", "Mehta", "Souza", "Garcia", "Khan", "Sato"];
        for index in 0..count {
            let id = self.next_id(ObjectKind::Contacts);
            let phone_property = if index % 5 == 4 { "mobilephone" } else { "phone" };
            let mut properties = BTreeMap::from([
                ("firstname".to_owned(), FIRST[index % FIRST.len()].to_owned()),
                ("lastname".to_owned(), LAST[(index / FIRST.len()) % LAST.len()].to_owned()),
                ("email".to_owned(), format!("seed{}@example.com", index + 1)),
                (phone_property.to_owned(), seed_contact_phone(index)),
            ]);
            if let Some(owner) = (!self.owners.is_empty()).then(|| &self.owners[index % self.owners.len()]) {
                properties.insert("hubspot_owner_id".to_owned(), owner.id.clone());
            }
            // Spread modification times one second apart so GT/GTE paging on lastmodifieddate has an order.
            let modified = now - chrono::Duration::seconds((count - index) as i64);
            self.insert_contact(CrmObject::new(id, ObjectKind::Contacts, properties, modified));
        }
    }
}

/// The options that do not change at run time, and the state.
#[derive(Debug)]
pub struct Shared {
    pub access_tokens: Vec<MockSecret>,
    pub oauth: MockOAuthApp,
    pub batch_errors: BatchErrorMode,
    pub answer_delay: Option<AnswerDelay>,
    state: Mutex<MockState>,
}

impl Shared {
    pub fn new(options: MockOptions) -> Self {
        let mut state = MockState {
            contacts: BTreeMap::new(),
            tasks: BTreeMap::new(),
            contact_emails: HashMap::new(),
            contact_phones: HashSet::new(),
            handoff_tasks: HashSet::new(),
            next_contact_id: 100,
            next_task_id: 5_000_000,
            owners: options.owners,
            custom_properties: BTreeMap::new(),
            issued_tokens: HashMap::new(),
            current_refresh_token: None,
            spent_refresh_tokens: HashSet::new(),
            spent_refresh_tokens_offered: 0,
            limits: RateLimits::new(options.limits),
            faults: FaultInjector::new(options.faults),
            shuffle: StdRng::seed_from_u64(options.seed),
            counters: Counters::default(),
            graph_messages: Vec::new(),
            salesforce: crate::salesforce::org::Org::new(options.salesforce),
        };
        state.seed_contacts(options.seed_contacts, Utc::now());
        if options.handoff_property_exists {
            let definition = super::hubspot::properties::definition(&super::hubspot::properties::handoff_property());
            state.custom_properties.insert((ObjectKind::Tasks, "handoffd_handoff_id".to_owned()), definition);
        }
        Self {
            access_tokens: options.access_tokens,
            oauth: options.oauth,
            batch_errors: options.batch_errors,
            answer_delay: options.answer_delay,
            state: Mutex::new(state),
        }
    }

    /// The state; a handler that panicked mid-update leaves it usable (it is a mock).
    pub fn lock(&self) -> MutexGuard<'_, MockState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}
