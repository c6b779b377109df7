//! The SOQL the mock understands: `SELECT fields FROM Object [WHERE condition] [ORDER BY field [ASC|DESC], ...]
//! [LIMIT n]`, with `AND`, `OR`, `NOT`, parentheses, `IN (...)`, `NOT IN (...)`, `=`, `!=`, `<`, `<=`, `>`, `>=`,
//! string literals with SOQL's escapes, and bare literals (`true`, `false`, `null`, numbers, datetimes). Text
//! compares without case, as SOQL does; datetimes compare as instants.

use std::cmp::Ordering;

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

/// A parsed query.
#[derive(Debug, Clone, PartialEq)]
pub struct Query {
    pub fields: Vec<String>,
    pub object: String,
    pub condition: Option<Condition>,
    pub order_by: Vec<(String, bool)>,
    pub limit: Option<usize>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Condition {
    And(Box<Condition>, Box<Condition>),
    Or(Box<Condition>, Box<Condition>),
    Not(Box<Condition>),
    Compare { field: String, op: Op, value: Literal },
    In { field: String, values: Vec<Literal>, negated: bool },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Literal {
    Text(String),
    Bool(bool),
    Null,
    /// A number or a datetime, as written.
    Bare(String),
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Word(String),
    Text(String),
    Punct(&'static str),
}

/// Why a query is malformed: Salesforce's `MALFORMED_QUERY` message.
pub type SoqlError = String;

pub fn parse(soql: &str) -> Result<Query, SoqlError> {
    let tokens = tokenize(soql)?;
    let mut parser = Parser { tokens, at: 0 };
    parser.keyword("SELECT")?;
    let mut fields = vec![parser.word("a field")?];
    while parser.punct(",") {
        fields.push(parser.word("a field")?);
    }
    parser.keyword("FROM")?;
    let object = parser.word("an object")?;
    let condition = if parser.try_keyword("WHERE") { Some(parser.or()?) } else { None };
    let mut order_by = Vec::new();
    if parser.try_keyword("ORDER") {
        parser.keyword("BY")?;
        loop {
            let field = parser.word("a field")?;
            let descending = if parser.try_keyword("DESC") {
                true
            } else {
                parser.try_keyword("ASC");
                false
            };
            order_by.push((field, descending));
            if !parser.punct(",") {
                break;
            }
        }
    }
    let limit = if parser.try_keyword("LIMIT") {
        let n = parser.word("a number")?;
        Some(n.parse().map_err(|_| format!("LIMIT takes a number, not `{n}`"))?)
    } else {
        None
    };
    if let Some(token) = parser.tokens.get(parser.at) {
        return Err(format!("unexpected token: {}", show(token)));
    }
    Ok(Query { fields, object, condition, order_by, limit })
}

fn show(token: &Token) -> String {
    match token {
        Token::Word(w) => w.clone(),
        Token::Text(t) => format!("'{t}'"),
        Token::Punct(p) => (*p).to_owned(),
    }
}

fn tokenize(soql: &str) -> Result<Vec<Token>, SoqlError> {
    let mut tokens = Vec::new();
    let mut chars = soql.chars().peekable();
    while let Some(&c) = chars.peek() {
        if c.is_whitespace() {
            chars.next();
        } else if c == '\'' {
            chars.next();
            let mut text = String::new();
            loop {
                match chars.next() {
                    None => return Err("a string literal is not closed".to_owned()),
                    Some('\'') => break,
                    Some('\\') => match chars.next() {
                        Some('n') => text.push('\n'),
                        Some('r') => text.push('\r'),
                        Some('t') => text.push('\t'),
                        Some('b') => text.push('\u{8}'),
                        Some('f') => text.push('\u{c}'),
                        Some(e @ ('\\' | '\'' | '"' | '_' | '%')) => {
                            if matches!(e, '_' | '%') {
                                text.push('\\');
                            }
                            text.push(e);
                        }
                        other => return Err(format!("invalid escape sequence \\{}", other.unwrap_or(' '))),
                    },
                    Some(other) => text.push(other),
                }
            }
            tokens.push(Token::Text(text));
        } else if let Some(punct) = ["!=", "<=", ">=", "(", ")", ",", "=", "<", ">"].iter().find(|p| {
            let mut ahead = chars.clone();
            p.chars().all(|pc| ahead.next() == Some(pc))
        }) {
            for _ in 0..punct.len() {
                chars.next();
            }
            tokens.push(Token::Punct(punct));
        } else if c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | ':' | '+' | '-') {
            let mut word = String::new();
            while let Some(&c) = chars.peek() {
                if c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | ':' | '+' | '-') {
                    word.push(c);
                    chars.next();
                } else {
                    break;
                }
            }
            tokens.push(Token::Word(word));
        } else {
            return Err(format!("unexpected character `{c}`"));
        }
    }
    Ok(tokens)
}

struct Parser {
    tokens: Vec<Token>,
    at: usize,
}

impl Parser {
    fn peek_word(&self) -> Option<&str> {
        match self.tokens.get(self.at) {
            Some(Token::Word(w)) => Some(w),
            _ => None,
        }
    }

    fn try_keyword(&mut self, keyword: &str) -> bool {
        let found = self.peek_word().is_some_and(|w| w.eq_ignore_ascii_case(keyword));
        if found {
            self.at += 1;
        }
        found
    }

    fn keyword(&mut self, keyword: &str) -> Result<(), SoqlError> {
        if self.try_keyword(keyword) { Ok(()) } else { Err(format!("expected {keyword} at {}", self.here())) }
    }

    fn punct(&mut self, punct: &str) -> bool {
        let found = matches!(self.tokens.get(self.at), Some(Token::Punct(p)) if *p == punct);
        if found {
            self.at += 1;
        }
        found
    }

    fn here(&self) -> String {
        self.tokens.get(self.at).map_or("the end".to_owned(), show)
    }

    fn word(&mut self, what: &str) -> Result<String, SoqlError> {
        match self.tokens.get(self.at) {
            Some(Token::Word(w)) => {
                self.at += 1;
                Ok(w.clone())
            }
            _ => Err(format!("expected {what} at {}", self.here())),
        }
    }

    fn or(&mut self) -> Result<Condition, SoqlError> {
        let mut left = self.and()?;
        while self.try_keyword("OR") {
            left = Condition::Or(Box::new(left), Box::new(self.and()?));
        }
        Ok(left)
    }

    fn and(&mut self) -> Result<Condition, SoqlError> {
        let mut left = self.unary()?;
        while self.try_keyword("AND") {
            left = Condition::And(Box::new(left), Box::new(self.unary()?));
        }
        Ok(left)
    }

    fn unary(&mut self) -> Result<Condition, SoqlError> {
        if self.try_keyword("NOT") {
            return Ok(Condition::Not(Box::new(self.unary()?)));
        }
        if self.punct("(") {
            let inner = self.or()?;
            if !self.punct(")") {
                return Err(format!("expected ) at {}", self.here()));
            }
            return Ok(inner);
        }
        let field = self.word("a field")?;
        let negated = self.try_keyword("NOT");
        if self.try_keyword("IN") {
            if !self.punct("(") {
                return Err(format!("expected ( at {}", self.here()));
            }
            let mut values = vec![self.literal()?];
            while self.punct(",") {
                values.push(self.literal()?);
            }
            if !self.punct(")") {
                return Err(format!("expected ) at {}", self.here()));
            }
            return Ok(Condition::In { field, values, negated });
        }
        if negated {
            return Err(format!("expected IN at {}", self.here()));
        }
        let op = [("=", Op::Eq), ("!=", Op::Ne), ("<=", Op::Le), (">=", Op::Ge), ("<", Op::Lt), (">", Op::Gt)]
            .into_iter()
            .find(|(p, _)| self.punct(p))
            .map(|(_, op)| op)
            .ok_or_else(|| format!("expected an operator at {}", self.here()))?;
        Ok(Condition::Compare { field, op, value: self.literal()? })
    }

    fn literal(&mut self) -> Result<Literal, SoqlError> {
        let token = self.tokens.get(self.at).cloned();
        self.at += 1;
        match token {
            Some(Token::Text(text)) => Ok(Literal::Text(text)),
            Some(Token::Word(w)) if w.eq_ignore_ascii_case("true") => Ok(Literal::Bool(true)),
            Some(Token::Word(w)) if w.eq_ignore_ascii_case("false") => Ok(Literal::Bool(false)),
            Some(Token::Word(w)) if w.eq_ignore_ascii_case("null") => Ok(Literal::Null),
            Some(Token::Word(w)) if w.starts_with(|c: char| c.is_ascii_digit() || c == '-') => Ok(Literal::Bare(w)),
            Some(other) => Err(format!("expected a value at {}", show(&other))),
            None => Err("expected a value at the end".to_owned()),
        }
    }
}

impl Condition {
    /// Every field the condition names.
    pub fn fields(&self) -> Vec<&str> {
        match self {
            Self::And(a, b) | Self::Or(a, b) => [a.fields(), b.fields()].concat(),
            Self::Not(a) => a.fields(),
            Self::Compare { field, .. } | Self::In { field, .. } => vec![field],
        }
    }

    pub fn matches(&self, record: &Map<String, Value>) -> bool {
        match self {
            Self::And(a, b) => a.matches(record) && b.matches(record),
            Self::Or(a, b) => a.matches(record) || b.matches(record),
            Self::Not(a) => !a.matches(record),
            Self::Compare { field, op, value } => {
                let ordering = compare(field_value(record, field), value);
                match op {
                    Op::Eq => ordering == Some(Ordering::Equal),
                    Op::Ne => ordering != Some(Ordering::Equal),
                    Op::Lt => ordering == Some(Ordering::Less),
                    Op::Le => matches!(ordering, Some(Ordering::Less | Ordering::Equal)),
                    Op::Gt => ordering == Some(Ordering::Greater),
                    Op::Ge => matches!(ordering, Some(Ordering::Greater | Ordering::Equal)),
                }
            }
            Self::In { field, values, negated } => {
                let value = field_value(record, field);
                values.iter().any(|v| compare(value, v) == Some(Ordering::Equal)) != *negated
            }
        }
    }
}

/// A field's value, its name matched without case.
pub fn field_value<'r>(record: &'r Map<String, Value>, field: &str) -> &'r Value {
    record.iter().find(|(name, _)| name.eq_ignore_ascii_case(field)).map_or(&Value::Null, |(_, value)| value)
}

/// How a stored value compares with a literal; `None` when they cannot be compared (null against a value).
fn compare(value: &Value, literal: &Literal) -> Option<Ordering> {
    match (value, literal) {
        (Value::Null, Literal::Null) => Some(Ordering::Equal),
        (Value::Null, _) | (_, Literal::Null) => None,
        (Value::Bool(b), Literal::Bool(l)) => Some(b.cmp(l)),
        (Value::String(s), Literal::Text(t) | Literal::Bare(t)) => Some(compare_text(s, t)),
        (Value::Number(n), Literal::Bare(t)) => n.as_f64()?.partial_cmp(&t.parse::<f64>().ok()?),
        _ => None,
    }
}

/// Text without case; datetimes as instants.
pub fn compare_text(a: &str, b: &str) -> Ordering {
    match (parse_datetime(a), parse_datetime(b)) {
        (Some(a), Some(b)) => a.cmp(&b),
        _ => a.to_lowercase().cmp(&b.to_lowercase()),
    }
}

/// `2026-12-05T10:00:00.000+0000` (Salesforce's form) or RFC 3339.
pub fn parse_datetime(text: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%.f%z")
        .or_else(|_| DateTime::parse_from_rfc3339(text))
        .ok()
        .map(|at| at.with_timezone(&Utc))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn record(value: Value) -> Map<String, Value> {
        value.as_object().cloned().unwrap()
    }

    #[test]
    fn escaped_literals_stay_literals() {
        let query = parse(r"SELECT Id FROM Contact WHERE Email IN ('o\'brien@example.com', 'a\\b') OR Phone = 'x'")
            .expect("it parses");
        let Some(Condition::Or(left, _)) = &query.condition else { panic!("{query:?}") };
        assert_eq!(
            **left,
            Condition::In {
                field: "Email".into(),
                values: vec![Literal::Text("o'brien@example.com".into()), Literal::Text(r"a\b".into())],
                negated: false,
            }
        );
        assert!(parse("SELECT Id FROM Contact WHERE Email = 'a' OR").is_err());
        assert!(parse("SELECT Id FROM Contact WHERE Email = 'unclosed").is_err());
        assert!(parse("SELECT Id FROM Contact WHERE Email = 'a' extra").is_err());
    }

    #[test]
    fn conditions_match_as_soql_does() {
        let contact = record(
            json!({"Id": "003A", "Email": "Ana@Example.com", "LastModifiedDate": "2026-12-05T10:00:00.000+0000", "IsConverted": false}),
        );
        let matches = |soql: &str| parse(soql).unwrap().condition.unwrap().matches(&contact);
        assert!(matches("SELECT Id FROM Contact WHERE email IN ('ana@example.com')"));
        assert!(matches("SELECT Id FROM Contact WHERE (Email = 'x' OR Id = '003A') AND IsConverted = false"));
        assert!(matches("SELECT Id FROM Contact WHERE LastModifiedDate > 2026-12-05T09:59:59Z"));
        assert!(!matches("SELECT Id FROM Contact WHERE LastModifiedDate > 2026-12-05T10:00:00.000Z"));
        assert!(matches("SELECT Id FROM Contact WHERE Phone = null AND NOT Id IN ('003B')"));
        assert!(!matches("SELECT Id FROM Contact WHERE Phone IN ('+1')"));
    }
}
