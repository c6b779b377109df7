//! Identity through the pipeline: the store's customer resolution (merge, conflict, split,
//! phone quirks, changed numbers, raw phones), the CRM identity cache and the issue's workload
//! (1,000 messages from 200 customers, 150 of them already in the CRM).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use handoffd::config::Loaded;
use handoffd::deliver::DeliveryPayload;
use handoffd::store::{NormalizedBatch, NormalizedInteraction, Store};
use handoffd_contract::conversation::Speaker;
use handoffd_contract::crm::{CrmContact, NewContact};
use handoffd_contract::identity::IdentityKey;
use handoffd_contract::interaction::{Channel, Content, Direction, Interaction, Message, SystemEvent};
use handoffd_contract::task::{TaskKind, TaskWrite};
use handoffd_mocks::{MockCrm, MockHandle, MockOptions, seed_contact_phone};
use serde_json::json;

const APP_SECRET: &str = "test-app-secret";

// --- the store, directly ----------------------------------------------------------------------

async fn open_store() -> (tempfile::TempDir, Arc<dyn Store>) {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!("sqlite://{}", dir.path().join("handoffd.db").display());
    let store = handoffd::store::open(&url).await.expect("store opens");
    (dir, store)
}

fn message(dedup: &str, keys: Vec<IdentityKey>, text: &str, at: DateTime<Utc>) -> Interaction {
    Interaction {
        dedup_key: dedup.to_owned(),
        channel: Channel::Whatsapp,
        direction: Direction::Inbound,
        at,
        keys,
        display_name: None,
        content: Content::Message(Message {
            from: Speaker::Customer,
            kind: "text".into(),
            text: Some(text.into()),
            ..Default::default()
        }),
    }
}

/// Apply one interaction as the normaliser does, with the connector's default region.
async fn apply(store: &dyn Store, inbox_id: i64, interaction: Interaction, region: Option<&str>) {
    let keys = interaction.keys.iter().flat_map(|k| handoffd::ingest::match_keys(k, region)).collect();
    let batch = NormalizedBatch {
        connector_id: "wa-main".into(),
        received_at: interaction.at,
        quiet_period: chrono::Duration::seconds(90),
        reopen_after: chrono::Duration::days(7),
        interactions: vec![NormalizedInteraction { interaction, keys, end_signal: None }],
    };
    handoffd::ingest::apply_interactions(store, &[(inbox_id, batch)]).await.expect("apply");
}

async fn customer_of(store: &dyn Store, key: &str) -> String {
    store.customer_for_key(key).await.expect("lookup").unwrap_or_else(|| panic!("no customer for {key}"))
}

#[tokio::test]
async fn brazil_ninth_digit_and_india_prefixes_join_one_customer() {
    let (_dir, store) = open_store().await;
    let t0 = Utc::now();
    // Brazil: the CRM-era number without the ninth digit, then WhatsApp with it.
    apply(store.as_ref(), 1, message("br-1", vec![IdentityKey::phone("(11) 8765-4321")], "oi", t0), Some("BR")).await;
    apply(store.as_ref(), 2, message("br-2", vec![IdentityKey::phone("+55 11 98765-4321")], "preço?", t0), None).await;
    let with_nine = customer_of(store.as_ref(), "phone:+5511987654321").await;
    let keys = store.customer_keys(&with_nine).await.unwrap();
    assert!(keys.iter().any(|(k, _)| k == "phone:+5511987654321"), "{keys:?}");
    let first = store.customer_timeline(&with_nine).await.unwrap();
    assert_eq!(first.events.iter().filter(|e| e.source == "interaction").count(), 2, "both messages, one customer");

    // India: 0-prefixed national, bare ten digits and +91 are one person.
    apply(store.as_ref(), 3, message("in-1", vec![IdentityKey::phone("09820012345")], "hi", t0), Some("IN")).await;
    apply(store.as_ref(), 4, message("in-2", vec![IdentityKey::phone("9820012345")], "hello", t0), Some("IN")).await;
    apply(store.as_ref(), 5, message("in-3", vec![IdentityKey::phone("+91 98200 12345")], "price?", t0), None).await;
    let india = customer_of(store.as_ref(), "phone:+919820012345").await;
    let timeline = store.customer_timeline(&india).await.unwrap();
    assert_eq!(timeline.events.iter().filter(|e| e.source == "interaction").count(), 3);
    assert_ne!(india, with_nine);
    assert!(store.list_merges(10).await.unwrap().is_empty(), "quirks join by match key, not by merging");
}

#[tokio::test]
async fn customers_of_two_crm_contacts_are_a_listed_conflict_not_a_merge() {
    let (_dir, store) = open_store().await;
    let t0 = Utc::now();
    apply(store.as_ref(), 1, message("a", vec![IdentityKey::phone("+919820012345")], "hi", t0), None).await;
    apply(store.as_ref(), 2, message("b", vec![IdentityKey::email("asha@example.in")], "hi", t0), None).await;
    let by_phone = customer_of(store.as_ref(), "phone:+919820012345").await;
    let by_email = customer_of(store.as_ref(), "email:asha@example.in").await;
    store.set_crm_contact(&by_phone, "hubspot-main", "101", t0).await.unwrap();
    store.set_crm_contact(&by_email, "hubspot-main", "202", t0).await.unwrap();

    let both = vec![IdentityKey::phone("+919820012345"), IdentityKey::email("asha@example.in")];
    apply(store.as_ref(), 3, message("c", both.clone(), "it's me again", t0), None).await;
    apply(store.as_ref(), 4, message("d", both, "and again", t0), None).await;

    assert_eq!(customer_of(store.as_ref(), "phone:+919820012345").await, by_phone, "not merged");
    assert_eq!(customer_of(store.as_ref(), "email:asha@example.in").await, by_email, "not merged");
    assert!(store.list_merges(10).await.unwrap().is_empty());
    let conflicts = store.identity_conflicts(10).await.unwrap();
    assert_eq!(conflicts.len(), 1, "one conflict, however often it recurs: {conflicts:?}");
    let conflict = &conflicts[0];
    assert_eq!(conflict.times_seen, 2);
    let mut expected = vec![by_phone.clone(), by_email.clone()];
    expected.sort();
    assert_eq!(conflict.customers, expected);
    assert!(conflict.reason.contains("CRM contact hubspot-main:101"), "{}", conflict.reason);
    assert!(conflict.reason.contains("CRM contact hubspot-main:202"), "{}", conflict.reason);

    // The brief of the customer the messages went to carries the conflict.
    let handoff = store.ready_handoffs(t0 + chrono::Duration::hours(1), 10).await.unwrap();
    let attached = handoff.iter().find(|h| h.customer_id == conflict.attach_to).expect("a handoff");
    let stored = store.handoff_conversation(&attached.id).await.unwrap();
    let notes = handoffd::identity::customer_notes(&stored.customer);
    assert!(notes.iter().any(|n| n.starts_with("identity conflict:")), "{notes:?}");
}

#[tokio::test]
async fn a_merge_is_recorded_and_split_back() {
    let (_dir, store) = open_store().await;
    let t0 = Utc::now();
    apply(store.as_ref(), 1, message("a", vec![IdentityKey::phone("+14155552671")], "hi", t0), None).await;
    let t1 = t0 + chrono::Duration::seconds(1);
    apply(
        store.as_ref(),
        2,
        message("b", vec![IdentityKey::vendor("vapi", "cust_8f2"), IdentityKey::email("lucia@example.mx")], "call", t1),
        None,
    )
    .await;
    let older = customer_of(store.as_ref(), "phone:+14155552671").await;
    let newer = customer_of(store.as_ref(), "email:lucia@example.mx").await;
    assert_ne!(older, newer);

    let both = vec![IdentityKey::phone("+1 415 555 2671"), IdentityKey::email("Lucia@Example.mx")];
    apply(store.as_ref(), 3, message("c", both, "same person", t1), None).await;
    assert_eq!(customer_of(store.as_ref(), "vendor:vapi:cust_8f2").await, older, "the oldest customer survives");
    let merges = handoffd::identity::resolve::list_merges(store.as_ref(), 10).await.unwrap();
    assert_eq!(merges.len(), 1);
    assert_eq!((merges[0].survivor_id.as_str(), merges[0].absorbed_id.as_str()), (older.as_str(), newer.as_str()));
    assert!(merges[0].explanation.contains("were seen together"), "{}", merges[0].explanation);
    assert_eq!(
        store.customer_timeline(&older).await.unwrap().events.iter().filter(|e| e.source == "interaction").count(),
        3
    );

    let outcome = handoffd::identity::resolve::split_merge(store.as_ref(), merges[0].id, Utc::now()).await.unwrap();
    assert_eq!(outcome.customer_id, newer);
    let mut restored = outcome.restored_keys.clone();
    restored.sort();
    assert_eq!(restored, vec!["email:lucia@example.mx", "vendor:vapi:cust_8f2"]);
    assert_eq!(outcome.interactions_moved, 1, "the absorbed customer's own message goes back");
    assert_eq!(customer_of(store.as_ref(), "email:lucia@example.mx").await, newer);
    assert_eq!(customer_of(store.as_ref(), "phone:+14155552671").await, older);
    let timeline = store.customer_timeline(&newer).await.unwrap();
    assert_eq!(timeline.merged_into, None);
    assert!(timeline.events.iter().any(|e| e.label == "merge_split"));
    assert!(store.list_merges(10).await.unwrap()[0].undone_at.is_some());
    assert!(
        handoffd::identity::resolve::split_merge(store.as_ref(), merges[0].id, Utc::now()).await.is_err(),
        "a merge splits once"
    );
}

#[tokio::test]
async fn a_changed_number_joins_the_same_customer_and_a_raw_phone_is_flagged() {
    let (_dir, store) = open_store().await;
    let t0 = Utc::now();
    apply(store.as_ref(), 1, message("a", vec![IdentityKey::phone("+919820012345")], "hi", t0), None).await;
    let customer = customer_of(store.as_ref(), "phone:+919820012345").await;
    let system = Interaction {
        dedup_key: "sys-1".into(),
        channel: Channel::Whatsapp,
        direction: Direction::Inbound,
        at: t0,
        keys: vec![IdentityKey::phone("+919820012345")],
        display_name: None,
        content: Content::System(SystemEvent {
            kind: "customer_changed_number".into(),
            text: Some("changed number".into()),
            new_keys: vec![IdentityKey::phone("+919833300000")],
        }),
    };
    apply(store.as_ref(), 2, system, None).await;
    assert_eq!(customer_of(store.as_ref(), "phone:+919833300000").await, customer);

    apply(store.as_ref(), 3, message("raw", vec![IdentityKey::phone("+91 12345 678")], "call me", t0), None).await;
    let handoffs = store.ready_handoffs(t0 + chrono::Duration::hours(1), 10).await.unwrap();
    let mut notes = Vec::new();
    for handoff in handoffs {
        notes.extend(handoffd::identity::customer_notes(
            &store.handoff_conversation(&handoff.id).await.unwrap().customer,
        ));
    }
    assert!(notes.iter().any(|n| n.contains("could not be read") && n.contains("phone_raw:")), "{notes:?}");

    // The same unreadable phone next to someone else's email links by spelling only: no merge.
    apply(store.as_ref(), 4, message("e", vec![IdentityKey::email("ravi@example.in")], "hi", t0), None).await;
    let raw_and_email = vec![IdentityKey::phone("+91 12345 678"), IdentityKey::email("ravi@example.in")];
    apply(store.as_ref(), 5, message("f", raw_and_email, "hello", t0), None).await;
    assert!(store.list_merges(10).await.unwrap().is_empty());
    let conflicts = store.identity_conflicts(10).await.unwrap();
    assert_eq!(conflicts.len(), 1);
    assert!(conflicts[0].reason.contains("unreadable phone"), "{}", conflicts[0].reason);
    assert_eq!(conflicts[0].attach_to, customer_of(store.as_ref(), "email:ravi@example.in").await);
}

// --- the CRM identity cache ---------------------------------------------------------------

async fn start_mock(options: MockOptions) -> MockHandle {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind mock");
    MockCrm::start(MockOptions { handoff_property_exists: true, ..options }, listener).await
}

fn hubspot(base_url: &str, store: Arc<dyn Store>) -> Arc<dyn handoffd_contract::crm::Crm> {
    let config: handoffd_hubspot::HubspotConfig = serde_json::from_value(json!({
        "id": "hubspot-main", "base_url": base_url, "access_token": "mock-hubspot-token",
    }))
    .expect("hubspot config");
    let vault = Arc::new(handoffd::deliver::StoreVault::new(store, None));
    Arc::new(handoffd_hubspot::Hubspot::new(config, vault, reqwest::Client::new()).expect("crm"))
}

fn payload(phone: &str) -> DeliveryPayload {
    DeliveryPayload {
        task: TaskWrite {
            external_key: "h".into(),
            contact_id: String::new(),
            owner_id: None,
            text: Default::default(),
            due_at: Utc::now(),
            priority: handoffd_contract::task::TaskPriority::Medium,
            kind: TaskKind::Call,
        },
        contact: NewContact { name: None, phone: Some(phone.into()), email: None, source: None },
        lookup: vec![IdentityKey::phone(phone)],
    }
}

fn search_calls(mock: &MockHandle) -> u64 {
    mock.report().requests_per_endpoint.iter().filter(|(k, _)| k.ends_with("/search")).map(|(_, n)| n).sum()
}

#[tokio::test]
async fn the_cache_answers_known_contacts_and_two_contacts_for_one_customer_are_explained() {
    let mock = start_mock(MockOptions { seed_contacts: 5, ..Default::default() }).await;
    let (_dir, store) = open_store().await;
    let crm = hubspot(&mock.base_url(), store.clone());
    // A second contact with the first seeded phone: the CRM holds the person twice.
    let twin =
        crm.create_contact(&NewContact { phone: Some(seed_contact_phone(0)), ..Default::default() }).await.unwrap();
    let sync = handoffd::identity::sync::CrmSync {
        store: store.clone(),
        crm: crm.clone(),
        schedule: handoffd::identity::sync::parse_schedule("0 */5 * * * *").unwrap(),
        default_region: Some("IN".into()),
        lease: handoffd::lease::Lease::new(
            store.clone(),
            "crm_sync:hubspot-main",
            "test",
            handoffd::identity::sync::SYNC_LEASE,
        ),
    };
    let summary = sync.sync_once().await.unwrap();
    assert_eq!(summary.contacts, 6);
    let state = store.crm_sync_state("hubspot-main").await.unwrap().expect("synced");
    assert_eq!(state.contacts, 6);

    let t0 = Utc::now();
    for (index, phone) in [seed_contact_phone(0), seed_contact_phone(1)].iter().enumerate() {
        apply(
            store.as_ref(),
            index as i64 + 1,
            message(&format!("m{index}"), vec![IdentityKey::phone(phone.as_str())], "hi", t0),
            None,
        )
        .await;
    }
    let twin_customer = customer_of(store.as_ref(), &format!("phone:{}", seed_contact_phone(0))).await;
    let plain_customer = customer_of(store.as_ref(), &format!("phone:{}", seed_contact_phone(1))).await;
    let searches_before = search_calls(&mock);
    let p0 = payload(&seed_contact_phone(0));
    let p1 = payload(&seed_contact_phone(1));
    let jobs = vec![(twin_customer.clone(), &p0), (plain_customer.clone(), &p1)];
    let contacts = handoffd::deliver::ensure_contacts(store.as_ref(), crm.as_ref(), &jobs, None).await.unwrap();
    assert_eq!(search_calls(&mock), searches_before, "both customers resolved from the cache");
    assert_eq!(contacts.known[&twin_customer], twin.id, "the most recently updated contact is chosen");
    assert_eq!(contacts.known[&plain_customer], "102");
    assert_eq!(mock.report().contacts_created, 1, "only the twin, made by this test");

    let timeline = store.customer_timeline(&twin_customer).await.unwrap();
    assert!(timeline.events.iter().any(|e| e.label == "contact_conflict" && e.summary.contains("chosen over")));
    let handoff = store
        .ready_handoffs(t0 + chrono::Duration::hours(1), 10)
        .await
        .unwrap()
        .into_iter()
        .find(|h| h.customer_id == twin_customer)
        .unwrap();
    let notes = handoffd::identity::customer_notes(&store.handoff_conversation(&handoff.id).await.unwrap().customer);
    assert!(
        notes
            .iter()
            .any(|n| n.starts_with("2 hubspot-main contacts share") && n.contains(&format!("{} (updated", twin.id))),
        "{notes:?}"
    );

    // A customer the CRM does not know: one search, one create, then cached at once.
    apply(store.as_ref(), 9, message("new", vec![IdentityKey::phone("+919811122233")], "hi", t0), None).await;
    let newcomer = customer_of(store.as_ref(), "phone:+919811122233").await;
    let p2 = payload("+919811122233");
    let created = handoffd::deliver::ensure_contacts(store.as_ref(), crm.as_ref(), &[(newcomer.clone(), &p2)], None)
        .await
        .unwrap();
    let cached = store.cached_contacts("hubspot-main", &["phone:+919811122233".into()]).await.unwrap();
    assert_eq!(cached.iter().map(|c| &c.contact.id).collect::<Vec<_>>(), vec![&created.known[&newcomer]]);
    mock.shutdown().await;
}

#[tokio::test]
async fn a_contact_the_crm_merged_is_followed_to_its_survivor() {
    let (_dir, store) = open_store().await;
    let now = Utc::now();
    let contact = |id: &str, merged_into: Option<&str>| handoffd::store::CachedContact {
        contact: CrmContact {
            id: id.into(),
            name: None,
            phones: if merged_into.is_some() { vec![] } else { vec!["+14155552671".into()] },
            emails: vec![],
            owner_id: None,
            updated_at: Some(now),
            merged_into: merged_into.map(str::to_owned),
        },
        match_keys: if merged_into.is_some() { vec![] } else { vec!["phone:+14155552671".into()] },
    };
    store.store_sync_page("crm", &[contact("7", None)], Some("c1"), now).await.unwrap();
    // The CRM merged 7 into 9: the notice carries no keys, and must not erase 7's.
    store.store_sync_page("crm", &[contact("9", None), contact("7", Some("9"))], None, now).await.unwrap();
    let state = store.crm_sync_state("crm").await.unwrap().unwrap();
    assert_eq!(state.cursor.as_deref(), Some("c1"), "no next cursor keeps the last one");
    assert_eq!(state.pages, 2);
    let found = store.cached_contacts("crm", &["phone:+14155552671".into()]).await.unwrap();
    let contacts: Vec<CrmContact> = found.into_iter().map(|c| c.contact).collect();
    let (choice, _) = handoffd::identity::pick_contact(&contacts, Default::default(), "crm", None).expect("a contact");
    assert_eq!(choice.id, "9");
}

// --- the workload, through the daemon --------------------------------------------------------

fn config_text(db: &std::path::Path, crm: &str) -> String {
    format!(
        r#"
store:
  url: sqlite://{db}
server:
  listen: 127.0.0.1:0
admin:
  listen: 127.0.0.1:0
conversation:
  quiet_period: 1s
business:
  timezone: Asia/Kolkata
  hours: {{mon: "09:30-19:30", tue: "09:30-19:30", wed: "09:30-19:30", thu: "09:30-19:30", fri: "09:30-19:30", sat: "10:00-18:00"}}
interpret:
  vocabulary: vocabulary
routing:
  owners:
    - id: "75480001"
    - id: "75480002"
delivery:
  crm: hubspot-main
  max_attempts: 6
  retry_min: 200ms
  retry_max: 2s
identity:
  crm_sync: "0 0 * * * *"
connectors:
  - id: wa-main
    kind: whatsapp_cloud
    app_secret: {APP_SECRET}
    verify_token: token
    phone_number_id: "106540352242922"
    base_url: http://127.0.0.1:9/graph
    default_region: IN
  - id: hubspot-main
    kind: hubspot
    base_url: {crm}
    access_token: mock-hubspot-token
    request_timeout: 5s
"#,
        db = db.display()
    )
}

fn text_webhook(wamid: &str, wa_id: &str, text: &str, timestamp: i64) -> String {
    json!({
        "object": "whatsapp_business_account",
        "entry": [{"id": "102290129340398", "changes": [{"field": "messages", "value": {
            "messaging_product": "whatsapp",
            "metadata": {"display_phone_number": "15550783881", "phone_number_id": "106540352242922"},
            "contacts": [{"profile": {"name": format!("Customer {wa_id}")}, "wa_id": wa_id}],
            "messages": [{"from": wa_id, "id": wamid, "timestamp": timestamp.to_string(), "type": "text", "text": {"body": text}}]
        }}]}]
    })
    .to_string()
}

async fn eventually<T, F, Fut>(within: Duration, what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + within;
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(tokio::time::Instant::now() < deadline, "timed out after {within:?} waiting for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_messages_from_two_hundred_customers_need_few_searches_and_no_duplicate_contacts() {
    const CUSTOMERS: usize = 200;
    const KNOWN: usize = 150;
    let mock = start_mock(MockOptions { seed_contacts: KNOWN, ..Default::default() }).await;
    let dir = tempfile::tempdir().unwrap();
    let config = handoffd::config::parse(&config_text(&dir.path().join("handoffd.db"), &mock.base_url()), &|_| None)
        .unwrap_or_else(|problems| panic!("test config is invalid: {problems:?}"));
    let loaded = Loaded { config, path: PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("config/test.yaml") };
    let daemon = handoffd::daemon::start(&loaded).await.expect("daemon starts");
    let store = daemon.store.clone();

    // The first sync runs at start.
    eventually(Duration::from_secs(30), "the first CRM sync", || {
        let store = store.clone();
        async move { store.crm_sync_state("hubspot-main").await.ok().flatten().filter(|s| s.contacts >= KNOWN as i64) }
    })
    .await;
    let before = mock.report();
    let searches_before = search_calls(&mock);

    let wa_id = |customer: usize| {
        if customer < KNOWN {
            seed_contact_phone(customer).trim_start_matches('+').to_owned()
        } else {
            format!("9198{:08}", customer)
        }
    };
    let texts =
        ["Hi", "What is the price of the 2BHK?", "Is there parking?", "I can pay 20% upfront", "Please call me"];
    let client = reqwest::Client::new();
    let now = Utc::now().timestamp();
    for (round, text) in texts.iter().enumerate() {
        let mut sends = tokio::task::JoinSet::new();
        for customer in 0..CUSTOMERS {
            let body = text_webhook(&format!("wamid.{customer}.{round}"), &wa_id(customer), text, now);
            let signature = handoffd_whatsapp_cloud::sign(APP_SECRET, body.as_bytes());
            let request = client
                .post(format!("http://{}/webhooks/wa-main", daemon.addr))
                .header("content-type", "application/json")
                .header("X-Hub-Signature-256", signature)
                .body(body);
            sends.spawn(async move { request.send().await.map(|r| r.status()) });
            if sends.len() >= 32 {
                assert!(sends.join_next().await.unwrap().unwrap().unwrap().is_success());
            }
        }
        while let Some(status) = sends.join_next().await {
            assert!(status.unwrap().unwrap().is_success());
        }
    }

    let report = eventually(Duration::from_secs(180), "a task per customer", || {
        let report = mock.report();
        async move { (report.tasks_created >= CUSTOMERS as u64).then_some(report) }
    })
    .await;
    let searches = search_calls(&mock) - searches_before;
    eprintln!(
        "workload: {} tasks, {} contacts created, {} duplicate contacts, {searches} search calls after the first sync \
         ({} during it); requests per endpoint: {:?}",
        report.tasks_created,
        report.contacts_created - before.contacts_created,
        report.duplicate_contacts,
        searches_before,
        report.requests_per_endpoint
    );
    assert_eq!(report.tasks_created, CUSTOMERS as u64, "one handoff per customer burst");
    assert_eq!(report.duplicate_tasks, 0);
    assert_eq!(report.duplicate_contacts, 0, "no contact created twice");
    assert_eq!(report.contacts_created - before.contacts_created, (CUSTOMERS - KNOWN) as u64);
    assert!(searches <= 50, "{searches} search calls after the first sync");
    daemon.shutdown().await.unwrap();
    mock.shutdown().await;
}

// --- the command line ----------------------------------------------------------------------

fn handoffd(config: &std::path::Path, args: &[&str]) -> (bool, String) {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_handoffd"))
        .args(args)
        .arg("--config")
        .arg(config)
        .output()
        .expect("run handoffd");
    let text = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    (output.status.success(), text)
}

#[tokio::test]
async fn identity_conflicts_split_and_audit_on_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("handoffd.db");
    let config = dir.path().join("handoffd.yaml");
    std::fs::write(&config, config_text(&db, "http://127.0.0.1:9")).unwrap();
    let store = handoffd::store::open(&format!("sqlite://{}", db.display())).await.unwrap();
    let t0 = Utc::now();
    // A conflict: two customers of two CRM contacts met.
    apply(store.as_ref(), 1, message("a", vec![IdentityKey::phone("+919820012345")], "hi", t0), None).await;
    apply(store.as_ref(), 2, message("b", vec![IdentityKey::email("asha@example.in")], "hi", t0), None).await;
    let by_phone = customer_of(store.as_ref(), "phone:+919820012345").await;
    let by_email = customer_of(store.as_ref(), "email:asha@example.in").await;
    store.set_crm_contact(&by_phone, "hubspot-main", "101", t0).await.unwrap();
    store.set_crm_contact(&by_email, "hubspot-main", "202", t0).await.unwrap();
    let both = vec![IdentityKey::phone("+919820012345"), IdentityKey::email("asha@example.in")];
    apply(store.as_ref(), 3, message("c", both, "me again", t0), None).await;
    // A merge: a voice caller's email and a WhatsApp number seen together.
    apply(store.as_ref(), 4, message("d", vec![IdentityKey::phone("+14155552671")], "hello", t0), None).await;
    apply(store.as_ref(), 5, message("e", vec![IdentityKey::email("lucia@example.mx")], "hola", t0), None).await;
    let both = vec![IdentityKey::phone("+14155552671"), IdentityKey::email("lucia@example.mx")];
    apply(store.as_ref(), 6, message("f", both, "same person", t0), None).await;
    let merge_id = store.list_merges(1).await.unwrap()[0].id;
    drop(store);

    let (ok, out) = handoffd(&config, &["identity", "conflicts"]);
    assert!(ok, "{out}");
    assert!(out.contains("different CRM contacts") && out.contains(&by_phone) && out.contains(&by_email), "{out}");

    let (ok, out) = handoffd(&config, &["identity", "split", &merge_id.to_string()]);
    assert!(ok, "{out}");
    assert!(
        out.contains(&format!("Merge {merge_id} is split")) && out.contains("restored email:lucia@example.mx"),
        "{out}"
    );
    let (ok, out) = handoffd(&config, &["identity", "split", &merge_id.to_string()]);
    assert!(!ok, "a merge splits once: {out}");

    // India's national form finds the customer; the timeline is in time order across sources.
    let (ok, out) = handoffd(&config, &["audit", "--customer", "098200 12345", "--region", "IN"]);
    assert!(ok, "{out}");
    assert!(out.contains(&format!("customer {by_phone}")), "{out}");
    assert!(out.contains("interaction") && out.contains("identity_conflict"), "{out}");
    let times: Vec<&str> = out.lines().filter_map(|l| l.split('\t').next()).filter(|t| t.starts_with("20")).collect();
    let mut sorted = times.clone();
    sorted.sort();
    assert_eq!(times, sorted);
    let (ok, out) = handoffd(&config, &["audit", "--customer", "+15550000000"]);
    assert!(!ok && out.contains("No customer is known"), "{out}");
}
