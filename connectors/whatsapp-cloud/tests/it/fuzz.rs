//! `parse` must never panic: not on random bytes, not on a valid body with any node replaced.

use proptest::prelude::*;
use serde_json::Value;

use crate::{fixture, parse};

const FIXTURES: [&str; 14] = [
    "text_with_referral.json",
    "media.json",
    "location_and_contacts.json",
    "reaction.json",
    "order.json",
    "interactive.json",
    "template_button.json",
    "system.json",
    "edit_revoke.json",
    "request_welcome.json",
    "unsupported_and_future.json",
    "bsuid_only.json",
    "statuses.json",
    "two_entries_two_changes.json",
];

fn any_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_filter("finite", |f| f.is_finite()).prop_map(Value::from),
        ".{0,12}".prop_map(Value::String),
        "[0-9]{0,20}".prop_map(Value::String),
        Just(Value::String("whatsapp_business_account".into())),
    ];
    leaf.prop_recursive(3, 16, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map("[a-z_]{1,8}|type|text|id|from|messages|statuses", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// Replace the `target`-th node (pre-order, modulo the node count) with `replacement`.
fn replace_node(root: &mut Value, target: usize, replacement: Value) {
    fn count(value: &Value) -> usize {
        1 + match value {
            Value::Array(items) => items.iter().map(count).sum(),
            Value::Object(map) => map.values().map(count).sum(),
            _ => 0,
        }
    }
    fn walk(value: &mut Value, target: &mut usize, replacement: &mut Option<Value>) {
        if *target == 0 {
            if let Some(new) = replacement.take() {
                *value = new;
            }
            return;
        }
        *target -= 1;
        match value {
            Value::Array(items) => items.iter_mut().for_each(|v| walk(v, target, replacement)),
            Value::Object(map) => map.values_mut().for_each(|v| walk(v, target, replacement)),
            _ => {}
        }
    }
    let mut target = target % count(root);
    walk(root, &mut target, &mut Some(replacement));
}

proptest! {
    // 512 cases by default; `PROPTEST_CASES=20000` for a longer run.
    #![proptest_config(ProptestConfig::with_cases(
        std::env::var("PROPTEST_CASES").ok().and_then(|cases| cases.parse().ok()).unwrap_or(512)
    ))]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        let _ = parse(&bytes);
    }

    #[test]
    fn mutated_payloads_never_panic(
        fixture_index in 0..FIXTURES.len(),
        mutations in prop::collection::vec((any::<usize>(), any_json()), 1..4),
    ) {
        let mut body: Value = serde_json::from_slice(&fixture(FIXTURES[fixture_index])).unwrap();
        for (target, replacement) in mutations {
            replace_node(&mut body, target, replacement);
        }
        let _ = parse(body.to_string().as_bytes());
    }

    #[test]
    fn truncated_payloads_never_panic(fixture_index in 0..FIXTURES.len(), cut in any::<usize>()) {
        let bytes = fixture(FIXTURES[fixture_index]);
        let _ = parse(&bytes[..cut % bytes.len()]);
    }
}

#[test]
fn the_mutator_really_changes_the_payload() {
    let original: Value = serde_json::from_slice(&fixture("media.json")).unwrap();
    let mut mutated = original.clone();
    replace_node(&mut mutated, 7, Value::Null);
    assert_ne!(original, mutated);
}
