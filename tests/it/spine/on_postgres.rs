//! The pipeline's tests again, with each daemon on PostgreSQL (`HANDOFFD_TEST_POSTGRES_URL`, a schema of its
//! own per test): the same files, with `BACKEND` set here. Without that variable they say they are skipped;
//! under CI they fail.

const BACKEND: harness::Backend = harness::Backend::Postgres;

#[path = "delivery.rs"]
mod delivery;
#[path = "exact_requests.rs"]
mod exact_requests;
// Some helpers serve only the tests not repeated here (explain's parity reads the SQLite file).
#[allow(dead_code)]
#[path = "harness.rs"]
mod harness;
#[path = "ingest.rs"]
mod ingest;
#[path = "not_actionable.rs"]
mod not_actionable;
#[path = "restart.rs"]
mod restart;
#[path = "watch.rs"]
mod watch;
