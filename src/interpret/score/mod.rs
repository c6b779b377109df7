//! The evaluation scorer (format in `shared/eval/README.md`): set F1 for intents, objections,
//! do_not_ask and reasked; exact match for urgency, disposition and the requested window (as
//! instants; null must be null). Each field is averaged over the cases that label it.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use anyhow::Context;
use chrono::{DateTime, FixedOffset};
use handoffd_contract::brief::Brief;
use handoffd_contract::conversation::Conversation;
use serde_json::Value;

use super::Interpreter;

pub mod interval;
pub mod lock;

/// Fields in report order.
pub const FIELDS: &[&str] =
    &["intents", "urgency", "disposition", "objections", "do_not_ask", "requested_window", "reasked"];

/// One labelled case.
#[derive(Debug)]
pub struct Case {
    pub name: String,
    pub input: Conversation,
    pub expect: serde_json::Map<String, Value>,
}

/// A field a case got wrong.
#[derive(Debug, Clone)]
pub struct Miss {
    pub case: String,
    pub field: &'static str,
    pub score: f64,
    pub expected: String,
    pub found: String,
}

#[derive(Debug, Default)]
pub struct Report {
    /// field -> the score of every case that labels it, in case order (kept whole so that
    /// confidence intervals can be drawn from them).
    pub fields: BTreeMap<&'static str, Vec<f64>>,
    pub misses: Vec<Miss>,
    pub cases: usize,
}

impl Report {
    pub fn score(&self, field: &str) -> Option<f64> {
        self.fields.get(field).filter(|v| !v.is_empty()).map(|v| v.iter().sum::<f64>() / v.len() as f64)
    }

    pub fn merge(&mut self, other: Report) {
        for (field, values) in other.fields {
            self.fields.entry(field).or_default().extend(values);
        }
        self.misses.extend(other.misses);
        self.cases += other.cases;
    }

    /// Per-field figures, one line each.
    pub fn table(&self) -> String {
        let mut out = format!("{} cases\n", self.cases);
        for field in FIELDS {
            if let Some(values) = self.fields.get(field) {
                let n = values.len();
                out.push_str(&format!("{field:<18} {:.3}  ({n} cases)\n", self.score(field).unwrap_or(0.0)));
            }
        }
        out
    }
}

/// Read a case file (`{"input": ..., "expect": ...}`), naming the field at fault.
pub fn load_case(path: &Path) -> anyhow::Result<Case> {
    let text = std::fs::read_to_string(path).with_context(|| format!("cannot read `{}`", path.display()))?;
    let mut value: Value =
        serde_json::from_str(&text).with_context(|| format!("`{}` is not valid JSON", path.display()))?;
    let input = value
        .get_mut("input")
        .map(Value::take)
        .with_context(|| format!("`{}`: missing field `input`", path.display()))?;
    let input: Conversation = serde_path_to_error::deserialize(input)
        .map_err(|e| anyhow::anyhow!("`{}`: field `input.{}`: {}", path.display(), e.path(), e.inner()))?;
    let expect = match value.get_mut("expect").map(Value::take) {
        Some(Value::Object(map)) => map,
        _ => anyhow::bail!("`{}`: missing object `expect`", path.display()),
    };
    let name = path.file_stem().unwrap_or_default().to_string_lossy().into_owned();
    Ok(Case { name, input, expect })
}

/// Every `*.json` case in `dir`, sorted by name.
pub fn case_paths(dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("cannot read `{}`", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    paths.sort();
    Ok(paths)
}

/// Score every case in `dir`.
pub fn score_dir(interpreter: &Interpreter, dir: &Path) -> anyhow::Result<Report> {
    let mut report = Report::default();
    for path in case_paths(dir)? {
        let case = load_case(&path)?;
        let brief = interpreter.interpret(&case.input).with_context(|| format!("case `{}`", case.name))?;
        score_case(&case, &brief, &mut report)?;
    }
    Ok(report)
}

/// The case folders of `dir`: `dir` itself when it holds cases, else each sub-folder that does
/// (the corpus keeps one folder per language slice), named by the folder.
pub fn slices(dir: &Path) -> anyhow::Result<Vec<(String, PathBuf)>> {
    if !case_paths(dir)?.is_empty() {
        let name = dir.file_name().unwrap_or_default().to_string_lossy().into_owned();
        return Ok(vec![(name, dir.to_path_buf())]);
    }
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).with_context(|| format!("cannot read `{}`", dir.display()))? {
        let path = entry?.path();
        if path.is_dir() && !case_paths(&path)?.is_empty() {
            found.push((path.file_name().unwrap_or_default().to_string_lossy().into_owned(), path));
        }
    }
    found.sort();
    anyhow::ensure!(!found.is_empty(), "`{}` holds no cases (`*.json`), nor folders of them", dir.display());
    Ok(found)
}

/// Score one brief against one case's labels.
pub fn score_case(case: &Case, brief: &Brief, report: &mut Report) -> anyhow::Result<()> {
    report.cases += 1;
    for (key, expected) in &case.expect {
        let (field, score, found): (&'static str, f64, String) = match key.as_str() {
            "intents" => set_field("intents", expected, brief.intents.iter().map(|f| f.code.clone()))?,
            "objections" => set_field("objections", expected, brief.objections.iter().map(|f| f.code.clone()))?,
            "do_not_ask" => set_field("do_not_ask", expected, brief.do_not_ask.iter().map(|f| f.fact.clone()))?,
            "reasked" => set_field("reasked", expected, brief.reasked_facts.iter().map(|f| f.fact.clone()))?,
            "urgency" => {
                let found = brief.urgency.level.as_str();
                ("urgency", exact(expected.as_str() == Some(found)), found.to_owned())
            }
            "disposition" => {
                let found = brief.disposition.as_str();
                ("disposition", exact(expected.as_str() == Some(found)), found.to_owned())
            }
            "requested_window" => {
                let want = window_bounds(expected)
                    .with_context(|| format!("case `{}`: expect.requested_window", case.name))?;
                let got = brief.requested_window.as_ref().map(|w| (w.not_before, w.not_after));
                let found = match got {
                    Some((a, b)) => format!("{} .. {}", a.to_rfc3339(), b.to_rfc3339()),
                    None => "null".into(),
                };
                ("requested_window", exact(want == got), found)
            }
            other => anyhow::bail!("case `{}`: unknown expect key `{other}`", case.name),
        };
        report.fields.entry(field).or_default().push(score);
        if score < 1.0 {
            report.misses.push(Miss { case: case.name.clone(), field, score, expected: compact(expected), found });
        }
    }
    Ok(())
}

fn exact(equal: bool) -> f64 {
    if equal { 1.0 } else { 0.0 }
}

fn set_field(
    field: &'static str,
    expected: &Value,
    found: impl Iterator<Item = String>,
) -> anyhow::Result<(&'static str, f64, String)> {
    let want: BTreeSet<String> = serde_json::from_value(expected.clone()).with_context(|| format!("expect.{field}"))?;
    let got: BTreeSet<String> = found.collect();
    let found_text = format!("[{}]", got.iter().cloned().collect::<Vec<_>>().join(", "));
    Ok((field, f1(&want, &got), found_text))
}

/// F1 of two sets; two empty sets score 1.
pub fn f1(expected: &BTreeSet<String>, found: &BTreeSet<String>) -> f64 {
    if expected.is_empty() && found.is_empty() {
        return 1.0;
    }
    let hits = expected.intersection(found).count() as f64;
    if hits == 0.0 {
        return 0.0;
    }
    let precision = hits / found.len() as f64;
    let recall = hits / expected.len() as f64;
    2.0 * precision * recall / (precision + recall)
}

type Bounds = Option<(DateTime<FixedOffset>, DateTime<FixedOffset>)>;

/// Whether a labelled `requested_window` is `window` (as the score compares them: instants).
pub fn window_is(expected: &Value, window: &handoffd_contract::brief::TimeWindow) -> bool {
    window_bounds(expected).is_ok_and(|want| want == Some((window.not_before, window.not_after)))
}

fn window_bounds(value: &Value) -> anyhow::Result<Bounds> {
    if value.is_null() {
        return Ok(None);
    }
    let bound = |key: &str| -> anyhow::Result<DateTime<FixedOffset>> {
        let text = value.get(key).and_then(Value::as_str).with_context(|| format!("missing `{key}`"))?;
        DateTime::parse_from_rfc3339(text).with_context(|| format!("`{key}` is not RFC 3339: `{text}`"))
    };
    Ok(Some((bound("not_before")?, bound("not_after")?)))
}

fn compact(value: &Value) -> String {
    match value {
        Value::Array(items) => {
            format!("[{}]", items.iter().map(|v| v.as_str().unwrap_or("?").to_owned()).collect::<Vec<_>>().join(", "))
        }
        Value::String(s) => s.clone(),
        Value::Object(map) => format!(
            "{} .. {}",
            map.get("not_before").and_then(Value::as_str).unwrap_or("?"),
            map.get("not_after").and_then(Value::as_str).unwrap_or("?")
        ),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(items: &[&str]) -> BTreeSet<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn f1_of_sets() {
        assert_eq!(f1(&set(&[]), &set(&[])), 1.0);
        assert_eq!(f1(&set(&["a"]), &set(&[])), 0.0);
        assert_eq!(f1(&set(&["a", "b"]), &set(&["a"])), 2.0 / 3.0);
    }

    #[test]
    fn windows_compare_as_instants() {
        let a = window_bounds(
            &serde_json::json!({"not_before": "2026-06-13T09:00:00+05:30", "not_after": "2026-06-13T12:00:00+05:30"}),
        )
        .unwrap();
        let b = window_bounds(
            &serde_json::json!({"not_before": "2026-06-13T03:30:00Z", "not_after": "2026-06-13T06:30:00Z"}),
        )
        .unwrap();
        assert_eq!(a, b);
        assert_eq!(window_bounds(&Value::Null).unwrap(), None);
    }
}
