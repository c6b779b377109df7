//! One pool tried: every member weighed (and why each is out), then the strategy's pick among
//! those left.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::owners::{Owner, OwnerDirectory, resolve_id};
use crate::config::schema::Strategy;

/// What a round of routing reads once from the store and carries from brief to brief: each pool's
/// place in its rotation, open handoffs per owner and the CRM's owners as last synced.
#[derive(Clone, Debug, Default)]
pub struct RoutingRound {
    /// Each pool's stored next position when the round began.
    pub positions: BTreeMap<String, i64>,
    /// Positions handed out since, per pool: committed with the round's briefs.
    pub used: BTreeMap<String, u64>,
    /// Open handoffs per CRM owner id, counting those assigned in this round.
    pub open: HashMap<String, u32>,
    /// `None`: the CRM's owners were never synced.
    pub directory: Option<OwnerDirectory>,
    /// Take each round-robin turn in the store as it is handed out ([`super::Router::route_claiming`]), so
    /// instances routing at once never hand out the same turn. Off (the default), the turns handed out are
    /// committed with the round's briefs (`advances`): what `explain` and the backtest's scratch rounds do.
    pub claims_turns: bool,
}

impl RoutingRound {
    /// (pool, positions handed out) for every pool the round moved.
    pub fn advances(&self) -> Vec<(String, u64)> {
        self.used.iter().filter(|(_, used)| **used > 0).map(|(pool, used)| (pool.clone(), *used)).collect()
    }

    fn position(&self, pool: &str) -> i64 {
        self.positions.get(pool).copied().unwrap_or(0) + self.used.get(pool).copied().unwrap_or(0) as i64
    }
}

/// One member of a pool as weighed for a task.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Candidate {
    /// The owner's email or id, as the configuration names them.
    pub owner: String,
    /// The CRM id, when resolved.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Why the owner cannot take it; `None` when they could.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub excluded: Option<String>,
}

/// A pool tried for one task.
#[derive(Clone, Debug, Serialize)]
pub struct PoolAttempt {
    pub pool: String,
    pub strategy: Strategy,
    pub candidates: Vec<Candidate>,
    /// Index into `candidates` of the owner chosen.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub chosen: Option<usize>,
    /// How the choice among the available was made, or why there was none.
    pub tie_break: String,
    /// A round robin's turn: the pool's position it started from and how many positions it took.
    #[serde(skip)]
    pub turn: Option<(i64, u64)>,
}

/// Filters a rule adds to availability.
#[derive(Clone, Copy, Debug, Default)]
pub struct Filters<'a> {
    pub skills: &'a [String],
    pub languages: &'a [String],
    /// Owners (email or id) who must not get it (a reassignment away from them).
    pub exclude: &'a [String],
}

/// Weigh every member of `members` (indexes into `owners`) and pick one by `strategy`.
/// `sticky_owner` is the CRM contact's current owner id. The chosen owner's open count goes up in
/// `round`, and a round robin moves the pool's position past them.
#[allow(clippy::too_many_arguments)]
pub fn try_pool(
    pool: &str,
    members: &[usize],
    owners: &[Owner],
    strategy: Strategy,
    filters: Filters<'_>,
    sticky_owner: Option<&str>,
    now: DateTime<Utc>,
    round: &mut RoutingRound,
) -> PoolAttempt {
    let candidates: Vec<Candidate> = members.iter().map(|&i| weigh(&owners[i], filters, now, round)).collect();
    let available: Vec<usize> = (0..candidates.len()).filter(|&c| candidates[c].excluded.is_none()).collect();
    let mut attempt =
        PoolAttempt { pool: pool.to_owned(), strategy, candidates, chosen: None, tie_break: String::new(), turn: None };
    if members.is_empty() {
        attempt.tie_break = format!("pool `{pool}` has no members");
        return attempt;
    }
    if available.is_empty() {
        attempt.tie_break = format!("nobody in pool `{pool}` is available");
        return attempt;
    }
    let mut sticky_note = String::new();
    if strategy == Strategy::Sticky {
        match sticky_owner {
            None => sticky_note = "sticky: the contact has no CRM owner; ".to_owned(),
            Some(id) => match attempt.candidates.iter().position(|c| c.id.as_deref() == Some(id)) {
                Some(c) if attempt.candidates[c].excluded.is_none() => {
                    attempt.chosen = Some(c);
                    attempt.tie_break =
                        format!("sticky: `{}` owns the contact in the CRM", attempt.candidates[c].owner);
                }
                Some(c) => {
                    let why = attempt.candidates[c].excluded.clone().unwrap_or_default();
                    sticky_note = format!("sticky owner unavailable: {why}; ");
                }
                None => sticky_note = format!("sticky owner `{id}` not in pool `{pool}`; "),
            },
        }
    }
    if attempt.chosen.is_none() {
        match strategy {
            Strategy::LeastOpenTasks => {
                let open = |c: usize| attempt.candidates[c].id.as_ref().and_then(|id| round.open.get(id)).copied();
                let best = *available.iter().min_by_key(|&&c| (open(c).unwrap_or(0), c)).expect("some are available");
                let count = open(best).unwrap_or(0);
                let tied = available.iter().filter(|&&c| open(c).unwrap_or(0) == count).count();
                attempt.chosen = Some(best);
                attempt.tie_break = if tied > 1 {
                    format!("fewest open handoffs ({count}), {tied} tied: the first in the pool's order")
                } else {
                    format!("fewest open handoffs ({count})")
                };
            }
            Strategy::RoundRobin | Strategy::Sticky => {
                let n = members.len() as i64;
                let start = round.position(pool);
                let skip =
                    (0..n).find(|k| available.contains(&((start + k).rem_euclid(n) as usize))).expect("available");
                let chosen = (start + skip).rem_euclid(n) as usize;
                *round.used.entry(pool.to_owned()).or_default() += skip as u64 + 1;
                attempt.turn = Some((start, skip as u64 + 1));
                attempt.chosen = Some(chosen);
                attempt.tie_break = format!(
                    "{sticky_note}round robin: turn {} of {n}{}",
                    start.rem_euclid(n) + 1,
                    if skip > 0 { format!(", {skip} unavailable skipped") } else { String::new() }
                );
            }
        }
    }
    if let Some(id) = attempt.chosen.and_then(|c| attempt.candidates[c].id.clone()) {
        *round.open.entry(id).or_default() += 1;
    }
    attempt
}

/// Whether one owner can take a task now, and if not, why.
fn weigh(owner: &Owner, filters: Filters<'_>, now: DateTime<Utc>, round: &RoutingRound) -> Candidate {
    let id = resolve_id(owner, round.directory.as_ref());
    let mut candidate = Candidate { owner: owner.key.clone(), id: id.as_ref().ok().cloned(), excluded: None };
    let named = |name: &String| name.eq_ignore_ascii_case(&owner.key) || candidate.id.as_deref() == Some(name.as_str());
    candidate.excluded = if filters.exclude.iter().any(named) {
        Some("excluded: the task is being moved away from this owner".to_owned())
    } else if let Err(why) = id {
        Some(why)
    } else if let Some(why) = owner.unavailable(now) {
        Some(why)
    } else if let Some(skill) = filters.skills.iter().find(|s| !owner.skills.iter().any(|o| o.eq_ignore_ascii_case(s)))
    {
        Some(format!("missing skill `{skill}`"))
    } else if !filters.languages.is_empty()
        && !filters
            .languages
            .iter()
            .any(|l| owner.languages.iter().any(|o| crate::interpret::language::same_language(o, l)))
    {
        Some(format!("speaks none of {}", filters.languages.join(", ")))
    } else {
        let open = candidate.id.as_ref().and_then(|id| round.open.get(id)).copied().unwrap_or(0);
        owner.capacity.filter(|cap| open >= *cap).map(|cap| format!("over capacity {open}/{cap}"))
    };
    candidate
}
