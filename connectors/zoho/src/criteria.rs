//! Zoho's search criteria: `((Field:equals:value)or(Field:equals:value))`, at most ten conditions a search.
//!
//! In a value, `(`, `)` and `,` are syntax and must be escaped with a backslash (and so must the backslash), or a
//! phone written `+91 (22) 555` would end its condition early and a crafted value could add conditions of its own.

/// Zoho's limit on conditions in one criteria string.
pub const MAX_CONDITIONS: usize = 10;

/// One `field:equals:value` condition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Condition {
    pub field: String,
    pub value: String,
}

impl Condition {
    pub fn equals(field: &str, value: &str) -> Self {
        Self { field: field.to_owned(), value: value.to_owned() }
    }

    fn render(&self) -> String {
        format!("({}:equals:{})", self.field, escape(&self.value))
    }
}

/// The conditions OR-ed, in as few criteria strings as Zoho allows.
pub fn any_of(conditions: &[Condition]) -> Vec<String> {
    conditions
        .chunks(MAX_CONDITIONS)
        .map(|chunk| match chunk {
            [one] => one.render(),
            many => format!("({})", many.iter().map(Condition::render).collect::<Vec<_>>().join("or")),
        })
        .collect()
}

pub fn escape(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        if matches!(c, '(' | ')' | ',' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_escaped_and_conditions_or_ed_ten_at_a_time() {
        assert_eq!(escape(r"a(b),c\d"), r"a\(b\)\,c\\d");
        let conditions: Vec<Condition> =
            (0..12).map(|n| Condition::equals("Email", &format!("c{n}@example.com"))).collect();
        let criteria = any_of(&conditions);
        assert_eq!(criteria.len(), 2);
        assert!(criteria[0].starts_with("((Email:equals:c0@example.com)or(Email:equals:c1@example.com)or"));
        assert_eq!(criteria[0].matches(":equals:").count(), 10);
        assert_eq!(criteria[1], "((Email:equals:c10@example.com)or(Email:equals:c11@example.com))");
        assert_eq!(any_of(&[Condition::equals("Phone", "+91 (22)")]), [r"(Phone:equals:+91 \(22\))"]);
    }
}
