//! `handoffd backtest`: the routing decisions of a past period replayed through candidate rules, and the
//! difference against what happened.
//!
//! What happened is in the store: each `routed` audit entry (owner, rule, due time, made by the handoff maker
//! when it routed a brief) and the handoff's stored brief. Decisions replay in the order they were made, so
//! the candidate's round robin takes positions in the order the daemon took them; the positions are kept in
//! memory ([`decide::Rotations`]) and nothing is written. A handoff of the period with no brief at all (its
//! interpretation failed, or it was never made) is interpreted again by the daemon's own brief maker.
//!
//! Layout: `candidate` (the rules file, validated), `decide` (the one seam with routing), `reinterpret`,
//! `report` (the JSON shape and the text view); this file replays and tallies.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use handoffd_contract::brief::Brief;

use crate::config::{Config, Loaded};
use crate::route::Router;
use crate::store::{CustomerLabel, PipelineStore, RecordedDecision, Store};

pub mod candidate;
pub mod decide;
mod reinterpret;
pub mod report;

use decide::{Decision, Flags, Rotations};
use report::{Assignment, AtRisk, Change, Customer, Flagged, NotReplayed, OwnerLoad, Period, Report};

/// Recorded decisions read from the store at a time.
const PAGE: u32 = 500;
/// A due time this much past the policy's is still on time (the policy is computed again, to the second).
const SLA_SLACK: chrono::Duration = chrono::Duration::minutes(1);

/// How far a backtest has gone, for a progress bar.
pub trait Progress {
    /// How many steps there are (decisions and handoffs to interpret again).
    fn total(&mut self, steps: u64);
    /// Steps done so far.
    fn done(&mut self, steps: u64);
    fn finish(&mut self);
}

/// No progress shown.
pub struct Quiet;

impl Progress for Quiet {
    fn total(&mut self, _: u64) {}
    fn done(&mut self, _: u64) {}
    fn finish(&mut self) {}
}

/// A backtest to run: the store and running configuration it reads, the candidate, the period.
pub struct Backtest<'a> {
    pub store: Arc<dyn Store>,
    pub running: &'a Loaded,
    /// The running configuration with the candidate's sections in place ([`candidate::load`]).
    pub candidate: &'a Config,
    /// The rules file, as the report names it.
    pub rules: String,
    pub since: DateTime<Utc>,
    pub until: DateTime<Utc>,
}

/// Replay the period and tally the difference. Reads the store, never writes it.
pub async fn run(backtest: &Backtest<'_>, progress: &mut dyn Progress) -> anyhow::Result<Report> {
    let store = &backtest.store;
    let pipeline: Arc<dyn PipelineStore> = store.clone();
    let current = decide::router(&backtest.running.config, pipeline.clone())?;
    let candidate = decide::router(backtest.candidate, pipeline.clone())?;
    let (since, until) = (backtest.since, backtest.until);

    let recorded = store.count_recorded_decisions(since, until).await?;
    let unrouted = store.unrouted_handoffs(since, until).await?;
    progress.total(recorded + unrouted.len() as u64);

    let mut page = store.recorded_decisions(since, until, 0, PAGE).await?;
    let first_owner = page.first().and_then(|d| d.detail["owner"].as_str());
    let mut tally = Tally {
        current: &current,
        candidate: &candidate,
        current_rotations: Rotations::start(&current, first_owner).await?,
        candidate_rotations: Rotations::start(&candidate, first_owner).await?,
        timezone: current.timezone,
        outcomes: Vec::new(),
        index: HashMap::new(),
        not_replayed: Vec::new(),
        decisions: 0,
        reinterpreted: 0,
    };
    let mut steps = 0;
    while !page.is_empty() {
        for decision in &page {
            tally.recorded(decision);
            steps += 1;
            progress.done(steps);
        }
        if page.len() < PAGE as usize {
            break;
        }
        let after = page.last().map(|d| d.audit_id).unwrap_or_default();
        page = store.recorded_decisions(since, until, after, PAGE).await?;
    }

    if !unrouted.is_empty() {
        let reinterpreter = reinterpret::Reinterpreter::new(backtest.running, pipeline)?;
        for handoff in &unrouted {
            let customer = customer(&handoff.customer);
            match reinterpreter.reread(&handoff.handoff).await? {
                reinterpret::Reread::Actionable(brief) => {
                    tally.reinterpreted += 1;
                    tally.replay(&handoff.handoff.id, customer, handoff.handoff.ready_at, &brief, None);
                }
                reinterpret::Reread::NothingToActOn => {}
                reinterpret::Reread::Failed(reason) => tally.skip(&handoff.handoff.id, customer, reason),
            }
            steps += 1;
            progress.done(steps);
        }
    }
    progress.finish();
    Ok(tally.report(backtest.rules.clone(), Period { since, until }))
}

/// One handoff's outcome: its latest decision recorded and replayed.
struct Outcome {
    handoff: String,
    customer: Customer,
    routed_at: DateTime<Utc>,
    before: Option<Assignment>,
    after: Assignment,
    after_flags: Flags,
    risk_before: Option<String>,
    risk_after: Option<String>,
}

struct Tally<'a> {
    current: &'a Router,
    candidate: &'a Router,
    current_rotations: Rotations,
    candidate_rotations: Rotations,
    timezone: Tz,
    outcomes: Vec<Outcome>,
    /// handoff id -> its place in `outcomes`.
    index: HashMap<String, usize>,
    not_replayed: Vec<NotReplayed>,
    decisions: u64,
    reinterpreted: u64,
}

fn customer(label: &CustomerLabel) -> Customer {
    Customer { id: label.id.clone(), name: label.name.clone(), key: label.key.clone() }
}

impl Tally<'_> {
    fn recorded(&mut self, recorded: &RecordedDecision) {
        let customer = customer(&recorded.customer);
        let Some(text) = &recorded.brief else {
            return self.skip(&recorded.handoff.id, customer, "no brief is stored for it".into());
        };
        let brief: Brief = match serde_json::from_str(text) {
            Ok(brief) => brief,
            Err(error) => {
                return self.skip(&recorded.handoff.id, customer, format!("its stored brief is unreadable: {error}"));
            }
        };
        let detail = &recorded.detail;
        let owner = detail["owner"].as_str().map(str::to_owned);
        // The stored brief is the latest: its owner's name holds when it is the owner recorded here.
        let name = owner.as_deref().and_then(|id| {
            brief
                .recommended_owner
                .as_ref()
                .filter(|o| o.id == id)
                .and_then(|o| o.name.clone())
                .or_else(|| decide::owner_name(self.current, id))
        });
        let due = detail["due"]["at"]
            .as_str()
            .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
            .map(|t| t.with_timezone(&Utc));
        let before = Assignment { owner, name, rule: detail["rule"].as_str().unwrap_or_default().to_owned(), due };
        self.replay(&recorded.handoff.id, customer, recorded.at, &brief, Some(before));
    }

    /// Route `brief` with the candidate and record the outcome against `before` (the recorded decision).
    fn replay(
        &mut self,
        handoff: &str,
        customer: Customer,
        at: DateTime<Utc>,
        brief: &Brief,
        before: Option<Assignment>,
    ) {
        self.decisions += 1;
        let decision = decide::decide(self.candidate, brief, at, &mut self.candidate_rotations);
        // The SLA is the running configuration's urgency policy.
        let deadline = decide::policy_deadline(self.current, brief, at, &self.current_rotations);
        let asked = brief.requested_window.is_some();
        let risk_before = before.as_ref().and_then(|b| {
            let flags = decide::assess(self.current, b.owner.as_deref(), at, b.due);
            self.sla_risk(flags, b.due, deadline, asked, brief)
        });
        let risk_after = self.sla_risk(decision.flags, decision.due, deadline, asked, brief);
        let outcome = Outcome {
            handoff: handoff.to_owned(),
            customer,
            routed_at: at,
            before,
            after: assignment(&decision),
            after_flags: decision.flags,
            risk_before,
            risk_after,
        };
        match self.index.get(handoff) {
            Some(&i) => self.outcomes[i] = outcome,
            None => {
                self.index.insert(handoff.to_owned(), self.outcomes.len());
                self.outcomes.push(outcome);
            }
        }
    }

    fn skip(&mut self, handoff: &str, customer: Customer, reason: String) {
        self.not_replayed.push(NotReplayed { handoff: handoff.to_owned(), customer, reason });
    }

    /// Why a decision puts the SLA at risk, if it does.
    fn sla_risk(
        &self,
        flags: Flags,
        due: Option<DateTime<Utc>>,
        deadline: Option<DateTime<Utc>>,
        asked: bool,
        brief: &Brief,
    ) -> Option<String> {
        let show = |at: DateTime<Utc>| at.with_timezone(&self.timezone).format("%a %d %b %H:%M %Z").to_string();
        if flags.unassigned {
            return Some("nobody owns it".to_owned());
        }
        let due = due?;
        if flags.due_outside_hours {
            return Some(format!("due {} is outside every owner's hours", show(due)));
        }
        // A time the customer asked for is kept, however late; the policy is for handoffs that named none.
        match deadline {
            Some(deadline) if !asked && due > deadline + SLA_SLACK => Some(format!(
                "due {} is later than the {}-urgency policy allows ({})",
                show(due),
                brief.urgency.level.as_str(),
                show(deadline)
            )),
            _ => None,
        }
    }

    fn report(self, rules: String, period: Period) -> Report {
        let mut loads: BTreeMap<Option<String>, (u64, u64)> = BTreeMap::new();
        let mut names: HashMap<String, String> = HashMap::new();
        for outcome in &self.outcomes {
            if let Some(before) = &outcome.before {
                loads.entry(before.owner.clone()).or_default().0 += 1;
                remember(&mut names, before);
            }
            loads.entry(outcome.after.owner.clone()).or_default().1 += 1;
            remember(&mut names, &outcome.after);
        }
        // Owners first by id, unassigned last.
        let mut load: Vec<OwnerLoad> = loads
            .into_iter()
            .map(|(owner, (before, after))| OwnerLoad {
                name: owner.as_ref().and_then(|id| names.get(id).cloned()),
                owner,
                before,
                after,
            })
            .collect();
        load.sort_by_key(|l| l.owner.is_none());

        let flagged = |o: &Outcome| Flagged {
            handoff: o.handoff.clone(),
            customer: o.customer.clone(),
            routed_at: o.routed_at,
            assignment: o.after.clone(),
        };
        let changes = self
            .outcomes
            .iter()
            .filter(|o| o.before.as_ref().map(|b| &b.owner) != Some(&o.after.owner))
            .map(|o| Change {
                handoff: o.handoff.clone(),
                customer: o.customer.clone(),
                routed_at: o.routed_at,
                before: o.before.clone(),
                after: o.after.clone(),
            })
            .collect();
        let sla_at_risk = report::SlaAtRisk {
            before: self.outcomes.iter().filter(|o| o.risk_before.is_some()).count() as u64,
            after: self.outcomes.iter().filter(|o| o.risk_after.is_some()).count() as u64,
            handoffs: self
                .outcomes
                .iter()
                .filter_map(|o| {
                    o.risk_after.as_ref().map(|reason| AtRisk {
                        handoff: o.handoff.clone(),
                        customer: o.customer.clone(),
                        assignment: o.after.clone(),
                        reason: reason.clone(),
                    })
                })
                .collect(),
        };
        Report {
            rules,
            period,
            handoffs: self.outcomes.len() as u64,
            decisions: self.decisions,
            reinterpreted: self.reinterpreted,
            not_replayed: self.not_replayed,
            load,
            changes,
            off_shift: self.outcomes.iter().filter(|o| o.after_flags.off_shift).map(flagged).collect(),
            unassigned: self.outcomes.iter().filter(|o| o.after_flags.unassigned).map(flagged).collect(),
            sla_at_risk,
        }
    }
}

fn remember(names: &mut HashMap<String, String>, assignment: &Assignment) {
    if let (Some(id), Some(name)) = (&assignment.owner, &assignment.name) {
        names.entry(id.clone()).or_insert_with(|| name.clone());
    }
}

fn assignment(decision: &Decision) -> Assignment {
    Assignment {
        owner: decision.owner.as_ref().map(|o| o.id.clone()),
        name: decision.owner.as_ref().and_then(|o| o.name.clone()),
        rule: decision.rule.clone(),
        due: decision.due,
    }
}
