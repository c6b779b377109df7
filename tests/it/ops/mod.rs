//! The daemon as IT admins run it: under systemd (notify, watchdog, the unit's hardening) and
//! in front of clients that are slow or hostile.

mod admin_api;
mod backfill;
mod backup;
mod child;
mod hostile_clients;
mod metrics_doc;
mod redaction;
mod reload;
mod replay;
mod secrets_in_logs;
mod service_manager;
mod systemd_unit;
