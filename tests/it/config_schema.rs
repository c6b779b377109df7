//! `handoffd schema` (issue 24, item 6): the example configuration validates against the schema
//! it prints, and the schema refuses what the loader refuses (an unknown key, a wrong kind).

use std::process::Command;

fn schema() -> serde_json::Value {
    let output = Command::new(env!("CARGO_BIN_EXE_handoffd")).arg("schema").output().unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    serde_json::from_slice(&output.stdout).unwrap()
}

fn example() -> serde_json::Value {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/config/example.yaml")).unwrap();
    serde_saphyr::from_str(&text).unwrap()
}

fn errors(validator: &jsonschema::Validator, config: &serde_json::Value) -> Vec<String> {
    validator.iter_errors(config).map(|e| format!("{} at {}", e, e.instance_path())).collect()
}

#[test]
fn the_example_configuration_validates_and_mistakes_do_not() {
    let validator = jsonschema::validator_for(&schema()).unwrap();
    let config = example();
    let problems = errors(&validator, &config);
    assert!(problems.is_empty(), "config/example.yaml against `handoffd schema`: {problems:#?}");

    let mut unknown = config.clone();
    unknown["server"]["listne"] = "127.0.0.1:1".into();
    assert!(!errors(&validator, &unknown).is_empty(), "an unknown key is refused");

    let mut wrong_kind = config.clone();
    wrong_kind["connectors"][0]["kind"] = "whatsapp".into();
    assert!(!errors(&validator, &wrong_kind).is_empty(), "an unknown connector kind is refused");

    let mut interpolated = config.clone();
    interpolated["server"]["max_body_bytes"] = "${MAX_BODY}".into();
    assert!(errors(&validator, &interpolated).is_empty(), "`${{VAR}}` may stand for a number");
    interpolated["server"]["max_body_bytes"] = "a lot".into();
    assert!(!errors(&validator, &interpolated).is_empty(), "but not any string");
}
