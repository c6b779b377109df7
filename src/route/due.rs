//! Due time: from the customer's requested window when there is one, else from the urgency
//! policy in working time, clipped into the chosen owner's next working time.

use chrono::{DateTime, Duration, Utc};
use chrono_tz::Tz;
use handoffd_contract::brief::{Brief, Disposition, Due, UrgencyLevel};

use super::owners::Owner;
use crate::config::schema::DuePolicy;
use crate::interpret::when::BusinessHours;

/// How long before a booked visit its confirmation call is due.
pub const CONFIRM_BEFORE: Duration = Duration::hours(2);

/// The calendar the due time is clipped into: the chosen owner's, or the business's when the task
/// is unassigned.
pub enum Calendar<'a> {
    Owner(&'a Owner),
    Business { hours: &'a BusinessHours, timezone: Tz },
}

impl Calendar<'_> {
    fn next_working(&self, at: DateTime<Utc>) -> DateTime<Utc> {
        match self {
            Calendar::Owner(owner) => owner.next_working(at),
            Calendar::Business { hours, timezone } => hours.next_open(at.with_timezone(timezone)).with_timezone(&Utc),
        }
    }

    fn add_working_time(&self, from: DateTime<Utc>, d: Duration) -> DateTime<Utc> {
        match self {
            Calendar::Owner(owner) => owner.add_working_time(from, d),
            Calendar::Business { hours, timezone } => {
                hours.add_business_time(from.with_timezone(timezone), d).with_timezone(&Utc)
            }
        }
    }

    fn timezone(&self) -> Tz {
        match self {
            Calendar::Owner(owner) => owner.timezone,
            Calendar::Business { timezone, .. } => *timezone,
        }
    }

    fn whose(&self) -> String {
        match self {
            Calendar::Owner(owner) => format!("{}'s working time", owner.display()),
            Calendar::Business { .. } => "business hours".to_owned(),
        }
    }
}

/// When the task is due, and why.
pub fn due_time(policy: &DuePolicy, brief: &Brief, now: DateTime<Utc>, calendar: &Calendar<'_>) -> Due {
    let tz = calendar.timezone();
    let show = |at: DateTime<Utc>| at.with_timezone(&tz).format("%a %d %b %H:%M").to_string();
    if let Some(window) = &brief.requested_window {
        let (start, end) = (window.not_before.with_timezone(&Utc), window.not_after.with_timezone(&Utc));
        if brief.disposition == Disposition::Booked {
            // A booked visit needs a confirmation before it, inside working time when one fits.
            let latest = (start - CONFIRM_BEFORE).max(now);
            let clipped = calendar.next_working(latest);
            let at = if clipped < start { clipped } else { latest };
            return Due {
                at: at.with_timezone(&tz).fixed_offset(),
                reason: format!("confirm before the booked visit at {} ({})", show(start), tz),
            };
        }
        // The call inside the window: its start (or now, once it has begun), moved into working
        // time when that still lands inside the window; the customer's window wins over the shift.
        let earliest = start.max(now);
        let clipped = calendar.next_working(earliest);
        let (at, note) = if clipped <= end {
            (
                clipped,
                if clipped > earliest { format!(", from the start of {}", calendar.whose()) } else { String::new() },
            )
        } else {
            (earliest, format!(" (outside {})", calendar.whose()))
        };
        return Due {
            at: at.with_timezone(&tz).fixed_offset(),
            reason: format!(
                "the customer asked for {} to {}{note}",
                show(start),
                end.with_timezone(&tz).format("%H:%M")
            ),
        };
    }
    let (level, within) = match brief.urgency.level {
        UrgencyLevel::High => ("high", policy.high),
        UrgencyLevel::Medium => ("medium", policy.medium),
        UrgencyLevel::Low => ("low", policy.low),
    };
    let within_chrono = Duration::from_std(within.get()).unwrap_or(Duration::hours(4));
    // Minutes and hours run in working time ("within 30 business minutes"); days are calendar
    // days, landing on the next working instant ("2d" is the day after tomorrow, not 48 working
    // hours later).
    let at = if within_chrono < Duration::days(1) {
        calendar.add_working_time(now, within_chrono)
    } else {
        calendar.next_working(now + within_chrono)
    };
    Due {
        at: at.with_timezone(&tz).fixed_offset(),
        reason: format!("{level} urgency: within {} of {}", humantime_short(within.get()), calendar.whose()),
    }
}

/// `30m`, `4h`, `2d`: how the policy is written.
fn humantime_short(d: std::time::Duration) -> String {
    let secs = d.as_secs();
    match secs {
        s if s % 86_400 == 0 && s > 0 => format!("{}d", s / 86_400),
        s if s % 3_600 == 0 && s > 0 => format!("{}h", s / 3_600),
        s if s % 60 == 0 => format!("{}m", s / 60),
        s => format!("{s}s"),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::config::schema::OwnerConfig;

    fn owner() -> Owner {
        let config: OwnerConfig = serde_saphyr::from_str(
            "{id: '1', name: Asha, timezone: Asia/Kolkata, hours: {fri: '09:30-19:30', mon: '09:30-19:30'}}",
        )
        .unwrap();
        Owner::from_config(&config, chrono_tz::UTC, &BTreeMap::new(), &BTreeMap::new()).unwrap()
    }

    fn brief(json: serde_json::Value) -> Brief {
        let mut base = serde_json::json!({
            "customer": {"phones": [], "emails": []}, "channel_history": [], "intents": [],
            "urgency": {"level": "high", "reasons": []}, "disposition": "callback", "objections": [],
            "do_not_ask": [], "recommended_action": "", "reasked_facts": [], "actionable": true
        });
        base.as_object_mut().unwrap().extend(json.as_object().unwrap().clone());
        serde_json::from_value(base).unwrap()
    }

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn urgency_runs_in_the_owners_working_time() {
        let asha = owner();
        // Friday 2026-06-12 19:10 IST + 30 working minutes: 20 on Friday, 10 on Monday.
        let due = due_time(
            &DuePolicy::default(),
            &brief(serde_json::json!({})),
            at("2026-06-12T19:10:00+05:30"),
            &Calendar::Owner(&asha),
        );
        assert_eq!(due.at, at("2026-06-15T09:40:00+05:30"));
        assert_eq!(due.reason, "high urgency: within 30m of Asha's working time");
    }

    #[test]
    fn holidays_and_days_off_inside_a_span_do_not_count_as_working_time() {
        // Mon-Fri 09:30-19:30 IST, region IN; Monday 2026-06-15 is a (test) holiday.
        let config: OwnerConfig = serde_saphyr::from_str(
            "{id: '1', name: Asha, timezone: Asia/Kolkata, region: IN, hours: {mon: '09:30-19:30', \
             tue: '09:30-19:30', wed: '09:30-19:30', thu: '09:30-19:30', fri: '09:30-19:30'}}",
        )
        .unwrap();
        let holidays = BTreeMap::from([("IN".to_owned(), vec!["2026-06-15".to_owned()])]);
        let asha = Owner::from_config(&config, chrono_tz::UTC, &BTreeMap::new(), &holidays).unwrap();
        let medium = brief(serde_json::json!({"urgency": {"level": "medium", "reasons": []}}));
        // Friday 17:30 + 4 working hours: 2 on Friday, the holiday Monday skipped, 2 on Tuesday.
        let due = due_time(&DuePolicy::default(), &medium, at("2026-06-12T17:30:00+05:30"), &Calendar::Owner(&asha));
        assert_eq!(due.at, at("2026-06-16T11:30:00+05:30"));
        // An away range in the middle of the span counts the same way: Tuesday 10:00-12:00 away.
        let mut away = asha.clone();
        away.away.push((at("2026-06-16T10:00:00+05:30"), at("2026-06-16T12:00:00+05:30")));
        let due = due_time(&DuePolicy::default(), &medium, at("2026-06-12T17:30:00+05:30"), &Calendar::Owner(&away));
        assert_eq!(due.at, at("2026-06-16T13:30:00+05:30"), "30 min before the range, 90 after it");
    }

    #[test]
    fn a_window_wins_and_is_clipped_into_the_shift_when_it_fits() {
        let asha = owner();
        let window = |from: &str, to: &str| {
            brief(serde_json::json!({"requested_window": {"not_before": from, "not_after": to}}))
        };
        // Monday 08:00-11:00: the shift starts 09:30, still inside the window.
        let due = due_time(
            &DuePolicy::default(),
            &window("2026-06-15T08:00:00+05:30", "2026-06-15T11:00:00+05:30"),
            at("2026-06-12T12:00:00+05:30"),
            &Calendar::Owner(&asha),
        );
        assert_eq!(due.at, at("2026-06-15T09:30:00+05:30"));
        assert!(due.reason.contains("from the start of Asha's working time"), "{}", due.reason);
        // Monday 20:00-21:00 is after the shift: the customer's time stands.
        let due = due_time(
            &DuePolicy::default(),
            &window("2026-06-15T20:00:00+05:30", "2026-06-15T21:00:00+05:30"),
            at("2026-06-12T12:00:00+05:30"),
            &Calendar::Owner(&asha),
        );
        assert_eq!(due.at, at("2026-06-15T20:00:00+05:30"));
        assert!(due.reason.contains("outside Asha's working time"), "{}", due.reason);
    }

    #[test]
    fn a_booked_visit_gets_a_confirmation_before_it() {
        let asha = owner();
        let booked = brief(serde_json::json!({"disposition": "booked",
            "requested_window": {"not_before": "2026-06-15T14:00:00+05:30", "not_after": "2026-06-15T15:00:00+05:30"}}));
        let due = due_time(&DuePolicy::default(), &booked, at("2026-06-12T12:00:00+05:30"), &Calendar::Owner(&asha));
        assert_eq!(due.at, at("2026-06-15T12:00:00+05:30"));
        assert!(due.reason.starts_with("confirm before the booked visit"), "{}", due.reason);
    }
}
