//! `${VAR}`, `${VAR:-default}`, `${VAR:?message}`, `$$` and `${cred:NAME}` (systemd credentials)
//! in the configuration's scalar values.
//!
//! Expansion works on each scalar's value as YAML read it, never on raw text: a reference in a
//! comment is ignored, and a value containing `: `, `#`, quotes or newlines cannot change the
//! document's shape. Each rewritten scalar is written back as a double-quoted YAML string at the
//! same place, padded with the line breaks it replaced, so every later line keeps its number.
//! An unquoted scalar that expands to nothing becomes null, as if the value had been left out.

use std::path::Path;

use serde_saphyr::granit_parser::ScalarStyle;

use super::locate::{ScalarSite, SourceMap, position_of};
use super::report::Problem;

/// Looks up an environment variable; tests pass their own map instead of the process's.
pub type EnvLookup<'a> = &'a dyn Fn(&str) -> Option<String>;

/// Rewrite every scalar of `text` that holds a reference. Every error in the file is returned,
/// each at the line and column of its `${`.
pub fn interpolate(text: &str, map: &SourceMap, env: EnvLookup<'_>) -> Result<String, Vec<Problem>> {
    let mut edits: Vec<(usize, usize, String)> = Vec::new();
    let mut problems = Vec::new();
    for site in map.scalars.iter().filter(|s| s.value.contains('$')) {
        let mut errors = Vec::new();
        let expanded = expand(&site.value, env, &mut errors);
        for error in errors {
            problems.push(Problem::new(Some(position_in(text, site, &error.token)), &site.path, error.message));
        }
        if expanded != site.value {
            edits.push(replacement(text, site, &expanded));
        }
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    let mut out = text.to_owned();
    // Back to front, so earlier byte offsets stay valid.
    edits.sort_by_key(|(start, ..)| std::cmp::Reverse(*start));
    for (start, end, with) in edits {
        out.replace_range(start..end, &with);
    }
    Ok(out)
}

struct ExpandError {
    /// The reference as written, e.g. `${TOKEN:?set TOKEN}`, to find its column.
    token: String,
    message: String,
}

/// Expand one scalar value; errors are collected, and the text goes on being expanded.
fn expand(value: &str, env: EnvLookup<'_>, errors: &mut Vec<ExpandError>) -> String {
    let mut out = String::with_capacity(value.len());
    let mut rest = value;
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        if let Some(tail) = after.strip_prefix('$') {
            out.push('$');
            rest = tail;
        } else if let Some(body) = after.strip_prefix('{') {
            let Some(close) = body.find('}') else {
                errors.push(ExpandError {
                    token: rest[i..].to_owned(),
                    message: "`${` is not closed by `}` (write `$$` for a literal `$`)".to_owned(),
                });
                return out;
            };
            let token = &rest[i..i + 2 + close + 1];
            match resolve(&body[..close], env) {
                Ok(text) => out.push_str(&text),
                Err(message) => errors.push(ExpandError { token: token.to_owned(), message }),
            }
            rest = &body[close + 1..];
        } else {
            // A lone `$` (a password like `pa$s`) is kept as written.
            out.push('$');
            rest = after;
        }
    }
    out.push_str(rest);
    out
}

/// The text one `${...}` stands for. Error messages name variables, never values.
fn resolve(inner: &str, env: EnvLookup<'_>) -> Result<String, String> {
    if let Some(name) = inner.strip_prefix("cred:") {
        return read_credential(name, env);
    }
    let name_len = inner
        .char_indices()
        .find(|&(i, c)| !(c == '_' || c.is_ascii_alphabetic() || (i > 0 && c.is_ascii_digit())))
        .map_or(inner.len(), |(i, _)| i);
    let (name, op) = inner.split_at(name_len);
    if name.is_empty() {
        return Err(format!(
            "`${{{inner}}}` is not a reference: use `${{NAME}}`, `${{NAME:-default}}`, `${{NAME:?message}}` or `${{cred:NAME}}`"
        ));
    }
    let value = env(name);
    if op.is_empty() {
        return value.ok_or_else(|| {
            format!("environment variable `{name}` is not set (write `${{{name}:-}}` to allow it to be empty)")
        });
    }
    let set = value.filter(|v| !v.is_empty());
    if let Some(default) = op.strip_prefix(":-") {
        return Ok(set.unwrap_or_else(|| default.to_owned()));
    }
    if let Some(message) = op.strip_prefix(":?") {
        return set.ok_or_else(|| {
            if message.is_empty() {
                format!("environment variable `{name}` is not set or empty")
            } else {
                format!("{message} (environment variable `{name}` is not set or empty)")
            }
        });
    }
    Err(format!("`${{{inner}}}`: unknown operator `{op}` after `{name}` (expected `:-` or `:?`)"))
}

/// `${cred:NAME}`: the file systemd's `LoadCredential=` put in `$CREDENTIALS_DIRECTORY`.
fn read_credential(name: &str, env: EnvLookup<'_>) -> Result<String, String> {
    if name.is_empty() || name == "." || name == ".." || name.contains(['/', '\\']) {
        return Err(format!("`{name}` is not a credential name (a plain file name is expected)"));
    }
    let dir = env("CREDENTIALS_DIRECTORY").filter(|d| !d.is_empty()).ok_or_else(|| {
        format!(
            "credential `{name}` needs CREDENTIALS_DIRECTORY, which is not set (systemd sets it with LoadCredential=)"
        )
    })?;
    let file = Path::new(&dir).join(name);
    let text = std::fs::read_to_string(&file)
        .map_err(|e| format!("cannot read credential `{name}` from `{}`: {e}", file.display()))?;
    Ok(text.trim_end_matches(['\n', '\r']).to_owned())
}

/// Where `token` is written inside the scalar, or the scalar's start when escapes hide it.
fn position_in(text: &str, site: &ScalarSite, token: &str) -> super::report::Position {
    text.get(site.start..site.end)
        .and_then(|raw| raw.find(token))
        .map_or(site.at, |offset| position_of(text, site.start + offset))
}

/// The byte range to replace and its new text.
fn replacement(text: &str, site: &ScalarSite, value: &str) -> (usize, usize, String) {
    let start = match site.style {
        // A block scalar's span is its content; its `|` or `>` header goes too.
        ScalarStyle::Literal | ScalarStyle::Folded => block_header(text, site.start).unwrap_or(site.start),
        _ => site.start,
    };
    let mut end = site.end;
    // A block scalar's span runs on to the next node, over that node's indentation: keep it.
    if let Some(last_break) = text[start..end].rfind('\n')
        && text[start + last_break + 1..end].trim().is_empty()
    {
        end = start + last_break + 1;
    }
    let mut with =
        if value.is_empty() && site.style == ScalarStyle::Plain { "~".to_owned() } else { double_quoted(value) };
    // The replaced text's line breaks come back as blank lines: every later line keeps its number.
    with.push_str(&"\n".repeat(text[start..end].matches('\n').count()));
    (start, end, with)
}

/// Start of the `|`/`>` header (with its chomping and indentation indicators) of the block
/// scalar whose content starts at `content`: the last non-blank line before it.
fn block_header(text: &str, content: usize) -> Option<usize> {
    let line_start = text[..content].rfind('\n').map_or(0, |i| i + 1);
    let mut end = line_start;
    while end > 0 {
        let prev_start = text[..end - 1].rfind('\n').map_or(0, |i| i + 1);
        let line = &text[prev_start..end - 1];
        if !line.trim().is_empty() {
            return header_in_line(line).map(|i| prev_start + i);
        }
        end = prev_start;
    }
    None
}

fn header_in_line(line: &str) -> Option<usize> {
    line.char_indices().filter(|&(_, c)| c == '|' || c == '>').map(|(i, _)| i).find(|&i| {
        let tail = line[i + 1..].trim_start_matches(|c: char| c == '-' || c == '+' || c.is_ascii_digit());
        let tail = tail.trim_start();
        tail.is_empty() || tail.starts_with('#')
    })
}

/// A YAML double-quoted scalar holding exactly `value`.
fn double_quoted(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('"');
    for c in value.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(name: &str) -> Option<String> {
        match name {
            "SET" => Some("value".to_owned()),
            "EMPTY" => Some(String::new()),
            "NASTY" => Some("a: b # \"c\" \\ 'd'\n- e".to_owned()),
            _ => None,
        }
    }

    fn run(value: &str) -> (String, Vec<String>) {
        let mut errors = Vec::new();
        let out = expand(value, &env, &mut errors);
        (out, errors.into_iter().map(|e| e.message).collect())
    }

    #[test]
    fn forms() {
        assert_eq!(run("x${SET}y").0, "xvaluey");
        assert_eq!(run("${EMPTY:-d}|${UNSET:-d}|${SET:-d}").0, "d|d|value");
        assert_eq!(run("$${SET} $$ a$b").0, "${SET} $ a$b");
        assert_eq!(run("${EMPTY}").0, "");
        let (_, errors) = run("${UNSET:?set UNSET to the token} ${UNSET} ${1X} ${SET");
        assert_eq!(errors.len(), 4, "{errors:?}");
        assert!(errors[0].starts_with("set UNSET to the token"), "{errors:?}");
    }

    #[test]
    fn rewritten_scalar_keeps_yaml_shape_and_lines() {
        let text = "a: ${NASTY}  # ${NOT_EXPANDED}\nb: |\n  x ${SET}\n  y\nc: ${EMPTY}\nd: \"${EMPTY}\"\ne: 1\n";
        let map = SourceMap::scan(text).unwrap();
        let out = interpolate(text, &map, &env).unwrap();
        let again = SourceMap::scan(&out).unwrap();
        assert_eq!(again.scalar("a").unwrap().value, "a: b # \"c\" \\ 'd'\n- e");
        assert_eq!(again.scalar("b").unwrap().value, "x value\ny\n");
        assert!(again.scalar("c").unwrap().is_null());
        assert_eq!(again.scalar("d").unwrap().value, "");
        assert_eq!(again.get("e").unwrap().at.line, 7, "{out}");
    }
}
