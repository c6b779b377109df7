//! Route: who owns the task and when it is due.
//!
//! Layout:
//! - [`owners`]: owners parsed from the configuration, their shifts, days off and holidays, and
//!   their CRM ids (resolved from the owners the CRM lists);
//! - [`rules`]: the first rule whose `when` matches the brief picks a pool and a strategy;
//! - [`strategy`]: one pool tried: every member weighed, then sticky, round robin or least open;
//! - [`due`]: the due time, clipped into the chosen owner's working time;
//! - [`sync`]: the CRM's owners fetched on a schedule and kept in the store.
//!
//! A decision never drops a task: when the rule's pool, its fallback and the default pool have
//! nobody available, the brief goes out unassigned and says so. Every decision keeps each
//! candidate and why they were out, for the audit and `explain`.

pub mod due;
pub mod owners;
pub mod rules;
pub mod strategy;
pub mod sync;

use std::collections::BTreeMap;
use std::sync::Arc;

use anyhow::Context;
use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use handoffd_contract::brief::{Brief, Due, OwnerChoice, UrgencyLevel};
use handoffd_contract::task::TaskPriority;
use serde::Serialize;

use crate::config::Config;
use crate::config::schema::{BusinessConfig, DuePolicy, RoutingConfig, RuleConfig, Strategy};
use crate::interpret::when::BusinessHours;
use crate::store::PipelineStore;
use due::Calendar;
use owners::{Owner, OwnerDirectory};
pub use rules::RouteFacts;
pub use strategy::{Candidate, RoutingRound};
use strategy::{Filters, PoolAttempt, try_pool};

pub mod backtest;

/// The pool every owner is in when the configuration names no pools.
pub const IMPLICIT_POOL: &str = "default";
/// How many times [`Router::route_claiming`] decides a brief again when other instances keep taking the
/// pool's turns first.
const CLAIM_ATTEMPTS: usize = 32;
/// The rule name a decision carries when no rule matched.
pub const NO_RULE: &str = "default_pool";

/// Who gets a task and why: what the audit records and `explain` shows.
#[derive(Clone, Debug, Serialize)]
pub struct RouteDecision {
    /// The matched rule's name, or `default_pool` when none matched.
    pub rule: String,
    /// Every pool tried, in order (the rule's, its fallback, the default), each with its candidates.
    pub pools: Vec<PoolAttempt>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub owner: Option<ChosenOwner>,
    /// Why nobody got it, when nobody did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unassigned: Option<String>,
    /// The matched rule's `confirm` flag: `Some(true)` confirm to the customer once the task exists,
    /// `Some(false)` never; `None` (no rule matched, or it set no flag): `sla.confirm` decides.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub confirm: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub due: Option<Due>,
}

#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct ChosenOwner {
    /// The CRM owner id the task is written with.
    pub id: String,
    /// Email or id, as the configuration names the owner.
    pub key: String,
    pub name: Option<String>,
    pub pool: String,
    pub tie_break: String,
}

impl RouteDecision {
    /// One line per excluded candidate, "owner: why", for the brief's reason and the audit.
    pub fn exclusions(&self) -> Vec<String> {
        self.pools
            .iter()
            .flat_map(|pool| pool.candidates.iter())
            .filter_map(|c| c.excluded.as_ref().map(|why| format!("{}: {why}", c.owner)))
            .collect()
    }

    /// What the store keeps of the decision with the handoff: the owner, the pool and the rule's `confirm`.
    pub fn assignment(&self) -> crate::store::Assignment {
        crate::store::Assignment {
            owner_id: self.owner.as_ref().map(|o| o.id.clone()),
            pool: self.owner.as_ref().map(|o| o.pool.clone()),
            confirm: self.confirm,
        }
    }

    /// Why the chosen owner got it: the pool and tie-break, then who was not available and why.
    pub fn owner_reason(&self) -> Option<String> {
        let chosen = self.owner.as_ref()?;
        let excluded = self.exclusions();
        let mut reason = format!("pool `{}`: {}", chosen.pool, chosen.tie_break);
        if !excluded.is_empty() {
            reason.push_str(&format!("; not available: {}", excluded.join("; ")));
        }
        Some(reason)
    }
}

/// A pool's manager (`routing.managers`), as the SLA watcher reaches them.
#[derive(Clone, Debug)]
pub struct PoolManager {
    /// Email or id, as `routing.managers` names them.
    pub key: String,
    pub name: Option<String>,
    pub webhook: Option<crate::config::schema::ManagerWebhook>,
    pub phone: Option<String>,
}

pub struct Router {
    pub owners: Vec<Owner>,
    /// Pool name -> indexes into `owners`, in the configured order (round robin goes this way).
    pub pools: BTreeMap<String, Vec<usize>>,
    pub rules: Vec<RuleConfig>,
    pub default_pool: Option<String>,
    /// Pool name -> manager (email or id), for the SLA watcher's escalations.
    pub managers: BTreeMap<String, String>,
    pub due: DuePolicy,
    pub timezone: Tz,
    pub hours: BusinessHours,
    /// Where rotations, open handoffs and synced owners are read; `None` (explain of a canonical
    /// conversation, benchmarks) routes as if nothing was ever handed out.
    pub store: Option<Arc<dyn PipelineStore>>,
    /// The CRM account whose owners and contacts routing reads (`delivery.crm`).
    pub crm_id: String,
}

impl Router {
    /// The router a configuration describes (validated: what it refuses, `check` reported).
    pub fn from_config(config: &Config, store: Option<Arc<dyn PipelineStore>>) -> anyhow::Result<Self> {
        Self::new(&config.routing, &config.business, &config.delivery.crm, store)
    }

    /// [`Router::from_config`] from its sections.
    pub fn new(
        routing: &RoutingConfig,
        business: &BusinessConfig,
        crm_id: &str,
        store: Option<Arc<dyn PipelineStore>>,
    ) -> anyhow::Result<Self> {
        let timezone: Tz = business.timezone.parse().map_err(|e| anyhow::anyhow!("business.timezone: {e}"))?;
        let hours = BusinessHours::parse(&business.hours).map_err(|e| anyhow::anyhow!("business.hours: {e}"))?;
        let owners = routing
            .owners
            .iter()
            .enumerate()
            .map(|(i, owner)| {
                Owner::from_config(owner, timezone, &business.hours, &routing.holidays)
                    .map_err(|e| anyhow::anyhow!("routing.owners[{i}]: {e}"))
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        let mut pools = BTreeMap::new();
        if routing.pools.is_empty() {
            pools.insert(IMPLICIT_POOL.to_owned(), (0..owners.len()).collect());
        }
        for (name, members) in &routing.pools {
            let indexes = members
                .iter()
                .map(|member| {
                    routing
                        .owners
                        .iter()
                        .position(|o| o.is_named(member))
                        .with_context(|| format!("routing.pools.{name}: `{member}` is not under routing.owners"))
                })
                .collect::<anyhow::Result<Vec<_>>>()?;
            pools.insert(name.clone(), indexes);
        }
        let default_pool = routing
            .default_pool
            .clone()
            .or_else(|| pools.contains_key(IMPLICIT_POOL).then(|| IMPLICIT_POOL.to_owned()));
        Ok(Router {
            owners,
            pools,
            rules: routing.rules.clone(),
            default_pool,
            managers: routing.managers.clone(),
            due: routing.due.clone(),
            timezone,
            hours,
            store,
            crm_id: crm_id.to_owned(),
        })
    }

    /// What a round of routing reads from the store: rotations, open handoffs, synced owners.
    pub async fn round(&self) -> anyhow::Result<RoutingRound> {
        let Some(store) = &self.store else { return Ok(RoutingRound::default()) };
        let mut positions = BTreeMap::new();
        for pool in self.pools.keys() {
            positions.insert(pool.clone(), store.rotation_position(pool).await?);
        }
        let open = store.open_handoffs_by_owner().await?;
        let synced = store.crm_owners(&self.crm_id).await?;
        let directory = (!synced.is_empty()).then(|| OwnerDirectory::new(synced));
        Ok(RoutingRound { positions, used: BTreeMap::new(), open, directory, claims_turns: false })
    }

    /// Decide who gets the brief's task and when it is due, and write both on the brief
    /// (`recommended_owner`, `due`; an unassigned task gets a note saying so).
    pub fn route(
        &self,
        brief: &mut Brief,
        facts: &RouteFacts,
        now: DateTime<Utc>,
        round: &mut RoutingRound,
    ) -> RouteDecision {
        let decision = self.decide(brief, facts, now, round);
        self.write_on(brief, decision, now)
    }

    /// [`Router::route`], taking a round robin's turn in the store when `round.claims_turns`: a
    /// compare-and-set on the pool's position, committed at once. When another instance took turns
    /// first, the round learns the pool's new position and the brief is decided again, so no turn is
    /// handed out twice. (A crash before the brief is committed skips the turn taken: an owner misses
    /// one turn, nobody gets two.)
    pub async fn route_claiming(
        &self,
        brief: &mut Brief,
        facts: &RouteFacts,
        now: DateTime<Utc>,
        round: &mut RoutingRound,
    ) -> anyhow::Result<RouteDecision> {
        let store = match &self.store {
            Some(store) if round.claims_turns => store,
            _ => return Ok(self.route(brief, facts, now, round)),
        };
        for _ in 0..CLAIM_ATTEMPTS {
            let decision = self.decide(brief, facts, now, round);
            let Some((pool, (start, used), owner_id)) = decision.owner.as_ref().and_then(|chosen| {
                let attempt = decision.pools.iter().find(|p| p.pool == chosen.pool)?;
                Some((chosen.pool.clone(), attempt.turn?, chosen.id.clone()))
            }) else {
                return Ok(self.write_on(brief, decision, now));
            };
            // The turn is out of the round's pending advances either way: taken now, or given back.
            if let Some(pending) = round.used.get_mut(&pool) {
                *pending = pending.saturating_sub(used);
            }
            let pending = round.used.get(&pool).copied().unwrap_or(0) as i64;
            match store.claim_rotation(&pool, start, start + used as i64).await? {
                crate::store::RotationClaim::Taken => {
                    round.positions.insert(pool, start + used as i64 - pending);
                    return Ok(self.write_on(brief, decision, now));
                }
                crate::store::RotationClaim::Moved { current } => {
                    if let Some(open) = round.open.get_mut(&owner_id) {
                        *open = open.saturating_sub(1);
                    }
                    round.positions.insert(pool.clone(), current - pending);
                    tracing::debug!(pool = %pool, current, "Another instance took the pool's turn first; routing again.");
                }
            }
        }
        anyhow::bail!(
            "could not take a round-robin turn in {CLAIM_ATTEMPTS} attempts: other instances kept taking them"
        )
    }

    /// Write a decision on the brief: the due time in the chosen owner's calendar, the owner, or the
    /// note that nobody got it.
    fn write_on(&self, brief: &mut Brief, mut decision: RouteDecision, now: DateTime<Utc>) -> RouteDecision {
        let owner = decision.owner.as_ref().and_then(|chosen| self.owners.iter().find(|o| o.key == chosen.key));
        let calendar = match owner {
            Some(owner) => Calendar::Owner(owner),
            None => Calendar::Business { hours: &self.hours, timezone: self.timezone },
        };
        let due = due::due_time(&self.due, brief, now, &calendar);
        brief.due = Some(due.clone());
        decision.due = Some(due);
        match &decision.owner {
            Some(chosen) => {
                brief.recommended_owner = Some(OwnerChoice {
                    id: chosen.id.clone(),
                    name: chosen.name.clone(),
                    rule: decision.rule.clone(),
                    reason: decision.owner_reason().unwrap_or_default(),
                });
            }
            None => {
                brief.recommended_owner = None;
                let why = decision.unassigned.clone().unwrap_or_default();
                brief.notes.push(format!("Unassigned: {why}. Assign an owner by hand."));
            }
        }
        decision
    }

    /// [`Router::route`] without writing on the brief.
    pub fn decide(
        &self,
        brief: &Brief,
        facts: &RouteFacts,
        now: DateTime<Utc>,
        round: &mut RoutingRound,
    ) -> RouteDecision {
        let matched = rules::first_match(&self.rules, brief, facts).map(|(_, rule)| rule);
        let (rule_name, confirm) = matched.map(|r| (r.name.clone(), r.confirm)).unwrap_or((NO_RULE.to_owned(), None));
        let mut plan: Vec<(&str, Strategy, Filters<'_>)> = Vec::new();
        if let Some(rule) = matched {
            let filters = Filters { skills: &rule.skills, languages: &rule.languages, exclude: &[] };
            plan.push((&rule.pool, rule.strategy, filters));
            if let Some(fallback) = &rule.fallback_pool {
                plan.push((fallback, rule.strategy, filters));
            }
        }
        // The default pool takes anyone available: a rule's skill filter is for its own pools.
        if let Some(default) = &self.default_pool {
            plan.push((default, Strategy::RoundRobin, Filters::default()));
        }
        self.follow(rule_name, confirm, &plan, facts.contact_owner.as_deref(), now, round)
    }

    /// The manager of `pool` (`routing.managers`), with how their owner entry says to reach them.
    pub fn manager_of(&self, pool: &str) -> Option<PoolManager> {
        let key = self.managers.get(pool)?;
        let owner =
            self.owners.iter().find(|o| o.key.eq_ignore_ascii_case(key) || o.configured_id.as_deref() == Some(key));
        let notify = owner.and_then(|o| o.notify.as_ref());
        Some(PoolManager {
            key: key.clone(),
            name: owner.and_then(|o| o.name.clone()),
            webhook: notify.and_then(|n| n.webhook.clone()),
            phone: notify.and_then(|n| n.phone.clone()),
        })
    }

    /// The next available owner of `pool` other than `exclude` (emails or ids), for a task moved
    /// off its owner (the SLA watcher's reassignment): the one with the fewest open handoffs, then
    /// the default pool's. Reads the store; nothing is written.
    pub async fn reassign(&self, pool: &str, exclude: &[String], now: DateTime<Utc>) -> anyhow::Result<RouteDecision> {
        let mut round = self.round().await?;
        Ok(self.reassign_in(pool, exclude, now, &mut round))
    }

    /// [`Router::reassign`] against a round already read.
    pub fn reassign_in(
        &self,
        pool: &str,
        exclude: &[String],
        now: DateTime<Utc>,
        round: &mut RoutingRound,
    ) -> RouteDecision {
        let filters = Filters { exclude, ..Filters::default() };
        let mut plan = vec![(pool, Strategy::LeastOpenTasks, filters)];
        if let Some(default) = self.default_pool.as_deref().filter(|d| *d != pool) {
            plan.push((default, Strategy::LeastOpenTasks, filters));
        }
        self.follow("reassign".to_owned(), None, &plan, None, now, round)
    }

    fn follow(
        &self,
        rule: String,
        confirm: Option<bool>,
        plan: &[(&str, Strategy, Filters<'_>)],
        sticky_owner: Option<&str>,
        now: DateTime<Utc>,
        round: &mut RoutingRound,
    ) -> RouteDecision {
        let mut decision = RouteDecision { rule, pools: Vec::new(), owner: None, unassigned: None, confirm, due: None };
        let mut seen: Vec<&str> = Vec::new();
        for &(pool, strategy, filters) in plan {
            if seen.contains(&pool) {
                continue;
            }
            seen.push(pool);
            let members = self.pools.get(pool).map(Vec::as_slice).unwrap_or(&[]);
            let attempt = try_pool(pool, members, &self.owners, strategy, filters, sticky_owner, now, round);
            if let Some(c) = attempt.chosen {
                let owner = self.owners.iter().find(|o| o.key == attempt.candidates[c].owner);
                decision.owner = Some(ChosenOwner {
                    id: attempt.candidates[c].id.clone().unwrap_or_default(),
                    key: attempt.candidates[c].owner.clone(),
                    name: owner.and_then(|o| o.name.clone()),
                    pool: pool.to_owned(),
                    tie_break: attempt.tie_break.clone(),
                });
                decision.pools.push(attempt);
                return decision;
            }
            decision.pools.push(attempt);
        }
        let tried: Vec<String> = decision.pools.iter().map(|p| p.tie_break.clone()).collect();
        decision.unassigned = Some(if tried.is_empty() {
            "no rule matched and there is no default pool".to_owned()
        } else {
            tried.join("; ")
        });
        decision
    }
}

/// The contact's current owner in the CRM `crm_id`, from the identity cache: among the cached
/// contacts claiming the customer, the most recently updated one that has an owner.
pub fn contact_owner(customer: &crate::store::CustomerRecord, crm_id: &str) -> Option<String> {
    customer
        .cached_contacts
        .iter()
        .filter(|(account, _)| account == crm_id)
        .flat_map(|(_, contacts)| contacts.iter())
        .filter(|c| c.owner_id.is_some() && c.merged_into.is_none())
        .max_by_key(|c| c.updated_at)
        .and_then(|c| c.owner_id.clone())
}

pub fn priority(level: UrgencyLevel) -> TaskPriority {
    match level {
        UrgencyLevel::High => TaskPriority::High,
        UrgencyLevel::Medium => TaskPriority::Medium,
        UrgencyLevel::Low => TaskPriority::Low,
    }
}

#[cfg(test)]
mod tests;
