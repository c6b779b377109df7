//! The customer's confirmation of a handoff ("Asha from our team will call you Sat 5 Dec, 10:00"): an approved
//! WhatsApp template, sent once per handoff after its task exists, never to a customer who opted out.
//!
//! A template may be sent at any time, so the 24-hour customer-service window does not hold it back; the
//! messenger is still given the customer's last message, and refuses anything else outside the window itself.
//! The confirmation is claimed in the store before the send: a send whose outcome was lost (a crash, a timeout)
//! is never repeated, as a customer would rather miss one confirmation than get two. Only a send that surely did
//! not happen (the vendor was unavailable) is released and tried at the next check.

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use handoffd_contract::messenger::{MessengerError, OutboundMessage, TemplateMessage};
use serde_json::json;

use super::watcher::SlaWatcher;
use crate::config::schema::{ConfirmConfig, ConfirmParameter};
use crate::deliver::DeliveryPayload;
use crate::store::{AuditEntry, ConfirmationSettled, ConfirmationState, WatchedTask};

/// Only tasks written this recently are confirmed: turning `sla.confirm` on does not message every customer
/// whose handoff was already open.
pub const CONFIRM_WITHIN: chrono::Duration = chrono::Duration::hours(1);

/// What one confirmation came to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Confirmed {
    Sent,
    Skipped,
    Refused,
    /// Not claimed (another check got there first) or to be tried again.
    NotNow,
}

impl SlaWatcher {
    /// Confirm a watched task's handoff to its customer, if it is time and allowed.
    pub(super) async fn confirm(
        &self,
        confirm: &ConfirmConfig,
        task: &WatchedTask,
        payload: &DeliveryPayload,
        now: DateTime<Utc>,
    ) -> anyhow::Result<Confirmed> {
        if task.confirmation.is_some() || now - task.written_at > CONFIRM_WITHIN {
            return Ok(Confirmed::NotNow);
        }
        if !self.store.claim_confirmation(&task.handoff_id, &task.customer_id, &confirm.messenger, now).await? {
            return Ok(Confirmed::NotNow);
        }
        let audit = |event: &str, detail: serde_json::Value| AuditEntry {
            at: now,
            handoff_id: Some(task.handoff_id.clone()),
            customer_id: Some(task.customer_id.clone()),
            event: event.to_owned(),
            detail,
        };
        let skip = |reason: &str| ConfirmationSettled {
            handoff_id: task.handoff_id.clone(),
            state: ConfirmationState::Skipped,
            message_id: None,
            detail: reason.to_owned(),
            audit: audit("confirmation_skipped", json!({ "reason": reason })),
        };
        let settled = if self.store.opted_out(&task.customer_id).await? {
            skip("the customer opted out of messages (STOP)")
        } else if let Some(to) = payload.contact.phone.clone() {
            let Some(messenger) = self.messengers.get(&confirm.messenger) else {
                anyhow::bail!("sla.confirm.messenger names `{}`, which cannot send messages", confirm.messenger)
            };
            let parameters = template_parameters(&confirm.parameters, payload, self, self.timezone);
            let message = OutboundMessage::Template(TemplateMessage {
                to: to.clone(),
                name: confirm.template.clone(),
                language: confirm.language.clone(),
                body_parameters: parameters.clone(),
            });
            match messenger.send(&message, task.last_inbound_at, now).await {
                Ok(sent) => ConfirmationSettled {
                    handoff_id: task.handoff_id.clone(),
                    state: ConfirmationState::Sent,
                    message_id: Some(sent.message_id.clone()),
                    detail: String::new(),
                    audit: audit(
                        "confirmation_sent",
                        json!({
                            "summary": format!("confirmation `{}` sent to the customer", confirm.template),
                            "messenger": confirm.messenger,
                            "template": confirm.template,
                            "parameters": parameters,
                            "message_id": sent.message_id,
                        }),
                    ),
                },
                Err(MessengerError::Unavailable(error)) => {
                    tracing::warn!(handoff = %task.handoff_id, %error, "Sending a confirmation failed; it is tried again at the next check.");
                    self.store.release_confirmation(&task.handoff_id).await?;
                    return Ok(Confirmed::NotNow);
                }
                Err(error) => ConfirmationSettled {
                    handoff_id: task.handoff_id.clone(),
                    state: ConfirmationState::Refused,
                    message_id: None,
                    detail: error.to_string(),
                    audit: audit("confirmation_refused", json!({ "error": error.to_string() })),
                },
            }
        } else {
            skip("the customer has no phone number to message")
        };
        let outcome = match settled.state {
            ConfirmationState::Sent => Confirmed::Sent,
            ConfirmationState::Refused => Confirmed::Refused,
            _ => Confirmed::Skipped,
        };
        metrics::counter!("handoffd_confirmations_total", "outcome" => settled.state.as_str()).increment(1);
        self.store.settle_confirmation(&settled).await?;
        Ok(outcome)
    }
}

/// The template's body parameters, in the configured order.
fn template_parameters(
    wanted: &[ConfirmParameter],
    payload: &DeliveryPayload,
    watcher: &SlaWatcher,
    timezone: Tz,
) -> Vec<String> {
    wanted
        .iter()
        .map(|parameter| match parameter {
            ConfirmParameter::OwnerName => payload
                .task
                .owner_id
                .as_deref()
                .and_then(|id| watcher.reassigner.owner_name(id))
                .unwrap_or_else(|| "Our team".to_owned()),
            ConfirmParameter::Due => {
                payload.task.due_at.with_timezone(&timezone).format("%a %-d %b, %H:%M").to_string()
            }
            ConfirmParameter::CustomerName => payload.contact.name.clone().unwrap_or_else(|| "there".to_owned()),
        })
        .collect()
}
