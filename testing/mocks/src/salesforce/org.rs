//! What the Salesforce mock holds: users, Contacts, Leads and Tasks as field maps, sessions, and the org's API
//! usage against its 24-hour allocation.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Utc};
use serde_json::{Map, Value, json};

use super::SalesforceOptions;

/// The sObjects the mock serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum SObject {
    Contact,
    Lead,
    Task,
    User,
}

impl SObject {
    pub fn from_name(name: &str) -> Option<Self> {
        [Self::Contact, Self::Lead, Self::Task, Self::User].into_iter().find(|o| o.name().eq_ignore_ascii_case(name))
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::Contact => "Contact",
            Self::Lead => "Lead",
            Self::Task => "Task",
            Self::User => "User",
        }
    }

    /// The id prefix Salesforce gives the object's records.
    fn prefix(self) -> &'static str {
        match self {
            Self::Contact => "003",
            Self::Lead => "00Q",
            Self::Task => "00T",
            Self::User => "005",
        }
    }

    /// The standard fields the mock knows (a field outside these and the org's custom ones is an error).
    pub fn standard_fields(self) -> &'static [&'static str] {
        const PERSON: &[&str] = &[
            "Id",
            "FirstName",
            "LastName",
            "Name",
            "Phone",
            "MobilePhone",
            "Email",
            "OwnerId",
            "Description",
            "CreatedDate",
            "LastModifiedDate",
        ];
        match self {
            Self::Contact => PERSON,
            Self::Lead => &[
                "Id",
                "FirstName",
                "LastName",
                "Name",
                "Phone",
                "MobilePhone",
                "Email",
                "OwnerId",
                "Description",
                "CreatedDate",
                "LastModifiedDate",
                "Company",
                "Status",
                "IsConverted",
            ],
            Self::Task => &[
                "Id",
                "Subject",
                "Description",
                "ActivityDate",
                "ReminderDateTime",
                "IsReminderSet",
                "OwnerId",
                "WhoId",
                "WhatId",
                "Priority",
                "Status",
                "IsClosed",
                "Type",
                "CreatedDate",
                "LastModifiedDate",
            ],
            Self::User => {
                &["Id", "Name", "FirstName", "LastName", "Email", "Username", "IsActive", "TimeZoneSidKey", "UserType"]
            }
        }
    }

    /// Fields Salesforce sets itself: a write that names one is refused.
    pub fn read_only(self) -> &'static [&'static str] {
        match self {
            Self::Task => &["Id", "IsClosed", "CreatedDate", "LastModifiedDate"],
            Self::Lead => &["Id", "Name", "IsConverted", "CreatedDate", "LastModifiedDate"],
            _ => &["Id", "Name", "CreatedDate", "LastModifiedDate"],
        }
    }
}

/// A Salesforce user (a possible task owner).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MockSalesforceUser {
    pub id: String,
    pub first_name: String,
    pub last_name: String,
    pub email: String,
    pub active: bool,
    /// `Standard` for people; `AutomatedProcess` and the like are not owners.
    pub user_type: String,
    pub time_zone: String,
}

impl MockSalesforceUser {
    /// Two people (`005000000000001AAA`, `005000000000002AAA`) and the org's automated process user.
    pub fn defaults() -> Vec<Self> {
        let user = |n: u32, first: &str, last: &str, email: &str, kind: &str, zone: &str| Self {
            id: format!("005{n:012}AAA"),
            first_name: first.into(),
            last_name: last.into(),
            email: email.into(),
            active: true,
            user_type: kind.into(),
            time_zone: zone.into(),
        };
        vec![
            user(1, "Asha", "Rao", "asha.rao@example.com", "Standard", "Asia/Kolkata"),
            user(2, "Miguel", "Torres", "miguel.torres@example.com", "Standard", "America/Mexico_City"),
            user(3, "Automated", "Process", "autoproc@00d000000000001.example.com", "AutomatedProcess", "UTC"),
        ]
    }
}

/// A session the token endpoint issued.
#[derive(Debug, Clone)]
pub struct Session {
    pub expired: bool,
}

/// The org.
#[derive(Debug)]
pub struct Org {
    pub options: SalesforceOptions,
    pub records: BTreeMap<SObject, BTreeMap<String, Map<String, Value>>>,
    /// Tasks by external id value, to find an upsert's target and count duplicates.
    pub tasks_by_external_id: HashMap<String, String>,
    next_id: u64,
    pub sessions: HashMap<String, Session>,
    pub tokens_issued: u64,
    /// Calls counted against the allocation.
    pub api_used: u64,
    /// Set by the compliance suite: the allocation is spent until cleared.
    pub allocation_spent: bool,
    /// The calls in flight, by a number of their own, and when each arrived (for the long-running cap).
    pub in_flight_since: HashMap<u64, std::time::Instant>,
    pub next_call: u64,
    /// What the benchmark reads of the load.
    pub load: crate::load::LoadCounts,
}

/// Salesforce's datetime form: `2026-12-05T10:00:00.000+0000`.
pub fn sf_datetime(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%dT%H:%M:%S%.3f+0000").to_string()
}

impl Org {
    pub fn new(options: SalesforceOptions) -> Self {
        let mut org = Self {
            records: BTreeMap::new(),
            tasks_by_external_id: HashMap::new(),
            next_id: 0,
            sessions: HashMap::new(),
            tokens_issued: 0,
            api_used: 0,
            allocation_spent: false,
            in_flight_since: HashMap::new(),
            next_call: 0,
            load: crate::load::LoadCounts::default(),
            options,
        };
        for user in org.options.users.clone() {
            let record = json!({
                "Id": user.id,
                "FirstName": user.first_name,
                "LastName": user.last_name,
                "Name": format!("{} {}", user.first_name, user.last_name),
                "Email": user.email,
                "Username": user.email,
                "IsActive": user.active,
                "TimeZoneSidKey": user.time_zone,
                "UserType": user.user_type,
            });
            org.records.entry(SObject::User).or_default().insert(user.id.clone(), object(record));
        }
        org.seed_contacts();
        org
    }

    /// The known customers: `seed_contacts` Contacts, each with a seeded phone, modified a second apart so the
    /// change feed has an order.
    fn seed_contacts(&mut self) {
        let count = self.options.seed_contacts;
        let owner = self.api_user();
        let now = Utc::now();
        for index in 0..count {
            let id = self.new_id(SObject::Contact);
            let modified = sf_datetime(now - chrono::Duration::seconds((count - index) as i64));
            let record = json!({
                "Id": id,
                "LastName": format!("Known {}", index + 1),
                "Name": format!("Known {}", index + 1),
                "Phone": crate::seed_contact_phone(index),
                "OwnerId": owner,
                "CreatedDate": modified,
                "LastModifiedDate": modified,
            });
            self.records.entry(SObject::Contact).or_default().insert(id, object(record));
        }
    }

    /// A new record id for `object`: its prefix, a counter, and an 18-character checksum-like suffix.
    pub fn new_id(&mut self, object: SObject) -> String {
        self.next_id += 1;
        format!("{}{:012}AAA", object.prefix(), self.next_id)
    }

    /// Whether `field` exists on `object` (standard, or the org's external id field on Task).
    pub fn has_field(&self, object: SObject, field: &str) -> bool {
        object.standard_fields().iter().any(|f| f.eq_ignore_ascii_case(field))
            || (object == SObject::Task
                && self.options.external_id_field.as_deref().is_some_and(|f| f.eq_ignore_ascii_case(field)))
    }

    /// The field's name as the org spells it.
    pub fn canonical_field(&self, object: SObject, field: &str) -> Option<String> {
        object.standard_fields().iter().find(|f| f.eq_ignore_ascii_case(field)).map(|f| (*f).to_owned()).or_else(|| {
            (object == SObject::Task).then_some(())?;
            self.options.external_id_field.clone().filter(|f| f.eq_ignore_ascii_case(field))
        })
    }

    pub fn records(&self, object: SObject) -> impl Iterator<Item = &Map<String, Value>> {
        self.records.get(&object).into_iter().flat_map(|records| records.values())
    }

    pub fn record(&self, object: SObject, id: &str) -> Option<&Map<String, Value>> {
        self.records.get(&object)?.get(id)
    }

    pub fn record_mut(&mut self, object: SObject, id: &str) -> Option<&mut Map<String, Value>> {
        self.records.get_mut(&object)?.get_mut(id)
    }

    pub fn is_active_user(&self, id: &str) -> bool {
        self.record(SObject::User, id).is_some_and(|user| user.get("IsActive") == Some(&Value::Bool(true)))
    }

    pub fn is_person(&self, id: &str) -> bool {
        self.record(SObject::Contact, id).is_some() || self.record(SObject::Lead, id).is_some()
    }

    /// The org's first standard user: who owns what is written without an owner.
    pub fn api_user(&self) -> Option<String> {
        self.options.users.iter().find(|u| u.user_type == "Standard").map(|u| u.id.clone())
    }
}

pub fn object(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        _ => Map::new(),
    }
}
