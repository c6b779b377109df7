//! CI smoke of `handoffd-bench` (its library, the `testing/bench` crate): short `steady`, `faults` and `crash` runs
//! against this package's daemon executable. They fail on any lost or duplicated handoff: those counts are exact
//! (from the daemon's `/metrics` and the mock CRM's tasks), so this is a correctness test. Timings are printed, never
//! asserted.

use std::path::PathBuf;
use std::time::Duration;

use handoffd_bench::{BenchOptions, BenchReport, Scenario};

fn options(scenario: Scenario) -> BenchOptions {
    let vocabulary = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("config/vocabulary");
    let mut options = BenchOptions::for_scenario(scenario, PathBuf::from(env!("CARGO_BIN_EXE_handoffd")), vocabulary);
    options.messages = 250;
    options.customers = 50;
    options.duration = Duration::from_secs(5);
    options.quiet_period = Duration::from_secs(1);
    options.concurrency = 16;
    // A job leased by a killed daemon is retaken only when its lease (2 min) expires.
    options.drain_timeout = Duration::from_secs(200);
    options
}

fn assert_exact(report: &BenchReport, customers: usize) {
    println!("{report}");
    assert!(report.drained, "the daemon did not drain:\n{report}");
    assert_eq!(report.messages_acked, report.messages_sent, "messages never acknowledged:\n{report}");
    assert_eq!(report.lost, 0, "acknowledged messages reached no task:\n{report}");
    assert_eq!(report.duplicates, 0, "a handoff became two tasks:\n{report}");
    assert_eq!(report.task_mismatch, 0, "the daemon and the CRM disagree on which handoffs have a task:\n{report}");
    assert!(report.is_exact(), "{report}");
    assert_eq!(report.dead_letters, 0, "deliveries were dead-lettered:\n{report}");
    // One burst per customer: exactly one task each (later messages update it).
    assert_eq!(report.tasks_created, customers as u64, "{report}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn steady_loses_and_duplicates_nothing() {
    let options = options(Scenario::Steady);
    let report = handoffd_bench::run(&options).await.expect("the bench runs");
    assert_exact(&report, options.customers);
    assert_eq!(report.responses_429, 0, "handoffd owns the budget, so it must not be refused:\n{report}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn faults_including_lost_responses_lose_and_duplicate_nothing() {
    let mut options = options(Scenario::Faults);
    // New customers and a call per task: enough requests for every kind of fault to land, on contacts too.
    options.known_customers = 0;
    options.linger = Some(Duration::ZERO);
    let report = handoffd_bench::run(&options).await.expect("the bench runs");
    assert_exact(&report, options.customers);
    let faults = &report.faults_injected;
    // Lost responses (written, never answered) and failures that applied nothing (5xx, resets) both happened.
    assert!(
        faults.lost_responses > 0 && faults.status_5xx + faults.resets > 0,
        "the faults were not exercised:\n{report}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_and_restart_loses_and_duplicates_nothing() {
    let mut options = options(Scenario::Crash);
    options.kills = 2;
    let report = handoffd_bench::run(&options).await.expect("the bench runs");
    assert_eq!(report.restarts, 2, "{report}");
    assert_exact(&report, options.customers);
}
