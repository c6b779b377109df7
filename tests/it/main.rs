//! The daemon's integration tests, one binary (linking one test binary per file cost more than
//! running them): configuration, the command line, identity, interpretation, and `spine`, the
//! pipeline end to end against the bundled mock vendors. `bench_smoke` stays a binary of its
//! own: it runs the daemon as a child process for minutes and is run on its own while tuning.

mod backtest;
mod cli_run;
mod config_check_cli;
mod config_interpolate;
mod config_load;
mod config_schema;
mod explain_connector;
mod identity_flow;
mod identity_keys;
mod identity_pipeline;
mod interpret_cli;
mod interpret_clock;
mod interpret_common;
mod interpret_eval;
mod interpret_llm;
mod interpret_rules;
mod interpret_task;
mod interpret_when;
mod multi_instance;
mod ops;
mod pg_failover;
mod pg_scratch;
mod route_check;
mod route_owners;
mod shared_tokens;
mod spine;
mod voice_edge;
