//! The seam to the time-expression resolver (`src/interpret/when/`, built on its own).
//!
//! The engine asks a [`WindowSource`] for the window the customer named; the soft-time
//! resolver in `when/` is the one the daemon uses. Tests may plug in their own source.

use std::path::Path;

use chrono_tz::Tz;
use handoffd_contract::brief::TimeWindow;
use handoffd_contract::conversation::{Conversation, Turn};

use super::InterpretError;

/// A window the customer named, with the phrase and turn it came from.
#[derive(Clone, Debug, PartialEq)]
pub struct FoundWindow {
    pub window: TimeWindow,
    pub evidence: String,
    pub turn: usize,
    /// The resolver's rule, e.g. `weekday+part_of_day`.
    pub rule: String,
}

/// What a [`WindowSource`] read: the requested window, and a time told in passing the model may
/// take for one (`when::Windows::told`).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct FoundWindows {
    pub requested: Option<FoundWindow>,
    pub told: Option<FoundWindow>,
}

/// Finds the requested window in the turns before the handoff.
pub trait WindowSource: Send + Sync + std::fmt::Debug {
    fn requested_window(
        &self,
        conversation: &Conversation,
        turns: &[Turn],
        tz: Tz,
    ) -> Result<Option<FoundWindow>, InterpretError>;

    /// The requested window and a time told in passing; a source that tells none apart gives the
    /// requested window only.
    fn windows(&self, conversation: &Conversation, turns: &[Turn], tz: Tz) -> Result<FoundWindows, InterpretError> {
        Ok(FoundWindows { requested: self.requested_window(conversation, turns, tz)?, told: None })
    }
}

/// The resolver for a vocabulary folder, or `None` while `when` is not part of the build.
///
/// To wire it, replace the body with:
/// `Ok(Some(Box::new(super::when::TimeResolver::load(vocabulary_dir)?)))`
pub fn load_window_source(vocabulary_dir: &Path) -> anyhow::Result<Option<Box<dyn WindowSource>>> {
    Ok(Some(Box::new(super::when::TimeResolver::load(vocabulary_dir)?)))
}

impl WindowSource for super::when::TimeResolver {
    fn requested_window(
        &self,
        conversation: &Conversation,
        turns: &[Turn],
        tz: Tz,
    ) -> Result<Option<FoundWindow>, InterpretError> {
        Ok(self.windows(conversation, turns, tz)?.requested)
    }

    fn windows(&self, conversation: &Conversation, turns: &[Turn], tz: Tz) -> Result<FoundWindows, InterpretError> {
        use super::when::{BusinessHours, ResolvedWindow, WindowTurn};
        let hours = BusinessHours::parse(&conversation.business_hours)
            .map_err(|e| InterpretError::Field { field: "business_hours", message: e.to_string() })?;
        let window_turns: Vec<WindowTurn<'_>> = turns
            .iter()
            .enumerate()
            .map(|(index, turn)| WindowTurn { index, from: turn.from, text: &turn.text })
            .collect();
        // `tz` is the customer's clock; the hours are the business's, in the conversation's zone.
        let business: Tz = conversation.timezone.parse().unwrap_or(tz);
        let windows =
            super::when::TimeResolver::windows_of_customer(self, &window_turns, conversation.now, tz, business, &hours);
        let found = |found: ResolvedWindow| FoundWindow {
            window: found.window,
            evidence: found.evidence,
            turn: found.turn,
            rule: found.rule,
        };
        Ok(FoundWindows { requested: windows.requested.map(found), told: windows.told.map(found) })
    }
}
