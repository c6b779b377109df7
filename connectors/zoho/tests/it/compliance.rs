//! The CRM compliance suite (`handoffd_mocks::compliance`), every check on a fresh Zoho mock and connector.

use std::time::Duration;

use handoffd_mocks::compliance;
use handoffd_mocks::recorded::RequestLog;

use crate::support::fresh_with;

#[tokio::test]
async fn zoho_passes_the_crm_compliance_suite() {
    let started = tokio::time::Instant::now();
    let failures = compliance::run_all(|| fresh_with(RequestLog::default())).await;
    assert!(
        failures.is_empty(),
        "{} of {} checks failed:\n{}",
        failures.len(),
        compliance::CHECKS.len(),
        failures.join("\n")
    );
    assert!(started.elapsed() < Duration::from_secs(60), "the suite took {:?}", started.elapsed());
}
