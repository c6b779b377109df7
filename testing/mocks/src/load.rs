//! What a vendor mock's gate saw of the load on its limits, for the benchmark: calls, searches, calls refused for a
//! limit, how busy the account was (calls in flight, integrated over time) and the highest load against the
//! vendor's own short-term limit.

use std::time::{Duration, Instant};

/// A running count the gate keeps; [`LoadCounts::snapshot`] reads it.
#[derive(Debug, Default)]
pub(crate) struct LoadCounts {
    pub calls: u64,
    pub searches: u64,
    /// Calls refused because a real limit was reached (not injected faults).
    pub refused_for_limits: u64,
    pub in_flight: usize,
    /// The most calls in flight at once.
    pub max_in_flight: usize,
    /// The most calls the vendor's own short window held at once (Pipedrive: its 2-second window).
    pub max_in_window: usize,
    /// Calls in flight, integrated over time: seconds of answered calls.
    pub busy: Duration,
}

impl LoadCounts {
    /// A call admitted now; give the instant back to [`LoadCounts::answered`].
    pub fn admitted(&mut self) -> Instant {
        self.in_flight += 1;
        self.max_in_flight = self.max_in_flight.max(self.in_flight);
        Instant::now()
    }

    pub fn answered(&mut self, since: Instant) {
        self.in_flight = self.in_flight.saturating_sub(1);
        self.busy += since.elapsed();
    }

    pub fn snapshot(&self) -> MockLoad {
        MockLoad {
            calls: self.calls,
            searches: self.searches,
            refused_for_limits: self.refused_for_limits,
            max_in_flight: self.max_in_flight as u64,
            max_in_window: self.max_in_window as u64,
            busy_secs: self.busy.as_secs_f64(),
        }
    }
}

/// The load a vendor mock saw so far.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MockLoad {
    /// API calls received (token requests apart), refused ones included.
    pub calls: u64,
    /// Of those, searches and queries that look contacts up.
    pub searches: u64,
    /// Calls refused because a real limit was reached (daily budget, concurrency, window).
    pub refused_for_limits: u64,
    /// The most calls in flight at once.
    pub max_in_flight: u64,
    /// The most calls in the vendor's short window at once (Pipedrive: 2 s); 0 where it has none.
    pub max_in_window: u64,
    /// Seconds of calls in flight, summed: over a span, its growth divided by the span is the average number of
    /// calls in flight.
    pub busy_secs: f64,
}
