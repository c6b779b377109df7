//! What a backtest found, in the stable shape `--format json` prints (documented in the README, "Trying a
//! rule change"), and its text view.

use std::fmt::Write as _;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use serde::Serialize;

/// The difference between what happened in a period and what the candidate rules would have done.
#[derive(Clone, Debug, Default, Serialize, PartialEq)]
pub struct Report {
    /// The candidate rules file, as given.
    pub rules: String,
    pub period: Period,
    /// Handoffs replayed (each counted once, however often it was routed).
    pub handoffs: u64,
    /// Routing decisions replayed, in the order they were made (a handoff briefed again is routed again).
    pub decisions: u64,
    /// Handoffs with no stored brief whose conversation was interpreted again.
    pub reinterpreted: u64,
    /// Handoffs of the period that could not be replayed, and why.
    pub not_replayed: Vec<NotReplayed>,
    /// Handoffs per owner before and after, by owner id; `owner: null` (unassigned) last.
    pub load: Vec<OwnerLoad>,
    /// Handoffs whose owner changes, in the order they were routed.
    pub changes: Vec<Change>,
    /// Handoffs the candidate gives to an owner who is off shift when it is routed.
    pub off_shift: Vec<Flagged>,
    /// Handoffs the candidate leaves without an owner.
    pub unassigned: Vec<Flagged>,
    pub sla_at_risk: SlaAtRisk,
}

#[derive(Clone, Debug, Default, Serialize, PartialEq)]
pub struct Period {
    pub since: DateTime<Utc>,
    pub until: DateTime<Utc>,
}

#[derive(Clone, Debug, Default, Serialize, PartialEq)]
pub struct Customer {
    pub id: String,
    pub name: Option<String>,
    /// The first phone or email the customer was seen with.
    pub key: Option<String>,
}

#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct NotReplayed {
    pub handoff: String,
    pub customer: Customer,
    pub reason: String,
}

#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct OwnerLoad {
    pub owner: Option<String>,
    pub name: Option<String>,
    pub before: u64,
    pub after: u64,
}

/// One side of an assignment: who, by which rule, due when.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Assignment {
    pub owner: Option<String>,
    pub name: Option<String>,
    pub rule: String,
    pub due: Option<DateTime<Utc>>,
}

#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Change {
    pub handoff: String,
    pub customer: Customer,
    pub routed_at: DateTime<Utc>,
    /// `null` for a handoff that was never routed (its conversation was interpreted again).
    pub before: Option<Assignment>,
    pub after: Assignment,
}

#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Flagged {
    pub handoff: String,
    pub customer: Customer,
    pub routed_at: DateTime<Utc>,
    pub assignment: Assignment,
}

#[derive(Clone, Debug, Default, Serialize, PartialEq)]
pub struct SlaAtRisk {
    /// Recorded decisions at risk.
    pub before: u64,
    /// Candidate decisions at risk.
    pub after: u64,
    /// The candidate's decisions at risk, each with why.
    pub handoffs: Vec<AtRisk>,
}

#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct AtRisk {
    pub handoff: String,
    pub customer: Customer,
    pub assignment: Assignment,
    pub reason: String,
}

impl Customer {
    fn label(&self) -> String {
        match (&self.name, &self.key) {
            (Some(name), Some(key)) => format!("{name} ({key})"),
            (Some(name), None) => name.clone(),
            (None, Some(key)) => key.clone(),
            (None, None) => self.id.clone(),
        }
    }
}

impl Assignment {
    fn owner_label(&self) -> String {
        match (&self.owner, &self.name) {
            (Some(id), Some(name)) => format!("{id} {name}"),
            (Some(id), None) => id.clone(),
            (None, _) => "unassigned".to_owned(),
        }
    }
}

/// An instant in the business's time zone, as sales ops read it.
fn local(at: DateTime<Utc>, tz: Tz) -> String {
    at.with_timezone(&tz).format("%a %Y-%m-%d %H:%M %Z").to_string()
}

impl Report {
    /// The text view; times in `tz` (`business.timezone`).
    pub fn to_text(&self, tz: Tz) -> String {
        let mut out = String::new();
        let (since, until) = (local(self.period.since, tz), local(self.period.until, tz));
        if self.handoffs == 0 && self.not_replayed.is_empty() {
            let _ = writeln!(out, "No handoff was routed from {since} to {until}: nothing to replay.");
            return out;
        }
        let _ = writeln!(
            out,
            "Backtest of `{}` on {} handoffs routed from {since} to {until} ({} routing decisions replayed{}).",
            self.rules,
            self.handoffs,
            self.decisions,
            match self.reinterpreted {
                0 => String::new(),
                1 => ", 1 conversation interpreted again".to_owned(),
                n => format!(", {n} conversations interpreted again"),
            },
        );
        if !self.not_replayed.is_empty() {
            let _ = writeln!(out, "\nNot replayed: {}", self.not_replayed.len());
            for skipped in &self.not_replayed {
                let _ = writeln!(out, "  {}  {}: {}", skipped.handoff, skipped.customer.label(), skipped.reason);
            }
        }
        let _ = writeln!(out, "\nLoad per owner (handoffs)");
        let labels: Vec<String> = self
            .load
            .iter()
            .map(|l| match (&l.owner, &l.name) {
                (Some(id), Some(name)) => format!("{id} {name}"),
                (Some(id), None) => id.clone(),
                (None, _) => "(unassigned)".to_owned(),
            })
            .collect();
        let width = labels.iter().map(|l| l.chars().count()).max().unwrap_or(0).max(5);
        let _ = writeln!(out, "  {:<width$}  before  after  change", "owner");
        for (load, label) in self.load.iter().zip(&labels) {
            let change = load.after as i64 - load.before as i64;
            let _ = writeln!(out, "  {label:<width$}  {:>6}  {:>5}  {change:>+6}", load.before, load.after);
        }
        let _ = writeln!(out, "\nAssignments that change: {}", count_or_none(self.changes.len()));
        for change in &self.changes {
            let before = change.before.as_ref().map(Assignment::owner_label).unwrap_or_else(|| "(never routed)".into());
            let _ = writeln!(
                out,
                "  {}  {}  {} -> {}  (rule {})",
                change.handoff,
                change.customer.label(),
                before,
                change.after.owner_label(),
                change.after.rule
            );
        }
        let _ = writeln!(out, "\nWould land off shift: {}", count_or_none(self.off_shift.len()));
        for flagged in &self.off_shift {
            let _ = writeln!(
                out,
                "  {}  {}  {} at {}",
                flagged.handoff,
                flagged.customer.label(),
                flagged.assignment.owner_label(),
                local(flagged.routed_at, tz)
            );
        }
        let _ = writeln!(out, "\nWould be unassigned: {}", count_or_none(self.unassigned.len()));
        for flagged in &self.unassigned {
            let _ = writeln!(
                out,
                "  {}  {}  (rule {}) at {}",
                flagged.handoff,
                flagged.customer.label(),
                flagged.assignment.rule,
                local(flagged.routed_at, tz)
            );
        }
        let _ = writeln!(out, "\nSLA at risk: {} before, {} after", self.sla_at_risk.before, self.sla_at_risk.after);
        for risk in &self.sla_at_risk.handoffs {
            let _ = writeln!(
                out,
                "  {}  {}  {}: {}",
                risk.handoff,
                risk.customer.label(),
                risk.assignment.owner_label(),
                risk.reason
            );
        }
        out
    }
}

fn count_or_none(n: usize) -> String {
    if n == 0 { "none".to_owned() } else { n.to_string() }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(hour: u32) -> DateTime<Utc> {
        use chrono::TimeZone;
        Utc.with_ymd_and_hms(2026, 11, 30, hour, 0, 0).unwrap()
    }

    /// Today's router never leaves a handoff unassigned, so the text of one is checked here.
    #[test]
    fn unassigned_and_unreplayed_handoffs_are_listed_with_their_reasons() {
        let customer = Customer { id: "c1".into(), name: None, key: Some("phone:+919820000001".into()) };
        let unassigned = Assignment { owner: None, name: None, rule: "vip".into(), due: Some(at(6)) };
        let report = Report {
            rules: "next.yaml".into(),
            period: Period { since: at(0), until: at(12) },
            handoffs: 1,
            decisions: 2,
            not_replayed: vec![NotReplayed {
                handoff: "h2".into(),
                customer: Customer { id: "c2".into(), name: Some("Asha".into()), key: None },
                reason: "its stored brief is unreadable: EOF".into(),
            }],
            load: vec![OwnerLoad { owner: None, name: None, before: 0, after: 1 }],
            unassigned: vec![Flagged {
                handoff: "h1".into(),
                customer: customer.clone(),
                routed_at: at(4),
                assignment: unassigned.clone(),
            }],
            sla_at_risk: SlaAtRisk {
                before: 0,
                after: 1,
                handoffs: vec![AtRisk {
                    handoff: "h1".into(),
                    customer,
                    assignment: unassigned,
                    reason: "nobody owns it".into(),
                }],
            },
            ..Default::default()
        };
        let text = report.to_text(chrono_tz::Asia::Kolkata);
        for line in [
            "Backtest of `next.yaml` on 1 handoffs routed from Mon 2026-11-30 05:30 IST to Mon 2026-11-30 17:30 IST (2 routing decisions replayed).",
            "Not replayed: 1",
            "  h2  Asha: its stored brief is unreadable: EOF",
            "  (unassigned)       0      1      +1",
            "Assignments that change: none",
            "Would land off shift: none",
            "Would be unassigned: 1",
            "  h1  phone:+919820000001  (rule vip) at Mon 2026-11-30 09:30 IST",
            "SLA at risk: 0 before, 1 after",
            "  h1  phone:+919820000001  unassigned: nobody owns it",
        ] {
            assert!(text.lines().any(|l| l == line), "missing `{line}` in:\n{text}");
        }
    }
}
