//! SOQL built from values we did not write: every string goes through [`quote`], every id through [`record_id`].

/// A SOQL string literal: quoted, with the characters SOQL escapes (`\` `'` `"` and the control escapes).
pub fn quote(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('\'');
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\'' => out.push_str("\\'"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c => out.push(c),
        }
    }
    out.push('\'');
    out
}

/// `Field IN ('a','b')`, or `None` for no values.
pub fn in_list<'v>(field: &str, values: impl IntoIterator<Item = &'v str>) -> Option<String> {
    let quoted: Vec<String> = values.into_iter().map(quote).collect();
    (!quoted.is_empty()).then(|| format!("{field} IN ({})", quoted.join(",")))
}

/// A record id as Salesforce writes them: 15 or 18 letters and digits. Anything else never reaches a query.
pub fn record_id(id: &str) -> Option<&str> {
    (matches!(id.len(), 15 | 18) && id.chars().all(|c| c.is_ascii_alphanumeric())).then_some(id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_and_backslashes_cannot_end_the_literal() {
        assert_eq!(quote("o'brien@example.com"), r"'o\'brien@example.com'");
        assert_eq!(quote(r"a\' OR Name != '"), r"'a\\\' OR Name != \''");
        assert_eq!(quote("line\nbreak\t\"x\""), r#"'line\nbreak\t\"x\"'"#);
    }

    #[test]
    fn lists_and_ids() {
        assert_eq!(in_list("Email", ["a@x.com", "b@x.com"]).as_deref(), Some("Email IN ('a@x.com','b@x.com')"));
        assert_eq!(in_list("Email", []), None);
        assert_eq!(record_id("003000000000001AAA"), Some("003000000000001AAA"));
        assert_eq!(record_id("003' OR Id != '"), None);
    }
}
