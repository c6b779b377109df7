//! The watcher on SQLite against a CRM that counts its calls: the figure of CRM calls per 1,000 open tasks, and
//! the ladder's timing with the injected clock (`check(now)`).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, TimeZone, Utc};
use handoffd_contract::crm::{
    ContactPage, Crm, CrmContact, CrmError, CrmOwner, LiveBudget, NewContact, RateLimitPolicy, TaskWriteOutcome,
};
use handoffd_contract::identity::IdentityKey;
use handoffd_contract::task::{TaskKind, TaskPriority, TaskRef, TaskState, TaskText, TaskWrite};

use super::{RouterReassigner, SlaWatcher};
use crate::config::duration::ConfigDuration;
use crate::config::schema::{BusinessConfig, LadderAction, LadderStep, RoutingConfig, SlaConfig};
use crate::conversation::lifecycle::TASK_WRITTEN;
use crate::deliver::DeliveryPayload;
use crate::lease::Lease;
use crate::store::conformance::customer_with_handoff;
use crate::store::sqlite::SqliteStore;
use crate::store::{BriefCommit, NewJob, Store};

/// A CRM holding tasks in memory, counting calls per operation; batches of at most 100, as HubSpot's.
#[derive(Default)]
struct CountingCrm {
    tasks: Mutex<HashMap<String, TaskWrite>>,
    completed: Mutex<Vec<String>>,
    calls: Mutex<HashMap<&'static str, usize>>,
}

impl CountingCrm {
    fn count(&self, operation: &'static str) {
        *self.calls.lock().unwrap().entry(operation).or_default() += 1;
    }

    fn calls(&self, operation: &str) -> usize {
        self.calls.lock().unwrap().get(operation).copied().unwrap_or(0)
    }
}

#[async_trait]
impl Crm for CountingCrm {
    fn id(&self) -> &str {
        "crm"
    }
    fn limits(&self) -> RateLimitPolicy {
        RateLimitPolicy {
            requests: 190,
            window: Duration::from_secs(10),
            daily: None,
            search_requests: None,
            search_window: None,
            max_batch: 100,
            concurrency: None,
        }
    }
    fn live_budget(&self) -> LiveBudget {
        LiveBudget::default()
    }
    async fn find_contacts(&self, _: &[IdentityKey]) -> Result<Vec<CrmContact>, CrmError> {
        unreachable!("the watcher searches no contact")
    }
    async fn create_contact(&self, _: &NewContact) -> Result<CrmContact, CrmError> {
        unreachable!("the watcher creates no contact")
    }
    async fn contacts_changed_since(&self, _: Option<&str>) -> Result<ContactPage, CrmError> {
        unreachable!("the watcher syncs no contact")
    }
    async fn list_owners(&self) -> Result<Vec<CrmOwner>, CrmError> {
        unreachable!("the watcher lists no owner")
    }
    async fn create_tasks(&self, _: &[TaskWrite]) -> Result<Vec<TaskWriteOutcome>, CrmError> {
        unreachable!("the watcher creates no task")
    }
    async fn update_tasks(&self, tasks: &[(String, TaskWrite)]) -> Result<Vec<TaskWriteOutcome>, CrmError> {
        self.count("update_tasks");
        assert!(tasks.len() <= 100, "a batch within the CRM's limit");
        let mut stored = self.tasks.lock().unwrap();
        Ok(tasks
            .iter()
            .map(|(id, task)| {
                stored.insert(id.clone(), task.clone());
                TaskWriteOutcome::Written(TaskRef {
                    task_id: id.clone(),
                    external_key: Some(task.external_key.clone()),
                })
            })
            .collect())
    }
    async fn find_tasks_by_external_keys(&self, _: &[String]) -> Result<Vec<TaskRef>, CrmError> {
        unreachable!("the watcher looks no task up")
    }
    async fn task_states(&self, task_ids: &[String]) -> Result<Vec<TaskState>, CrmError> {
        self.count("task_states");
        assert!(task_ids.len() <= 100, "a batch within the CRM's limit");
        let tasks = self.tasks.lock().unwrap();
        let completed = self.completed.lock().unwrap();
        Ok(task_ids
            .iter()
            .filter_map(|id| {
                tasks.get(id).map(|task| TaskState {
                    task_id: id.clone(),
                    completed: completed.contains(id),
                    owner_id: task.owner_id.clone(),
                    due_at: Some(task.due_at),
                })
            })
            .collect())
    }
}

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 12, 5, 10, 0, 0).single().unwrap()
}

/// `count` handoffs whose tasks (`task-<i>`, due at `t0`, owner `o1`) are in `crm`.
async fn open_tasks(store: &dyn Store, crm: &CountingCrm, count: usize) {
    open_routed_tasks(store, crm, count, |_| None).await
}

/// [`open_tasks`], each handoff routed as `routed(i)` says (owner, pool, the rule's `confirm`).
async fn open_routed_tasks(
    store: &dyn Store,
    crm: &CountingCrm,
    count: usize,
    routed: impl Fn(usize) -> Option<crate::store::Assignment>,
) {
    let written_at = t0() - chrono::Duration::hours(1);
    for i in 0..count {
        let (_, handoff) =
            customer_with_handoff(store, &format!("+9198200{i:05}"), t0() - chrono::Duration::hours(2)).await;
        let task = TaskWrite {
            external_key: handoff.clone(),
            contact_id: String::new(),
            owner_id: Some("o1".into()),
            text: TaskText { subject: format!("Call customer {i}"), facts: vec![], transcript_url: None },
            due_at: t0(),
            priority: TaskPriority::Medium,
            kind: TaskKind::Call,
        };
        let contact = NewContact { phone: Some(format!("+9198200{i:05}")), ..NewContact::default() };
        let payload = DeliveryPayload { task, contact, lookup: vec![] };
        let commit = BriefCommit {
            handoff_id: handoff,
            brief: "{}".into(),
            job: Some(NewJob { crm_id: "crm".into(), payload: serde_json::to_string(&payload).unwrap() }),
            audit: vec![],
            now: written_at,
            assignment: routed(i),
        };
        // Briefed one by one: the next customer's handoff is then the one ready.
        crate::conversation::commit_briefs(store, &[commit], &[]).await.unwrap();
    }
    let now = written_at;
    let jobs = store.lease_jobs("crm", "w", &[], now, now + chrono::Duration::minutes(5), count as u32).await.unwrap();
    assert_eq!(jobs.len(), count);
    let delivered: Vec<_> = {
        let mut tasks = crm.tasks.lock().unwrap();
        jobs.iter()
            .enumerate()
            .map(|(i, job)| {
                let payload: DeliveryPayload = serde_json::from_str(&job.payload).unwrap();
                tasks.insert(format!("task-{i}"), payload.task);
                (job, format!("task-{i}"))
            })
            .collect()
    };
    store.jobs_delivered(&delivered, TASK_WRITTEN, now).await.unwrap();
}

fn watcher(store: Arc<dyn Store>, crm: Arc<CountingCrm>, ladder: Vec<LadderStep>) -> SlaWatcher {
    let routing: RoutingConfig =
        serde_saphyr::from_str("owners: [{id: o1, name: Owner o1}, {id: o2, name: Owner o2}]").unwrap();
    let business = BusinessConfig { timezone: "Asia/Kolkata".into(), hours: Default::default() };
    SlaWatcher {
        account: Arc::new(Lease::new(store.clone(), "crm:crm", "test", Duration::from_secs(60))),
        reassigner: Arc::new(RouterReassigner::fixed(Arc::new(
            crate::route::Router::new(&routing, &business, "crm", Some(store.clone())).unwrap(),
        ))),
        store,
        crm,
        takes_lease: true,
        sla: SlaConfig { check_every: ConfigDuration::from_secs(60), ladder, confirm: None },
        messengers: HashMap::new(),
        http: reqwest::Client::new(),
        timezone: chrono_tz::Asia::Kolkata,
    }
}

fn step(minutes: u64, action: LadderAction) -> LadderStep {
    LadderStep {
        after: ConfigDuration::from_secs(minutes * 60),
        action,
        note: None,
        manager: None,
        webhook: None,
        whatsapp: None,
    }
}

async fn store() -> (Arc<dyn Store>, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}?synchronous=normal", dir.path().join("h.db").display());
    (Arc::new(SqliteStore::open(&url).await.unwrap()), dir)
}

/// The figure for the note: CRM calls per check of 1,000 open tasks, before and when every one escalates.
#[tokio::test]
async fn a_thousand_open_tasks_cost_ten_reads_a_check() {
    let (store, _dir) = store().await;
    let crm = Arc::new(CountingCrm::default());
    open_tasks(store.as_ref(), &crm, 1000).await;
    let watcher = watcher(store.clone(), crm.clone(), vec![step(20, LadderAction::Remind)]);

    let quiet = watcher.check(t0() + chrono::Duration::minutes(5)).await.unwrap();
    assert_eq!((quiet.watched, quiet.steps), (1000, 0));
    assert_eq!((crm.calls("task_states"), crm.calls("update_tasks")), (10, 0));
    let overdue = watcher.check(t0() + chrono::Duration::minutes(25)).await.unwrap();
    assert_eq!(overdue.steps, 1000);
    assert_eq!((crm.calls("task_states"), crm.calls("update_tasks")), (20, 10));
    println!(
        "SLA watcher, 1,000 open tasks: {} CRM calls a check ({} batch reads); {} when every task is reminded \
         ({} reads + {} batch updates)",
        quiet.crm_calls, quiet.crm_calls, overdue.crm_calls, 10, 10
    );
    assert_eq!((quiet.crm_calls, overdue.crm_calls), (10, 20));
}

#[tokio::test]
async fn the_ladder_runs_each_step_at_its_time_and_a_completed_task_stops_it() {
    let (store, _dir) = store().await;
    let crm = Arc::new(CountingCrm::default());
    open_tasks(store.as_ref(), &crm, 2).await;
    let ladder = vec![step(20, LadderAction::Remind), step(60, LadderAction::Reassign)];
    let watcher = watcher(store.clone(), crm.clone(), ladder);
    let at = |minutes: i64| t0() + chrono::Duration::minutes(minutes);

    assert_eq!(watcher.check(at(19)).await.unwrap().steps, 0, "not late enough");
    assert_eq!(watcher.check(at(20)).await.unwrap().steps, 2, "both reminded");
    let reminded = crm.tasks.lock().unwrap()["task-0"].clone();
    assert_eq!(reminded.priority, TaskPriority::High);
    assert_eq!(reminded.text.facts[0].value, "Past due by 20 min: please act on this task now.");
    assert_eq!(watcher.check(at(59)).await.unwrap().steps, 0, "reminded once");

    crm.completed.lock().unwrap().push("task-1".into());
    let summary = watcher.check(at(60)).await.unwrap();
    assert_eq!((summary.completed, summary.steps), (1, 1), "the completed task is closed, not reassigned");
    let reassigned = crm.tasks.lock().unwrap()["task-0"].clone();
    assert_eq!(reassigned.owner_id.as_deref(), Some("o2"));
    assert_eq!(reassigned.text.facts.len(), 1, "the reminder's note is kept, once");
    let after = watcher.check(at(600)).await.unwrap();
    assert_eq!((after.watched, after.steps), (1, 0), "the ladder is climbed; the completed task is not read");
}

/// A messenger that records what it sends.
#[derive(Default)]
struct RecordingMessenger {
    sent: Mutex<Vec<handoffd_contract::messenger::OutboundMessage>>,
}

#[async_trait]
impl handoffd_contract::messenger::Messenger for RecordingMessenger {
    fn id(&self) -> &str {
        "wa"
    }
    fn reply_window(&self) -> Option<Duration> {
        Some(Duration::from_secs(24 * 3600))
    }
    async fn send(
        &self,
        message: &handoffd_contract::messenger::OutboundMessage,
        _: Option<DateTime<Utc>>,
        _: DateTime<Utc>,
    ) -> Result<handoffd_contract::messenger::SentMessage, handoffd_contract::messenger::MessengerError> {
        let mut sent = self.sent.lock().unwrap();
        sent.push(message.clone());
        Ok(handoffd_contract::messenger::SentMessage { message_id: format!("wamid.{}", sent.len()) })
    }
}

fn sent_to(messenger: &RecordingMessenger) -> Vec<String> {
    use handoffd_contract::messenger::OutboundMessage;
    let mut to: Vec<String> = messenger
        .sent
        .lock()
        .unwrap()
        .iter()
        .map(|m| match m {
            OutboundMessage::Template(t) => t.to.clone(),
            OutboundMessage::Text { to, .. } => to.clone(),
            _ => String::new(),
        })
        .collect();
    to.sort();
    to
}

fn routed(pool: &str, confirm: Option<bool>) -> Option<crate::store::Assignment> {
    Some(crate::store::Assignment { owner_id: Some("o1".into()), pool: Some(pool.into()), confirm })
}

/// A rule's `confirm: false` keeps its customers from the confirmation `sla.confirm` sends the others; `true` and
/// no flag get it. The flag is read from the store with the handoff's routing: a restarted watcher decides alike.
#[tokio::test]
async fn a_rules_confirm_flag_decides_the_confirmation_across_restarts() {
    let (store, _dir) = store().await;
    let crm = Arc::new(CountingCrm::default());
    let flags = [Some(true), Some(false), None];
    open_routed_tasks(store.as_ref(), &crm, 3, |i| routed("default", flags[i])).await;
    let messenger = Arc::new(RecordingMessenger::default());
    let with_confirm = |store: Arc<dyn Store>| {
        let mut watcher = watcher(store, crm.clone(), vec![]);
        watcher.sla.confirm =
            Some(serde_saphyr::from_str("{messenger: wa, template: callback_confirmation, language: en}").unwrap());
        watcher.messengers.insert("wa".into(), messenger.clone());
        watcher
    };
    let first = with_confirm(store.clone());
    let soon = t0() - chrono::Duration::minutes(50);
    assert_eq!(first.check(soon).await.unwrap().confirmations_sent, 2);
    assert_eq!(sent_to(&messenger), ["+919820000000", "+919820000002"], "the rule that said `false` is not confirmed");
    let restarted = with_confirm(store.clone());
    assert_eq!(restarted.check(soon + chrono::Duration::minutes(1)).await.unwrap().confirmations_sent, 0);
    assert_eq!(messenger.sent.lock().unwrap().len(), 2, "nobody twice, and `false` still means no");
}

/// `notify_manager` reaches the manager of the handoff's pool through their owner entry's `notify` (here a
/// webhook), and falls back to what the step names for a pool without a manager; the audit says who and how.
#[tokio::test]
async fn notify_manager_reaches_the_pools_manager_then_the_steps_webhook() {
    use wiremock::matchers::method;
    use wiremock::{Mock, MockServer, ResponseTemplate};
    let (store, _dir) = store().await;
    let crm = Arc::new(CountingCrm::default());
    open_routed_tasks(store.as_ref(), &crm, 2, |i| routed(if i == 0 { "sales" } else { "support" }, None)).await;
    let (priyas, fallback) = (MockServer::start().await, MockServer::start().await);
    for server in [&priyas, &fallback] {
        Mock::given(method("POST")).respond_with(ResponseTemplate::new(200)).mount(server).await;
    }
    let routing: RoutingConfig = serde_saphyr::from_str(&format!(
        "owners: [{{id: o1}}, {{id: o2}}, {{id: o9, name: Priya, notify: {{webhook: {{url: '{}/p', secret: s}}}}}}]\n\
         pools: {{sales: [o1, o2], support: [o1]}}\nmanagers: {{sales: o9}}\n",
        priyas.uri()
    ))
    .unwrap();
    let business = BusinessConfig { timezone: "Asia/Kolkata".into(), hours: Default::default() };
    let router = crate::route::Router::new(&routing, &business, "crm", Some(store.clone())).unwrap();
    let step: LadderStep = serde_saphyr::from_str(&format!(
        "{{after: 20m, action: notify_manager, manager: Duty desk, webhook: {{url: '{}/f', secret: s}}}}",
        fallback.uri()
    ))
    .unwrap();
    let mut watcher = watcher(store.clone(), crm.clone(), vec![step]);
    watcher.reassigner = Arc::new(RouterReassigner::fixed(Arc::new(router)));
    assert_eq!(watcher.check(t0() + chrono::Duration::minutes(25)).await.unwrap().steps, 2);

    async fn posts(server: &MockServer) -> Vec<serde_json::Value> {
        server.received_requests().await.unwrap().iter().map(|r| serde_json::from_slice(&r.body).unwrap()).collect()
    }
    let (to_priya, to_desk) = (posts(&priyas).await, posts(&fallback).await);
    assert_eq!((to_priya.len(), to_desk.len()), (1, 1), "{to_priya:?} {to_desk:?}");
    assert_eq!(to_priya[0]["manager"], "Priya");
    assert_eq!(to_desk[0]["manager"], "Duty desk");
    let tasks = store.watched_tasks("crm", None, 10).await.unwrap();
    let audit_of = |pool: &str| {
        let handoff = tasks.iter().find(|t| t.pool.as_deref() == Some(pool)).unwrap().handoff_id.clone();
        let store = store.clone();
        async move {
            store
                .audit_for_handoff(&handoff)
                .await
                .unwrap()
                .into_iter()
                .find(|a| a.event == "sla_manager_notified")
                .unwrap()
        }
    };
    let sales = audit_of("sales").await.detail;
    assert_eq!(
        (sales["manager"].as_str(), sales["webhook_from"].as_str()),
        (Some("Priya"), Some("routing.managers.sales"))
    );
    assert!(sales["summary"].as_str().unwrap().starts_with("manager Priya of pool `sales` notified"), "{sales}");
    let support = audit_of("support").await.detail;
    assert_eq!(
        (support["manager"].as_str(), support["webhook_from"].as_str()),
        (Some("Duty desk"), Some("sla.ladder[0].webhook"))
    );
}

/// The watcher asks whatever router is current: a reload that swaps routing reaches its reassignments at once.
#[tokio::test]
async fn reassignments_follow_a_swapped_router() {
    let (store, _dir) = store().await;
    let crm = Arc::new(CountingCrm::default());
    open_tasks(store.as_ref(), &crm, 1).await;
    let business = BusinessConfig { timezone: "Asia/Kolkata".into(), hours: Default::default() };
    let router = |yaml: &str| {
        let routing: RoutingConfig = serde_saphyr::from_str(yaml).unwrap();
        crate::route::Router::new(&routing, &business, "crm", Some(store.clone())).unwrap()
    };
    let shared = crate::daemon::shared::Shared::new(router("owners: [{id: o1}, {id: o2, name: Before}]"));
    let mut watcher = watcher(store.clone(), crm.clone(), vec![step(60, LadderAction::Reassign)]);
    watcher.reassigner = Arc::new(RouterReassigner::following({
        let shared = shared.clone();
        move || shared.get()
    }));
    assert_eq!(watcher.reassigner.owner_name("o2").as_deref(), Some("Before"));
    // The reload: o2 left, o3 joined.
    shared.replace(router("owners: [{id: o1}, {id: o3, name: After}]"));
    assert_eq!(watcher.check(t0() + chrono::Duration::minutes(61)).await.unwrap().steps, 1);
    assert_eq!(crm.tasks.lock().unwrap()["task-0"].owner_id.as_deref(), Some("o3"), "the reloaded router's owner");
    assert_eq!(watcher.reassigner.owner_name("o3").as_deref(), Some("After"));
}
