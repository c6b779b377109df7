//! Local wall-clock times to instants, DST-correct.

use chrono::{DateTime, Duration, NaiveDate, NaiveTime, TimeZone};
use chrono_tz::Tz;

/// Which end of a window a local time is: decides the instant of an ambiguous (fall-back)
/// time, so a window is as wide as the customer's words allow.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Edge {
    Start,
    End,
}

/// The instant of `minutes` after local midnight of `date` (1440 = next midnight). A time in a
/// spring-forward gap moves to the first valid minute after it.
pub(crate) fn local_instant(tz: Tz, date: NaiveDate, minutes: u32, edge: Edge) -> DateTime<Tz> {
    let (date, minutes) =
        if minutes >= 24 * 60 { (date + Duration::days(1), minutes - 24 * 60) } else { (date, minutes) };
    let mut naive = date.and_time(NaiveTime::from_hms_opt(minutes / 60, minutes % 60, 0).expect("minutes < 1440"));
    // Gaps are at most a few hours long; step over them a quarter hour at a time.
    for _ in 0..(4 * 4) {
        match tz.from_local_datetime(&naive) {
            chrono::LocalResult::Single(at) => return at,
            chrono::LocalResult::Ambiguous(early, late) => return if edge == Edge::Start { early } else { late },
            chrono::LocalResult::None => naive += Duration::minutes(15),
        }
    }
    tz.from_utc_datetime(&naive)
}
