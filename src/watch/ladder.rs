//! Which ladder steps are due for a task: the timing rules of the escalation ladder, apart from any I/O.
//!
//! Steps run in order, each once per handoff: a task `steps_done` steps up the ladder runs the next steps whose
//! `after` has passed since its due time, all of them when the watcher was away for longer than one step.

use chrono::{DateTime, Utc};

use crate::config::schema::LadderStep;

/// The steps due now for a task due at `due_at` with `steps_done` steps run: their indices in the ladder, in
/// order.
pub fn due_steps(ladder: &[LadderStep], steps_done: u32, due_at: DateTime<Utc>, now: DateTime<Utc>) -> Vec<usize> {
    let Ok(past_due) = (now - due_at).to_std() else { return Vec::new() };
    ladder
        .iter()
        .enumerate()
        .skip(steps_done as usize)
        .take_while(|(_, step)| step.after.get() <= past_due)
        .map(|(i, _)| i)
        .collect()
}

/// Whole minutes `now` is past `due_at` (zero before it).
pub fn minutes_past_due(due_at: DateTime<Utc>, now: DateTime<Utc>) -> i64 {
    (now - due_at).num_minutes().max(0)
}

#[cfg(test)]
mod tests {
    use chrono::{Duration, TimeZone};

    use super::*;
    use crate::config::duration::ConfigDuration;
    use crate::config::schema::LadderAction;

    fn step(minutes: u64, action: LadderAction) -> LadderStep {
        LadderStep {
            after: ConfigDuration::from_secs(minutes * 60),
            action,
            note: None,
            manager: None,
            webhook: None,
            whatsapp: None,
        }
    }

    fn ladder() -> Vec<LadderStep> {
        vec![step(20, LadderAction::Remind), step(60, LadderAction::Reassign), step(120, LadderAction::NotifyManager)]
    }

    #[test]
    fn steps_come_due_in_order_as_time_passes_the_due_time() {
        let due = Utc.with_ymd_and_hms(2026, 12, 5, 10, 0, 0).single().unwrap();
        let at = |minutes: i64| due + Duration::minutes(minutes);
        let ladder = ladder();
        assert!(due_steps(&ladder, 0, due, at(-30)).is_empty(), "not due yet");
        assert!(due_steps(&ladder, 0, due, at(19)).is_empty());
        assert_eq!(due_steps(&ladder, 0, due, at(20)), vec![0]);
        assert!(due_steps(&ladder, 1, due, at(59)).is_empty(), "the reminder ran; the reassign is not due");
        assert_eq!(due_steps(&ladder, 1, due, at(60)), vec![1]);
        assert_eq!(due_steps(&ladder, 3, due, at(600)), Vec::<usize>::new(), "a ladder climbed stays climbed");
    }

    #[test]
    fn a_watcher_away_for_longer_than_a_step_runs_every_missed_step_in_order() {
        let due = Utc.with_ymd_and_hms(2026, 12, 5, 10, 0, 0).single().unwrap();
        assert_eq!(due_steps(&ladder(), 0, due, due + Duration::minutes(130)), vec![0, 1, 2]);
        assert_eq!(due_steps(&ladder(), 1, due, due + Duration::minutes(90)), vec![1]);
        assert_eq!(minutes_past_due(due, due + Duration::seconds(20 * 60 + 59)), 20);
        assert_eq!(minutes_past_due(due, due - Duration::minutes(5)), 0);
    }
}
