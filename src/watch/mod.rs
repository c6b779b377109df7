//! Watch: SLA timers, task status, escalation (DESIGN.md's `watch` box).
//!
//! Every `sla.check_every`, the instance holding the delivery CRM account's lease reads the state of open
//! handoffs' tasks from the CRM in batches (`Crm::task_states`, through the same rate limiter and metering as
//! deliveries). A task the CRM reports completed closes its handoff. A task still open past its due time climbs
//! the escalation ladder of `sla.ladder`: remind the owner, reassign to the next owner of the pool, notify a
//! manager. After a task exists, the customer may get a confirmation template (`sla.confirm`).
//!
//! Layout:
//! - `ladder`: which steps are due for a task, from how long it is past due (pure: the timing rules);
//! - `reassign`: the [`Reassigner`] seam between the ladder and routing;
//! - `manager`: a manager's notification, as a signed webhook POST or a WhatsApp template;
//! - `confirm`: the customer's confirmation, once per handoff, never to a customer who opted out;
//! - `consent`: STOP and START from a customer (read by ingest as messages arrive);
//! - `watcher`: the scheduled job that ties them together.

mod confirm;
pub mod consent;
pub mod ladder;
pub mod manager;
pub mod reassign;
mod watcher;

#[cfg(test)]
mod tests;

pub use reassign::{Reassigner, Reassignment, RouterReassigner};
pub use watcher::{CheckSummary, SlaWatcher};
