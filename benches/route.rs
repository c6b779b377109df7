//! Routing decisions per second: 200 owners in 10 pools, 50 rules, one thread (one core).
//! Run: `cargo bench --bench route` (prints decisions/s; no framework needed).
//! Each decision matches the rules in order, weighs every member of the chosen pool (CRM id,
//! away ranges, holidays, shift in the owner's zone, skills, capacity), picks by the rule's
//! strategy and computes the due time in the chosen owner's working time.

use std::collections::BTreeMap;
use std::hint::black_box;
use std::time::Instant;

use chrono::{DateTime, Duration, Utc};
use handoffd::config::schema::{BusinessConfig, RoutingConfig};
use handoffd::route::{RouteFacts, Router, RoutingRound};
use handoffd_contract::brief::Brief;

const OWNERS: usize = 200;
const POOLS: usize = 10;
const RULES: usize = 50;
const ZONES: [&str; 4] = ["Asia/Kolkata", "America/New_York", "Europe/London", "America/Sao_Paulo"];
const INTENTS: [&str; 5] = ["pricing", "site_visit", "demo", "support_issue", "purchase_ready"];

fn routing_yaml() -> String {
    let mut yaml = String::from("owners:\n");
    for i in 0..OWNERS {
        yaml.push_str(&format!(
            "  - {{email: owner{i}@example.com, name: Owner {i}, timezone: {}, region: IN, capacity: 40, \
             skills: [{}], languages: [en], hours: {{mon: '08:00-20:00', tue: '08:00-20:00', wed: '08:00-20:00', \
             thu: '08:00-20:00', fri: '08:00-20:00', sat: '22:00-06:00'}}, away: [{{from: 2026-12-24, to: 2026-12-26}}]}}\n",
            ZONES[i % ZONES.len()],
            if i % 3 == 0 { "enterprise" } else { "smb" }
        ));
    }
    yaml.push_str("pools:\n");
    for p in 0..POOLS {
        let members: Vec<String> =
            (0..OWNERS).filter(|i| i % POOLS == p).map(|i| format!("owner{i}@example.com")).collect();
        yaml.push_str(&format!("  pool{p}: [{}]\n", members.join(", ")));
    }
    yaml.push_str("rules:\n");
    for r in 0..RULES {
        // Most rules need a source no brief has, so a decision reads through many of them (as
        // long rule lists do); the last few match by intent and urgency.
        let when = if r < RULES - INTENTS.len() {
            format!("{{source: [campaign{r}], urgency: [high]}}")
        } else {
            format!("{{intent: [{}]}}", INTENTS[r - (RULES - INTENTS.len())])
        };
        let strategy = ["round_robin", "least_open_tasks", "sticky"][r % 3];
        yaml.push_str(&format!(
            "  - {{name: rule{r}, when: {when}, pool: pool{}, strategy: {strategy}, fallback_pool: pool{}}}\n",
            r % POOLS,
            (r + 1) % POOLS
        ));
    }
    yaml.push_str("default_pool: pool0\nholidays: {IN: [2026-01-26, 2026-08-15]}\n");
    yaml
}

fn brief(intent: &str, urgency: &str) -> Brief {
    serde_json::from_value(serde_json::json!({
        "customer": {"phones": [], "emails": []}, "channel_history": [],
        "intents": [{"code": intent, "evidence": intent, "turn": 0}],
        "urgency": {"level": urgency, "reasons": []}, "disposition": "callback", "objections": [],
        "do_not_ask": [], "recommended_action": "", "reasked_facts": [], "actionable": true
    }))
    .unwrap()
}

fn main() {
    let routing: RoutingConfig = serde_saphyr::from_str(&routing_yaml()).expect("the bench's routing parses");
    let business = BusinessConfig {
        timezone: "Asia/Kolkata".into(),
        hours: [("mon", "09:30-19:30"), ("tue", "09:30-19:30")]
            .iter()
            .map(|(d, h)| (d.to_string(), h.to_string()))
            .collect(),
    };
    let router = Router::new(&routing, &business, "crm", None).unwrap();
    // Every owner resolved (as after a sync), some with open handoffs.
    let directory =
        handoffd::route::owners::OwnerDirectory::new((0..OWNERS).map(|i| handoffd_contract::crm::CrmOwner {
            id: format!("{}", 1000 + i),
            name: None,
            email: Some(format!("owner{i}@example.com")),
            active: i % 50 != 7,
        }));
    let open = (0..OWNERS).map(|i| (format!("{}", 1000 + i), (i % 45) as u32)).collect();
    let mut round = RoutingRound {
        positions: BTreeMap::new(),
        used: BTreeMap::new(),
        open,
        directory: Some(directory),
        claims_turns: false,
    };
    let briefs: Vec<Brief> = INTENTS
        .iter()
        .flat_map(|intent| ["high", "medium", "low"].map(|urgency| brief(intent, urgency)))
        .chain([brief("refund", "medium")])
        .collect();
    let facts = RouteFacts { channel: Some("whatsapp".into()), language: None, contact_owner: Some("1010".into()) };
    // A Wednesday afternoon in India: owners in the Americas are off shift, the rest on.
    let start: DateTime<Utc> = DateTime::parse_from_rfc3339("2026-06-17T10:00:00Z").unwrap().with_timezone(&Utc);
    let decisions: usize = std::env::var("ROUTE_BENCH_DECISIONS").ok().and_then(|n| n.parse().ok()).unwrap_or(200_000);

    let started = Instant::now();
    let mut assigned = 0usize;
    for n in 0..decisions {
        let mut brief = briefs[n % briefs.len()].clone();
        let now = start + Duration::seconds((n % 3600) as i64 * 7);
        let decision = router.route(&mut brief, &facts, now, &mut round);
        assigned += decision.owner.is_some() as usize;
        black_box(&decision);
        // Keep open counts from growing without bound (as completed tasks would).
        if n % 1000 == 999 {
            round.open.values_mut().for_each(|open| *open = (*open).min(30));
        }
    }
    let elapsed = started.elapsed();
    println!(
        "route: {decisions} decisions in {:.2?} ({:.0} decisions/s, {:.1} us each) with {OWNERS} owners, {POOLS} pools, {RULES} rules; {assigned} assigned",
        elapsed,
        decisions as f64 / elapsed.as_secs_f64(),
        elapsed.as_secs_f64() * 1e6 / decisions as f64
    );
}
