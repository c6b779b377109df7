//! Conversation: a burst of interactions becomes one handoff. The store opens a handoff on the
//! customer's first message and moves its `ready_at` with every message (quiet period) or to
//! now on an end signal; this stage picks up ready handoffs, has them interpreted and routed,
//! and queues the task, all committed together.

mod assemble;
pub mod brief;
mod maker;

pub use assemble::assemble;
pub use brief::{BriefMaker, MadeBrief};
pub use maker::HandoffMaker;
