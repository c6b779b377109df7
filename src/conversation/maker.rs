//! Picks up handoffs whose burst is over and turns each into a brief and a queued task.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use handoffd_contract::brief::Brief;
use handoffd_contract::crm::NewContact;
use handoffd_contract::identity::IdentityKey;
use handoffd_contract::task::{TaskKind, TaskWrite};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::daemon::supervisor::catch_round;
use crate::deliver::DeliveryPayload;
use crate::route::{RoutingRound, priority};
use crate::store::{AuditEntry, BriefCommit, HandoffConversation, HandoffRow, KeptEscalation, NewJob, PipelineStore};

use super::brief::{BriefMaker, MadeBrief};
use super::commit::commit_briefs;
use super::lifecycle::EXPIRED;
use crate::daemon::shared::Shared;

const ROUND: u32 = 128;
/// Conversations read from the store together (a long conversation holds hundreds of interactions).
const READ_TOGETHER: usize = 16;
/// How often open handoffs past `reopen_after` are looked for.
const EXPIRY_EVERY: Duration = Duration::from_secs(60);
/// Longest sleep between looks at the clock, so a handoff made ready by another instance is
/// not missed for long.
const MAX_SLEEP: Duration = Duration::from_secs(1);

pub struct HandoffMaker {
    pub store: Arc<dyn PipelineStore>,
    /// Conversation to routed brief: the same path `handoffd explain` takes.
    /// Swapped whole on reload (vocabulary, rules, routing).
    pub briefs: Shared<BriefMaker>,
    pub crm_id: String,
    pub reopen_after: chrono::Duration,
    /// Woken when interactions arrived (a handoff may be ready sooner).
    pub handoffs_changed: Arc<Notify>,
    /// Woken when a job is queued.
    pub outbox_changed: Arc<Notify>,
    /// When handoffs were last expired (Unix seconds; 0: never).
    pub last_expiry: std::sync::atomic::AtomicI64,
}

impl HandoffMaker {
    pub async fn run(self, stop: CancellationToken) {
        loop {
            match catch_round("make_handoffs", self.round(Utc::now())).await {
                Ok(made) if made > 0 => continue,
                Ok(_) => {}
                Err(error) => tracing::error!(error = %format!("{error:#}"), "Making handoffs failed; retrying."),
            }
            let sleep = match self.store.next_ready_at().await {
                Ok(Some(at)) => (at - Utc::now()).to_std().unwrap_or_default().min(MAX_SLEEP),
                _ => MAX_SLEEP,
            };
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = self.handoffs_changed.notified() => {}
                _ = tokio::time::sleep(sleep) => {}
            }
        }
    }

    /// Make every handoff that is ready at `now` (one transaction for the round); returns how many were made.
    pub async fn round(&self, now: DateTime<Utc>) -> anyhow::Result<usize> {
        let ready = self.store.ready_handoffs(now, ROUND).await?;
        if !ready.is_empty() {
            let briefs = self.briefs.get();
            let mut round = briefs.router.round().await?;
            // Several instances may route at once: each round-robin turn is taken in the store as it is handed out.
            round.claims_turns = true;
            let ids: Vec<String> = ready.iter().map(|h| h.id.clone()).collect();
            let kept = self.store.kept_escalations(&ids).await?;
            let mut commits = Vec::with_capacity(ready.len());
            // A few queries per chunk of conversations, and only a chunk of them in memory at once.
            for chunk in ready.chunks(READ_TOGETHER) {
                for stored in &self.store.handoff_conversations(chunk).await? {
                    let kept = kept.get(&stored.handoff.id);
                    commits.push(self.make(&briefs, stored, kept, now, &mut round).await?);
                }
            }
            commit_briefs(self.store.as_ref(), &commits, &round.advances()).await?;
        }
        self.expire(now).await;
        if !ready.is_empty() {
            self.outbox_changed.notify_one();
        }
        Ok(ready.len())
    }

    /// Close handoffs open longer than `reopen_after`, at most once per [`EXPIRY_EVERY`] (it scans open handoffs).
    async fn expire(&self, now: DateTime<Utc>) {
        let last = self.last_expiry.load(std::sync::atomic::Ordering::Relaxed);
        if now.timestamp() - last < EXPIRY_EVERY.as_secs() as i64 {
            return;
        }
        self.last_expiry.store(now.timestamp(), std::sync::atomic::Ordering::Relaxed);
        if let Err(error) = self.store.expire_handoffs(now - self.reopen_after, EXPIRED, now).await {
            tracing::warn!(%error, "Closing expired handoffs failed.");
        }
    }

    async fn make(
        &self,
        briefs: &BriefMaker,
        stored: &HandoffConversation,
        kept: Option<&KeptEscalation>,
        now: DateTime<Utc>,
        round: &mut RoutingRound,
    ) -> anyhow::Result<BriefCommit> {
        let handoff = &stored.handoff;
        let mut audit = Vec::new();
        let entry = |event: &str, detail: serde_json::Value| AuditEntry {
            at: now,
            handoff_id: Some(handoff.id.clone()),
            customer_id: Some(handoff.customer_id.clone()),
            event: event.to_owned(),
            detail,
        };
        let MadeBrief { conversation, mut brief, routing } = match briefs.make_brief(stored, now, round).await {
            Ok(made) => made,
            Err(super::brief::BriefError::Routing(error)) => return Err(error),
            Err(super::brief::BriefError::Interpret(error)) => {
                // A conversation the interpreter cannot read must not block the others: close
                // it with the reason, visible in the audit trail.
                tracing::error!(handoff = %handoff.id, %error, "The conversation could not be interpreted.");
                audit.push(entry("interpret_failed", serde_json::json!({"error": error.to_string()})));
                return Ok(BriefCommit {
                    handoff_id: handoff.id.clone(),
                    brief: "null".to_owned(),
                    job: None,
                    audit,
                    now,
                    assignment: None,
                });
            }
        };
        audit.push(entry(
            "classified",
            serde_json::json!({
                "intents": brief.intents.iter().map(|i| &i.code).collect::<Vec<_>>(),
                "urgency": brief.urgency.level, "reasons": brief.urgency.reasons,
                "disposition": brief.disposition, "ended_by": brief.ended_by,
            }),
        ));

        let job = if brief.actionable {
            let owner = brief.recommended_owner.as_ref();
            audit.push(entry(
                "routed",
                serde_json::json!({"owner": owner.map(|o| &o.id), "rule": routing.as_ref().map(|d| &d.rule),
                    "reason": owner.map(|o| &o.reason), "due": brief.due, "decision": routing}),
            ));
            // The task's text names the owner it keeps, not the one routing would have picked.
            if let Some((owner, _)) = kept.and_then(|k| k.owner.as_ref()) {
                let name = briefs
                    .router
                    .owners
                    .iter()
                    .find(|o| o.key == *owner || o.configured_id.as_deref() == Some(owner))
                    .and_then(|o| o.name.clone());
                brief.recommended_owner = Some(handoffd_contract::brief::OwnerChoice {
                    id: owner.clone(),
                    name,
                    rule: "sla_reassign".to_owned(),
                    reason: "kept: the SLA watcher reassigned this handoff's task".to_owned(),
                });
            }
            let mut payload = self.payload(briefs, &brief, &conversation, stored, handoff);
            if let Some(kept) = kept {
                audit.push(entry("escalation_kept", keep_escalation(&mut payload, kept)));
            }
            Some(NewJob { crm_id: self.crm_id.clone(), payload: serde_json::to_string(&payload)? })
        } else {
            audit.push(entry("nothing_to_act_on", serde_json::json!({"turns": conversation.turns.len()})));
            None
        };
        tracing::info!(
            handoff = %handoff.id,
            urgency = brief.urgency.level.as_str(),
            disposition = brief.disposition.as_str(),
            queued = job.is_some(),
            "Made a handoff brief."
        );
        let assignment = routing.as_ref().map(|decision| {
            let mut assignment = decision.assignment();
            // The watcher moved the task: the handoff stays with that owner (open handoffs per owner follow it).
            if let Some((owner, pool)) = kept.and_then(|k| k.owner.clone()) {
                (assignment.owner_id, assignment.pool) = (Some(owner), Some(pool));
            }
            assignment
        });
        Ok(BriefCommit {
            handoff_id: handoff.id.clone(),
            brief: serde_json::to_string(&brief)?,
            job,
            audit,
            now,
            assignment,
        })
    }

    fn payload(
        &self,
        briefs: &BriefMaker,
        brief: &Brief,
        conversation: &handoffd_contract::conversation::Conversation,
        stored: &HandoffConversation,
        handoff: &HandoffRow,
    ) -> DeliveryPayload {
        // What a CRM shows must read as it is: no bidi overrides or control characters from
        // a customer's name or words (HTML is escaped by each CRM's renderer).
        let text = briefs.interpreter.task_text(brief, conversation).without_unsafe_characters();
        let due_at = brief.due.as_ref().map(|d| d.at.with_timezone(&Utc)).unwrap_or_else(Utc::now);
        let lookup: Vec<IdentityKey> = brief
            .customer
            .phones
            .iter()
            .filter(|p| p.starts_with('+'))
            .map(|p| IdentityKey::phone(p.clone()))
            .chain(brief.customer.emails.iter().map(|e| IdentityKey::email(e.clone())))
            .collect();
        DeliveryPayload {
            task: TaskWrite {
                external_key: handoff.id.clone(),
                contact_id: String::new(),
                owner_id: brief.recommended_owner.as_ref().map(|o| o.id.clone()),
                text,
                due_at,
                priority: priority(brief.urgency.level),
                kind: TaskKind::Call,
            },
            contact: NewContact {
                name: stored.customer.display_name.as_deref().map(handoffd_contract::task::strip_unsafe_characters),
                phone: brief.customer.phones.iter().find(|p| p.starts_with('+')).cloned(),
                email: brief.customer.emails.first().cloned(),
                source: brief.source.clone(),
            },
            lookup,
        }
    }
}

/// A later brief's task keeps what the SLA watcher changed on the handoff's task: the owner a reassignment moved
/// it to, and a raised priority (a brief of higher urgency may raise it further). The audit entry's detail.
fn keep_escalation(payload: &mut DeliveryPayload, kept: &KeptEscalation) -> serde_json::Value {
    let routed_owner = payload.task.owner_id.clone();
    let routed_priority = payload.task.priority;
    if let Some((owner, _)) = &kept.owner {
        payload.task.owner_id = Some(owner.clone());
    }
    if let Some(priority) = kept.priority {
        payload.task.priority = payload.task.priority.max(priority);
    }
    serde_json::json!({
        "summary": format!(
            "the task keeps the SLA watcher's changes: owner {}, priority {:?}",
            payload.task.owner_id.as_deref().unwrap_or("(unassigned)"),
            payload.task.priority
        ),
        "routed_owner": routed_owner, "owner": payload.task.owner_id,
        "routed_priority": routed_priority, "priority": payload.task.priority,
    })
}

#[cfg(test)]
mod tests {
    use handoffd_contract::task::{TaskKind, TaskPriority, TaskText, TaskWrite};

    use super::*;

    fn payload(owner: &str, priority: TaskPriority) -> DeliveryPayload {
        DeliveryPayload {
            task: TaskWrite {
                external_key: "h1".into(),
                contact_id: String::new(),
                owner_id: Some(owner.into()),
                text: TaskText { subject: "Call".into(), facts: vec![], transcript_url: None },
                due_at: Utc::now(),
                priority,
                kind: TaskKind::Call,
            },
            contact: NewContact::default(),
            lookup: vec![],
        }
    }

    #[test]
    fn a_later_brief_keeps_the_watchers_owner_and_raised_priority() {
        let kept = KeptEscalation { owner: Some(("o2".into(), "sales".into())), priority: Some(TaskPriority::High) };
        let mut routed = payload("o1", TaskPriority::Low);
        let detail = keep_escalation(&mut routed, &kept);
        assert_eq!((routed.task.owner_id.as_deref(), routed.task.priority), (Some("o2"), TaskPriority::High));
        assert_eq!((detail["routed_owner"].as_str(), detail["owner"].as_str()), (Some("o1"), Some("o2")));
        // Only a reminder ran: the routed owner stands; a raised priority is never lowered, nor a higher one.
        let reminded = KeptEscalation { owner: None, priority: Some(TaskPriority::Medium) };
        let mut urgent = payload("o1", TaskPriority::High);
        keep_escalation(&mut urgent, &reminded);
        assert_eq!((urgent.task.owner_id.as_deref(), urgent.task.priority), (Some("o1"), TaskPriority::High));
    }
}
