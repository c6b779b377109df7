//! The SLA watcher: the scheduled job that reads open handoffs' task states from the CRM, closes the handoffs of
//! completed tasks, runs the escalation ladder on overdue ones and confirms new ones to their customers.
//!
//! It calls the CRM only while this instance holds the CRM account's lease (the one delivery holds), through the
//! same connector (its rate limiter) and metering, so the account's budget is shared and exact across instances.
//! Calls are batched: one `task_states` call per page of tasks (the CRM's largest batch), one `update_tasks` call
//! per page of tasks whose reminder or reassignment rewrites them.
//!
//! Each ladder step runs once per handoff: its effects are decided from the stored task alone (the same step run
//! twice writes the same task, and a manager's webhook carries the same delivery id), and it is recorded with a
//! compare-and-set on the count of steps done. A step whose effects failed is not recorded and runs again at the
//! next check; a crash between its effects and its record runs it again too (at least once, with the same effect).

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use handoffd_contract::crm::{Crm, TaskWriteOutcome};
use handoffd_contract::messenger::{Messenger, OutboundMessage, TemplateMessage};
use handoffd_contract::task::{LabelledFact, TaskPriority, TaskState, TaskWrite};
use serde_json::json;
use tokio_util::sync::CancellationToken;

use super::confirm::Confirmed;
use super::ladder::{due_steps, minutes_past_due};
use super::manager::{self, ManagerNotice};
use super::reassign::{Reassigner, Reassignment};
use crate::config::schema::{LadderAction, LadderStep, ManagerWebhook, SlaConfig};
use crate::conversation::lifecycle::TASK_COMPLETED;
use crate::daemon::supervisor::catch_round;
use crate::deliver::DeliveryPayload;
use crate::lease::{Holding, Lease};
use crate::route::PoolManager;
use crate::store::{AuditEntry, EscalationRecord, Store, WatchedTask};

/// The most task ids read in one call, whatever the CRM allows (HubSpot's batch read takes 100).
const MAX_READ_BATCH: usize = 100;
/// The pool a task is reassigned in when routing recorded none: the implicit pool of a configuration without pools.
const POOL: &str = crate::route::IMPLICIT_POOL;
/// The label of the note a reminder adds to the task.
const REMINDER_LABEL: &str = "SLA reminder";

pub struct SlaWatcher {
    pub store: Arc<dyn Store>,
    /// The delivery CRM, metered (`handoffd_crm_calls_total`): the same connector, so the same rate limiter.
    pub crm: Arc<dyn Crm>,
    pub sla: SlaConfig,
    pub reassigner: Arc<dyn Reassigner>,
    /// Messenger connectors by id (the confirmation's and the managers' WhatsApp).
    pub messengers: HashMap<String, Arc<dyn Messenger>>,
    pub http: reqwest::Client,
    /// `business.timezone`: how a due time reads in a confirmation.
    pub timezone: Tz,
    /// The CRM account's lease, shared with delivery: only its holder calls the CRM.
    pub account: Arc<Lease>,
    /// Whether the watcher may take the account's lease itself. In the daemon it may not: delivery takes it, so
    /// that a takeover from a dead instance is seen by delivery (which then takes back that instance's jobs at
    /// once), and the watcher checks while delivery holds it. An instance with no delivery (tests) takes it.
    pub takes_lease: bool,
}

/// What one check did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CheckSummary {
    /// Open tasks read.
    pub watched: usize,
    /// CRM calls made (reads and writes).
    pub crm_calls: usize,
    pub completed: usize,
    /// Ladder steps recorded.
    pub steps: usize,
    pub confirmations_sent: usize,
}

/// The ladder steps due for one task, decided, then carried out.
struct Escalation<'a> {
    task: &'a WatchedTask,
    steps: Vec<usize>,
    /// The task as the steps rewrite it, when they do.
    rewritten: Option<DeliveryPayload>,
    audit: Vec<AuditEntry>,
    /// `notify_manager` steps, with the notice each sends and where.
    notices: Vec<(usize, ManagerNotice, ManagerTargets)>,
    /// An effect failed: not recorded, run again at the next check.
    failed: bool,
    /// The owner and pool a `reassign` step moved the task to.
    reassigned: Option<(String, String)>,
    /// The priority a `remind` step raised the task to.
    raised_priority: Option<TaskPriority>,
}

impl SlaWatcher {
    /// Check every `sla.check_every` until `stop`, whenever this instance holds the CRM account's lease.
    pub async fn run(self, stop: CancellationToken) {
        let every = self.sla.check_every.get();
        loop {
            let now = Utc::now();
            if self.our_turn(now).await {
                match catch_round("sla_watch", self.check(now)).await {
                    Ok(summary) => tracing::debug!(crm = %self.crm.id(), ?summary, "Checked the open tasks."),
                    Err(error) => tracing::warn!(
                        crm = %self.crm.id(), error = %format!("{error:#}"),
                        "Checking the open tasks failed; the next check tries again."
                    ),
                }
            }
            tokio::select! {
                _ = stop.cancelled() => break,
                _ = tokio::time::sleep(every) => {}
            }
        }
    }

    /// Whether this instance may call the CRM account now: it holds the account's lease (taking it if free),
    /// and the previous holder's calls are out of the rate window.
    pub async fn our_turn(&self, now: DateTime<Utc>) -> bool {
        if !self.takes_lease && !self.account.is_held(now).await {
            return false;
        }
        match self.account.hold(now).await {
            Ok(Holding::Held { previous_use_until: Some(used), .. }) => {
                let wait = crate::lease::takeover_wait(self.crm.limits().window);
                used + chrono::Duration::from_std(wait).unwrap_or_default() <= now
            }
            Ok(Holding::Held { previous_use_until: None, .. }) => true,
            Ok(Holding::Elsewhere { .. }) => false,
            Err(error) => {
                tracing::warn!(lease = %self.account.name(), %error, "Taking the CRM account's lease failed.");
                false
            }
        }
    }

    /// One check of every open task, page by page, as of `now`.
    pub async fn check(&self, now: DateTime<Utc>) -> anyhow::Result<CheckSummary> {
        let page_size = self.crm.limits().max_batch.clamp(1, MAX_READ_BATCH);
        let mut summary = CheckSummary::default();
        let mut after: Option<String> = None;
        loop {
            let page = self.store.watched_tasks(self.crm.id(), after.as_deref(), page_size as u32).await?;
            let Some(last) = page.last() else { break };
            after = Some(last.handoff_id.clone());
            summary.watched += page.len();
            self.check_page(&page, now, &mut summary).await?;
            if page.len() < page_size {
                break;
            }
        }
        metrics::gauge!("handoffd_sla_watched_tasks", "crm" => self.crm.id().to_owned()).set(summary.watched as f64);
        Ok(summary)
    }

    async fn check_page(
        &self,
        page: &[WatchedTask],
        now: DateTime<Utc>,
        summary: &mut CheckSummary,
    ) -> anyhow::Result<()> {
        let ids: Vec<String> = page.iter().map(|task| task.task_id.clone()).collect();
        self.counted_call("task_states", summary);
        let states = self.crm.task_states(&ids).await;
        self.account.used(Utc::now()).await;
        let states: HashMap<String, TaskState> =
            states?.into_iter().map(|state| (state.task_id.clone(), state)).collect();

        let mut completed = Vec::new();
        let mut escalations = Vec::new();
        for task in page {
            let Some(state) = states.get(&task.task_id) else {
                // Deleted in the CRM: nothing to watch; `conversation.reopen_after` closes the handoff.
                tracing::debug!(handoff = %task.handoff_id, task = %task.task_id, "The CRM no longer has a task.");
                continue;
            };
            if state.completed {
                completed.push((task.handoff_id.clone(), completed_audit(task, state, now)));
                continue;
            }
            let payload: DeliveryPayload = match serde_json::from_str(&task.payload) {
                Ok(payload) => payload,
                Err(error) => {
                    tracing::warn!(handoff = %task.handoff_id, %error, "A watched task's stored payload is unreadable.");
                    continue;
                }
            };
            if let Some(confirm) = &self.sla.confirm
                && confirms(task.confirm)
                && self.confirm(confirm, task, &payload, now).await? == Confirmed::Sent
            {
                summary.confirmations_sent += 1;
            }
            let due_at = state.due_at.unwrap_or(payload.task.due_at);
            let steps = due_steps(&self.sla.ladder, task.steps_done, due_at, now);
            if !steps.is_empty() {
                escalations.push(self.decide(task, state, payload, due_at, steps, now).await);
            }
        }
        if !completed.is_empty() {
            summary.completed += completed.len();
            metrics::counter!("handoffd_sla_tasks_completed_total", "crm" => self.crm.id().to_owned())
                .increment(completed.len() as u64);
            self.store.tasks_completed(&completed, TASK_COMPLETED, now).await?;
        }
        if !escalations.is_empty() {
            self.write_tasks(&mut escalations, now, summary).await;
            for escalation in &mut escalations {
                self.notify_managers(escalation, now).await;
            }
            for escalation in escalations {
                self.record(escalation, now, summary).await?;
            }
        }
        Ok(())
    }

    fn counted_call(&self, operation: &'static str, summary: &mut CheckSummary) {
        summary.crm_calls += 1;
        metrics::counter!("handoffd_sla_crm_calls_total", "crm" => self.crm.id().to_owned(), "operation" => operation)
            .increment(1);
    }

    /// Decide what the due steps do to one task, from the stored task and the CRM's state alone.
    async fn decide<'a>(
        &self,
        task: &'a WatchedTask,
        state: &TaskState,
        mut payload: DeliveryPayload,
        due_at: DateTime<Utc>,
        steps: Vec<usize>,
        now: DateTime<Utc>,
    ) -> Escalation<'a> {
        let minutes = minutes_past_due(due_at, now);
        let mut owner = state.owner_id.clone().or_else(|| payload.task.owner_id.clone());
        let mut rewrite = false;
        let mut audit = Vec::new();
        let mut notices = Vec::new();
        let mut reassigned = None;
        let mut raised_priority = None;
        let entry = |event: &str, detail: serde_json::Value| AuditEntry {
            at: now,
            handoff_id: Some(task.handoff_id.clone()),
            customer_id: Some(task.customer_id.clone()),
            event: event.to_owned(),
            detail,
        };
        for &index in &steps {
            let step: &LadderStep = &self.sla.ladder[index];
            let owner_label = self.owner_label(owner.as_deref());
            match step.action {
                LadderAction::Remind => {
                    let note = step
                        .note
                        .as_deref()
                        .unwrap_or("Past due by {minutes} min: please act on this task now.")
                        .replace("{minutes}", &minutes.to_string());
                    payload.task.priority = TaskPriority::High;
                    raised_priority = Some(TaskPriority::High);
                    let fact = LabelledFact { label: REMINDER_LABEL.to_owned(), value: note.clone() };
                    payload.task.text.facts.retain(|f| f.label != REMINDER_LABEL);
                    payload.task.text.facts.insert(0, fact);
                    rewrite = true;
                    audit.push(entry(
                        "sla_reminded",
                        json!({
                            "summary": format!("reminded owner {owner_label} at {}, {minutes} min past due", now.to_rfc3339()),
                            "step": index, "owner_id": owner, "minutes_past_due": minutes,
                            "priority": "high", "note": note,
                        }),
                    ));
                }
                LadderAction::Reassign => {
                    let exclude: Vec<String> = owner.iter().cloned().collect();
                    // The pool routing gave the handoff to; a handoff routed before pools were recorded, the
                    // implicit one (routing falls back to the default pool either way).
                    let pool = task.pool.as_deref().unwrap_or(POOL);
                    match self.reassigner.reassign(pool, &exclude, now).await {
                        Some(Reassignment { owner: choice, pool: found_in }) => {
                            let new_label = self.owner_label(Some(&choice.id));
                            audit.push(entry(
                                "sla_reassigned",
                                json!({
                                    "summary": format!(
                                        "reassigned from {owner_label} to {new_label} because the task was still open {minutes} min past due"
                                    ),
                                    "step": index, "from": owner, "to": choice.id, "reason": choice.reason,
                                    "minutes_past_due": minutes,
                                }),
                            ));
                            payload.task.owner_id = Some(choice.id.clone());
                            reassigned = Some((choice.id.clone(), found_in));
                            owner = Some(choice.id);
                            rewrite = true;
                        }
                        None => audit.push(entry(
                            "sla_reassign_skipped",
                            json!({
                                "summary": format!("no other owner of pool `{pool}` is available; the task stays with {owner_label}"),
                                "step": index, "owner_id": owner, "minutes_past_due": minutes,
                            }),
                        )),
                    }
                }
                LadderAction::NotifyManager => {
                    // The manager of the pool the handoff is in now (a reassignment in this same check moved it).
                    let pool =
                        reassigned.as_ref().map(|(_, pool)| pool.as_str()).or(task.pool.as_deref()).unwrap_or(POOL);
                    let targets = ManagerTargets::of(self.reassigner.manager_of(pool), step, pool, index);
                    notices.push((
                        index,
                        ManagerNotice {
                            event: "sla.escalated",
                            handoff_id: task.handoff_id.clone(),
                            crm: task.crm_id.clone(),
                            task_id: task.task_id.clone(),
                            subject: payload.task.text.subject.clone(),
                            owner_id: owner.clone(),
                            owner_name: owner.as_deref().and_then(|id| self.reassigner.owner_name(id)),
                            manager: targets.manager.clone(),
                            customer_name: payload.contact.name.clone(),
                            customer_phone: payload.contact.phone.clone(),
                            due_at,
                            minutes_past_due: minutes,
                            step: index,
                        },
                        targets,
                    ));
                }
            }
        }
        if rewrite {
            payload.task.contact_id = task.contact_id.clone().unwrap_or_default();
        }
        Escalation {
            task,
            steps,
            rewritten: rewrite.then_some(payload),
            audit,
            notices,
            failed: false,
            reassigned,
            raised_priority,
        }
    }

    fn owner_label(&self, owner_id: Option<&str>) -> String {
        match owner_id {
            Some(id) => match self.reassigner.owner_name(id) {
                Some(name) => format!("{name} ({id})"),
                None => id.to_owned(),
            },
            None => "(unassigned)".to_owned(),
        }
    }

    /// Rewrite the reminded and reassigned tasks, a batch a call. A call that fails leaves its tasks' steps for
    /// the next check; a task the CRM refuses is recorded with the refusal (trying again would not help).
    async fn write_tasks(&self, escalations: &mut [Escalation<'_>], now: DateTime<Utc>, summary: &mut CheckSummary) {
        let batch = self.crm.limits().max_batch.max(1);
        let mut writing: Vec<&mut Escalation<'_>> = escalations.iter_mut().filter(|e| e.rewritten.is_some()).collect();
        for chunk in writing.chunks_mut(batch) {
            let tasks: Vec<(String, TaskWrite)> = chunk
                .iter()
                .filter_map(|e| e.rewritten.as_ref().map(|p| (e.task.task_id.clone(), p.task.clone())))
                .collect();
            self.counted_call("update_tasks", summary);
            let outcomes = self.crm.update_tasks(&tasks).await;
            self.account.used(Utc::now()).await;
            match outcomes {
                Ok(outcomes) if outcomes.len() == chunk.len() => {
                    for (escalation, outcome) in chunk.iter_mut().zip(outcomes) {
                        if let TaskWriteOutcome::Rejected { message } = outcome {
                            tracing::warn!(handoff = %escalation.task.handoff_id, %message, "The CRM refused an escalated task.");
                            escalation.audit.push(AuditEntry {
                                at: now,
                                handoff_id: Some(escalation.task.handoff_id.clone()),
                                customer_id: Some(escalation.task.customer_id.clone()),
                                event: "sla_write_refused".to_owned(),
                                detail: json!({ "summary": format!("the CRM refused the escalated task: {message}") }),
                            });
                            // The task in the CRM is as it was: keep the stored payload.
                            escalation.rewritten = None;
                        }
                    }
                }
                Ok(outcomes) => {
                    tracing::warn!(
                        got = outcomes.len(),
                        sent = chunk.len(),
                        "The CRM answered an update with the wrong number of outcomes."
                    );
                    chunk.iter_mut().for_each(|e| e.failed = true);
                }
                Err(error) => {
                    tracing::warn!(crm = %self.crm.id(), %error, "Writing escalated tasks failed; the next check tries again.");
                    chunk.iter_mut().for_each(|e| e.failed = true);
                }
            }
        }
    }

    /// Send the escalation's manager notices; any that fails leaves the steps for the next check.
    async fn notify_managers(&self, escalation: &mut Escalation<'_>, now: DateTime<Utc>) {
        if escalation.failed {
            return;
        }
        for (index, notice, targets) in &escalation.notices {
            let step = &self.sla.ladder[*index];
            let mut sent = serde_json::Map::new();
            if let Some(webhook) = &targets.webhook {
                match manager::post(&self.http, webhook, notice, now).await {
                    Ok(status) => {
                        sent.insert("webhook_status".into(), json!(status));
                        sent.insert("webhook_from".into(), json!(targets.webhook_from));
                    }
                    Err(error) => {
                        tracing::warn!(handoff = %notice.handoff_id, error = %format!("{error:#}"), "Notifying a manager failed; the next check tries again.");
                        escalation.failed = true;
                        return;
                    }
                }
            }
            if let (Some(whatsapp), Some(to)) = (&step.whatsapp, &targets.whatsapp_to) {
                let Some(messenger) = self.messengers.get(&whatsapp.messenger) else {
                    tracing::warn!(messenger = %whatsapp.messenger, "A manager's WhatsApp names no messenger.");
                    escalation.failed = true;
                    return;
                };
                let message = OutboundMessage::Template(TemplateMessage {
                    to: to.clone(),
                    name: whatsapp.template.clone(),
                    language: whatsapp.language.clone(),
                    body_parameters: vec![
                        notice.owner_name.clone().or(notice.owner_id.clone()).unwrap_or_else(|| "(unassigned)".into()),
                        notice.customer_name.clone().unwrap_or_else(|| "a customer".into()),
                        notice.minutes_past_due.to_string(),
                    ],
                });
                match messenger.send(&message, None, now).await {
                    Ok(message) => {
                        sent.insert("whatsapp_message_id".into(), json!(message.message_id));
                        sent.insert("whatsapp_to".into(), json!(to));
                        sent.insert("whatsapp_from".into(), json!(targets.whatsapp_from));
                    }
                    Err(error) => {
                        tracing::warn!(handoff = %notice.handoff_id, %error, "Messaging a manager failed; the next check tries again.");
                        escalation.failed = true;
                        return;
                    }
                }
            }
            let manager = targets.manager.clone().unwrap_or_else(|| "the pool's manager".to_owned());
            let summary = if sent.is_empty() {
                format!("manager {manager} of pool `{}` could not be reached: no webhook or number", targets.pool)
            } else {
                format!(
                    "manager {manager} of pool `{}` notified: {} {} min past due",
                    targets.pool,
                    self.owner_label(notice.owner_id.as_deref()),
                    notice.minutes_past_due
                )
            };
            sent.insert("summary".into(), json!(summary));
            sent.insert("step".into(), json!(index));
            sent.insert("manager".into(), json!(targets.manager));
            sent.insert("pool".into(), json!(targets.pool));
            escalation.audit.push(AuditEntry {
                at: now,
                handoff_id: Some(notice.handoff_id.clone()),
                customer_id: Some(escalation.task.customer_id.clone()),
                event: "sla_manager_notified".to_owned(),
                detail: serde_json::Value::Object(sent),
            });
        }
    }

    /// Record the steps that ran, once (a compare-and-set on the steps done).
    async fn record(
        &self,
        escalation: Escalation<'_>,
        now: DateTime<Utc>,
        summary: &mut CheckSummary,
    ) -> anyhow::Result<()> {
        if escalation.failed {
            return Ok(());
        }
        let task = escalation.task;
        let steps_after = escalation.steps.last().map_or(task.steps_done, |last| *last as u32 + 1);
        let record = EscalationRecord {
            handoff_id: task.handoff_id.clone(),
            steps_before: task.steps_done,
            steps_after,
            payload: escalation.rewritten.as_ref().map(serde_json::to_string).transpose()?,
            reassigned: escalation.reassigned,
            raised_priority: escalation.raised_priority,
            audit: escalation.audit,
            now,
        };
        if self.store.record_escalation(&record).await? {
            for index in &escalation.steps {
                let action = self.sla.ladder[*index].action.as_str();
                metrics::counter!("handoffd_sla_breaches_total", "step" => action).increment(1);
            }
            summary.steps += escalation.steps.len();
        } else {
            tracing::debug!(handoff = %task.handoff_id, "Another check recorded these ladder steps first.");
        }
        Ok(())
    }
}

/// Whom a `notify_manager` step reaches for one handoff: the manager of the handoff's pool (`routing.managers`)
/// through their owner entry's `notify`, else what the step names (its `webhook`, its `whatsapp.to`).
struct ManagerTargets {
    pool: String,
    /// The pool manager's name (or key), else the step's `manager`.
    manager: Option<String>,
    webhook: Option<ManagerWebhook>,
    /// Which configuration key the webhook came from, for the audit.
    webhook_from: String,
    whatsapp_to: Option<String>,
    whatsapp_from: String,
}

impl ManagerTargets {
    fn of(pool_manager: Option<PoolManager>, step: &LadderStep, pool: &str, index: usize) -> Self {
        let manager_key = format!("routing.managers.{pool}");
        let step_key = format!("sla.ladder[{index}]");
        let (manager, webhook, phone) = match pool_manager {
            Some(m) => (Some(m.name.clone().unwrap_or_else(|| m.key.clone())), m.webhook, m.phone),
            None => (step.manager.clone(), None, None),
        };
        let (webhook, webhook_from) = match webhook {
            Some(webhook) => (Some(webhook), manager_key.clone()),
            None => (step.webhook.clone(), format!("{step_key}.webhook")),
        };
        let (whatsapp_to, whatsapp_from) = match (phone, &step.whatsapp) {
            (_, None) => (None, String::new()),
            (Some(phone), Some(_)) => (Some(phone), manager_key),
            (None, Some(whatsapp)) => (whatsapp.to.clone(), format!("{step_key}.whatsapp.to")),
        };
        Self { pool: pool.to_owned(), manager, webhook, webhook_from, whatsapp_to, whatsapp_from }
    }
}

/// Whether a handoff's customer gets the confirmation, `sla.confirm` being set (it names the template): the
/// matched rule's `confirm` flag when it set one, else yes (`sla.confirm` is the default for handoffs routed
/// without a rule, by a rule without the flag, or before the flag was kept).
fn confirms(rule_flag: Option<bool>) -> bool {
    rule_flag.unwrap_or(true)
}

fn completed_audit(task: &WatchedTask, state: &TaskState, now: DateTime<Utc>) -> AuditEntry {
    AuditEntry {
        at: now,
        handoff_id: Some(task.handoff_id.clone()),
        customer_id: Some(task.customer_id.clone()),
        event: "task_completed".to_owned(),
        detail: json!({
            "summary": format!("task {} completed in the CRM; the handoff is closed", task.task_id),
            "crm": task.crm_id, "task_id": task.task_id, "owner_id": state.owner_id,
        }),
    }
}
