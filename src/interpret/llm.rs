//! The optional LLM analyzer: asks any OpenAI-compatible chat endpoint
//! (`POST {base_url}/v1/chat/completions` with a strict JSON-schema response format) to read
//! the conversation, checks its answer against the vocabulary, and merges it into the
//! deterministic brief.
//!
//! It refines, it never overrules. What it may change:
//! - `intents`, `objections`: codes the rules missed are added, with `turn: None` and evidence
//!   `llm: <quote>`; codes the rules found keep their turn evidence.
//! - `do_not_ask`: facts the rules missed are added with `turn: None`.
//! - `urgency`: raised (never lowered), with a reason `{code: "llm", evidence: "llm: ..."}`.
//! - `stated_need`, `requested_window`, `promised_next_step`: filled only when the rules left
//!   them empty.
//! - `disposition` is never changed (it decides whether the customer is called at all); a
//!   disagreement is written to `notes`.
//!
//! Every change is listed in one `notes` line starting with `llm:`, and `recommended_action`
//! is rebuilt from the refined brief. On any failure (connection, status, timeout, refusal,
//! an answer that is not JSON or breaks the schema or the vocabulary) the deterministic brief
//! is returned unchanged, the failure is logged and `handoffd_llm_failures_total{reason}` is
//! counted.

use std::collections::BTreeSet;

use chrono::{DateTime, FixedOffset};
use chrono_tz::Tz;
use handoffd_contract::brief::{Brief, Disposition, FactValue, Finding, TimeWindow, UrgencyLevel};
use handoffd_contract::conversation::Conversation;
use serde::Deserialize;
use serde_json::{Value, json};

use super::Vocabulary;
use crate::config::duration::ConfigDuration;

/// `interpret.llm`: an OpenAI-compatible chat endpoint that may refine the brief. Off when absent.
#[derive(Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LlmConfig {
    /// Base URL of the endpoint, without `/v1` (`https://api.openai.com`, `http://127.0.0.1:11434`).
    pub base_url: String,
    /// Model name sent as `model` (it must support JSON-schema structured output).
    pub model: String,
    /// Bearer token, usually `${OPENAI_API_KEY}`; omit it for local endpoints. Never logged.
    #[serde(default)]
    pub api_key: Option<String>,
    /// The whole request (connect, answer, body) must finish within this, or the deterministic
    /// brief is kept. Default `5s`.
    #[serde(default = "default_timeout")]
    pub timeout: ConfigDuration,
    /// Sampling temperature sent as `temperature`; default 0 (the most repeatable answer).
    #[serde(default)]
    pub temperature: Option<f32>,
}

fn default_timeout() -> ConfigDuration {
    ConfigDuration::from_secs(5)
}

// Secrets never reach logs, not even through `{:?}`.
impl std::fmt::Debug for LlmConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LlmConfig")
            .field("base_url", &self.base_url)
            .field("model", &self.model)
            .field("api_key", &self.api_key.as_ref().map(|_| "<redacted>"))
            .field("timeout", &self.timeout)
            .field("temperature", &self.temperature)
            .finish()
    }
}

/// Why an answer was not used; `reason()` is the metric label.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LlmError {
    #[error("the request timed out")]
    Timeout,
    #[error("the request failed: {0}")]
    Request(String),
    #[error("the endpoint answered HTTP {status}: {body}")]
    Status { status: u16, body: String },
    #[error("the model refused: {0}")]
    Refused(String),
    #[error("the answer is not usable: {0}")]
    Garbage(String),
    #[error("the answer breaks the brief schema: {0}")]
    Invalid(String),
}

impl LlmError {
    pub fn reason(&self) -> &'static str {
        match self {
            Self::Timeout => "timeout",
            Self::Request(_) => "request",
            Self::Status { .. } => "status",
            Self::Refused(_) => "refused",
            Self::Garbage(_) => "garbage",
            Self::Invalid(_) => "invalid",
        }
    }
}

/// The analyzer: built once from `interpret.llm` and the vocabulary's code lists.
pub struct LlmAnalyzer {
    config: LlmConfig,
    endpoint: String,
    http: reqwest::Client,
    intents: Vec<String>,
    objections: Vec<String>,
    facts: Vec<String>,
}

impl std::fmt::Debug for LlmAnalyzer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LlmAnalyzer").field("config", &self.config).finish_non_exhaustive()
    }
}

/// Longest evidence or value kept from the model (the brief is read in 30 seconds).
const MAX_TEXT: usize = 200;

impl LlmAnalyzer {
    /// Build the analyzer. Makes no network call.
    pub fn new(config: &LlmConfig, vocabulary: &Vocabulary) -> anyhow::Result<Self> {
        let base = config.base_url.trim_end_matches('/');
        url::Url::parse(base).map_err(|e| anyhow::anyhow!("`interpret.llm.base_url` `{base}`: {e}"))?;
        let timeout = config.timeout.get();
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout)
            .build()
            .map_err(|e| anyhow::anyhow!("`interpret.llm`: cannot build the HTTP client: {e}"))?;
        let codes = |category: &super::vocabulary::Category| {
            category.entries.iter().map(|e| e.code.clone()).collect::<BTreeSet<_>>().into_iter().collect()
        };
        Ok(LlmAnalyzer {
            config: config.clone(),
            endpoint: format!("{base}/v1/chat/completions"),
            http,
            intents: codes(&vocabulary.intents),
            objections: codes(&vocabulary.objections),
            facts: codes(&vocabulary.facts),
        })
    }

    /// The brief refined by the model, or `brief` unchanged when the model fails in any way.
    /// Briefs with nothing to act on are returned as they are, without a request.
    pub async fn refine(&self, conversation: &Conversation, brief: Brief) -> Brief {
        if !brief.actionable {
            return brief;
        }
        let answer = match self.ask(conversation).await {
            Ok(answer) => answer,
            Err(error) => {
                metrics::counter!("handoffd_llm_failures_total", "reason" => error.reason()).increment(1);
                tracing::warn!(
                    model = %self.config.model,
                    reason = error.reason(),
                    error = %error,
                    "The LLM analyzer failed; the deterministic brief stands."
                );
                return brief;
            }
        };
        metrics::counter!("handoffd_llm_refinements_total").increment(1);
        merge(brief, answer, conversation, &self.config.model)
    }

    /// One request, its answer checked against the schema and the vocabulary.
    pub async fn ask(&self, conversation: &Conversation) -> Result<Answer, LlmError> {
        let mut request = self.http.post(&self.endpoint).json(&self.request_body(conversation));
        if let Some(key) = &self.config.api_key {
            request = request.bearer_auth(key);
        }
        let timeout = self.config.timeout.get();
        // reqwest's own timeout covers the request; this one also bounds reading the body.
        let exchange = async {
            let response = request.send().await.map_err(request_error)?;
            let status = response.status();
            let body = response.text().await.map_err(request_error)?;
            Ok::<_, LlmError>((status, body))
        };
        let (status, body) = tokio::time::timeout(timeout, exchange).await.map_err(|_| LlmError::Timeout)??;
        if !status.is_success() {
            // Some endpoints echo the key they refused: it must not reach the log.
            let body = match &self.config.api_key {
                Some(key) if !key.is_empty() => body.replace(key.as_str(), "<redacted>"),
                _ => body,
            };
            return Err(LlmError::Status { status: status.as_u16(), body: shorten(&body, MAX_TEXT) });
        }
        let answer = content_of(&body)?;
        self.check(&answer, conversation)?;
        Ok(answer)
    }

    /// The chat request: instructions with the allowed codes, the conversation, the schema.
    pub fn request_body(&self, conversation: &Conversation) -> Value {
        let turns: Vec<Value> = conversation
            .turns
            .iter()
            .filter(|t| conversation.handoff_at.is_none_or(|at| t.at <= at))
            .enumerate()
            .map(|(i, t)| json!({"turn": i, "from": t.from, "at": t.at.to_rfc3339(), "text": t.text}))
            .collect();
        let instructions = format!(
            "You read a sales conversation between a customer and an AI assistant before it is handed to a \
             human owner. Report only what the customer said or clearly meant. Use only these codes. \
             Intents: {}. Objections: {}. Facts: {}. Quote evidence short, in the customer's words. \
             A requested window is the time the customer asked to be contacted, as RFC 3339 instants with \
             offset in the time zone {}, with not_before <= not_after; null when they named none. \
             The conversation happens at {}.",
            self.intents.join(", "),
            self.objections.join(", "),
            self.facts.join(", "),
            conversation.timezone,
            conversation.now.to_rfc3339(),
        );
        let input = json!({
            "now": conversation.now.to_rfc3339(),
            "timezone": conversation.timezone,
            "channel": conversation.channel,
            "turns": turns,
        });
        json!({
            "model": self.config.model,
            "temperature": self.config.temperature.unwrap_or(0.0),
            "messages": [
                {"role": "system", "content": instructions},
                {"role": "user", "content": input.to_string()},
            ],
            "response_format": {
                "type": "json_schema",
                "json_schema": {"name": "handoff_brief", "strict": true, "schema": self.schema()},
            },
        })
    }

    /// The JSON schema of [`Answer`], with the vocabulary's codes as enums.
    pub fn schema(&self) -> Value {
        let nullable_string = json!({"type": ["string", "null"]});
        let finding = |codes: &[String]| {
            json!({
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {"code": {"type": "string", "enum": codes}, "evidence": {"type": "string"}},
                    "required": ["code", "evidence"],
                    "additionalProperties": false,
                },
            })
        };
        json!({
            "type": "object",
            "properties": {
                "stated_need": nullable_string,
                "intents": finding(&self.intents),
                "objections": finding(&self.objections),
                "facts": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "properties": {"fact": {"type": "string", "enum": self.facts}, "value": {"type": "string"}},
                        "required": ["fact", "value"],
                        "additionalProperties": false,
                    },
                },
                "urgency": {"type": "string", "enum": ["low", "medium", "high"]},
                "urgency_reason": nullable_string,
                "disposition": {"type": "string", "enum": ["callback", "escalation", "nurture", "closed_lost", "booked"]},
                "requested_window": {
                    "anyOf": [
                        {"type": "null"},
                        {
                            "type": "object",
                            "properties": {"not_before": {"type": "string"}, "not_after": {"type": "string"}},
                            "required": ["not_before", "not_after"],
                            "additionalProperties": false,
                        },
                    ],
                },
                "promised_next_step": nullable_string,
            },
            "required": ["stated_need", "intents", "objections", "facts", "urgency", "urgency_reason",
                "disposition", "requested_window", "promised_next_step"],
            "additionalProperties": false,
        })
    }

    /// What serde cannot check: codes from the vocabulary, a window in order and not already
    /// over at `now`, fact values not empty.
    fn check(&self, answer: &Answer, conversation: &Conversation) -> Result<(), LlmError> {
        let known = |list: &[String], code: &str, what: &str| {
            if list.iter().any(|c| c == code) {
                Ok(())
            } else {
                Err(LlmError::Invalid(format!("unknown {what} code `{code}`")))
            }
        };
        for finding in &answer.intents {
            known(&self.intents, &finding.code, "intent")?;
        }
        for finding in &answer.objections {
            known(&self.objections, &finding.code, "objection")?;
        }
        for fact in &answer.facts {
            known(&self.facts, &fact.fact, "fact")?;
            if fact.value.trim().is_empty() {
                return Err(LlmError::Invalid(format!("fact `{}` has an empty value", fact.fact)));
            }
        }
        if let Some(window) = &answer.requested_window
            && window.not_before > window.not_after
        {
            return Err(LlmError::Invalid(format!(
                "requested window ends ({}) before it starts ({})",
                window.not_after, window.not_before
            )));
        }
        if let Some(window) = &answer.requested_window
            && window.not_after < conversation.now
        {
            return Err(LlmError::Invalid(format!(
                "requested window is over ({}) before the conversation's now ({})",
                window.not_after, conversation.now
            )));
        }
        Ok(())
    }
}

/// The model's answer (the `content` of its message), as the schema allows it.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Answer {
    pub stated_need: Option<String>,
    pub intents: Vec<AnswerFinding>,
    pub objections: Vec<AnswerFinding>,
    pub facts: Vec<AnswerFact>,
    pub urgency: UrgencyLevel,
    pub urgency_reason: Option<String>,
    pub disposition: Disposition,
    pub requested_window: Option<AnswerWindow>,
    pub promised_next_step: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AnswerFinding {
    pub code: String,
    pub evidence: String,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AnswerFact {
    pub fact: String,
    pub value: String,
}

/// RFC 3339 instants with offset; anything else fails deserialisation.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AnswerWindow {
    pub not_before: DateTime<FixedOffset>,
    pub not_after: DateTime<FixedOffset>,
}

fn request_error(error: reqwest::Error) -> LlmError {
    if error.is_timeout() { LlmError::Timeout } else { LlmError::Request(error.without_url().to_string()) }
}

/// The answer inside a chat completion: `choices[0].message.content`, parsed.
fn content_of(body: &str) -> Result<Answer, LlmError> {
    let completion: Value =
        serde_json::from_str(body).map_err(|e| LlmError::Garbage(format!("the response is not JSON: {e}")))?;
    let message = completion
        .pointer("/choices/0/message")
        .ok_or_else(|| LlmError::Garbage("the response has no `choices[0].message`".into()))?;
    if let Some(refusal) = message.get("refusal").and_then(Value::as_str) {
        return Err(LlmError::Refused(shorten(refusal, MAX_TEXT)));
    }
    if let Some(reason) = completion.pointer("/choices/0/finish_reason").and_then(Value::as_str)
        && matches!(reason, "length" | "content_filter")
    {
        return Err(LlmError::Garbage(format!("the answer was cut short (`finish_reason: {reason}`)")));
    }
    let content = message
        .get("content")
        .and_then(Value::as_str)
        .ok_or_else(|| LlmError::Garbage("the message has no text `content`".into()))?;
    let content: Value = serde_json::from_str(content)
        .map_err(|e| LlmError::Garbage(format!("the message content is not JSON: {e}")))?;
    serde_json::from_value(content).map_err(|e| LlmError::Invalid(e.to_string()))
}

fn shorten(text: &str, max: usize) -> String {
    let text = text.trim();
    match text.char_indices().nth(max) {
        Some((at, _)) => format!("{}...", &text[..at]),
        None => text.to_owned(),
    }
}

/// Merge a checked answer into the deterministic brief (the rules are in the module doc).
pub fn merge(mut brief: Brief, answer: Answer, conversation: &Conversation, model: &str) -> Brief {
    let mut changes = Vec::new();
    let llm_finding = |f: &AnswerFinding| Finding {
        code: f.code.clone(),
        evidence: format!("llm: {}", shorten(&f.evidence, MAX_TEXT)),
        turn: None,
    };
    for (found, ours, what) in
        [(&answer.intents, &mut brief.intents, "intent"), (&answer.objections, &mut brief.objections, "objection")]
    {
        for finding in found {
            if !ours.iter().any(|f| f.code == finding.code) {
                ours.push(llm_finding(finding));
                changes.push(format!("added {what} `{}`", finding.code));
            }
        }
    }
    for fact in &answer.facts {
        if !brief.do_not_ask.iter().any(|f| f.fact == fact.fact) {
            brief.do_not_ask.push(FactValue {
                fact: fact.fact.clone(),
                value: shorten(&fact.value, MAX_TEXT),
                turn: None,
            });
            changes.push(format!("added fact `{}`", fact.fact));
        }
    }
    if answer.urgency > brief.urgency.level {
        changes.push(format!("raised urgency from {} to {}", brief.urgency.level.as_str(), answer.urgency.as_str()));
        brief.urgency.level = answer.urgency;
        let why =
            answer.urgency_reason.as_deref().map_or("the model rated it higher".to_owned(), |r| shorten(r, MAX_TEXT));
        brief.urgency.reasons.push(Finding { code: "llm".into(), evidence: format!("llm: {why}"), turn: None });
    }
    let mut fill = |slot: &mut Option<String>, value: &Option<String>, name: &str| {
        if slot.is_none()
            && let Some(value) = value.as_deref().map(str::trim).filter(|v| !v.is_empty())
        {
            *slot = Some(shorten(value, MAX_TEXT));
            changes.push(format!("filled {name}"));
        }
    };
    fill(&mut brief.stated_need, &answer.stated_need, "stated_need");
    fill(&mut brief.promised_next_step, &answer.promised_next_step, "promised_next_step");
    if brief.requested_window.is_none()
        && let Some(window) = &answer.requested_window
    {
        brief.requested_window = Some(TimeWindow { not_before: window.not_before, not_after: window.not_after });
        changes.push("filled requested_window".to_owned());
    }
    if answer.disposition != brief.disposition {
        brief.notes.push(format!(
            "llm: the model reads the disposition as {} (kept {})",
            answer.disposition.as_str(),
            brief.disposition.as_str()
        ));
    }
    if !changes.is_empty() {
        let owner: Tz = conversation.timezone.parse().unwrap_or(chrono_tz::UTC);
        let customer = super::clock::customer_clock(conversation, owner).map(|c| c.zone).unwrap_or(owner);
        let clocks = super::action::Clocks { owner, customer };
        brief.recommended_action = super::action::recommended_action(&brief, clocks);
        brief.notes.push(format!("llm: refined by `{model}`: {}", changes.join(", ")));
    }
    brief
}
