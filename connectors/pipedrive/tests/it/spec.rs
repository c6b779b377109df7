//! Every request the connector sends during the compliance suite, checked against Pipedrive's v1 OpenAPI
//! description (read from the shared vendor folder; skipped, and said so, when it is absent). Pipedrive has moved
//! activities to API v2, whose description is not in the vendor folder: those requests are counted and listed,
//! and every other request must be valid.

use handoffd_mocks::compliance;
use handoffd_mocks::recorded::RequestLog;
use handoffd_mocks::spec::{ApiSpec, SpecFile, vendor_dir};

use crate::support::fresh_with;

#[tokio::test]
async fn every_v1_request_of_the_suite_is_valid_against_pipedrives_openapi() {
    let Some(vendor) = vendor_dir() else {
        eprintln!("skipped: no vendor folder (set HANDOFFD_VENDOR_DIR or lay out shared/vendor beside the repository)");
        return;
    };
    let file = SpecFile {
        path: vendor.join("pipedrive-api-v1-openapi.json"),
        uri: "https://api.pipedrive.com/v1/openapi.json".into(),
    };
    let spec = ApiSpec::load(&[file], "/v1").expect("Pipedrive's description loads");

    let log = RequestLog::default();
    compliance::run_all(|| fresh_with(log.clone())).await;

    let requests: Vec<_> =
        log.requests().into_iter().filter(|r| r.path.starts_with("/v1/") || r.path.starts_with("/api/v2/")).collect();
    let (v1, v2): (Vec<_>, Vec<_>) = requests.iter().partition(|r| r.path.starts_with("/v1/"));
    assert!(v1.len() > 20, "only {} v1 requests recorded", v1.len());
    let mut operations = std::collections::BTreeMap::new();
    let mut problems = Vec::new();
    for request in &v1 {
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
    let mut uncovered = std::collections::BTreeMap::new();
    for request in &v2 {
        let path = if request.path.ends_with("/activities") {
            request.path.clone()
        } else {
            "/api/v2/activities/{id}".to_owned()
        };
        *uncovered.entry(format!("{} {path}", request.method)).or_insert(0) += 1;
    }
    eprintln!(
        "{} v1 requests valid against Pipedrive's OpenAPI, by operation: {operations:#?}",
        v1.len() - problems.len()
    );
    eprintln!("{} v2 requests with no description in the vendor folder: {uncovered:#?}", v2.len());
    assert!(
        problems.is_empty(),
        "{} of {} v1 requests are not valid:\n{}",
        problems.len(),
        v1.len(),
        problems.join("\n")
    );
}
