//! Zoho's search criteria: `(Field:operator:value)`, groups joined by `and` or `or` in parentheses, at most ten
//! conditions. In a value `\(`, `\)`, `\,` and `\\` stand for themselves; an unescaped `)` ends the condition.

use serde_json::Value;

use super::Record;

const MAX_CONDITIONS: usize = 10;

#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Criteria {
    Condition { field: String, operator: String, value: String },
    All(Vec<Criteria>),
    Any(Vec<Criteria>),
}

impl Criteria {
    pub(super) fn parse(text: &str) -> Result<Self, String> {
        let chars: Vec<char> = text.trim().chars().collect();
        let mut at = 0;
        let criteria = group(&chars, &mut at)?;
        if at != chars.len() {
            return Err(format!("unexpected text after position {at}"));
        }
        if criteria.conditions() > MAX_CONDITIONS {
            return Err(format!("more than {MAX_CONDITIONS} conditions"));
        }
        Ok(criteria)
    }

    fn conditions(&self) -> usize {
        match self {
            Self::Condition { .. } => 1,
            Self::All(parts) | Self::Any(parts) => parts.iter().map(Self::conditions).sum(),
        }
    }

    pub(super) fn matches(&self, record: &Record) -> bool {
        match self {
            Self::All(parts) => parts.iter().all(|p| p.matches(record)),
            Self::Any(parts) => parts.iter().any(|p| p.matches(record)),
            Self::Condition { field, operator, value } => {
                let held = match record.get(field) {
                    Some(Value::String(text)) => text.clone(),
                    Some(Value::Object(lookup)) => {
                        lookup.get("id").and_then(Value::as_str).unwrap_or_default().to_owned()
                    }
                    Some(Value::Number(number)) => number.to_string(),
                    _ => return false,
                };
                match operator.as_str() {
                    "equals" => held.eq_ignore_ascii_case(value),
                    "starts_with" => held.to_lowercase().starts_with(&value.to_lowercase()),
                    "in" => split_escaped_commas(value).iter().any(|v| held.eq_ignore_ascii_case(v)),
                    _ => false,
                }
            }
        }
    }
}

fn group(chars: &[char], at: &mut usize) -> Result<Criteria, String> {
    expect(chars, at, '(')?;
    if chars.get(*at) != Some(&'(') {
        let condition = condition(chars, at)?;
        expect(chars, at, ')')?;
        return Ok(condition);
    }
    let mut parts = vec![group(chars, at)?];
    let mut joiner: Option<&str> = None;
    while chars.get(*at) != Some(&')') {
        let word = if starts_with(chars, *at, "and") {
            "and"
        } else if starts_with(chars, *at, "or") {
            "or"
        } else {
            return Err(format!("expected `and`, `or` or `)` at position {at}"));
        };
        if joiner.is_some_and(|j| j != word) {
            return Err("`and` and `or` mixed in one group: add parentheses".to_owned());
        }
        joiner = Some(word);
        *at += word.len();
        parts.push(group(chars, at)?);
    }
    expect(chars, at, ')')?;
    Ok(match joiner {
        Some("and") => Criteria::All(parts),
        _ => Criteria::Any(parts),
    })
}

fn condition(chars: &[char], at: &mut usize) -> Result<Criteria, String> {
    let mut field = String::new();
    while let Some(&c) = chars.get(*at).filter(|c| **c != ':') {
        field.push(c);
        *at += 1;
    }
    expect(chars, at, ':')?;
    let mut operator = String::new();
    while let Some(&c) = chars.get(*at).filter(|c| **c != ':') {
        operator.push(c);
        *at += 1;
    }
    expect(chars, at, ':')?;
    let mut value = String::new();
    loop {
        match chars.get(*at) {
            None => return Err("a condition is not closed".to_owned()),
            Some(')') => break,
            Some('(') => return Err(format!("an unescaped `(` in the value at position {at}")),
            Some('\\') => {
                let escaped = chars.get(*at + 1).ok_or("a value ends with `\\`")?;
                // `\,` stays escaped for `in`, which splits on unescaped commas.
                if *escaped == ',' {
                    value.push('\\');
                }
                value.push(*escaped);
                *at += 2;
            }
            Some(&c) => {
                value.push(c);
                *at += 1;
            }
        }
    }
    if field.is_empty() || operator.is_empty() {
        return Err("a condition needs a field and an operator".to_owned());
    }
    if operator != "in" {
        value = value.replace("\\,", ",");
    }
    Ok(Criteria::Condition { field, operator, value })
}

fn split_escaped_commas(value: &str) -> Vec<String> {
    let mut parts = vec![String::new()];
    let mut chars = value.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' if chars.peek() == Some(&',') => {
                chars.next();
                if let Some(part) = parts.last_mut() {
                    part.push(',');
                }
            }
            ',' => parts.push(String::new()),
            c => {
                if let Some(part) = parts.last_mut() {
                    part.push(c);
                }
            }
        }
    }
    parts
}

fn expect(chars: &[char], at: &mut usize, wanted: char) -> Result<(), String> {
    if chars.get(*at) == Some(&wanted) {
        *at += 1;
        Ok(())
    } else {
        Err(format!("expected `{wanted}` at position {at}"))
    }
}

fn starts_with(chars: &[char], at: usize, word: &str) -> bool {
    word.chars().enumerate().all(|(i, c)| chars.get(at + i).is_some_and(|h| h.eq_ignore_ascii_case(&c)))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn parses_groups_and_escapes() {
        let criteria = Criteria::parse(r"((Phone:equals:+91 \(22\) 5)or(Email:equals:a@b.com))").unwrap();
        let record = json!({"Phone": "+91 (22) 5"});
        assert!(criteria.matches(record.as_object().unwrap()));
        assert!(Criteria::parse("(Phone:equals:+91 (22))").is_err(), "an unescaped parenthesis is refused");
        assert!(Criteria::parse("((A:equals:1)and(B:equals:2)or(C:equals:3))").is_err());
        let eleven = format!("({})", (0..11).map(|n| format!("(A:equals:{n})")).collect::<Vec<_>>().join("or"));
        assert!(Criteria::parse(&eleven).is_err());
    }
}
