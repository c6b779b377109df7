//! 95% confidence intervals for a field's mean score: Wilson's interval where every case scores
//! 0 or 1 (the exact fields), a percentile bootstrap where cases score fractions (set F1).

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// z for a two-sided 95% interval.
const Z95: f64 = 1.959_963_985;
/// Enough resamples for stable 2.5% and 97.5% percentiles on a few hundred cases.
const RESAMPLES: usize = 4000;
/// A fixed seed: the same scores print the same interval on every run.
const SEED: u64 = 0x6861_6e64_6f66_6664;

/// Mean and 95% interval of per-case scores in [0, 1].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Estimate {
    pub mean: f64,
    pub low: f64,
    pub high: f64,
    pub cases: usize,
    /// `wilson` or `bootstrap`.
    pub method: &'static str,
}

/// The estimate of `scores`: Wilson when every score is 0 or 1, else bootstrap.
pub fn estimate(scores: &[f64]) -> Option<Estimate> {
    if scores.is_empty() {
        return None;
    }
    let n = scores.len();
    let mean = scores.iter().sum::<f64>() / n as f64;
    if scores.iter().all(|s| *s == 0.0 || *s == 1.0) {
        let (low, high) = wilson(mean, n);
        return Some(Estimate { mean, low, high, cases: n, method: "wilson" });
    }
    let (low, high) = bootstrap(scores);
    Some(Estimate { mean, low, high, cases: n, method: "bootstrap" })
}

/// Wilson score interval of a proportion `p` over `n` trials.
pub fn wilson(p: f64, n: usize) -> (f64, f64) {
    let n = n as f64;
    let z2 = Z95 * Z95;
    let centre = (p + z2 / (2.0 * n)) / (1.0 + z2 / n);
    let half = Z95 / (1.0 + z2 / n) * (p * (1.0 - p) / n + z2 / (4.0 * n * n)).sqrt();
    ((centre - half).max(0.0), (centre + half).min(1.0))
}

/// Percentile bootstrap of the mean.
pub fn bootstrap(scores: &[f64]) -> (f64, f64) {
    let mut rng = StdRng::seed_from_u64(SEED);
    let n = scores.len();
    let mut means: Vec<f64> =
        (0..RESAMPLES).map(|_| (0..n).map(|_| scores[rng.random_range(0..n)]).sum::<f64>() / n as f64).collect();
    means.sort_by(f64::total_cmp);
    let at = |q: f64| means[((q * RESAMPLES as f64) as usize).min(RESAMPLES - 1)];
    (at(0.025), at(0.975))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wilson_matches_the_textbook_figure() {
        // 40 successes of 50: 0.8, Wilson 95% interval 0.670 to 0.888.
        let (low, high) = wilson(0.8, 50);
        assert!((low - 0.670).abs() < 0.002, "{low}");
        assert!((high - 0.888).abs() < 0.002, "{high}");
    }

    #[test]
    fn binary_scores_use_wilson_fractions_bootstrap() {
        assert_eq!(estimate(&[1.0, 0.0, 1.0]).unwrap().method, "wilson");
        let e = estimate(&[1.0, 0.5, 0.0, 0.8, 1.0, 0.66]).unwrap();
        assert_eq!(e.method, "bootstrap");
        assert!(e.low < e.mean && e.mean < e.high, "{e:?}");
        assert!(estimate(&[]).is_none());
    }

    #[test]
    fn a_perfect_field_has_an_interval_below_one() {
        let e = estimate(&[1.0; 40]).unwrap();
        assert_eq!(e.high, 1.0);
        assert!(e.low < 0.95 && e.low > 0.85, "{e:?}");
    }
}
