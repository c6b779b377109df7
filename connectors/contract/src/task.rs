//! The CRM task a brief becomes, as vendor-neutral labelled facts.
//!
//! Interpretation decides what the task says; a CRM connector decides how it looks (HubSpot
//! takes HTML, most others plain text), using the renderers here so every CRM reads alike.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// What a task says: a subject that reads as an action, and labelled facts in reading order.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct TaskText {
    /// Under 80 characters, e.g. "Call Rahul before 8 PM: Saturday visit + 6-month plan".
    pub subject: String,
    pub facts: Vec<LabelledFact>,
    /// Where the full transcript can be read.
    pub transcript_url: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LabelledFact {
    pub label: String,
    pub value: String,
}

impl TaskText {
    /// Plain text: one `Label: value` line per fact.
    pub fn to_plain(&self) -> String {
        let mut out = String::new();
        for fact in &self.facts {
            out.push_str(&fact.label);
            out.push_str(": ");
            out.push_str(&fact.value);
            out.push('\n');
        }
        if let Some(url) = &self.transcript_url {
            out.push_str("Transcript: ");
            out.push_str(url);
            out.push('\n');
        }
        out
    }

    /// HTML: one paragraph per fact with the label in bold; every value is escaped.
    pub fn to_html(&self) -> String {
        let mut out = String::new();
        for fact in &self.facts {
            out.push_str("<p><strong>");
            out.push_str(&escape_html(&fact.label));
            out.push_str(":</strong> ");
            out.push_str(&escape_html(&fact.value));
            out.push_str("</p>");
        }
        if let Some(url) = &self.transcript_url {
            let url = escape_html(url);
            out.push_str(&format!("<p><strong>Transcript:</strong> <a href=\"{url}\">{url}</a></p>"));
        }
        out
    }
}

impl TaskText {
    /// The same text without characters that make a CRM field lie about what it says:
    /// bidirectional overrides and isolates (a customer's name or message could reverse the
    /// reading order of what follows it) and control characters other than newline and tab.
    /// Every CRM gets the text through this, whatever its format.
    pub fn without_unsafe_characters(self) -> Self {
        Self {
            subject: strip_unsafe_characters(&self.subject),
            facts: self
                .facts
                .into_iter()
                .map(|fact| LabelledFact {
                    label: strip_unsafe_characters(&fact.label),
                    value: strip_unsafe_characters(&fact.value),
                })
                .collect(),
            transcript_url: self.transcript_url.map(|url| strip_unsafe_characters(&url)),
        }
    }
}

/// `text` without bidirectional controls (U+202A-U+202E embeddings and overrides, U+2066-U+2069
/// isolates, U+061C, U+200E/U+200F marks) and without control characters other than `\n` and `\t`.
pub fn strip_unsafe_characters(text: &str) -> String {
    text.chars()
        .filter(|&c| {
            !matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{061C}' | '\u{200E}' | '\u{200F}')
                && (!c.is_control() || c == '\n' || c == '\t')
        })
        .collect()
}

pub fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overrides_and_controls_are_removed_and_text_is_kept() {
        let text = TaskText {
            subject: "Call \u{202E}lahaR\u{202C} before 8 PM".into(),
            facts: vec![LabelledFact {
                label: "Need".into(),
                value: "2BHK\u{2066} in\u{0007} Pune\nline two\tok".into(),
            }],
            transcript_url: None,
        }
        .without_unsafe_characters();
        assert_eq!(text.subject, "Call lahaR before 8 PM");
        assert_eq!(text.facts[0].value, "2BHK in Pune\nline two\tok");
        assert_eq!(strip_unsafe_characters("नमस्ते ¿qué? 😀"), "नमस्ते ¿qué? 😀", "ordinary text is untouched");
    }
}

/// Ordered low to high: a raised priority compares greater.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TaskPriority {
    Low,
    Medium,
    High,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TaskKind {
    #[default]
    Call,
    Todo,
    Email,
}

/// One task to write. `external_key` (the handoff id) is stored on the CRM task so that a
/// write whose response was lost can be found again instead of duplicated.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TaskWrite {
    pub external_key: String,
    /// The CRM contact the task is about.
    pub contact_id: String,
    /// The CRM user who owns the task.
    pub owner_id: Option<String>,
    pub text: TaskText,
    pub due_at: DateTime<Utc>,
    pub priority: TaskPriority,
    pub kind: TaskKind,
}

/// A task as the CRM holds it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TaskRef {
    pub task_id: String,
    pub external_key: Option<String>,
}

/// Whether the owner has acted on a task (read by the SLA watcher).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TaskState {
    pub task_id: String,
    pub completed: bool,
    pub owner_id: Option<String>,
    pub due_at: Option<DateTime<Utc>>,
}
