//! Route: who owns the task and when it is due.
//!
//! First cut: one owner pool shared round robin (the rotation is persisted, so a restart does
//! not send the next three tasks to the same person), due time from the customer's requested
//! window or else from the urgency policy in business time.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use handoffd_contract::brief::{Brief, Due, OwnerChoice, UrgencyLevel};
use handoffd_contract::task::TaskPriority;

use crate::config::schema::{DuePolicy, OwnerConfig};
use crate::interpret::when::BusinessHours;
use crate::store::PipelineStore;

pub mod backtest;

const POOL: &str = "default";

/// Where a round of routing stands in an owner pool's rotation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rotation {
    pub pool: &'static str,
    /// The stored next position when the round began.
    pub next: i64,
    /// Positions handed out since.
    pub used: u64,
}

pub struct Router {
    pub owners: Vec<OwnerConfig>,
    pub due: DuePolicy,
    pub timezone: Tz,
    pub hours: BusinessHours,
    pub store: Arc<dyn PipelineStore>,
}

impl Router {
    /// The owner pool's next position in its rotation; a round routes from it on and commits how far it went
    /// (see [`crate::conversation::commit_briefs`]), so a round of briefs costs no extra write.
    pub async fn rotation(&self) -> anyhow::Result<Rotation> {
        Ok(Rotation { pool: POOL, next: self.store.rotation_position(POOL).await?, used: 0 })
    }

    /// Fill the brief's `recommended_owner` (the next in `rotation`) and `due`.
    pub fn route(&self, brief: &mut Brief, now: DateTime<Utc>, rotation: &mut Rotation) {
        let position = rotation.next + rotation.used as i64;
        rotation.used += 1;
        let owner = &self.owners[position.rem_euclid(self.owners.len() as i64) as usize];
        brief.recommended_owner = Some(OwnerChoice {
            id: owner.id.clone(),
            name: owner.name.clone(),
            rule: POOL.to_owned(),
            reason: format!("round robin over {} owners", self.owners.len()),
        });
        brief.due = Some(self.due_time(brief, now));
    }

    fn due_time(&self, brief: &Brief, now: DateTime<Utc>) -> Due {
        let local_now = now.with_timezone(&self.timezone);
        if let Some(window) = &brief.requested_window {
            let start = window.not_before.with_timezone(&self.timezone);
            let at = if start > local_now { start } else { local_now };
            return Due {
                at: at.fixed_offset(),
                reason: format!(
                    "the customer asked for {} to {}",
                    window.not_before.format("%a %d %b %H:%M"),
                    window.not_after.format("%H:%M")
                ),
            };
        }
        let (level, within) = match brief.urgency.level {
            UrgencyLevel::High => ("high", self.due.high),
            UrgencyLevel::Medium => ("medium", self.due.medium),
            UrgencyLevel::Low => ("low", self.due.low),
        };
        let within_chrono = chrono::Duration::from_std(within.get()).unwrap_or(chrono::Duration::hours(4));
        // Minutes and hours run in business time ("within 30 business minutes"); days are
        // calendar days, landing on the next opening ("2d" is the day after tomorrow, not 48
        // opening hours later).
        let at = if within_chrono < chrono::Duration::days(1) {
            self.hours.add_business_time(local_now, within_chrono)
        } else {
            self.hours.next_open(local_now + within_chrono)
        };
        Due { at: at.fixed_offset(), reason: format!("{level} urgency: within {within:?} of business time") }
    }
}

pub fn priority(level: UrgencyLevel) -> TaskPriority {
    match level {
        UrgencyLevel::High => TaskPriority::High,
        UrgencyLevel::Medium => TaskPriority::Medium,
        UrgencyLevel::Low => TaskPriority::Low,
    }
}
