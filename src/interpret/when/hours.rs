//! Business hours: per weekday opening intervals in the business's local time, and the
//! arithmetic routing needs for due times (business minutes, next opening).

use std::collections::BTreeMap;

use chrono::{DateTime, Datelike, Duration, NaiveDate, TimeZone, Weekday};
use chrono_tz::Tz;

use super::local::{Edge, local_instant};

const DAY_KEYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
/// How far `next_open` and `add_business_time` look for an open day before giving up.
const SEARCH_DAYS: i64 = 14;

/// Opening hours per weekday (Monday first), as minutes since local midnight. A day with no
/// interval is closed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BusinessHours {
    days: [Vec<(u32, u32)>; 7],
}

impl BusinessHours {
    /// Parses `{"mon": "09:30-19:30", "sat": "10:00-13:00,14:00-18:00", ...}`. Keys are
    /// `mon`..`sun` (full English names are accepted too); a missing day, or the value
    /// `closed`, is closed.
    pub fn parse(map: &BTreeMap<String, String>) -> Result<Self, String> {
        Self::parse_with(map, false)
    }

    /// [`BusinessHours::parse`] for an owner's shifts, which may run past midnight: `sat:
    /// "22:00-06:00"` is Saturday 22:00 to Sunday 06:00 (the night's end belongs to Sunday).
    pub fn parse_shifts(map: &BTreeMap<String, String>) -> Result<Self, String> {
        Self::parse_with(map, true)
    }

    fn parse_with(map: &BTreeMap<String, String>, overnight: bool) -> Result<Self, String> {
        let mut days: [Vec<(u32, u32)>; 7] = Default::default();
        for (key, value) in map {
            let key_lower = key.trim().to_ascii_lowercase();
            let Some(index) = day_index(&key_lower) else {
                return Err(format!(
                    "business hours: `{key}` is not a weekday (expected one of mon, tue, wed, thu, fri, sat, sun)"
                ));
            };
            let value = value.trim();
            if value.eq_ignore_ascii_case("closed") || value.is_empty() {
                continue;
            }
            let mut intervals = Vec::new();
            for part in value.split(',') {
                let (open, close) = part
                    .trim()
                    .split_once('-')
                    .ok_or_else(|| format!("business hours `{key}`: `{part}` is not `HH:MM-HH:MM`"))?;
                let open = parse_clock(open).map_err(|e| format!("business hours `{key}`: {e}"))?;
                let close = parse_clock(close).map_err(|e| format!("business hours `{key}`: {e}"))?;
                if close <= open {
                    if !overnight || close == open {
                        return Err(format!("business hours `{key}`: `{part}` closes before it opens"));
                    }
                    // A night shift: the evening on this day, the early hours on the next.
                    days[index].push((open, 24 * 60));
                    if close > 0 {
                        days[(index + 1) % 7].push((0, close));
                    }
                    continue;
                }
                intervals.push((open, close));
            }
            days[index].extend(intervals);
        }
        for (index, intervals) in days.iter_mut().enumerate() {
            intervals.sort_unstable();
            if intervals.windows(2).any(|w| w[1].0 < w[0].1) {
                return Err(format!("business hours `{}`: intervals overlap", DAY_KEYS[index]));
            }
        }
        Ok(BusinessHours { days })
    }

    /// Open all day every day: what routing falls back to when no hours are configured.
    pub fn always_open() -> Self {
        BusinessHours { days: std::array::from_fn(|_| vec![(0, 24 * 60)]) }
    }

    /// Whether the business opens at all on `weekday`.
    pub fn is_open_on(&self, weekday: Weekday) -> bool {
        !self.days[weekday.num_days_from_monday() as usize].is_empty()
    }

    /// First opening and last closing of `weekday` (minutes since midnight), if it opens.
    pub fn day_span(&self, weekday: Weekday) -> Option<(u32, u32)> {
        let day = &self.days[weekday.num_days_from_monday() as usize];
        Some((day.first()?.0, day.last()?.1))
    }

    /// The opening intervals of one calendar day as instants (DST-correct).
    pub(crate) fn intervals_on(
        &self,
        tz: Tz,
        date: NaiveDate,
    ) -> impl Iterator<Item = (DateTime<Tz>, DateTime<Tz>)> + '_ {
        self.days[date.weekday().num_days_from_monday() as usize].iter().map(move |&(open, close)| {
            (local_instant(tz, date, open, Edge::Start), local_instant(tz, date, close, Edge::End))
        })
    }

    /// `at` if the business is open then, otherwise the next opening. With no open day at all,
    /// `at` itself.
    pub fn next_open(&self, at: DateTime<Tz>) -> DateTime<Tz> {
        let tz = at.timezone();
        let first = at.date_naive();
        for offset in 0..SEARCH_DAYS {
            let date = first + Duration::days(offset);
            for (open, close) in self.intervals_on(tz, date) {
                if at < close {
                    return open.max(at);
                }
            }
        }
        at
    }

    /// Whether any day opens at all.
    pub fn ever_open(&self) -> bool {
        self.days.iter().any(|day| !day.is_empty())
    }

    /// Whether `at` falls inside an opening interval.
    pub fn is_open_at(&self, at: DateTime<Tz>) -> bool {
        self.ever_open() && self.next_open(at) == at
    }

    /// `from` plus `d` of open business time: the clock only runs while the business is open.
    /// With no open day at all, plain elapsed time.
    pub fn add_business_time(&self, from: DateTime<Tz>, d: Duration) -> DateTime<Tz> {
        if self.days.iter().all(Vec::is_empty) || d <= Duration::zero() {
            return if d <= Duration::zero() { self.next_open(from) } else { from + d };
        }
        let tz = from.timezone();
        let mut left = d;
        let mut date = from.date_naive();
        loop {
            for (open, close) in self.intervals_on(tz, date) {
                if close <= from {
                    continue;
                }
                let start = open.max(from);
                let available = close - start;
                if left <= available {
                    return start + left;
                }
                left -= available;
            }
            date += Duration::days(1);
        }
    }
}

/// `mon`..`sun` or the full English name to Monday-first index.
fn day_index(key: &str) -> Option<usize> {
    const FULL: [&str; 7] = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"];
    DAY_KEYS.iter().position(|d| *d == key).or_else(|| FULL.iter().position(|f| *f == key))
}

/// `HH:MM` (or `24:00`) to minutes since midnight.
fn parse_clock(text: &str) -> Result<u32, String> {
    let text = text.trim();
    let (h, m) = text.split_once(':').ok_or_else(|| format!("`{text}` is not `HH:MM`"))?;
    let h: u32 = h.parse().map_err(|_| format!("`{text}` is not `HH:MM`"))?;
    let m: u32 = m.parse().map_err(|_| format!("`{text}` is not `HH:MM`"))?;
    if m >= 60 || h > 24 || (h == 24 && m > 0) {
        return Err(format!("`{text}` is not a time of day"));
    }
    Ok(h * 60 + m)
}

/// Convenience for callers holding a date in the zone (tests, routing).
pub fn local(tz: Tz, y: i32, mo: u32, d: u32, h: u32, mi: u32) -> DateTime<Tz> {
    tz.with_ymd_and_hms(y, mo, d, h, mi, 0).earliest().expect("a valid local time")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hours(pairs: &[(&str, &str)]) -> BusinessHours {
        BusinessHours::parse(&pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()).unwrap()
    }

    #[test]
    fn parses_days_and_rejects_nonsense() {
        let h = hours(&[("mon", "09:30-19:30"), ("Saturday", "10:00-13:00, 14:00-18:00")]);
        assert_eq!(h.day_span(Weekday::Mon), Some((570, 1170)));
        assert_eq!(h.day_span(Weekday::Sat), Some((600, 1080)));
        assert!(!h.is_open_on(Weekday::Sun));
        let bad = |k: &str, v: &str| BusinessHours::parse(&[(k.to_string(), v.to_string())].into()).unwrap_err();
        assert!(bad("mnday", "09:00-17:00").contains("mnday"));
        assert!(bad("mon", "9-17").contains("mon"));
        assert!(bad("mon", "18:00-09:00").contains("closes before"));
        assert!(bad("mon", "09:00-25:00").contains("25:00"));
    }

    #[test]
    fn next_open_and_business_minutes_skip_closed_time() {
        let tz: Tz = "Asia/Kolkata".parse().unwrap();
        let h = hours(&[("fri", "09:30-19:30"), ("mon", "09:30-19:30")]);
        // Friday 19:10 + 30 business minutes: 20 on Friday, 10 on Monday = 09:40.
        let friday = local(tz, 2026, 6, 12, 19, 10);
        assert_eq!(h.add_business_time(friday, Duration::minutes(30)), local(tz, 2026, 6, 15, 9, 40));
        assert_eq!(h.next_open(local(tz, 2026, 6, 13, 12, 0)), local(tz, 2026, 6, 15, 9, 30));
        assert_eq!(h.next_open(friday), friday);
    }

    #[test]
    fn night_shifts_run_past_midnight() {
        let map = [("sat".to_string(), "22:00-06:00".to_string())].into();
        assert!(BusinessHours::parse(&map).is_err(), "business hours stay within a day");
        let h = BusinessHours::parse_shifts(&map).unwrap();
        let tz: Tz = "Asia/Kolkata".parse().unwrap();
        // Saturday 2026-06-13 23:00 and Sunday 05:59 are on shift; Sunday 06:00 is not.
        assert!(h.is_open_at(local(tz, 2026, 6, 13, 23, 0)));
        assert!(h.is_open_at(local(tz, 2026, 6, 14, 5, 59)));
        assert!(!h.is_open_at(local(tz, 2026, 6, 14, 6, 0)));
        assert!(!h.is_open_at(local(tz, 2026, 6, 13, 21, 59)));
        // Two hours of work from Saturday 23:00 cross midnight.
        assert_eq!(
            h.add_business_time(local(tz, 2026, 6, 13, 23, 0), Duration::hours(2)),
            local(tz, 2026, 6, 14, 1, 0)
        );
        let sunday_clash =
            [("sat".to_string(), "22:00-06:00".to_string()), ("sun".to_string(), "05:00-09:00".to_string())];
        assert!(BusinessHours::parse_shifts(&sunday_clash.into()).unwrap_err().contains("overlap"));
    }

    #[test]
    fn business_time_over_a_dst_change_counts_real_minutes() {
        let tz: Tz = "America/New_York".parse().unwrap();
        let h = hours(&[("sun", "00:00-24:00")]);
        // 2026-03-08: 02:00 EST jumps to 03:00 EDT, so 01:00 + 2h of elapsed time is 04:00 EDT.
        let from = local(tz, 2026, 3, 8, 1, 0);
        assert_eq!(h.add_business_time(from, Duration::hours(2)), local(tz, 2026, 3, 8, 4, 0));
    }
}
