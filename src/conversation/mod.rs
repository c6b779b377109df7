//! Conversation: a burst of interactions becomes one handoff. [`lifecycle`] opens a handoff on the
//! customer's first message and moves its `ready_at` with every message (quiet period) or to now on
//! an end signal, and names every state change after it; the maker picks up ready handoffs, has them
//! interpreted and routed, and queues the task, all committed together ([`commit_briefs`]).

mod assemble;
pub mod brief;
mod commit;
pub mod lifecycle;
mod maker;

pub use assemble::assemble;
pub use brief::{BriefMaker, MadeBrief};
pub use commit::commit_briefs;
pub use maker::HandoffMaker;
