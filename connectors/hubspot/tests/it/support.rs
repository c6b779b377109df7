use std::sync::{Arc, Mutex};
use std::time::Instant;

use chrono::{TimeZone, Utc};
use handoffd_contract::auth::{MemoryVault, TokenVault};
use handoffd_contract::task::{LabelledFact, TaskKind, TaskPriority, TaskText, TaskWrite};
use handoffd_hubspot::{Hubspot, HubspotConfig};
use serde_json::{Value, json};
use wiremock::{MockServer, Request, Respond, ResponseTemplate};

pub const TOKEN: &str = "pat-na1-test-0000";

/// A config for the mock at `server`, with `extra` keys merged in (a private-app token unless
/// `extra` sets `oauth`).
pub fn config(server: &MockServer, extra: Value) -> HubspotConfig {
    let mut base = json!({ "id": "hubspot-main", "base_url": server.uri() });
    let extra = extra.as_object().cloned().unwrap_or_default();
    if !extra.contains_key("oauth") {
        base["access_token"] = json!(TOKEN);
    }
    for (k, v) in extra {
        base[k] = v;
    }
    serde_json::from_value(base).expect("test config parses")
}

pub fn hubspot(server: &MockServer, extra: Value) -> Hubspot {
    hubspot_with_vault(server, extra, Arc::new(MemoryVault::default()))
}

pub fn hubspot_with_vault(server: &MockServer, extra: Value, vault: Arc<dyn TokenVault>) -> Hubspot {
    Hubspot::new(config(server, extra), vault, reqwest::Client::new()).expect("connector builds")
}

pub fn task(key: &str, contact: &str, owner: Option<&str>) -> TaskWrite {
    TaskWrite {
        external_key: key.to_owned(),
        contact_id: contact.to_owned(),
        owner_id: owner.map(str::to_owned),
        text: TaskText {
            subject: format!("Call back about {key}"),
            facts: vec![LabelledFact { label: "Need".into(), value: "2BHK <near> metro".into() }],
            transcript_url: None,
        },
        due_at: Utc.with_ymd_and_hms(2026, 3, 7, 14, 30, 0).unwrap(),
        priority: TaskPriority::High,
        kind: TaskKind::Call,
    }
}

/// The JSON a task result carries, as HubSpot answers batch create.
pub fn task_result(id: &str, key: &str) -> Value {
    json!({
        "id": id,
        "properties": { "handoffd_handoff_id": key, "hs_task_status": "NOT_STARTED",
                        "hs_createdate": "2026-03-07T10:00:00.000Z" },
        "createdAt": "2026-03-07T10:00:00.000Z",
        "updatedAt": "2026-03-07T10:00:00.000Z",
        "archived": false
    })
}

pub fn error_body(message: &str, category: &str) -> Value {
    json!({
        "status": "error",
        "message": message,
        "correlationId": "5b1c7e2a-0d4f-4a8e-9c11-2f6b0a9d3e41",
        "category": category
    })
}

/// Answers with a fixed template and records when each request arrived.
#[derive(Clone, Default)]
pub struct Arrivals(pub Arc<Mutex<Vec<Instant>>>);

pub struct RecordingResponder {
    pub arrivals: Arrivals,
    pub template: ResponseTemplate,
}

impl Respond for RecordingResponder {
    fn respond(&self, _: &Request) -> ResponseTemplate {
        self.arrivals.0.lock().unwrap().push(Instant::now());
        self.template.clone()
    }
}

impl Arrivals {
    /// The most requests seen inside any window of `window` (half-open) starting at an arrival.
    pub fn most_in_window(&self, window: std::time::Duration) -> usize {
        let mut times = self.0.lock().unwrap().clone();
        times.sort();
        times
            .iter()
            .map(|&start| times.iter().filter(|&&t| t >= start && t < start + window).count())
            .max()
            .unwrap_or(0)
    }
}

pub fn body_json(request: &Request) -> Value {
    serde_json::from_slice(&request.body).expect("request body is JSON")
}
