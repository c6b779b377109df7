//! Raw events replayed through the daemon's own stages in a scratch store: parsed by the
//! connector, normalised, attached to handoffs by the quiet period and end signals, and made
//! into briefs by the daemon's own [`BriefMaker`], so what explain prints is what the daemon
//! stores for the same events.
//!
//! `--input` holds either a list of stored events (`[{source, received_at, body}]`) or one body
//! exactly as the vendor posted it (DESIGN.md); a list is told apart by its opening `[`.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use chrono::{DateTime, FixedOffset, Utc};
use handoffd_contract::inbox::InboxSource;
use handoffd_contract::kind::BuildContext;
use handoffd_contract::webhook::Verified;
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::sync::Notify;

use crate::config::Config;
use crate::conversation::{BriefMaker, MadeBrief};
use crate::deliver::StoreVault;
use crate::ingest::Normalizer;
use crate::interpret::Interpreter;
use crate::registry::Connectors;
use crate::store::{BriefCommit, HandoffRow, NewInboxEvent, NewJob, Store};

/// One raw event as a connector received it.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawEvent {
    /// Which door it came through: a vendor webhook, the turns endpoint, or the send proxy.
    pub source: EventSource,
    /// When handoffd received it (RFC 3339): it drives the quiet period, as in the daemon.
    pub received_at: DateTime<FixedOffset>,
    /// The body: a JSON value, or a string holding the body byte for byte.
    pub body: RawBody,
}

/// A stored event's body: a JSON value, or a string holding the body byte for byte.
#[derive(Debug, Deserialize)]
#[serde(transparent)]
pub struct RawBody(Value);

impl RawBody {
    fn bytes(&self) -> Vec<u8> {
        match &self.0 {
            Value::String(raw) => raw.clone().into_bytes(),
            other => other.to_string().into_bytes(),
        }
    }
}

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventSource {
    Webhook,
    Turn,
    ProxiedSend,
}

impl EventSource {
    fn as_str(self) -> &'static str {
        match self {
            Self::Webhook => "webhook",
            Self::Turn => "turn",
            Self::ProxiedSend => "proxied_send",
        }
    }
}

/// What `--input` holds with `--connector`.
#[derive(Debug)]
pub enum ConnectorInput {
    /// Stored events, each with its door and the time it was received.
    Events(Vec<RawEvent>),
    /// One webhook body exactly as the vendor posted it (a WhatsApp `{"object": ..., "entry":
    /// [...]}`, a form body, ...), byte for byte.
    VendorBody(Vec<u8>),
}

/// Read `--input` for `--connector`: a JSON list is stored events (errors name the event and
/// field at fault, `[2].received_at`); anything else is one vendor body.
pub fn read_connector_input(path: &Path) -> anyhow::Result<ConnectorInput> {
    let bytes = std::fs::read(path).with_context(|| format!("cannot read `{}`", path.display()))?;
    let is_list = bytes.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'[');
    if !is_list {
        return Ok(ConnectorInput::VendorBody(bytes));
    }
    let value: Value =
        serde_json::from_slice(&bytes).with_context(|| format!("`{}`: not valid JSON", path.display()))?;
    serde_path_to_error::deserialize(value)
        .map(ConnectorInput::Events)
        .map_err(|error| anyhow::anyhow!("`{}`: event field `{}`: {}", path.display(), error.path(), error.inner()))
}

/// One handoff the daemon would have made.
pub struct MadeHandoff {
    pub handoff: HandoffRow,
    pub made: MadeBrief,
}

/// An event the connector could not parse (the daemon quarantines it).
pub struct Quarantined {
    /// 0-based index in the events file.
    pub event: usize,
    pub reason: String,
}

pub struct Replay {
    pub handoffs: Vec<MadeHandoff>,
    pub quarantined: Vec<Quarantined>,
}

impl Replay {
    pub fn json(&self) -> Value {
        json!({
            "handoffs": self.handoffs.iter().map(|made| json!({
                "ready_at": made.handoff.ready_at.to_rfc3339(),
                "ended_by": made.handoff.ended_by,
                "conversation": made.made.conversation,
                "brief": made.made.brief,
                "routing": made.made.routing,
            })).collect::<Vec<_>>(),
            "quarantined": self.quarantined.iter()
                .map(|q| json!({"event": q.event, "reason": q.reason}))
                .collect::<Vec<_>>(),
        })
    }
}

/// A folder removed when dropped (the scratch store lives there).
struct ScratchDir(PathBuf);

impl ScratchDir {
    fn new() -> anyhow::Result<Self> {
        let nanos = Utc::now().timestamp_nanos_opt().unwrap_or_default();
        let dir = std::env::temp_dir().join(format!("handoffd-explain-{}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&dir).with_context(|| format!("cannot create `{}`", dir.display()))?;
        Ok(Self(dir))
    }
}

impl Drop for ScratchDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Feed the input to the daemon's stages as the daemon would have received it, making each
/// handoff when it becomes ready (before the next event arrives), as the daemon does.
pub async fn replay(
    config: &Config,
    interpreter: Arc<Interpreter>,
    connector_id: &str,
    input: ConnectorInput,
) -> anyhow::Result<Replay> {
    if !config.connectors.iter().any(|c| c.id() == connector_id) {
        let known: Vec<&str> = config.connectors.iter().map(|c| c.id()).collect();
        anyhow::bail!("no connector `{connector_id}` is configured (configured: {})", known.join(", "));
    }
    let scratch = ScratchDir::new()?;
    let store = crate::store::open(&format!("sqlite://{}/explain.db", scratch.0.display()))
        .await
        .context("opening the scratch store")?;
    let context = BuildContext { vault: Arc::new(StoreVault::new(store.clone(), None)), http: reqwest::Client::new() };
    let connectors = Arc::new(Connectors::build(&config.connectors, &context)?);
    let events = match input {
        ConnectorInput::Events(events) => events,
        ConnectorInput::VendorBody(body) => vec![vendor_body_event(&connectors, connector_id, body)?],
    };
    run_events(config, interpreter, connectors, connector_id, &events, store).await
}

/// A vendor's body as the one webhook event it is, received when its latest interaction
/// happened (a body carries no receipt time; the vendor posts as things happen).
fn vendor_body_event(connectors: &Connectors, connector_id: &str, body: Vec<u8>) -> anyhow::Result<RawEvent> {
    // The body has no receipt time yet: parsed as received now, then dated by its own messages.
    let parsed = connectors.parse_offline(connector_id, body.clone(), Utc::now()).map_err(|reason| {
        anyhow::anyhow!("connector `{connector_id}` cannot parse this body (the daemon would quarantine it): {reason}")
    })?;
    let received_at =
        parsed.interactions.iter().map(|interaction| interaction.at).max().with_context(|| {
            format!("connector `{connector_id}` finds no interaction in this body: nothing to explain")
        })?;
    let body = match String::from_utf8(body) {
        Ok(text) => Value::String(text),
        Err(_) => anyhow::bail!("the body is not UTF-8 text"),
    };
    Ok(RawEvent { source: EventSource::Webhook, received_at: received_at.fixed_offset(), body: RawBody(body) })
}

async fn run_events(
    config: &Config,
    interpreter: Arc<Interpreter>,
    connectors: Arc<Connectors>,
    connector_id: &str,
    events: &[RawEvent],
    store: Arc<dyn Store>,
) -> anyhow::Result<Replay> {
    if events.iter().any(|e| matches!(e.source, EventSource::Webhook))
        && !connectors.webhooks.contains_key(connector_id)
    {
        anyhow::bail!("connector `{connector_id}` does not receive webhooks");
    }
    let normalizer = Normalizer {
        store: store.clone(),
        connectors: crate::daemon::shared::Shared::from_arc(connectors),
        quiet_period: chrono::Duration::from_std(config.conversation.quiet_period.get())?,
        reopen_after: chrono::Duration::from_std(config.conversation.reopen_after.get())?,
        handoff_phrases: config.conversation.handoff_phrases.iter().map(|p| p.to_lowercase()).collect(),
        inbox_committed: Arc::new(Notify::new()),
        handoffs_changed: Arc::new(Notify::new()),
    };
    // The daemon's own brief maker, routing included (against this scratch store's rotation).
    let maker = Maker {
        store: store.clone(),
        crm_id: config.delivery.crm.clone(),
        briefs: BriefMaker::from_config(config, interpreter, store.clone())?,
    };

    let mut handoffs = Vec::new();
    let mut inbox_ids = Vec::new();
    for event in events {
        let received_at = event.received_at.with_timezone(&Utc);
        handoffs.extend(maker.make_ready(received_at).await?);
        // Read from a file the admin chose: the offline tools' door to a verified event.
        let new = NewInboxEvent {
            connector_id: connector_id.to_owned(),
            source: InboxSource::from_stored(event.source.as_str()),
            event: Verified::for_offline_tool(event.body.bytes(), received_at),
        };
        inbox_ids.extend(store.insert_inbox(&[new]).await?);
        while normalizer.round().await? > 0 {}
    }
    // Every handoff still collecting becomes ready once its quiet period has passed.
    let last = events.iter().map(|e| e.received_at.with_timezone(&Utc)).max().unwrap_or_else(Utc::now);
    let quiet_period = chrono::Duration::from_std(config.conversation.quiet_period.get())?;
    handoffs.extend(maker.make_ready(last + quiet_period + chrono::Duration::seconds(1)).await?);

    let mut quarantined = store
        .list_quarantine(u32::MAX)
        .await?
        .into_iter()
        .filter_map(|entry| {
            let event = inbox_ids.iter().position(|id| *id == entry.inbox_id)?;
            Some(Quarantined { event, reason: entry.reason })
        })
        .collect::<Vec<_>>();
    quarantined.sort_by_key(|q| q.event);
    Ok(Replay { handoffs, quarantined })
}

/// The handoff maker's round, one handoff at a time and made at its `ready_at` (the moment the
/// daemon would have picked it up); the brief itself comes from [`BriefMaker::make_brief`].
struct Maker {
    store: Arc<dyn Store>,
    crm_id: String,
    briefs: BriefMaker,
}

impl Maker {
    async fn make_ready(&self, now: DateTime<Utc>) -> anyhow::Result<Vec<MadeHandoff>> {
        let mut made = Vec::new();
        loop {
            let ready = self.store.ready_handoffs(now, 64).await?;
            if ready.is_empty() {
                return Ok(made);
            }
            for handoff in ready {
                made.push(self.make(handoff).await?);
            }
        }
    }

    async fn make(&self, handoff: HandoffRow) -> anyhow::Result<MadeHandoff> {
        let at = handoff.ready_at;
        let stored = self.store.handoff_conversation(&handoff.id).await?;
        let mut round = self.briefs.router.round().await?;
        let made = self
            .briefs
            .make_brief(&stored, at, &mut round)
            .await
            .with_context(|| format!("the conversation of the handoff ready at {}", at.to_rfc3339()))?;
        // Committed as the daemon does, so a later burst of the customer reopens this handoff
        // (an actionable brief is queued) and the next handoff takes the next owner.
        let job = made.brief.actionable.then(|| NewJob { crm_id: self.crm_id.clone(), payload: "{}".to_owned() });
        let commit = BriefCommit {
            handoff_id: handoff.id.clone(),
            brief: serde_json::to_string(&made.brief)?,
            job,
            audit: Vec::new(),
            now: at,
            assignment: made.routing.as_ref().map(crate::route::RouteDecision::assignment),
        };
        crate::conversation::commit_briefs(self.store.as_ref(), std::slice::from_ref(&commit), &round.advances())
            .await?;
        Ok(MadeHandoff { handoff, made })
    }
}
