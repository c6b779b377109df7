//! Every request the connector sends during the compliance suite, checked against Zoho's own OpenAPI description
//! (zoho/crm-oas v8.0, read from the shared vendor folder; skipped, and said so, when it is absent).

use handoffd_mocks::compliance;
use handoffd_mocks::recorded::RequestLog;
use handoffd_mocks::spec::{ApiSpec, SpecFile, vendor_dir};

use crate::support::fresh_with;

/// Where Zoho's files point at each other.
const RAW: &str = "https://raw.githubusercontent.com/Zohocorp-Pvt-Ltd/crm-oas/refs/heads/main/v8.0";

#[tokio::test]
async fn every_request_of_the_suite_is_valid_against_zohos_openapi() {
    let Some(vendor) = vendor_dir() else {
        eprintln!("skipped: no vendor folder (set HANDOFFD_VENDOR_DIR or lay out shared/vendor beside the repository)");
        return;
    };
    let folder = vendor.join("zoho-crm-oas-v8");
    let files: Vec<SpecFile> = ["record", "users", "tags", "common", "module_search", "coql"]
        .iter()
        .map(|name| SpecFile { path: folder.join(format!("{name}.json")), uri: format!("{RAW}/{name}.json") })
        .collect();
    let spec = ApiSpec::load(&files, "").expect("Zoho's description loads");

    let log = RequestLog::default();
    let failures = compliance::run_all(|| fresh_with(log.clone())).await;
    assert!(failures.is_empty(), "the suite failed: {failures:?}");

    let requests: Vec<_> = log.requests().into_iter().filter(|r| r.path.starts_with("/crm/")).collect();
    assert!(requests.len() > 20, "only {} API requests recorded", requests.len());
    let mut operations = std::collections::BTreeMap::new();
    let mut problems = Vec::new();
    for request in &requests {
        match spec.check(request) {
            Ok(operation) => *operations.entry(operation).or_insert(0) += 1,
            Err(errors) => problems.push(format!(
                "{} {}?{}: {errors:?}",
                request.method,
                request.path,
                request.query.as_deref().unwrap_or("")
            )),
        }
    }
    eprintln!(
        "{} requests valid against Zoho's OpenAPI, by operation: {operations:#?}",
        requests.len() - problems.len()
    );
    assert!(
        problems.is_empty(),
        "{} of {} requests are not valid:\n{}",
        problems.len(),
        requests.len(),
        problems.join("\n")
    );
}
