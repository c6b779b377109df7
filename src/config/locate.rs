//! Where each key of the configuration is written: a map from key path (`connectors[1].base_url`,
//! the same spelling `serde_path_to_error` uses) to its line and column, built from the YAML event
//! stream. It also lists every scalar with its byte range, which interpolation rewrites.

use std::collections::HashMap;

use serde_saphyr::granit_parser::{Event, Marker, Parser, ScalarStyle};

use super::report::{Position, Problem};

/// A scalar as written: its value after YAML unescaping and where its text lies.
#[derive(Debug, Clone)]
pub struct ScalarSite {
    pub value: String,
    pub style: ScalarStyle,
    /// Byte range of the scalar's text (quotes included; block scalars: the content only).
    pub start: usize,
    pub end: usize,
    pub at: Position,
    /// The key path this scalar is the value (or the key) of.
    pub path: String,
}

impl ScalarSite {
    /// A plain scalar YAML reads as null: an empty value, `~` or `null`.
    pub fn is_null(&self) -> bool {
        self.style == ScalarStyle::Plain && matches!(self.value.as_str(), "" | "~" | "null" | "Null" | "NULL")
    }
}

/// One key path: where it is written and, when its value is a scalar, that value.
#[derive(Debug, Clone)]
pub struct Located {
    pub at: Position,
    pub scalar: Option<ScalarSite>,
}

/// Key paths of one document, and every scalar in source order.
#[derive(Debug, Default)]
pub struct SourceMap {
    paths: HashMap<String, Located>,
    pub scalars: Vec<ScalarSite>,
}

impl SourceMap {
    /// Walk the YAML events of `text`. Fails with the first syntax error, positioned.
    pub fn scan(text: &str) -> Result<Self, Problem> {
        let mut map = Self::default();
        let mut stack: Vec<Frame> = Vec::new();
        for event in Parser::new_from_str(text) {
            let (event, span) = event
                .map_err(|e| Problem::new(Some(position(e.marker())), "", format!("YAML syntax: {}", e.kind())))?;
            let at = position(&span.start);
            match event {
                Event::Scalar(value, style, ..) => {
                    let (path, is_key) = map.node(&mut stack, at, Some(&value));
                    let site = ScalarSite {
                        value: value.into_owned(),
                        style,
                        start: span.start.byte_offset().unwrap_or(0),
                        end: span.end.byte_offset().unwrap_or(0),
                        at,
                        path: path.clone(),
                    };
                    if !is_key && let Some(entry) = map.paths.get_mut(&path) {
                        entry.scalar = Some(site.clone());
                    }
                    map.scalars.push(site);
                    node_done(&mut stack);
                }
                Event::Alias(_) => {
                    map.node(&mut stack, at, None);
                    node_done(&mut stack);
                }
                Event::MappingStart(..) => {
                    let (path, _) = map.node(&mut stack, at, None);
                    stack.push(Frame::Mapping { path, key: None, expecting_key: true });
                }
                Event::SequenceStart(..) => {
                    let (path, _) = map.node(&mut stack, at, None);
                    stack.push(Frame::Sequence { path, next: 0 });
                }
                Event::MappingEnd | Event::SequenceEnd => {
                    stack.pop();
                    node_done(&mut stack);
                }
                _ => {}
            }
        }
        Ok(map)
    }

    /// Where `path` is written, if it is.
    pub fn get(&self, path: &str) -> Option<&Located> {
        self.paths.get(path)
    }

    /// Where `path` is written, or its nearest written parent (a defaulted key has no line of
    /// its own; its section does).
    pub fn nearest(&self, path: &str) -> Option<Position> {
        let mut path = path;
        loop {
            if let Some(found) = self.paths.get(path) {
                return Some(found.at);
            }
            if path.is_empty() {
                return None;
            }
            path = parent(path);
        }
    }

    /// The scalar written at `path`, if it is one.
    pub fn scalar(&self, path: &str) -> Option<&ScalarSite> {
        self.paths.get(path).and_then(|l| l.scalar.as_ref())
    }

    /// Every written path, in no particular order.
    pub fn paths(&self) -> impl Iterator<Item = (&str, &Located)> {
        self.paths.iter().map(|(k, v)| (k.as_str(), v))
    }

    /// Record a node starting at `at`; returns its path and whether it is a mapping key. A
    /// mapping entry is recorded at its key's position, the line an admin looks for.
    fn node(&mut self, stack: &mut [Frame], at: Position, scalar: Option<&str>) -> (String, bool) {
        let (path, is_key) = match stack.last_mut() {
            None => (String::new(), false),
            Some(Frame::Mapping { path, key, expecting_key: true }) => {
                // Complex keys (a mapping used as a key) have no name of their own.
                let name = scalar.unwrap_or("?").to_owned();
                let full = join_key(path, &name);
                *key = Some(name);
                (full, true)
            }
            Some(Frame::Mapping { path, key, expecting_key: false }) => {
                (join_key(path, key.as_deref().unwrap_or("?")), false)
            }
            Some(Frame::Sequence { path, next }) => (format!("{path}[{next}]"), false),
        };
        self.paths.entry(path.clone()).or_insert(Located { at, scalar: None });
        (path, is_key)
    }
}

enum Frame {
    Mapping { path: String, key: Option<String>, expecting_key: bool },
    Sequence { path: String, next: usize },
}

/// A child of the innermost collection is complete: a mapping alternates key and value, a
/// sequence moves to its next item.
fn node_done(stack: &mut [Frame]) {
    match stack.last_mut() {
        Some(Frame::Mapping { expecting_key, .. }) => *expecting_key = !*expecting_key,
        Some(Frame::Sequence { next, .. }) => *next += 1,
        None => {}
    }
}

pub fn join_key(parent: &str, key: &str) -> String {
    if parent.is_empty() { key.to_owned() } else { format!("{parent}.{key}") }
}

/// `a.b[2]` -> `a.b`, `a.b` -> `a`, `a` -> ``.
pub fn parent(path: &str) -> &str {
    match path.rfind(['.', '[']) {
        Some(i) => &path[..i],
        None => "",
    }
}

fn position(marker: &Marker) -> Position {
    Position { line: marker.line(), column: marker.col() + 1 }
}

/// Line and column of a byte offset in `text`, for positions inside a scalar.
pub fn position_of(text: &str, byte: usize) -> Position {
    let before = &text[..byte.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    Position { line, column: before[line_start..].chars().count() + 1 }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_and_items_have_their_lines() {
        let map = SourceMap::scan("a:\n  b: 1\nlist:\n  - x: y\n  - [p, q]\n").unwrap();
        assert_eq!(map.get("a.b").unwrap().at, Position { line: 2, column: 3 });
        assert_eq!(map.get("list[1]").unwrap().at.line, 5);
        assert_eq!(map.get("list[0].x").unwrap().at, Position { line: 4, column: 5 });
        assert_eq!(map.scalar("list[1][1]").unwrap().value, "q");
        assert_eq!(map.nearest("list[0].missing.deeper").unwrap().line, 4);
    }

    #[test]
    fn syntax_error_is_positioned() {
        let problem = SourceMap::scan("a: [1, 2\nb: 3\n").unwrap_err();
        assert!(problem.at.is_some(), "{problem:?}");
    }
}
