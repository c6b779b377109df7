//! `monitoring/METRICS.md` is the documented list of metrics: every metric the code records is
//! on it, and every metric the alert rules and the dashboard use is one the code records.

use std::collections::BTreeSet;
use std::path::Path;

fn rust_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            if !path.ends_with("target") && !path.ends_with("tests") {
                rust_files(&path, out);
            }
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// Names given to `counter!`, `gauge!` and `histogram!` in the daemon's and the connectors' code.
fn recorded() -> BTreeSet<String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    rust_files(&root.join("src"), &mut files);
    rust_files(&root.join("connectors"), &mut files);
    // A macro's literal name, or a `process_*` name passed to one as a variable.
    let pattern =
        regex::Regex::new(r#"(?:(?:counter|gauge|histogram)!\(\s*|[(,]\s*)"((?:handoffd|process)_[a-z_]+)""#).unwrap();
    let mut names = BTreeSet::new();
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        names.extend(pattern.captures_iter(&text).map(|c| c[1].to_owned()));
    }
    names
}

fn read(relative: &str) -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(relative)).unwrap()
}

#[test]
fn every_recorded_metric_is_documented() {
    let doc = read("monitoring/METRICS.md");
    let recorded = recorded();
    assert!(recorded.len() > 20, "the scan finds the metrics: {recorded:?}");
    let missing: Vec<&String> = recorded.iter().filter(|name| !doc.contains(&format!("`{name}`"))).collect();
    assert!(missing.is_empty(), "recorded but not in monitoring/METRICS.md: {missing:?}");
}

#[test]
fn alerts_and_dashboard_use_only_metrics_that_exist() {
    let recorded = recorded();
    let known = |name: &str| {
        let base = name.trim_end_matches("_bucket").trim_end_matches("_count").trim_end_matches("_sum");
        recorded.contains(base) || name == "up"
    };
    let alerts: serde_json::Value = serde_saphyr::from_str(&read("monitoring/alerts.yaml")).unwrap();
    let dashboard: serde_json::Value = serde_json::from_str(&read("monitoring/grafana-dashboard.json")).unwrap();
    let metric = regex::Regex::new(r"\b(handoffd_[a-z_]+|process_[a-z_]+|up)\b").unwrap();
    let mut expressions = Vec::new();
    for rule in alerts["groups"][0]["rules"].as_array().unwrap() {
        expressions.push(rule["expr"].as_str().unwrap().to_owned());
    }
    for panel in dashboard["panels"].as_array().unwrap() {
        for target in panel["targets"].as_array().unwrap() {
            expressions.push(target["expr"].as_str().unwrap().to_owned());
        }
    }
    assert!(expressions.len() > 10);
    for expression in expressions {
        for name in metric.find_iter(&expression).map(|m| m.as_str()) {
            assert!(known(name), "`{name}` in `{expression}` is not a metric handoffd records");
        }
    }
}
