//! The one path from a ready handoff to its brief, shared by the daemon's handoff maker and
//! `handoffd explain`, so what explain prints is what the daemon stores (a copy of these steps
//! in explain once drifted: it missed the store's notes and the LLM refinement).
//!
//! The steps, in order: assemble the canonical conversation, interpret it, let the optional LLM
//! refine it, add what only the store knows (customer id, end signal, channel history across
//! every channel, identity notes), and route an actionable brief (owner and due time).

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use handoffd_contract::brief::Brief;
use handoffd_contract::conversation::Conversation;

use super::assemble::assemble;
use crate::config::Config;
use crate::interpret::{InterpretError, Interpreter};
use crate::route::{RouteDecision, RouteFacts, Router, RoutingRound};
use crate::store::{HandoffConversation, PipelineStore};

/// What a ready handoff becomes: the conversation as interpretation read it and its brief.
/// The CRM task is rendered from the two together.
#[derive(Debug, Clone)]
pub struct MadeBrief {
    pub conversation: Conversation,
    pub brief: Brief,
    /// Who gets the task and why (every candidate weighed), for an actionable brief.
    pub routing: Option<RouteDecision>,
}

/// Why a handoff's brief could not be made.
#[derive(Debug, thiserror::Error)]
pub enum BriefError {
    /// The conversation cannot be read: it never will be (the caller closes the handoff, with the reason).
    #[error(transparent)]
    Interpret(#[from] InterpretError),
    /// Routing could not read or take its state in the store: the round is tried again.
    #[error("routing: {0:#}")]
    Routing(anyhow::Error),
}

/// Everything the brief of a handoff is made with.
pub struct BriefMaker {
    pub interpreter: Arc<Interpreter>,
    /// Shared with the SLA watcher's reassignments, which follow a reload with it.
    pub router: Arc<Router>,
    /// `business.timezone`: the zone the conversation is read in.
    pub timezone: Tz,
    /// `business.hours`, as the conversation carries them.
    pub business_hours: BTreeMap<String, String>,
    /// Each connector's kind by id: a call's vendor analysis is mapped by its vendor (`vapi`,
    /// `retell`), whatever the connector is called.
    pub connector_kinds: BTreeMap<String, String>,
}

impl BriefMaker {
    /// The brief maker a configuration describes: the daemon and `handoffd explain` build it
    /// here, so the two cannot be configured apart.
    pub fn from_config(
        config: &Config,
        interpreter: Arc<Interpreter>,
        store: Arc<dyn PipelineStore>,
    ) -> anyhow::Result<Self> {
        let timezone: Tz = config.business.timezone.parse().map_err(|e| anyhow::anyhow!("business.timezone: {e}"))?;
        Ok(Self {
            interpreter,
            router: Arc::new(Router::from_config(config, Some(store))?),
            timezone,
            business_hours: config.business.hours.clone(),
            connector_kinds: config
                .connectors
                .iter()
                .map(|connector| (connector.id().to_owned(), connector.kind().to_owned()))
                .collect(),
        })
    }

    /// Make the brief of a stored handoff conversation as of `now`. An actionable brief is
    /// routed against `round` (rotations, open handoffs, the CRM's owners), which the caller commits
    /// with the brief.
    /// `Err` is a conversation the interpreter cannot read (the caller decides what becomes of it), or
    /// routing's store failing (the round is tried again).
    pub async fn make_brief(
        &self,
        stored: &HandoffConversation,
        now: DateTime<Utc>,
        round: &mut RoutingRound,
    ) -> Result<MadeBrief, BriefError> {
        let conversation = assemble(stored, now, self.timezone, &self.business_hours, &self.connector_kinds);
        let mut brief = self.interpreter.interpret(&conversation)?;
        if let Some(llm) = self.interpreter.llm() {
            brief = llm.refine(&conversation, brief).await;
        }
        brief.customer.id = Some(stored.customer.id.clone());
        brief.ended_by = Some(stored.handoff.ended_by.clone().unwrap_or_else(|| "quiet_period".to_owned()));
        // The store sees every channel of the customer; the interpreter only this conversation.
        let history = crate::identity::channel_history(stored, now, self.timezone);
        if !history.is_empty() {
            brief.channel_history = history;
        }
        // Raw phones, identity conflicts, several CRM contacts claiming the customer.
        brief.notes.extend(crate::identity::customer_notes(&stored.customer));
        let routing = if brief.actionable {
            let facts = RouteFacts {
                channel: Some(conversation.channel.clone()),
                language: brief.language.clone(),
                contact_owner: crate::route::contact_owner(&stored.customer, &self.router.crm_id),
            };
            Some(self.router.route_claiming(&mut brief, &facts, now, round).await.map_err(BriefError::Routing)?)
        } else {
            None
        };
        Ok(MadeBrief { conversation, brief, routing })
    }
}
