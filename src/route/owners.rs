//! Owners: who they are in the CRM, when they work, and why one cannot take a task now.
//!
//! An owner is named in the configuration by email (resolved to the CRM's owner id through its
//! owners API, see [`super::sync`]) or by id. Availability is computed in the owner's own time
//! zone: working hours (night shifts run past midnight), out-of-office ranges and the public
//! holidays of the owner's region. Every "no" carries a sentence the audit and `explain` print.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};
use chrono_tz::Tz;
use handoffd_contract::crm::CrmOwner;

use crate::config::schema::{AwayConfig, OwnerConfig};
use crate::interpret::when::BusinessHours;

/// How far [`Owner::next_working`] looks ahead before giving up (a long leave plus holidays).
const LOOKAHEAD_STEPS: usize = 64;
/// How many calendar days [`Owner::add_working_time`] walks before giving up.
const LOOKAHEAD_DAYS: usize = 400;

/// One owner, parsed and ready to answer "available now?".
#[derive(Clone, Debug)]
pub struct Owner {
    /// How pools and rules name the owner: the email when given, else the id.
    pub key: String,
    pub email: Option<String>,
    /// The CRM id written in the configuration, if any.
    pub configured_id: Option<String>,
    pub name: Option<String>,
    /// The owner's working hours: their own, else the business's (due times are clipped into these).
    pub hours: BusinessHours,
    /// Whether the owner has hours of their own. Without them the owner is never off shift (as
    /// before owners had hours): only days off, holidays and capacity keep them from a task.
    pub keeps_hours: bool,
    pub timezone: Tz,
    /// Out-of-office ranges as instants, `[from, to)`.
    pub away: Vec<(DateTime<Utc>, DateTime<Utc>)>,
    /// The public holidays of the owner's region.
    pub holidays: Vec<NaiveDate>,
    pub region: Option<String>,
    pub languages: Vec<String>,
    pub skills: Vec<String>,
    pub capacity: Option<u32>,
    /// How the owner is reached as a pool's manager.
    pub notify: Option<crate::config::schema::OwnerNotify>,
}

impl Owner {
    /// Build from the configuration; `business_*` are the defaults for hours and time zone.
    pub fn from_config(
        config: &OwnerConfig,
        business_timezone: Tz,
        business_hours: &BTreeMap<String, String>,
        holidays: &BTreeMap<String, Vec<String>>,
    ) -> Result<Owner, String> {
        let timezone = match &config.timezone {
            Some(name) => name.parse::<Tz>().map_err(|_| format!("`{name}` is not an IANA time zone"))?,
            None => business_timezone,
        };
        let hours = BusinessHours::parse_shifts(config.hours.as_ref().unwrap_or(business_hours))?;
        let away = config.away.iter().map(|range| parse_away(range, timezone)).collect::<Result<Vec<_>, _>>()?;
        let holidays = match &config.region {
            Some(region) => holidays
                .get(region)
                .map(|dates| dates.iter().map(|d| parse_date(d)).collect::<Result<Vec<_>, _>>())
                .transpose()?
                .unwrap_or_default(),
            None => Vec::new(),
        };
        Ok(Owner {
            key: config.key().to_owned(),
            email: config.email.as_ref().map(|e| e.trim().to_ascii_lowercase()),
            configured_id: config.id.clone(),
            name: config.name.clone(),
            hours,
            keeps_hours: config.hours.is_some(),
            timezone,
            away,
            holidays,
            region: config.region.clone(),
            languages: config.languages.clone(),
            skills: config.skills.clone(),
            capacity: config.capacity,
            notify: config.notify.clone(),
        })
    }

    /// The owner's name, or the key when there is none.
    pub fn display(&self) -> &str {
        self.name.as_deref().unwrap_or(&self.key)
    }

    /// Whether the owner can ever be on shift (an owner without hours of their own always can).
    pub fn ever_on_shift(&self) -> bool {
        !self.keeps_hours || self.hours.ever_open()
    }

    /// `None` when the owner is working at `now`; otherwise why not, e.g. "off shift until
    /// Mon 09:30 Asia/Kolkata", "away until 2026-12-08", "public holiday 2026-01-26 (IN)".
    pub fn unavailable(&self, now: DateTime<Utc>) -> Option<String> {
        if let Some((_, to)) = self.away.iter().find(|(from, to)| *from <= now && now < *to) {
            return Some(format!("away until {}", self.describe_instant(*to, now)));
        }
        let local = now.with_timezone(&self.timezone);
        if self.holidays.contains(&local.date_naive()) {
            return Some(format!(
                "public holiday {} ({})",
                local.date_naive(),
                self.region.as_deref().unwrap_or("region")
            ));
        }
        if !self.keeps_hours {
            return None;
        }
        if !self.hours.ever_open() {
            return Some("no working hours".to_owned());
        }
        if !self.hours.is_open_at(local) {
            let next = self.next_working(now);
            return Some(format!("off shift until {}", self.describe_instant(next, now)));
        }
        None
    }

    /// `at` when the owner works then, else the next instant they do (skipping off hours,
    /// holidays and away ranges). With nothing ahead within the look-ahead, `at`.
    pub fn next_working(&self, at: DateTime<Utc>) -> DateTime<Utc> {
        let mut t = at;
        for _ in 0..LOOKAHEAD_STEPS {
            if let Some((_, to)) = self.away.iter().find(|(from, to)| *from <= t && t < *to) {
                t = *to;
                continue;
            }
            let local = t.with_timezone(&self.timezone);
            if self.holidays.contains(&local.date_naive()) {
                t = start_of_day(self.timezone, local.date_naive() + Duration::days(1));
                continue;
            }
            let open = self.hours.next_open(local).with_timezone(&Utc);
            if open == t {
                return t;
            }
            t = open;
        }
        at
    }

    /// `from` plus `d` of the owner's working time. The clock runs only inside the owner's hours and
    /// stops on holidays of their region and inside away ranges, also on those in the middle of a span
    /// (a `4h` due time started on Friday evening does not spend Monday's holiday).
    pub fn add_working_time(&self, from: DateTime<Utc>, d: Duration) -> DateTime<Utc> {
        let start = self.next_working(from);
        if d <= Duration::zero() || !self.hours.ever_open() {
            return if d <= Duration::zero() { start } else { self.next_working(start + d) };
        }
        let mut left = d;
        let mut date = start.with_timezone(&self.timezone).date_naive();
        for _ in 0..LOOKAHEAD_DAYS {
            if !self.holidays.contains(&date) {
                for (open, close) in self.hours.intervals_on(self.timezone, date) {
                    let (open, close) = (open.with_timezone(&Utc).max(start), close.with_timezone(&Utc));
                    for (from, to) in self.outside_away(open, close) {
                        if left <= to - from {
                            return from + left;
                        }
                        left -= to - from;
                    }
                }
            }
            date += Duration::days(1);
        }
        // Nothing ahead within the look-ahead (a leave longer than it): plain elapsed time.
        self.next_working(start + d)
    }

    /// The parts of `[from, to)` outside every away range, in order.
    fn outside_away(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> Vec<(DateTime<Utc>, DateTime<Utc>)> {
        let mut parts = vec![(from, to)];
        for &(away_from, away_to) in &self.away {
            parts = parts
                .into_iter()
                .flat_map(|(a, b)| {
                    [(a, b.min(away_from)), (a.max(away_to), b)].into_iter().filter(|(x, y)| x < y).collect::<Vec<_>>()
                })
                .collect();
        }
        parts.retain(|(a, b)| a < b);
        parts.sort();
        parts
    }

    /// "09:30 Asia/Kolkata" today, "Mon 09:30 Asia/Kolkata" on a later day within a week, else
    /// the date.
    fn describe_instant(&self, at: DateTime<Utc>, now: DateTime<Utc>) -> String {
        let local = at.with_timezone(&self.timezone);
        let today = now.with_timezone(&self.timezone).date_naive();
        if local.date_naive() == today {
            format!("{} {}", local.format("%H:%M"), self.timezone)
        } else if local.date_naive() - today < Duration::days(7) {
            format!("{} {}", local.format("%a %H:%M"), self.timezone)
        } else {
            format!("{}", local.format("%Y-%m-%d"))
        }
    }
}

/// The CRM's users as last synced, by id and by lowercased email.
#[derive(Clone, Debug, Default)]
pub struct OwnerDirectory {
    pub by_id: HashMap<String, CrmOwner>,
    pub by_email: HashMap<String, CrmOwner>,
}

impl OwnerDirectory {
    pub fn new(owners: impl IntoIterator<Item = CrmOwner>) -> Self {
        let mut directory = Self::default();
        for owner in owners {
            if let Some(email) = &owner.email {
                directory.by_email.insert(email.trim().to_ascii_lowercase(), owner.clone());
            }
            directory.by_id.insert(owner.id.clone(), owner);
        }
        directory
    }

    pub fn is_empty(&self) -> bool {
        self.by_id.is_empty()
    }
}

/// The CRM id an owner gets tasks under, or why they cannot get any. `directory` is `None` when
/// the CRM's owners were never synced: an owner given by id is trusted, one by email alone waits.
pub fn resolve_id(owner: &Owner, directory: Option<&OwnerDirectory>) -> Result<String, String> {
    let Some(directory) = directory.filter(|d| !d.is_empty()) else {
        return owner
            .configured_id
            .clone()
            .ok_or_else(|| "not resolved yet: the CRM's owners were never synced".to_owned());
    };
    let found = match (&owner.configured_id, &owner.email) {
        (Some(id), _) => directory.by_id.get(id).ok_or_else(|| format!("unknown in the CRM: no user with id `{id}`")),
        (None, Some(email)) => {
            directory.by_email.get(email).ok_or_else(|| format!("unknown in the CRM: no user with email `{email}`"))
        }
        (None, None) => Err("neither `email` nor `id`".to_owned()),
    }?;
    if !found.active {
        return Err(format!("inactive in the CRM (user `{}`)", found.id));
    }
    Ok(found.id.clone())
}

fn parse_date(text: &str) -> Result<NaiveDate, String> {
    NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d").map_err(|_| format!("`{text}` is not a date like `2026-01-26`"))
}

/// A date is a whole local day (`to` included); an RFC 3339 text is an instant.
fn parse_away(range: &AwayConfig, tz: Tz) -> Result<(DateTime<Utc>, DateTime<Utc>), String> {
    let bound = |text: &str, end: bool| -> Result<DateTime<Utc>, String> {
        if let Ok(at) = DateTime::parse_from_rfc3339(text.trim()) {
            return Ok(at.with_timezone(&Utc));
        }
        let date = parse_date(text)
            .map_err(|_| format!("`{text}` is neither a date like `2026-12-01` nor an RFC 3339 time"))?;
        Ok(start_of_day(tz, if end { date + Duration::days(1) } else { date }))
    };
    let (from, to) = (bound(&range.from, false)?, bound(&range.to, true)?);
    if to <= from {
        return Err(format!("`{}` to `{}`: the range ends before it starts", range.from, range.to));
    }
    Ok((from, to))
}

fn start_of_day(tz: Tz, date: NaiveDate) -> DateTime<Utc> {
    let midnight = date.and_hms_opt(0, 0, 0).expect("midnight exists");
    // A zone whose clocks skip midnight starts the day at the first valid instant after it.
    tz.from_local_datetime(&midnight)
        .earliest()
        .or_else(|| tz.from_local_datetime(&(midnight + Duration::hours(1))).earliest())
        .map(|at| at.with_timezone(&Utc))
        .unwrap_or_else(|| Utc.from_utc_datetime(&midnight))
}

/// Every problem with one owner's block, as (key under the owner, message): what
/// [`Owner::from_config`] refuses, reported key by key for `check`.
pub fn owner_problems(config: &OwnerConfig, holidays: &BTreeMap<String, Vec<String>>) -> Vec<(String, String)> {
    let mut problems = Vec::new();
    if config.email.as_deref().is_none_or(|e| e.trim().is_empty())
        && config.id.as_deref().is_none_or(|i| i.trim().is_empty())
    {
        problems.push((String::new(), "needs `email` or `id`".to_owned()));
    }
    if let Some(email) = &config.email
        && !email.contains('@')
    {
        problems.push(("email".to_owned(), format!("`{email}` is not an email address")));
    }
    if let Some(name) = &config.timezone
        && name.parse::<Tz>().is_err()
    {
        problems.push(("timezone".to_owned(), format!("`{name}` is not an IANA time zone like `Asia/Kolkata`")));
    }
    if let Some(hours) = &config.hours {
        for (day, text) in hours {
            let one = BTreeMap::from([(day.clone(), text.clone())]);
            if let Err(message) = BusinessHours::parse_shifts(&one) {
                problems.push((format!("hours.{day}"), message));
            }
        }
        if problems.iter().all(|(key, _)| !key.starts_with("hours."))
            && let Err(message) = BusinessHours::parse_shifts(hours)
        {
            problems.push(("hours".to_owned(), message));
        }
    }
    for (i, range) in config.away.iter().enumerate() {
        if let Err(message) = parse_away(range, chrono_tz::UTC) {
            problems.push((format!("away[{i}]"), message));
        }
    }
    if config.capacity == Some(0) {
        problems.push(("capacity".to_owned(), "must be at least 1 (leave it out for no limit)".to_owned()));
    }
    if let Some(region) = &config.region
        && !holidays.is_empty()
        && !holidays.contains_key(region)
    {
        problems.push((
            "region".to_owned(),
            format!(
                "`{region}` has no entry under `routing.holidays` ({})",
                holidays.keys().cloned().collect::<Vec<_>>().join(", ")
            ),
        ));
    }
    problems
}

/// Every holiday date that does not parse, as (region, index, message).
pub fn holiday_problems(holidays: &BTreeMap<String, Vec<String>>) -> Vec<(String, usize, String)> {
    let mut problems = Vec::new();
    for (region, dates) in holidays {
        for (i, date) in dates.iter().enumerate() {
            if let Err(message) = parse_date(date) {
                problems.push((region.clone(), i, message));
            }
        }
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;

    fn owner(yaml: &str) -> Owner {
        let config: OwnerConfig = serde_saphyr::from_str(yaml).unwrap();
        let business = BTreeMap::from([("mon".to_string(), "09:00-17:00".to_string())]);
        let holidays = BTreeMap::from([("IN".to_string(), vec!["2026-01-26".to_string()])]);
        Owner::from_config(&config, chrono_tz::UTC, &business, &holidays).unwrap()
    }

    fn utc(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn off_shift_says_until_when_in_the_owners_zone() {
        let asha = owner("{email: asha@x.in, timezone: Asia/Kolkata, hours: {mon: '09:30-18:00', tue: '09:30-18:00'}}");
        // Monday 2026-06-15 03:00 UTC = 08:30 IST: before the shift.
        assert_eq!(asha.unavailable(utc("2026-06-15T03:00:00Z")).unwrap(), "off shift until 09:30 Asia/Kolkata");
        assert_eq!(asha.unavailable(utc("2026-06-15T04:00:00Z")), None, "09:30 IST is on shift");
        // Monday 18:30 IST: next is Tuesday.
        assert_eq!(asha.unavailable(utc("2026-06-15T13:00:00Z")).unwrap(), "off shift until Tue 09:30 Asia/Kolkata");
    }

    #[test]
    fn a_night_shift_across_midnight_and_a_dst_change() {
        // New York, Saturday 22:00 to Sunday 06:00; 2026-03-08 is the spring-forward night.
        let night = owner("{id: '7', timezone: America/New_York, hours: {sat: '22:00-06:00'}}");
        // Sunday 05:30 EDT = 09:30 UTC: on shift (the clocks jumped at 02:00).
        assert_eq!(night.unavailable(utc("2026-03-08T09:30:00Z")), None);
        // Sunday 06:30 EDT = 10:30 UTC: off until next Saturday 22:00.
        assert!(night.unavailable(utc("2026-03-08T10:30:00Z")).unwrap().starts_with("off shift until Sat 22:00"));
        // Saturday 23:00 EST = Sunday 04:00 UTC: on shift; 6 working hours later is Sunday 06:00 EDT
        // (the night has only six hours of clock time: 23:00 EST to 06:00 EDT).
        let late = utc("2026-03-08T04:00:00Z");
        assert_eq!(night.unavailable(late), None);
        assert_eq!(night.add_working_time(late, Duration::hours(6)), utc("2026-03-08T10:00:00Z"));
    }

    #[test]
    fn away_ranges_and_holidays() {
        let ravi = owner(
            "{email: ravi@x.in, region: IN, hours: {mon: '00:00-24:00', tue: '00:00-24:00', wed: '00:00-24:00'}, \
             away: [{from: 2026-12-07, to: 2026-12-08}]}",
        );
        // Monday 2026-12-07 and Tuesday 08: away; Wednesday 09 00:00 back.
        assert_eq!(ravi.unavailable(utc("2026-12-07T10:00:00Z")).unwrap(), "away until Wed 00:00 UTC");
        assert_eq!(ravi.next_working(utc("2026-12-07T10:00:00Z")), utc("2026-12-09T00:00:00Z"));
        // Republic Day (a Monday in 2026) is a holiday for region IN.
        assert_eq!(ravi.unavailable(utc("2026-01-26T10:00:00Z")).unwrap(), "public holiday 2026-01-26 (IN)");
        assert_eq!(ravi.next_working(utc("2026-01-26T10:00:00Z")), utc("2026-01-27T00:00:00Z"));
    }

    #[test]
    fn ids_resolve_through_the_synced_directory() {
        let by_email = owner("{email: Asha@X.in}");
        let by_id = owner("{id: '42'}");
        assert!(resolve_id(&by_email, None).unwrap_err().contains("never synced"));
        assert_eq!(resolve_id(&by_id, None).unwrap(), "42");
        let directory = OwnerDirectory::new([
            CrmOwner { id: "7".into(), name: None, email: Some("asha@x.in".into()), active: true },
            CrmOwner { id: "42".into(), name: None, email: None, active: false },
        ]);
        assert_eq!(resolve_id(&by_email, Some(&directory)).unwrap(), "7");
        assert!(resolve_id(&by_id, Some(&directory)).unwrap_err().contains("inactive"));
        assert!(resolve_id(&owner("{email: gone@x.in}"), Some(&directory)).unwrap_err().contains("unknown in the CRM"));
    }

    #[test]
    fn problems_name_their_keys() {
        let config: OwnerConfig =
            serde_saphyr::from_str("{timezone: Mars/Base, hours: {mon: '9-5'}, away: [{from: x, to: y}], capacity: 0}")
                .unwrap();
        let keys: Vec<String> = owner_problems(&config, &BTreeMap::new()).into_iter().map(|(k, _)| k).collect();
        assert_eq!(keys, ["", "timezone", "hours.mon", "away[0]", "capacity"]);
    }
}
