//! The CRM compliance suite (`handoffd_mocks::compliance`), every check on a fresh Salesforce mock and connector.

use std::time::Duration;

use handoffd_mocks::compliance;

use crate::support::fresh;

#[tokio::test]
async fn salesforce_passes_the_crm_compliance_suite() {
    let started = tokio::time::Instant::now();
    let failures = compliance::run_all(fresh).await;
    assert!(
        failures.is_empty(),
        "{} of {} checks failed:\n{}",
        failures.len(),
        compliance::CHECKS.len(),
        failures.join("\n")
    );
    // Nothing in the suite waits on a limit: a slow run means a connector waiting where it should not.
    assert!(started.elapsed() < Duration::from_secs(60), "the suite took {:?}", started.elapsed());
}
