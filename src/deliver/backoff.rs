//! When to try a failed delivery again.

use std::time::Duration;

use backon::{BackoffBuilder, ExponentialBuilder};

#[derive(Clone, Debug)]
pub struct RetryPolicy {
    pub max_attempts: u32,
    pub min_delay: Duration,
    pub max_delay: Duration,
}

impl RetryPolicy {
    /// The delay before attempt `attempts + 1`: exponential with jitter, never shorter than
    /// what the vendor asked for with `Retry-After`.
    pub fn delay(&self, attempts: u32, retry_after: Option<Duration>) -> Duration {
        let computed = ExponentialBuilder::default()
            .with_min_delay(self.min_delay)
            .with_max_delay(self.max_delay)
            .with_jitter()
            .without_max_times()
            .build()
            .nth(attempts.saturating_sub(1) as usize)
            .unwrap_or(self.max_delay);
        retry_after.map_or(computed, |asked| asked.max(computed.min(asked + self.min_delay)))
    }

    pub fn exhausted(&self, attempts: u32) -> bool {
        attempts >= self.max_attempts
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> RetryPolicy {
        RetryPolicy { max_attempts: 5, min_delay: Duration::from_secs(1), max_delay: Duration::from_secs(60) }
    }

    #[test]
    fn delays_grow_and_stay_within_bounds() {
        let policy = policy();
        let first = policy.delay(1, None);
        assert!(first >= Duration::from_secs(1) && first <= Duration::from_secs(2), "{first:?}");
        let sixth = policy.delay(6, None);
        assert!(sixth >= Duration::from_secs(32), "{sixth:?}");
        assert!(policy.delay(30, None) <= Duration::from_secs(120));
    }

    #[test]
    fn retry_after_is_honoured() {
        let delay = policy().delay(1, Some(Duration::from_secs(7)));
        assert!(delay >= Duration::from_secs(7) && delay <= Duration::from_secs(8), "{delay:?}");
    }

    #[test]
    fn attempts_run_out() {
        assert!(!policy().exhausted(4));
        assert!(policy().exhausted(5));
    }
}
