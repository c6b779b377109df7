//! Latency samples and their percentiles.

use std::time::Duration;

/// Latencies in microseconds, sorted on demand.
#[derive(Debug, Default, Clone)]
pub struct Samples(Vec<u64>);

impl Samples {
    pub fn push(&mut self, latency: Duration) {
        self.0.push(latency.as_micros().min(u64::MAX as u128) as u64);
    }

    pub fn extend(&mut self, other: Samples) {
        self.0.extend(other.0);
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The `q`-quantile (0.0 to 1.0) by the nearest-rank method; `None` without samples.
    pub fn quantile(&self, q: f64) -> Option<Duration> {
        if self.0.is_empty() {
            return None;
        }
        let mut sorted = self.0.clone();
        sorted.sort_unstable();
        let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
        Some(Duration::from_micros(sorted[rank - 1]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_quantiles() {
        let mut samples = Samples::default();
        for ms in 1..=100 {
            samples.push(Duration::from_millis(ms));
        }
        assert_eq!(samples.quantile(0.5), Some(Duration::from_millis(50)));
        assert_eq!(samples.quantile(0.99), Some(Duration::from_millis(99)));
        assert_eq!(samples.quantile(1.0), Some(Duration::from_millis(100)));
        assert_eq!(Samples::default().quantile(0.5), None);
    }
}
