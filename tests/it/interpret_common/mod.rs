//! Helpers shared by the interpretation tests.

use std::path::PathBuf;

use handoffd::interpret::{InterpretConfig, Interpreter};
use handoffd_contract::conversation::Conversation;

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The interpreter with the shipped vocabulary (as `config/example.yaml` configures it).
pub fn interpreter() -> Interpreter {
    let config = InterpretConfig { vocabulary: Some("config/vocabulary".into()), ..Default::default() };
    Interpreter::load(&config, &repo()).expect("the shipped vocabulary loads")
}

/// A conversation from a compact description: (speaker, text) turns one minute apart.
pub fn conversation(now: &str, timezone: &str, turns: &[(&str, &str)]) -> Conversation {
    let start = chrono::DateTime::parse_from_rfc3339(now).unwrap() - chrono::Duration::minutes(turns.len() as i64);
    let turns: Vec<serde_json::Value> = turns
        .iter()
        .enumerate()
        .map(|(i, (from, text))| {
            let at = start + chrono::Duration::minutes(i as i64);
            serde_json::json!({"at": at.to_rfc3339(), "from": from, "text": text})
        })
        .collect();
    serde_json::from_value(serde_json::json!({
        "now": now,
        "timezone": timezone,
        "business_hours": {"mon": "09:00-18:00", "tue": "09:00-18:00", "wed": "09:00-18:00", "thu": "09:00-18:00", "fri": "09:00-18:00", "sat": "10:00-14:00"},
        "customer": {"name": "Asha Verma", "phones": ["+91 98200 00000"], "emails": []},
        "channel": "whatsapp",
        "turns": turns,
    }))
    .unwrap()
}

/// The shared evaluation folder, when this checkout sits next to it.
pub fn shared_eval(sub: &str) -> Option<PathBuf> {
    let candidates = [
        std::env::var_os("HANDOFFD_EVAL_DIR").map(PathBuf::from),
        Some(repo().join("../shared/eval")),
        Some(repo().join("../../shared/eval")),
    ];
    candidates.into_iter().flatten().map(|dir| dir.join(sub)).find(|dir| dir.is_dir())
}

pub fn codes(findings: &[handoffd_contract::brief::Finding]) -> Vec<&str> {
    let mut codes: Vec<&str> = findings.iter().map(|f| f.code.as_str()).collect();
    codes.sort();
    codes
}
