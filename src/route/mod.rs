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
use crate::store::Store;

const POOL: &str = "default";

pub struct Router {
    pub owners: Vec<OwnerConfig>,
    pub due: DuePolicy,
    pub timezone: Tz,
    pub hours: BusinessHours,
    pub store: Arc<dyn Store>,
}

impl Router {
    /// Fill the brief's `recommended_owner` and `due`.
    pub async fn route(&self, brief: &mut Brief, now: DateTime<Utc>) -> anyhow::Result<()> {
        let index = self.store.next_in_rotation(POOL, self.owners.len()).await?;
        let owner = &self.owners[index % self.owners.len()];
        brief.recommended_owner = Some(OwnerChoice {
            id: owner.id.clone(),
            name: owner.name.clone(),
            rule: POOL.to_owned(),
            reason: format!("round robin over {} owners", self.owners.len()),
        });
        brief.due = Some(self.due_time(brief, now));
        Ok(())
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
