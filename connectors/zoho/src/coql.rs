//! Zoho's Query API (`POST /crm/v8/coql`): one query finds two hundred phones (in `Phone` or `Mobile`) and two
//! hundred emails, where the search API takes ten conditions, so finding the contacts of a round of handoffs costs
//! one call instead of forty.
//!
//! COQL's rules kept here: `in` takes at most 100 values; more than two criteria are grouped in pairs
//! (`((A or B) or C)`); a quote inside a value is doubled; `limit` 200 keeps a query at one credit.

/// Values in one `in` (Zoho's maximum).
pub const MAX_IN_VALUES: usize = 100;
/// Phones (and emails) one query looks for: two `in` lists per field, so a query has at most six criteria of the
/// 25 COQL allows in a `where`, and a delivery round of 200 customers is one call.
pub const KEYS_PER_QUERY: usize = 2 * MAX_IN_VALUES;
/// Rows a query returns at the cost of one credit.
pub const PAGE_SIZE: usize = 200;

/// A quoted COQL string.
pub fn quote(value: &str) -> String {
    format!("'{}'", value.replace('\'', "''"))
}

/// `Field in ('a', 'b')`.
pub fn is_in(field: &str, values: &[String]) -> String {
    format!("{field} in ({})", values.iter().map(|v| quote(v)).collect::<Vec<_>>().join(", "))
}

/// The criteria OR-ed in pairs, as COQL requires beyond two: `((a or b) or c)`.
pub fn any_of(criteria: Vec<String>) -> Option<String> {
    let mut criteria = criteria.into_iter();
    let first = criteria.next()?;
    Some(criteria.fold(first, |left, right| format!("({left} or {right})")))
}

/// A query for `fields` of `module` where `criteria`, one page from `offset`.
pub fn select(fields: &str, module: &str, criteria: &str, offset: usize) -> String {
    format!("select {fields} from {module} where {criteria} limit {offset}, {PAGE_SIZE}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_are_doubled_and_criteria_paired() {
        assert_eq!(quote("O'Brien"), "'O''Brien'");
        let phones = vec!["+91 1".to_owned(), "+91 2".to_owned()];
        let criteria = any_of(vec![is_in("Phone", &phones), is_in("Mobile", &phones), is_in("Email", &["a@b".into()])]);
        assert_eq!(
            criteria.as_deref(),
            Some("((Phone in ('+91 1', '+91 2') or Mobile in ('+91 1', '+91 2')) or Email in ('a@b'))")
        );
        assert_eq!(any_of(Vec::new()), None);
        assert_eq!(
            select("id", "Contacts", "id is not null", 200),
            "select id from Contacts where id is not null limit 200, 200"
        );
    }
}
