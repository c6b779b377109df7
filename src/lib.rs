//! handoffd: turns AI-to-human handoffs (WhatsApp, voice AI) into ready-made CRM tasks.
//!
//! The folders follow the pipeline of DESIGN.md, and arrows only run down this list:
//! - [`config`]: load, interpolate and validate the YAML configuration.
//! - [`registry`]: the one place that lists every connector kind.
//! - [`http`]: the axum server (webhooks, health, metrics).
//! - [`ingest`]: verify and store raw events, then normalise them into interactions.
//! - [`identity`]: identity keys, customers, merges, the CRM identity cache.
//! - [`conversation`]: coalesce a burst of interactions into one handoff.
//! - [`interpret`]: the handoff brief (vocabulary, rules, soft time).
//! - [`route`]: owner and due time.
//! - [`deliver`]: the outbox to the CRM (limits, retries, batching, external keys).
//! - [`store`]: one trait per stage that uses it, and its databases: every SQL statement lives there, and no
//!   rule (the stages drive its transactional primitives).
//! - [`daemon`]: wires the stages together and owns shutdown.
//! - [`cli`]: one file per verb.
//!
//! Test tooling lives beside the daemon, not in it: the mock vendors and the CRM compliance suite in
//! `testing/mocks` (`handoffd demo` and `handoffd mock-crm` serve them, behind the default `mock` feature), the
//! benchmark harness in `testing/bench` (`handoffd-bench`), which drives this daemon as a child process.

pub mod cli;
pub mod config;
pub mod conversation;
pub mod daemon;
pub mod deliver;
pub mod http;
pub mod identity;
pub mod ingest;
pub mod interpret;
pub mod lease;
pub mod registry;
pub mod route;
pub mod store;
pub mod telemetry;
pub mod watch;
