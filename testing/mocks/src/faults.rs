//! Faults on demand: which share of requests fail and how, decided by seeded dice so a run can be repeated.

use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};

/// Which faults to inject. Rates are shares of requests (0.0 to 1.0); the six failure rates are exclusive
/// outcomes of one draw, so their sum must not exceed 1. A delay is drawn separately and can come with any outcome.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FaultPlan {
    /// Share of requests answered 429 as if the ten-second limit were hit (before any work is done).
    pub rate_429: f64,
    /// Share answered 500, 502 or 503 (before any work is done).
    pub rate_5xx: f64,
    /// Share whose connection is reset without an answer (before any work is done).
    pub rate_reset: f64,
    /// Share whose work IS applied but whose answer never arrives: the connection is closed after the write.
    pub rate_lost: f64,
    /// Share answered 400 with the vendor's validation error, whose message contains [`INJECTED_REJECTION`]
    /// (before any work is done): a request the vendor refuses for good.
    pub rate_400: f64,
    /// Share answered 200 with a body no vendor documents (a JSON array holding [`UNDOCUMENTED_ANSWER`]), before
    /// any work is done: the connector must report it, body included, and not crash.
    pub rate_undocumented: f64,
    /// For lost responses: hold the connection open this long before closing it, to outlast a client timeout.
    pub lost_hang_ms: u64,
    /// Share of requests delayed by `delay_ms` before they are handled.
    pub rate_delay: f64,
    /// The delay of a slow response, in milliseconds.
    pub delay_ms: u64,
    /// Only paths containing one of these strings get faults (e.g. `batch/create`); empty means every vendor route.
    pub paths: Vec<String>,
    /// Seed of the dice.
    pub seed: u64,
}

/// What the message of an injected 400 contains, so a test can check the connector passed the vendor's message on.
pub const INJECTED_REJECTION: &str = "the mock refused this request on purpose (fault rate_400)";

/// What the body of an injected undocumented answer holds, so a test can check the connector kept the body.
pub const UNDOCUMENTED_ANSWER: &str = "an answer in a shape no vendor documents (fault rate_undocumented)";

/// A fault plan that cannot be applied.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("invalid fault plan: {0}")]
pub struct FaultPlanError(String);

impl FaultPlan {
    /// Checks that every rate is a share and that the exclusive outcomes fit in one draw.
    pub fn validate(&self) -> Result<(), FaultPlanError> {
        let rates = [
            ("rate_429", self.rate_429),
            ("rate_5xx", self.rate_5xx),
            ("rate_reset", self.rate_reset),
            ("rate_lost", self.rate_lost),
            ("rate_400", self.rate_400),
            ("rate_undocumented", self.rate_undocumented),
            ("rate_delay", self.rate_delay),
        ];
        for (name, rate) in rates {
            if !(0.0..=1.0).contains(&rate) {
                return Err(FaultPlanError(format!("`{name}` is {rate}, expected a share between 0 and 1")));
            }
        }
        let exclusive =
            self.rate_429 + self.rate_5xx + self.rate_reset + self.rate_lost + self.rate_400 + self.rate_undocumented;
        if exclusive > 1.0 + 1e-9 {
            return Err(FaultPlanError(format!(
                "rate_429 + rate_5xx + rate_reset + rate_lost + rate_400 + rate_undocumented is {exclusive}, which \
                 exceeds 1"
            )));
        }
        Ok(())
    }

    /// Parses the command line's form: JSON (`{"rate_lost":0.1}`) or a comma list such as
    /// `429=0.05,5xx=0.02,reset=0.01,lost=0.01,400=0.01,lost_hang=30s,delay=0.1:250ms,seed=7,paths=batch/create|search`.
    pub fn parse_cli(text: &str) -> Result<Self, FaultPlanError> {
        let text = text.trim();
        let plan = if text.starts_with('{') {
            serde_json::from_str(text).map_err(|error| FaultPlanError(format!("not a fault plan in JSON: {error}")))?
        } else {
            parse_pairs(text)?
        };
        plan.validate()?;
        Ok(plan)
    }
}

fn parse_pairs(text: &str) -> Result<FaultPlan, FaultPlanError> {
    let mut plan = FaultPlan::default();
    for pair in text.split(',').map(str::trim).filter(|pair| !pair.is_empty()) {
        let (key, value) =
            pair.split_once('=').ok_or_else(|| FaultPlanError(format!("`{pair}` is not of the form key=value")))?;
        match key.trim() {
            "429" => plan.rate_429 = parse_rate(key, value)?,
            "5xx" => plan.rate_5xx = parse_rate(key, value)?,
            "reset" => plan.rate_reset = parse_rate(key, value)?,
            "lost" => plan.rate_lost = parse_rate(key, value)?,
            "400" => plan.rate_400 = parse_rate(key, value)?,
            "undocumented" => plan.rate_undocumented = parse_rate(key, value)?,
            "lost_hang" => plan.lost_hang_ms = parse_millis(key, value)?,
            "delay" => {
                let (rate, delay) = value.split_once(':').ok_or_else(|| {
                    FaultPlanError(format!("`delay` takes RATE:DURATION (e.g. 0.1:250ms), got `{value}`"))
                })?;
                plan.rate_delay = parse_rate(key, rate)?;
                plan.delay_ms = parse_millis(key, delay)?;
            }
            "seed" => {
                plan.seed =
                    value.trim().parse().map_err(|_| FaultPlanError(format!("`seed` is not a number: `{value}`")))?
            }
            "paths" => {
                plan.paths = value.split('|').map(str::trim).filter(|p| !p.is_empty()).map(String::from).collect()
            }
            other => {
                return Err(FaultPlanError(format!(
                    "unknown fault `{other}`; expected one of: 429, 5xx, reset, lost, 400, undocumented, lost_hang, delay, seed, paths"
                )));
            }
        }
    }
    Ok(plan)
}

fn parse_rate(key: &str, value: &str) -> Result<f64, FaultPlanError> {
    value.trim().parse().map_err(|_| FaultPlanError(format!("`{key}` takes a share such as 0.05, got `{value}`")))
}

fn parse_millis(key: &str, value: &str) -> Result<u64, FaultPlanError> {
    let duration = humantime::parse_duration(value.trim())
        .map_err(|error| FaultPlanError(format!("`{key}` takes a duration such as 250ms, got `{value}`: {error}")))?;
    Ok(u64::try_from(duration.as_millis()).unwrap_or(u64::MAX))
}

/// What happens to one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Fault {
    /// Handled normally.
    None,
    /// Answered 429 before any work.
    TooManyRequests,
    /// Answered with this 5xx status before any work.
    ServerError(u16),
    /// Connection reset before any work.
    Reset,
    /// Work applied, answer never sent.
    LostResponse { hang: Duration },
    /// Answered 400 before any work.
    Rejected,
    /// Answered 200 with an undocumented body before any work.
    Undocumented,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct FaultDecision {
    pub fault: Fault,
    pub delay: Option<Duration>,
}

/// The current plan and its dice.
#[derive(Debug)]
pub(crate) struct FaultInjector {
    plan: FaultPlan,
    dice: StdRng,
}

impl FaultInjector {
    pub(crate) fn new(plan: FaultPlan) -> Self {
        let dice = StdRng::seed_from_u64(plan.seed);
        Self { plan, dice }
    }

    pub(crate) fn plan(&self) -> &FaultPlan {
        &self.plan
    }

    pub(crate) fn set_plan(&mut self, plan: FaultPlan) {
        *self = Self::new(plan);
    }

    /// Rolls the dice for one request. Requests outside `paths` roll nothing, so they do not shift the sequence.
    pub(crate) fn decide(&mut self, path: &str) -> FaultDecision {
        let plan = &self.plan;
        let targeted = plan.paths.is_empty() || plan.paths.iter().any(|p| path.contains(p.as_str()));
        let anything = plan.rate_429
            + plan.rate_5xx
            + plan.rate_reset
            + plan.rate_lost
            + plan.rate_400
            + plan.rate_undocumented
            + plan.rate_delay
            > 0.0;
        if !targeted || !anything {
            return FaultDecision { fault: Fault::None, delay: None };
        }
        let outcome: f64 = self.dice.random();
        let server_error_pick: u8 = self.dice.random_range(0..3);
        let delayed = self.dice.random::<f64>() < plan.rate_delay;

        let bands = [
            (plan.rate_429, Fault::TooManyRequests),
            (plan.rate_5xx, Fault::ServerError([500, 502, 503][usize::from(server_error_pick)])),
            (plan.rate_reset, Fault::Reset),
            (plan.rate_lost, Fault::LostResponse { hang: Duration::from_millis(plan.lost_hang_ms) }),
            // Last, so that plans without it roll the same sequence as before it existed.
            (plan.rate_400, Fault::Rejected),
            (plan.rate_undocumented, Fault::Undocumented),
        ];
        let mut upper = 0.0;
        let mut fault = Fault::None;
        for (rate, candidate) in bands {
            upper += rate;
            if outcome < upper {
                fault = candidate;
                break;
            }
        }
        let delay = delayed.then(|| Duration::from_millis(plan.delay_ms));
        FaultDecision { fault, delay }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_seed_gives_the_same_faults() {
        let plan = FaultPlan { rate_5xx: 0.3, rate_lost: 0.3, seed: 42, ..FaultPlan::default() };
        let roll = |plan: &FaultPlan| {
            let mut injector = FaultInjector::new(plan.clone());
            (0..200).map(|_| injector.decide("/x").fault).collect::<Vec<_>>()
        };
        let first = roll(&plan);
        assert_eq!(first, roll(&plan));
        assert_ne!(first, roll(&FaultPlan { seed: 43, ..plan.clone() }));
        let lost = first.iter().filter(|f| matches!(f, Fault::LostResponse { .. })).count();
        assert!((30..=90).contains(&lost), "about 30% of 200 should be lost, got {lost}");
    }

    #[test]
    fn paths_limit_where_faults_land() {
        let plan = FaultPlan { rate_reset: 1.0, paths: vec!["batch/create".into()], ..FaultPlan::default() };
        let mut injector = FaultInjector::new(plan);
        assert_eq!(injector.decide("/hubspot/crm/v3/owners").fault, Fault::None);
        assert_eq!(injector.decide("/hubspot/crm/v3/objects/tasks/batch/create").fault, Fault::Reset);
    }

    #[test]
    fn the_cli_form_parses_and_is_validated() {
        let plan = FaultPlan::parse_cli("429=0.05,5xx=0.02,lost=0.1,lost_hang=2s,delay=0.5:250ms,seed=7,paths=a|b")
            .expect("a valid plan");
        assert_eq!(plan.rate_429, 0.05);
        assert_eq!(plan.lost_hang_ms, 2000);
        assert_eq!((plan.rate_delay, plan.delay_ms), (0.5, 250));
        assert_eq!(plan.paths, vec!["a".to_owned(), "b".to_owned()]);
        assert!(FaultPlan::parse_cli("lost=0.7,reset=0.5").is_err());
        assert!(FaultPlan::parse_cli("explode=1").is_err());
        assert!(FaultPlan::parse_cli("lost=0.7,400=0.5").is_err(), "400 is one of the exclusive outcomes");
        assert_eq!(FaultPlan::parse_cli("400=1").map(|p| p.rate_400), Ok(1.0));
        assert_eq!(FaultPlan::parse_cli(r#"{"rate_lost":1.0}"#).map(|p| p.rate_lost), Ok(1.0));
    }
}
