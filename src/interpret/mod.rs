//! The handoff brief: vocabulary, rules, soft time, vendor analysis.
//!
//! Layout:
//! - [`text`]: folding (case, accents) with a map back to the original for evidence.
//! - [`vocabulary`]: the YAML vocabulary, validated and compiled once.
//! - `engine`: the rules (who said it, negation, corrections, urgency, disposition, re-asks).
//! - [`window`]: the seam to the time-expression resolver (`when/`).
//! - [`vendor`]: vendor analysis (Vapi, Retell) mapped onto brief fields by config.
//! - [`llm`]: the optional LLM analyzer that refines a brief (off unless `interpret.llm` is set).
//! - `action`, `task`: the recommended action and the CRM task text.
//! - [`score`]: the evaluation scorer (`handoffd eval` and the tests).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::Context;
use chrono_tz::Tz;
use handoffd_contract::brief::{Brief, Disposition};
use handoffd_contract::conversation::{Conversation, Speaker, Turn};
use handoffd_contract::task::TaskText;
use serde::Deserialize;

mod action;
pub mod clock;
pub mod contact;
mod engine;
pub mod language;
pub mod llm;
pub mod model;
mod offer;
pub mod score;
mod task;
pub mod text;
pub mod vendor;
pub mod vocabulary;
pub mod window;

pub use vocabulary::{Vocabulary, VocabularyError};
pub use window::{FoundWindow, WindowSource};
pub mod when;

/// `interpret:`: where the vocabulary lives and how the brief is made.
#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct InterpretConfig {
    /// Folder of vocabulary YAML files (intents, objections, facts, time expressions per
    /// language). Relative paths are resolved from the configuration file's folder.
    #[serde(default)]
    pub vocabulary: Option<PathBuf>,
    /// Vendor analysis mappings (vendor name -> its fields -> brief fields), added to and
    /// overriding the defaults in the vocabulary folder's `vendor_analysis.yaml`.
    #[serde(default)]
    pub vendor_analysis: BTreeMap<String, vendor::VendorMapping>,
    /// An OpenAI-compatible chat endpoint that may refine the deterministic brief (see
    /// [`llm`] for what it may change). Off when absent; any failure keeps the deterministic brief.
    #[serde(default)]
    pub llm: Option<llm::LlmConfig>,
    /// The trained model file (`handoffd train` writes it) that decides the fields it enables
    /// beside the rules. Relative paths resolve from the configuration file's folder. When it is
    /// missing or its labels do not match the vocabulary, `check` fails and the rules run alone.
    #[serde(default)]
    pub model: Option<PathBuf>,
}

/// A conversation the engine cannot interpret, naming the field at fault.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum InterpretError {
    #[error("`timezone`: unknown time zone `{0}` (expected an IANA name such as `Asia/Kolkata`)")]
    UnknownTimeZone(String),
    #[error("`{field}`: {message}")]
    Field { field: &'static str, message: String },
}

/// The deterministic interpretation engine: load once, interpret many.
#[derive(Debug)]
pub struct Interpreter {
    vocabulary: Vocabulary,
    vendors: vendor::VendorMappings,
    window_source: Option<Box<dyn WindowSource>>,
    /// The LLM analyzer when `interpret.llm` is configured; the daemon calls it after `interpret`.
    llm: Option<llm::LlmAnalyzer>,
    /// Phrases of channels the customer asks for or refuses.
    contact: contact::ContactPhrases,
    /// The trained model beside the rules, when `interpret.model` names one that loads.
    model: Option<model::Model>,
    /// Why the configured model is not used (missing file, labels that do not match the vocabulary).
    model_problem: Option<String>,
}

/// The default vocabulary folder when the configuration names none.
const DEFAULT_VOCABULARY: &str = "vocabulary";

impl Interpreter {
    /// Load and compile the vocabulary named by `config` (relative to `base_dir`, the
    /// configuration's folder, as every path in it).
    pub fn load(config: &InterpretConfig, base_dir: &Path) -> anyhow::Result<Self> {
        let dir = Self::vocabulary_dir(config, base_dir);
        let vocabulary = Vocabulary::load(&dir)?;
        let vendors = vendor::VendorMappings::load(&dir, &config.vendor_analysis)
            .with_context(|| format!("vendor analysis mappings in `{}`", dir.display()))?;
        let window_source = window::load_window_source(&dir)?;
        let contact = contact::ContactPhrases::load(&dir)?;
        let llm = config.llm.as_ref().map(|c| llm::LlmAnalyzer::new(c, &vocabulary)).transpose()?;
        let (model, model_problem) = match &config.model {
            None => (None, None),
            Some(path) => {
                let path = crate::config::paths::resolve(base_dir, path);
                match model::Model::load(&path, &vocabulary) {
                    Ok(model) => (Some(model), None),
                    Err(error) => {
                        let problem =
                            format!("the model `{}` is not used, the rules run alone: {error:#}", path.display());
                        tracing::warn!("{problem}");
                        (None, Some(problem))
                    }
                }
            }
        };
        Ok(Interpreter { vocabulary, vendors, window_source, llm, contact, model, model_problem })
    }

    /// Why the configured model is not used, if it is not (`check` reports it as an error).
    pub fn model_problem(&self) -> Option<&str> {
        self.model_problem.as_deref()
    }

    /// The trained model in use, if any.
    pub fn model(&self) -> Option<&model::Model> {
        self.model.as_ref()
    }

    /// Drop the trained model: the rules alone (training and comparisons).
    pub fn without_model(mut self) -> Self {
        self.model = None;
        self
    }

    /// Use `model` beside the rules.
    pub fn with_model(mut self, model: model::Model) -> Self {
        self.model = Some(model);
        self.model_problem = None;
        self
    }

    /// What decides the brief, for tools that print scores.
    pub fn describe_layers(&self) -> String {
        match &self.model {
            Some(model) => format!("rules, then the trained model for {}", model.enabled_fields().join(", ")),
            None => "rules alone".into(),
        }
    }

    /// The intent codes of the vocabulary (what routing rules may name in `when.intent`).
    pub fn intent_codes(&self) -> Vec<&str> {
        self.vocabulary.intents.entries.iter().map(|entry| entry.code.as_str()).collect()
    }

    /// The vocabulary folder `config` names, resolved from `base_dir`.
    pub fn vocabulary_dir(config: &InterpretConfig, base_dir: &Path) -> PathBuf {
        crate::config::paths::resolve(base_dir, config.vocabulary.as_deref().unwrap_or(Path::new(DEFAULT_VOCABULARY)))
    }

    /// Use `source` to find requested windows (tests, and the resolver once wired).
    pub fn with_window_source(mut self, source: Box<dyn WindowSource>) -> Self {
        self.window_source = Some(source);
        self
    }

    /// Whether a time resolver is wired (without one, `requested_window` is always null).
    pub fn resolves_windows(&self) -> bool {
        self.window_source.is_some()
    }

    /// The LLM analyzer, when `interpret.llm` is configured.
    pub fn llm(&self) -> Option<&llm::LlmAnalyzer> {
        self.llm.as_ref()
    }

    pub fn vocabulary(&self) -> &Vocabulary {
        &self.vocabulary
    }

    /// Make the brief of a conversation.
    pub fn interpret(&self, conversation: &Conversation) -> Result<Brief, InterpretError> {
        Ok(self.interpret_telling(conversation)?.0)
    }

    /// [`Self::interpret`], with the time the customer told in passing where the rules found no
    /// requested window (`window::FoundWindows::told`): what training needs beside the rules' brief.
    pub fn interpret_telling(
        &self,
        conversation: &Conversation,
    ) -> Result<(Brief, Option<FoundWindow>), InterpretError> {
        let tz: Tz = conversation
            .timezone
            .parse()
            .map_err(|_| InterpretError::UnknownTimeZone(conversation.timezone.clone()))?;
        check_business_hours(&conversation.business_hours)?;
        let (before, after) = split_at_handoff(conversation);
        let first_customer = before.iter().position(|t| t.from == Speaker::Customer);
        if first_customer.is_none() {
            return Ok((engine::idle_brief(conversation, before), None));
        }

        // Each turn folded once, read by the rules, the offers, the contact check and the model.
        let folded: Vec<text::Folded<'_>> = before.iter().map(|t| text::Folded::new(&t.text)).collect();
        let mut hits = engine::scan(&self.vocabulary, before, &folded);
        offer::add_accepted_offers(&self.vocabulary, before, &folded, &mut hits);
        // The window is read on the customer's clock; hours stay the business's (`tz`).
        let clock = clock::customer_clock(conversation, tz)?;
        let windows = match &self.window_source {
            Some(source) => source.windows(conversation, before, clock.zone)?,
            None => window::FoundWindows::default(),
        };
        let window = windows.requested;
        let told = if window.is_none() { windows.told } else { None };
        let near = window.as_ref().is_some_and(|w| engine::window_is_near(w, conversation.now, clock.zone));
        let intents = engine::settled_intents(&hits);
        let closed = engine::is_closed(&hits, &intents);
        let urgency = engine::urgency(&hits, &intents, closed.as_ref(), window.as_ref(), near);
        let do_not_ask = engine::facts(&hits, window.as_ref(), self.window_source.is_some());
        // A time the customer named counts for the disposition even where the resolver could not place it.
        let named_time = window.is_some() || hits.signal("time_named").is_some();
        let (disposition, why) =
            engine::disposition(&hits, &intents, closed.as_ref(), &urgency, named_time, first_customer);
        let mut brief = Brief {
            customer: engine::customer(conversation),
            source: conversation.source.clone(),
            channel_history: engine::channel_history(conversation, before),
            stated_need: engine::stated_need(&self.vocabulary, &hits, &intents),
            intents: engine::findings(&intents),
            urgency,
            disposition,
            objections: engine::findings(&hits.objections),
            requested_window: window.as_ref().map(|w| w.window.clone()),
            contact_preference: self.contact.find_folded(before, &folded),
            promised_next_step: engine::promised_next_step(&hits),
            do_not_ask,
            recommended_owner: None,
            recommended_action: String::new(),
            due: None,
            reasked_facts: Vec::new(),
            actionable: true,
            ended_by: None,
            notes: vec![format!("disposition {}: {why}", disposition.as_str())],
            language: language::detect(before),
        };
        if let Some(found) = &window {
            brief.notes.push(format!("requested window from turn {} by rule `{}`", found.turn, found.rule));
        }
        brief.notes.extend(clock.note(tz));
        if let Some(model) = &self.model {
            // A customer who only greeted, thanked or said ok asked for nothing: what the model
            // adds to the rules' labels is dropped, since a model can learn to weigh a greeting for
            // a label whose conversations often open with it (one weighed "hello" for
            // `admission_inquiry`).
            let small_talk_only = before
                .iter()
                .zip(&folded)
                .filter(|(turn, _)| turn.from == Speaker::Customer)
                .all(|(_, f)| self.vocabulary.is_small_talk(&f.text));
            let ruled =
                small_talk_only.then(|| (brief.intents.clone(), brief.objections.clone(), brief.do_not_ask.clone()));
            model.apply_folded_told(before, &folded, &mut brief, told.as_ref());
            if let Some(ruled) = ruled
                && (ruled.0 != brief.intents || ruled.1 != brief.objections || ruled.2 != brief.do_not_ask)
            {
                (brief.intents, brief.objections, brief.do_not_ask) = ruled;
                brief.notes.push("the customer only greeted or acknowledged: the model's labels were left out".into());
            }
        }
        // The rules and the model each decided a part; make the parts agree. A vendor's analysis
        // comes after: what the admin mapped from it overrides, as it does the rules.
        engine::reconcile(&mut brief);
        if let Some(analysis) = &conversation.vendor_analysis {
            self.vendors.apply(analysis, &mut brief);
        }
        // Re-asks are read against the final do_not_ask: a fact the model or the vendor's
        // analysis found was given as much as one the rules found.
        let after_turns: Vec<(usize, &Turn)> =
            after.iter().enumerate().map(|(i, turn)| (before.len() + i, turn)).collect();
        brief.reasked_facts = self
            .model
            .as_ref()
            .and_then(|model| model.reasked(&self.vocabulary, &brief.do_not_ask, before, &after_turns))
            .unwrap_or_else(|| engine::reasked(&self.vocabulary, &brief.do_not_ask, &after_turns));
        if brief.disposition == Disposition::ClosedLost {
            brief.notes.push("closed lost: no follow-up call is wanted".into());
        }
        let clocks = action::Clocks { owner: tz, customer: clock.zone };
        brief.recommended_action = action::recommended_action(&brief, clocks);
        Ok((brief, told))
    }

    /// The CRM task text of a brief.
    /// Times are shown in the owner's zone (the business's), with the customer's local time
    /// beside them when their clock differs.
    pub fn task_text(&self, brief: &Brief, conversation: &Conversation) -> TaskText {
        let owner: Tz = conversation.timezone.parse().unwrap_or(chrono_tz::UTC);
        let customer = clock::customer_clock(conversation, owner).map(|c| c.zone).unwrap_or(owner);
        task::task_text(brief, conversation, action::Clocks { owner, customer })
    }
}

/// The turns a brief is made from: those before the handoff.
pub fn turns_before_handoff(conversation: &Conversation) -> &[Turn] {
    split_at_handoff(conversation).0
}

/// The turns before the handoff and the owner's first contact after it.
fn split_at_handoff(conversation: &Conversation) -> (&[Turn], &[Turn]) {
    let turns = conversation.turns.as_slice();
    match conversation.handoff_at {
        Some(at) => turns.split_at(turns.iter().position(|t| t.at > at).unwrap_or(turns.len())),
        None => (turns, &[]),
    }
}

/// `business_hours`: day keys `mon`..`sun`, values `HH:MM-HH:MM`.
fn check_business_hours(hours: &BTreeMap<String, String>) -> Result<(), InterpretError> {
    const DAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
    for (day, span) in hours {
        if !DAYS.contains(&day.as_str()) {
            return Err(InterpretError::Field {
                field: "business_hours",
                message: format!("unknown day `{day}` (expected mon, tue, wed, thu, fri, sat, sun)"),
            });
        }
        let valid = span.split_once('-').is_some_and(|(open, close)| {
            let parse = |t: &str| chrono::NaiveTime::parse_from_str(t.trim(), "%H:%M").ok();
            matches!((parse(open), parse(close)), (Some(o), Some(c)) if o < c)
        });
        if !valid {
            return Err(InterpretError::Field {
                field: "business_hours",
                message: format!("`{day}: {span}` is not `HH:MM-HH:MM` with opening before closing"),
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use model::{Field, Head, Model, features};

    /// The shipped vocabulary with a model that weighs the word "hello" for `admission_inquiry`.
    fn hello_weighing() -> Interpreter {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let config = InterpretConfig { vocabulary: Some("config/vocabulary".into()), ..Default::default() };
        let mut interpreter = Interpreter::load(&config, root).expect("the shipped vocabulary loads");
        let mut weights = vec![0.0f32; features::DIMS];
        features::customer_turn("hello", |i, _, name| {
            if name == "hello" {
                weights[i as usize] = 5.0;
            }
        });
        let head =
            Head::from_label_major(Field::Intents, vec!["admission_inquiry".into()], vec![0.5], vec![0.5], &[weights]);
        interpreter.model = Some(Model::new(features::FeatureSet::default(), String::new(), vec![head]));
        interpreter
    }

    fn customer_says(texts: &[&str]) -> Conversation {
        let turns: Vec<serde_json::Value> = texts
            .iter()
            .map(|t| serde_json::json!({"at": "2026-06-09T10:00:00+05:30", "from": "customer", "text": t}))
            .collect();
        serde_json::from_value(serde_json::json!({
            "now": "2026-06-09T10:05:00+05:30", "timezone": "Asia/Kolkata", "channel": "whatsapp",
            "customer": {"name": "Asha"}, "turns": turns,
        }))
        .expect("a conversation")
    }

    #[test]
    fn a_customer_who_only_greets_or_acknowledges_gets_no_label_from_the_model() {
        let interpreter = hello_weighing();
        let intents = |texts: &[&str]| -> Vec<String> {
            let brief = interpreter.interpret(&customer_says(texts)).expect("a brief");
            brief.intents.iter().map(|f| f.code.clone()).collect()
        };
        for greeting in [&["hello"][..], &["Hello!! 🙂"], &["hello", "ok thanks"], &["Olá, bom dia"]] {
            assert_eq!(intents(greeting), Vec::<String>::new(), "{greeting:?}");
        }
        // A customer who says more than a greeting gets what the model weighs.
        assert_eq!(intents(&["hello, what are the fees for the MBA?"]), vec!["admission_inquiry".to_owned()]);
        assert_eq!(intents(&["hello", "is the hostel available?"]), vec!["admission_inquiry".to_owned()]);
    }
}
