//! The Query API, `POST /crm/v8/coql` with `{"select_query": "select ... from Module where ... limit ..."}`:
//! `in` (at most 100 values), `=`, `is null` / `is not null`, criteria joined by `and` / `or` at most two to a
//! group (`((A or B) or C)`, as Zoho requires), quotes doubled inside values, `limit count` or
//! `limit offset, count` (at most 2000). No records: 204.

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::{Record, Zoho, error, text};

const MAX_IN_VALUES: usize = 100;
const MAX_LIMIT: usize = 2000;

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Word(String),
    Text(String),
    Number(usize),
    Symbol(char),
}

fn tokens(query: &str) -> Result<Vec<Token>, String> {
    let chars: Vec<char> = query.chars().collect();
    let mut out = Vec::new();
    let mut at = 0;
    while at < chars.len() {
        let c = chars[at];
        if c.is_whitespace() {
            at += 1;
        } else if c == '\'' {
            let mut value = String::new();
            at += 1;
            loop {
                match (chars.get(at), chars.get(at + 1)) {
                    (Some('\''), Some('\'')) => {
                        value.push('\'');
                        at += 2;
                    }
                    (Some('\''), _) => {
                        at += 1;
                        break;
                    }
                    (Some(&c), _) => {
                        value.push(c);
                        at += 1;
                    }
                    (None, _) => return Err("a quoted value is not closed".into()),
                }
            }
            out.push(Token::Text(value));
        } else if "(),=".contains(c) {
            out.push(Token::Symbol(c));
            at += 1;
        } else if c.is_ascii_digit() {
            let start = at;
            while chars.get(at).is_some_and(char::is_ascii_digit) {
                at += 1;
            }
            let text: String = chars[start..at].iter().collect();
            out.push(Token::Number(text.parse().map_err(|_| format!("`{text}` is too large"))?));
        } else if c.is_alphanumeric() || c == '_' || c == '$' || c == '.' {
            let start = at;
            while chars.get(at).is_some_and(|c| c.is_alphanumeric() || *c == '_' || *c == '$' || *c == '.') {
                at += 1;
            }
            out.push(Token::Word(chars[start..at].iter().collect()));
        } else {
            return Err(format!("unexpected `{c}`"));
        }
    }
    Ok(out)
}

#[derive(Debug)]
enum Expr {
    In(String, Vec<String>),
    Equals(String, String),
    Null(String, bool),
    Both(Box<Expr>, Box<Expr>),
    Either(Box<Expr>, Box<Expr>),
}

impl Expr {
    fn matches(&self, record: &Record) -> bool {
        let held = |field: &str| match record.get(field) {
            Some(Value::Object(lookup)) => lookup.get("id").and_then(Value::as_str).map(str::to_owned),
            Some(Value::Number(n)) => Some(n.to_string()),
            _ => text(record, field),
        };
        match self {
            Self::In(field, values) => held(field).is_some_and(|h| values.iter().any(|v| v.eq_ignore_ascii_case(&h))),
            Self::Equals(field, value) => held(field).is_some_and(|h| h.eq_ignore_ascii_case(value)),
            Self::Null(field, is_null) => held(field).is_none() == *is_null,
            Self::Both(a, b) => a.matches(record) && b.matches(record),
            Self::Either(a, b) => a.matches(record) || b.matches(record),
        }
    }
}

struct Parser {
    tokens: Vec<Token>,
    at: usize,
}

impl Parser {
    fn next(&mut self) -> Option<Token> {
        let token = self.tokens.get(self.at).cloned();
        self.at += 1;
        token
    }

    fn peek_word(&self, word: &str) -> bool {
        matches!(self.tokens.get(self.at), Some(Token::Word(w)) if w.eq_ignore_ascii_case(word))
    }

    fn word(&mut self) -> Result<String, String> {
        match self.next() {
            Some(Token::Word(word)) => Ok(word),
            other => Err(format!("expected a name, found {other:?}")),
        }
    }

    fn keyword(&mut self, word: &str) -> Result<(), String> {
        if self.peek_word(word) {
            self.at += 1;
            Ok(())
        } else {
            Err(format!("expected `{word}` at token {}", self.at))
        }
    }

    fn symbol(&mut self, symbol: char) -> Result<(), String> {
        match self.next() {
            Some(Token::Symbol(s)) if s == symbol => Ok(()),
            other => Err(format!("expected `{symbol}`, found {other:?}")),
        }
    }

    /// A group: one or two criteria.
    fn expr(&mut self) -> Result<Expr, String> {
        let left = self.term()?;
        for (word, join) in [("and", Expr::Both as fn(Box<Expr>, Box<Expr>) -> Expr), ("or", Expr::Either)] {
            if self.peek_word(word) {
                self.at += 1;
                let right = self.term()?;
                if self.peek_word("and") || self.peek_word("or") {
                    return Err("more than two criteria must be grouped in pairs, e.g. ((A or B) or C)".into());
                }
                return Ok(join(Box::new(left), Box::new(right)));
            }
        }
        Ok(left)
    }

    fn term(&mut self) -> Result<Expr, String> {
        if self.tokens.get(self.at) == Some(&Token::Symbol('(')) {
            self.at += 1;
            let inner = self.expr()?;
            self.symbol(')')?;
            return Ok(inner);
        }
        let field = self.word()?;
        if self.peek_word("in") {
            self.at += 1;
            self.symbol('(')?;
            let mut values = Vec::new();
            loop {
                match self.next() {
                    Some(Token::Text(value)) => values.push(value),
                    other => return Err(format!("expected a quoted value, found {other:?}")),
                }
                match self.next() {
                    Some(Token::Symbol(',')) => continue,
                    Some(Token::Symbol(')')) => break,
                    other => return Err(format!("expected `,` or `)`, found {other:?}")),
                }
            }
            if values.len() > MAX_IN_VALUES {
                return Err(format!("`in` takes at most {MAX_IN_VALUES} values"));
            }
            return Ok(Expr::In(field, values));
        }
        if self.peek_word("is") {
            self.at += 1;
            let negated = self.peek_word("not");
            if negated {
                self.at += 1;
            }
            self.keyword("null")?;
            return Ok(Expr::Null(field, !negated));
        }
        self.symbol('=')?;
        match self.next() {
            Some(Token::Text(value)) => Ok(Expr::Equals(field, value)),
            other => Err(format!("expected a quoted value, found {other:?}")),
        }
    }
}

struct Query {
    fields: Vec<String>,
    module: String,
    criteria: Expr,
    offset: usize,
    limit: usize,
}

fn parse(query: &str) -> Result<Query, String> {
    let mut parser = Parser { tokens: tokens(query)?, at: 0 };
    parser.keyword("select")?;
    let mut fields = vec![parser.word()?];
    while parser.tokens.get(parser.at) == Some(&Token::Symbol(',')) {
        parser.at += 1;
        fields.push(parser.word()?);
    }
    parser.keyword("from")?;
    let module = parser.word()?;
    parser.keyword("where")?;
    let criteria = parser.expr()?;
    let (mut offset, mut limit) = (0, 200);
    if parser.peek_word("limit") {
        parser.at += 1;
        let Some(Token::Number(first)) = parser.next() else { return Err("`limit` takes a number".into()) };
        limit = first;
        if parser.tokens.get(parser.at) == Some(&Token::Symbol(',')) {
            parser.at += 1;
            let Some(Token::Number(count)) = parser.next() else { return Err("`limit offset, count`".into()) };
            (offset, limit) = (first, count);
        } else if parser.peek_word("offset") {
            parser.at += 1;
            let Some(Token::Number(skip)) = parser.next() else { return Err("`offset` takes a number".into()) };
            offset = skip;
        }
    }
    if parser.at != parser.tokens.len() {
        return Err(format!("unexpected text at token {}", parser.at));
    }
    if limit == 0 || limit > MAX_LIMIT {
        return Err(format!("`limit` must be between 1 and {MAX_LIMIT}"));
    }
    Ok(Query { fields, module, criteria, offset, limit })
}

pub(super) async fn query(State(zoho): State<Arc<Zoho>>, body: Bytes) -> Response {
    let Some(select) =
        serde_json::from_slice::<Value>(&body).ok().and_then(|b| b.get("select_query")?.as_str().map(str::to_owned))
    else {
        return error(StatusCode::BAD_REQUEST, "INVALID_QUERY", "select_query is missing", json!({}));
    };
    let query = match parse(&select) {
        Ok(query) => query,
        Err(reason) => {
            return error(
                StatusCode::BAD_REQUEST,
                "SYNTAX_ERROR",
                "error occured while parsing the query",
                json!({"reason": reason}),
            );
        }
    };
    if !["Contacts", "Tasks"].contains(&query.module.as_str()) {
        return error(StatusCode::BAD_REQUEST, "INVALID_QUERY", "invalid module", json!({"module": query.module}));
    }
    let state = zoho.lock();
    let matched: Vec<&Record> = state
        .modules
        .get(&query.module)
        .map(|records| records.values().filter(|r| query.criteria.matches(r)).collect())
        .unwrap_or_default();
    let page: Vec<Value> = matched
        .iter()
        .skip(query.offset)
        .take(query.limit)
        .map(|record| {
            let mut row = Record::new();
            row.insert("id".into(), record.get("id").cloned().unwrap_or(Value::Null));
            for field in &query.fields {
                let value = match record.get(field) {
                    // COQL answers a lookup with its id only.
                    Some(Value::Object(lookup)) => json!({"id": lookup.get("id")}),
                    Some(value) => value.clone(),
                    None => Value::Null,
                };
                row.insert(field.clone(), value);
            }
            Value::Object(row)
        })
        .collect();
    if page.is_empty() {
        return StatusCode::NO_CONTENT.into_response();
    }
    let more = matched.len() > query.offset + query.limit;
    Json(json!({"data": page, "info": {"count": page.len(), "more_records": more}})).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_paired_criteria_doubled_quotes_and_limits() {
        let query = parse("select Phone, Email from Contacts where ((Phone in ('+91 1', 'O''Brien') or Mobile in ('x')) or Email = 'a@b') limit 200, 200").unwrap();
        assert_eq!((query.offset, query.limit, query.fields.len()), (200, 200, 2));
        let record = json!({"Phone": "O'Brien"});
        assert!(query.criteria.matches(record.as_object().unwrap()));
        assert!(
            parse("select id from Contacts where A = 'x' or B = 'y' or C = 'z'").is_err(),
            "three criteria unpaired"
        );
        let many = (0..101).map(|n| format!("'{n}'")).collect::<Vec<_>>().join(",");
        assert!(parse(&format!("select id from Contacts where Phone in ({many})")).is_err());
        assert!(parse("select id from Contacts where Phone in ('a) limit 5").is_err());
    }
}
