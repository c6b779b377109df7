//! Ingest: commit raw events durably before the vendor gets its answer (group commit), then
//! normalise committed events into interactions, customers and handoffs. The poll host runs
//! the connectors' pollers, whose pages go through the same inbox; a backfill walks a poller
//! further back, through the same inbox.

mod apply;
pub mod backfill;
mod inbox_writer;
mod normalize;
pub mod poll;

pub use apply::apply_interactions;
pub use inbox_writer::{InboxWriter, InboxWriterHandle};
pub use normalize::{Normalizer, match_keys};
