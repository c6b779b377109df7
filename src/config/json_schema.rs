//! The configuration's JSON Schema (`handoffd schema`), generated from the structs serde reads
//! and their doc comments, connectors' own blocks included (each kind's config type, through
//! the registry's `kind:` dispatch). For editors: it checks the file as written.
//!
//! `${VAR}` interpolation happens before parsing, so in the file a string such as `${PORT}` may
//! stand where a number or a boolean goes: the schema accepts a string holding `${` there too,
//! as the loader does.

use serde_json::{Map, Value};

/// The schema of a configuration file, as JSON.
pub fn config_schema() -> Value {
    let mut schema = schemars::schema_for!(super::Config).to_value();
    accept_interpolation(&mut schema);
    if let Value::Object(top) = &mut schema {
        top.insert("title".into(), "handoffd configuration".into());
    }
    schema
}

/// What stands in a scalar's place before interpolation: a string with `${...}` in it.
fn interpolated() -> Value {
    serde_json::json!({"type": "string", "pattern": "\\$\\{"})
}

/// Wrap every number, integer and boolean schema in `anyOf: [itself, an interpolated string]`.
fn accept_interpolation(value: &mut Value) {
    match value {
        Value::Object(map) => {
            for child in map.values_mut() {
                accept_interpolation(child);
            }
            if takes_non_string_scalar(map) {
                let description = map.get("description").cloned();
                let original = std::mem::take(map);
                map.insert("anyOf".into(), Value::Array(vec![Value::Object(original), interpolated()]));
                if let Some(description) = description {
                    map.insert("description".into(), description);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(accept_interpolation),
        _ => {}
    }
}

fn takes_non_string_scalar(schema: &Map<String, Value>) -> bool {
    let scalar = |t: &Value| matches!(t.as_str(), Some("integer" | "number" | "boolean"));
    match schema.get("type") {
        Some(Value::Array(types)) => types.iter().any(scalar),
        Some(single) => scalar(single),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_and_booleans_also_take_an_interpolated_string() {
        let mut schema = serde_json::json!({"properties": {
            "port": {"type": "integer", "description": "the port"},
            "on": {"type": ["boolean", "null"]},
            "name": {"type": "string"},
        }});
        accept_interpolation(&mut schema);
        let port = &schema["properties"]["port"];
        assert_eq!(port["anyOf"][0]["type"], "integer");
        assert_eq!(port["anyOf"][1]["pattern"], "\\$\\{");
        assert_eq!(port["description"], "the port");
        assert!(schema["properties"]["on"]["anyOf"].is_array());
        assert_eq!(schema["properties"]["name"], serde_json::json!({"type": "string"}));
    }

    #[test]
    fn the_schema_documents_fields_and_lists_every_connector_kind() {
        let schema = config_schema().to_string();
        assert!(schema.contains("Largest webhook body accepted, in bytes"), "doc comments become descriptions");
        for kind in crate::registry::KINDS {
            assert!(schema.contains(&format!("\"{}\"", kind.name)), "kind `{}` is in the schema", kind.name);
        }
    }
}
