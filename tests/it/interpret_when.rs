//! The soft-time resolver against the conventions of eval/README.md, one test per convention,
//! with explicit now, zone and business hours; DST edges; properties; and the labelled dev set.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use chrono::{DateTime, FixedOffset};
use chrono_tz::Tz;
use handoffd::interpret::when::{BusinessHours, ResolvedWindow, TimeResolver, VocabularyError, WindowTurn, Windows};
use handoffd_contract::conversation::{Conversation, Speaker};

fn vocabulary_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("config/vocabulary")
}

fn resolver() -> &'static TimeResolver {
    static RESOLVER: OnceLock<TimeResolver> = OnceLock::new();
    RESOLVER.get_or_init(|| TimeResolver::load(&vocabulary_dir()).expect("the shipped vocabulary loads"))
}

fn hours(spec: &[(&str, &str)]) -> BusinessHours {
    BusinessHours::parse(&spec.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()).unwrap()
}

/// Mon-Fri 09:00-18:00, Sat 10:00-14:00, Sunday closed.
fn weekday_hours() -> BusinessHours {
    hours(&[
        ("mon", "09:00-18:00"),
        ("tue", "09:00-18:00"),
        ("wed", "09:00-18:00"),
        ("thu", "09:00-18:00"),
        ("fri", "09:00-18:00"),
        ("sat", "10:00-14:00"),
    ])
}

fn rfc(s: &str) -> DateTime<FixedOffset> {
    DateTime::parse_from_rfc3339(s).unwrap_or_else(|e| panic!("`{s}`: {e}"))
}

/// Resolves what the customer says (one turn per string) at `now` in `zone`.
fn window_of(customer: &[&str], now: &str, zone: &str, hours: &BusinessHours) -> Option<ResolvedWindow> {
    let turns: Vec<WindowTurn<'_>> =
        customer.iter().enumerate().map(|(index, text)| WindowTurn { index, from: Speaker::Customer, text }).collect();
    resolver().requested_window(&turns, rfc(now), zone.parse::<Tz>().unwrap(), hours)
}

/// What the resolver reads of what the customer says, asked for and told, with the weekday hours.
fn windows_of(customer: &[&str], now: &str, zone: &str) -> Windows {
    let turns: Vec<WindowTurn<'_>> =
        customer.iter().enumerate().map(|(index, text)| WindowTurn { index, from: Speaker::Customer, text }).collect();
    let zone: Tz = zone.parse().unwrap();
    resolver().windows_of_customer(&turns, rfc(now), zone, zone, &weekday_hours())
}

/// Asserts the window's bounds as written (offsets included, so DST is checked too).
#[track_caller]
fn assert_window(found: Option<ResolvedWindow>, not_before: &str, not_after: &str) -> ResolvedWindow {
    let found = found.expect("a window");
    assert_eq!(
        (found.window.not_before.to_rfc3339(), found.window.not_after.to_rfc3339()),
        (rfc(not_before).to_rfc3339(), rfc(not_after).to_rfc3339()),
        "rule {}, evidence {:?}",
        found.rule,
        found.evidence
    );
    found
}

const KOLKATA: &str = "Asia/Kolkata";

// --- Parts of the day -------------------------------------------------------------------

#[test]
fn weekday_with_part_of_day_is_that_part_on_the_coming_weekday() {
    // Tuesday 2026-0609 18:25 IST.
    let w = window_of(
        &["Can I do a site visit on Saturday morning?"],
        "2026-06-09T18:25:00+05:30",
        KOLKATA,
        &weekday_hours(),
    );
    let w = assert_window(w, "2026-06-13T09:00:00+05:30", "2026-06-13T12:00:00+05:30");
    assert_eq!(w.rule, "weekday+part_of_day");
    assert_eq!(w.evidence, "Saturday morning");
    let w = window_of(&["wednesday afternoon works"], "2026-06-09T18:25:00+05:30", KOLKATA, &weekday_hours());
    assert_window(w, "2026-06-10T12:00:00+05:30", "2026-06-10T17:00:00+05:30");
    let w = window_of(&["friday evening please"], "2026-06-09T18:25:00+05:30", KOLKATA, &weekday_hours());
    assert_window(w, "2026-06-12T17:00:00+05:30", "2026-06-12T21:00:00+05:30");
}

#[test]
fn part_of_day_is_not_clipped_to_business_hours_even_on_a_closed_day() {
    // Sunday is closed; the customer asked for Sunday evening, so it stays 17:00-21:00.
    let w = window_of(&["sunday evening is best"], "2026-06-09T10:00:00+05:30", KOLKATA, &weekday_hours());
    assert_window(w, "2026-06-14T17:00:00+05:30", "2026-06-14T21:00:00+05:30");
}

#[test]
fn a_part_of_day_alone_is_today_until_it_is_over_then_tomorrow() {
    let w = window_of(&["call me in the afternoon"], "2026-06-09T10:00:00+05:30", KOLKATA, &weekday_hours());
    assert_window(w, "2026-06-09T12:00:00+05:30", "2026-06-09T17:00:00+05:30");
    let w = window_of(&["call me in the morning"], "2026-06-09T18:00:00+05:30", KOLKATA, &weekday_hours());
    assert_window(w, "2026-06-10T09:00:00+05:30", "2026-06-10T12:00:00+05:30");
}

#[test]
fn a_part_of_day_without_a_day_or_request_is_not_a_window() {
    let w = window_of(
        &["I waited the whole afternoon and nobody came"],
        "2026-07-18T13:25:00+04:00",
        "Asia/Dubai",
        &weekday_hours(),
    );
    assert_eq!(w, None);
}

#[test]
fn a_time_told_in_passing_is_no_window_but_is_kept_as_told() {
    // Monday 2026-03-23, 08:05.
    let told = |customer: &[&str]| windows_of(customer, "2026-03-23T08:05:00-03:00", "America/Sao_Paulo");
    // No cue asks for it: no window by the rules; the model may take the told time for one.
    let windows = told(&["o freio do gol tá chiando", "terça de manhã eu levo o carro aí"]);
    assert_eq!(windows.requested, None);
    assert_window(windows.told, "2026-03-24T09:00:00-03:00", "2026-03-24T12:00:00-03:00");
    // Refused, or when the customer is taken: neither asked for nor told.
    assert_eq!(told(&["não posso terça de manhã"]).told, None);
    // Asked for: the window, and nothing told beside it.
    let windows = told(&["pode ligar terça de manhã?"]);
    assert_window(windows.requested, "2026-03-24T09:00:00-03:00", "2026-03-24T12:00:00-03:00");
    assert_eq!(windows.told, None);
}

// --- Dates ------------------------------------------------------------------------------

/// Tuesday 2026-05-19, 10:00 in London (BST).
const TUESDAY_MAY_19: &str = "2026-05-19T10:00:00+01:00";
const LONDON: &str = "Europe/London";

#[test]
fn a_day_of_the_month_is_that_date_this_month_or_next() {
    let on = |text: &str| window_of(&[text], TUESDAY_MAY_19, LONDON, &weekday_hours());
    let w = assert_window(on("can you call me on the 28th?"), "2026-05-28T09:00:00+01:00", "2026-05-28T18:00:00+01:00");
    assert_eq!(w.rule, "date+business_hours");
    // The 12th is over this month: next month's.
    assert_window(on("please call on the 12th"), "2026-06-12T09:00:00+01:00", "2026-06-12T18:00:00+01:00");
    assert_window(on("pode me ligar dia 15 de manhã?"), "2026-06-15T09:00:00+01:00", "2026-06-15T12:00:00+01:00");
    assert_window(on("llámame el 2 de junio por la tarde"), "2026-06-02T12:00:00+01:00", "2026-06-02T17:00:00+01:00");
    // Sunday the 24th, closed: kept as named.
    assert_window(on("24 tarikh ko call karna"), "2026-05-24T09:00:00+01:00", "2026-05-24T17:00:00+01:00");
    assert_window(on("June 3rd after 5pm, call me"), "2026-06-03T17:00:00+01:00", "2026-06-03T21:00:00+01:00");
    // "1 tarikh ke baad" stays the salary day (Monday 1 June).
    assert_window(on("1 tarikh ke baad call karna"), "2026-06-01T09:00:00+01:00", "2026-06-01T18:00:00+01:00");
}

#[test]
fn a_weekday_with_its_date_is_that_date_and_a_mismatch_reads_the_weekday() {
    let on = |text: &str| window_of(&[text], TUESDAY_MAY_19, LONDON, &weekday_hours());
    assert_window(
        on("Can the surveyor come Thursday the 28th?"),
        "2026-05-28T09:00:00+01:00",
        "2026-05-28T18:00:00+01:00",
    );
    // Without the date, the coming Thursday.
    assert_window(on("Can the surveyor come Thursday?"), "2026-05-21T09:00:00+01:00", "2026-05-21T18:00:00+01:00");
    assert_window(
        on("¿puede ser el jueves 28 por la tarde?"),
        "2026-05-28T12:00:00+01:00",
        "2026-05-28T17:00:00+01:00",
    );
    // The 11th is a Monday: "sábado 11" is the coming Saturday.
    let w = assert_window(on("¿puede ser el sábado 11?"), "2026-05-23T10:00:00+01:00", "2026-05-23T14:00:00+01:00");
    assert!(w.rule.starts_with("weekday_not_date"), "{}", w.rule);
}

#[test]
fn a_date_told_without_contact_is_the_event_s_not_a_window() {
    let windows = |customer: &[&str]| windows_of(customer, TUESDAY_MAY_19, LONDON);
    // The wedding's date, the hall wanted on a date: told, for the model to judge.
    let found = windows(&["hola!! me caso el 14 de noviembre, cuánto cuesta el paquete?"]);
    assert_eq!(found.requested, None);
    assert_window(found.told, "2026-11-14T10:00:00+00:00", "2026-11-14T14:00:00+00:00");
    assert_eq!(windows(&["3 October ko hall free hai?"]).requested, None);
    // A move date is a deadline; a past date and a date that is a floor or a count are no time.
    assert_eq!(windows(&["minha mudança é dia 28, consegue entregar antes?"]).requested, None);
    let past = windows(&["we paid on the 3rd and nothing came"]);
    assert_eq!((past.requested, past.told), (None, None));
    assert_eq!(windows(&["I'm on the 2nd floor, flat 4"]).told, None);
    // A date named in one turn lends no day to a time asked for in a later one.
    let later = windows(&["we fly out on the 28th", "call me after 6 pm please"]);
    assert_window(later.requested, "2026-05-19T18:00:00+01:00", "2026-05-19T21:00:00+01:00");
}

// --- Weekdays ---------------------------------------------------------------------------

#[test]
fn weekday_earlier_in_the_week_is_next_weeks() {
    // Wednesday 2026-03-11; Tuesday has passed.
    let w = window_of(
        &["¿Tienen algo el martes por la mañana?"],
        "2026-03-11T12:45:00-07:00",
        "America/Los_Angeles",
        &weekday_hours(),
    );
    let w = assert_window(w, "2026-03-17T09:00:00-07:00", "2026-03-17T12:00:00-07:00");
    assert_eq!(w.evidence, "martes por la mañana");
}

#[test]
fn todays_weekday_counts_until_its_window_is_over() {
    // Tuesday 10:30: "Tuesday afternoon" is today; "Tuesday morning" at 12:30 is next week.
    let w = window_of(&["tuesday afternoon"], "2026-06-09T10:30:00+05:30", KOLKATA, &weekday_hours());
    assert_window(w, "2026-06-09T12:00:00+05:30", "2026-06-09T17:00:00+05:30");
    let w = window_of(&["tuesday morning"], "2026-06-09T12:30:00+05:30", KOLKATA, &weekday_hours());
    assert_window(w, "2026-06-16T09:00:00+05:30", "2026-06-16T12:00:00+05:30");
}

#[test]
fn weekday_without_part_of_day_is_its_business_hours() {
    let w = window_of(&["Thursday is fine"], "2026-06-09T10:30:00+05:30", KOLKATA, &weekday_hours());
    let w = assert_window(w, "2026-06-11T09:00:00+05:30", "2026-06-11T18:00:00+05:30");
    assert_eq!(w.rule, "weekday+business_hours");
    let w = window_of(&["shanivar ko aa jaunga"], "2026-06-09T10:30:00+05:30", KOLKATA, &weekday_hours());
    assert_window(w, "2026-06-13T10:00:00+05:30", "2026-06-13T14:00:00+05:30");
}

#[test]
fn a_closed_weekday_is_kept_as_named_nine_to_five() {
    let w = window_of(&["can you come on Sunday?"], "2026-06-09T10:30:00+05:30", KOLKATA, &weekday_hours());
    let w = assert_window(w, "2026-06-14T09:00:00+05:30", "2026-06-14T17:00:00+05:30");
    assert_eq!(w.rule, "weekday+closed_day_as_named");
}

#[test]
fn past_weekdays_are_not_requests() {
    let w = window_of(
        &["the same thing happened last Tuesday", "o técnico veio na terça passada"],
        "2026-06-09T10:30:00+05:30",
        KOLKATA,
        &weekday_hours(),
    );
    assert_eq!(w, None);
}

#[test]
fn next_week_with_a_weekday_is_that_day_of_next_week() {
    let w = window_of(&["agle hafte mangalvar ko subah"], "2026-06-09T10:30:00+05:30", KOLKATA, &weekday_hours());
    assert_window(w, "2026-06-16T09:00:00+05:30", "2026-06-16T12:00:00+05:30");
}

// --- Tomorrow, kal, mañana --------------------------------------------------------------

#[test]
fn tomorrow_is_the_next_calendar_day() {
    let w = window_of(
        &["the manager should call me tomorrow morning. Not next week. Tomorrow morning."],
        "2026-05-08T19:55:00+04:00",
        "Asia/Dubai",
        &weekday_hours(),
    );
    assert_window(w, "2026-05-09T09:00:00+04:00", "2026-05-09T12:00:00+04:00");
    // Whole day: Saturday's business hours.
    let w = window_of(&["tomorrow works"], "2026-05-08T19:55:00+04:00", "Asia/Dubai", &weekday_hours());
    assert_window(w, "2026-05-09T10:00:00+04:00", "2026-05-09T14:00:00+04:00");
}

#[test]
fn kal_shaam_6_ke_baad_is_tomorrow_18_to_21() {
    let w = window_of(&["Kal shaam 6 baje ke baad call karna"], "2026-07-15T11:42:00+05:30", KOLKATA, &weekday_hours());
    let w = assert_window(w, "2026-07-16T18:00:00+05:30", "2026-07-16T21:00:00+05:30");
    assert_eq!(w.rule, "tomorrow+part_of_day+after_n");
    let w = window_of(&["kal 6 ke baad"], "2026-07-15T11:42:00+05:30", KOLKATA, &weekday_hours());
    assert_window(w, "2026-07-16T18:00:00+05:30", "2026-07-16T21:00:00+05:30");
}

#[test]
fn kal_in_a_past_sentence_is_yesterday_and_not_a_window() {
    let w = window_of(&["technician kal aaya hi nahi tha"], "2026-07-15T11:42:00+05:30", KOLKATA, &weekday_hours());
    assert_eq!(w, None);
}

#[test]
fn manana_alone_is_tomorrow_and_por_la_manana_is_morning() {
    let now = "2026-03-11T12:45:00-07:00";
    let la = "America/Los_Angeles";
    let w = window_of(&["mañana por la mañana"], now, la, &weekday_hours());
    assert_window(w, "2026-03-12T09:00:00-07:00", "2026-03-12T12:00:00-07:00");
    let w = window_of(&["llámame mañana"], now, la, &weekday_hours());
    assert_window(w, "2026-03-12T09:00:00-07:00", "2026-03-12T18:00:00-07:00");
    let w = window_of(&["pasado mañana después de las 7"], now, la, &weekday_hours());
    assert_window(w, "2026-03-13T19:00:00-07:00", "2026-03-13T21:00:00-07:00");
}

#[test]
fn portuguese_parts_of_day_and_times() {
    let now = "2026-03-23T10:20:00-03:00"; // Monday
    let sp = "America/Sao_Paulo";
    let w = window_of(&["Pode ser na quinta à tarde?"], now, sp, &weekday_hours());
    assert_window(w, "2026-03-26T12:00:00-03:00", "2026-03-26T17:00:00-03:00");
    let w = window_of(&["amanhã depois das 18h"], now, sp, &weekday_hours());
    assert_window(w, "2026-03-24T18:00:00-03:00", "2026-03-24T21:00:00-03:00");
    let w = window_of(&["semana que vem, de manhã"], now, sp, &weekday_hours());
    assert_window(w, "2026-03-30T00:00:00-03:00", "2026-04-05T23:59:00-03:00");
    // "segunda vez" is "second time", not Monday.
    assert_eq!(window_of(&["é a segunda vez que isso acontece"], now, sp, &weekday_hours()), None);
}

// --- Tonight, after N, before N ---------------------------------------------------------

#[test]
fn tonight_is_18_to_21_or_now_to_21_after_six() {
    let w = window_of(&["call me tonight"], "2026-06-09T15:00:00+05:30", KOLKATA, &weekday_hours());
    let w = assert_window(w, "2026-06-09T18:00:00+05:30", "2026-06-09T21:00:00+05:30");
    assert_eq!(w.rule, "tonight");
    let w = window_of(&["call me tonight"], "2026-06-09T19:10:00+05:30", KOLKATA, &weekday_hours());
    assert_window(w, "2026-06-09T19:10:00+05:30", "2026-06-09T21:00:00+05:30");
    let w = window_of(&["aaj raat baat karte hain"], "2026-06-09T18:30:00+05:30", KOLKATA, &weekday_hours());
    assert_window(w, "2026-06-09T18:30:00+05:30", "2026-06-09T21:00:00+05:30");
}

#[test]
fn tonight_after_9_with_free_till_11_is_21_to_23() {
    let w = window_of(
        &["I'm at work till late, call me tonight after 9. I'm free till 11."],
        "2026-09-22T15:05:00-07:00",
        "America/Los_Angeles",
        &weekday_hours(),
    );
    let w = assert_window(w, "2026-09-22T21:00:00-07:00", "2026-09-22T23:00:00-07:00");
    assert_eq!(w.rule, "tonight+after_n+until_n");
}

#[test]
fn a_delay_from_now_runs_from_then_until_21_or_23_once_that_is_past() {
    let w =
        window_of(&["can you call me in an hour? driving now"], "2026-06-09T14:10:00+05:30", KOLKATA, &weekday_hours());
    let w = assert_window(w, "2026-06-09T15:10:00+05:30", "2026-06-09T21:00:00+05:30");
    assert_eq!(w.rule, "from_now");
    let w = window_of(&["me liga daqui a duas horas"], "2026-06-09T19:30:00+05:30", KOLKATA, &weekday_hours());
    assert_window(w, "2026-06-09T21:30:00+05:30", "2026-06-09T23:00:00+05:30");
    let w = window_of(&["ek ghante baad call karna"], "2026-06-09T10:00:00+05:30", KOLKATA, &weekday_hours());
    assert_window(w, "2026-06-09T11:00:00+05:30", "2026-06-09T21:00:00+05:30");
    let w = window_of(&["llámame en media hora"], "2026-06-09T10:00:00+05:30", KOLKATA, &weekday_hours());
    assert_window(w, "2026-06-09T10:30:00+05:30", "2026-06-09T21:00:00+05:30");
    // Past the day: no window; and an hour in the past is no delay.
    assert!(window_of(&["call me in three hours"], "2026-06-09T21:30:00+05:30", KOLKATA, &weekday_hours()).is_none());
    assert!(window_of(&["I called an hour ago"], "2026-06-09T10:00:00+05:30", KOLKATA, &weekday_hours()).is_none());
}

#[test]
fn after_9_pm_without_an_end_runs_to_23() {
    let w = window_of(&["after 9 pm"], "2026-06-09T15:00:00+05:30", KOLKATA, &weekday_hours());
    assert_window(w, "2026-06-09T21:00:00+05:30", "2026-06-09T23:00:00+05:30");
}

#[test]
fn after_n_runs_to_21_the_same_day() {
    let w = window_of(&["any time after 4"], "2026-06-09T10:00:00+05:30", KOLKATA, &weekday_hours());
    let w = assert_window(w, "2026-06-09T16:00:00+05:30", "2026-06-09T21:00:00+05:30");
    assert_eq!(w.rule, "after_n");
    // Once that time has passed, tomorrow.
    let w = window_of(&["after 4 pm"], "2026-06-09T21:30:00+05:30", KOLKATA, &weekday_hours());
    assert_window(w, "2026-06-10T16:00:00+05:30", "2026-06-10T21:00:00+05:30");
    let w = window_of(&["después de las 7 el jueves"], "2026-06-09T10:00:00+05:30", KOLKATA, &weekday_hours());
    assert_window(w, "2026-06-11T19:00:00+05:30", "2026-06-11T21:00:00+05:30");
}

#[test]
fn after_a_duration_is_not_a_time() {
    assert_eq!(window_of(&["call me after 2 weeks"], "2026-06-09T10:00:00+05:30", KOLKATA, &weekday_hours()), None);
}

#[test]
fn before_n_starts_now_or_at_the_days_opening() {
    let w = window_of(&["call before 5 pm"], "2026-06-09T11:20:00+05:30", KOLKATA, &weekday_hours());
    let w = assert_window(w, "2026-06-09T11:20:00+05:30", "2026-06-09T17:00:00+05:30");
    assert_eq!(w.rule, "before_n");
    let w = window_of(&["call before 5 pm"], "2026-06-09T07:00:00+05:30", KOLKATA, &weekday_hours());
    assert_window(w, "2026-06-09T09:00:00+05:30", "2026-06-09T17:00:00+05:30");
    let w = window_of(&["Friday before 1"], "2026-06-09T11:20:00+05:30", KOLKATA, &weekday_hours());
    assert_window(w, "2026-06-12T09:00:00+05:30", "2026-06-12T13:00:00+05:30");
}

#[test]
fn before_the_24th_is_a_deadline_not_a_call_window() {
    let w = window_of(
        &["Ok, as long as it arrives before the 24th."],
        "2026-12-14T13:30:00-08:00",
        "America/Los_Angeles",
        &weekday_hours(),
    );
    assert_eq!(w, None);
}

#[test]
fn between_n_and_m() {
    let w = window_of(&["between 3 and 5 on Monday"], "2026-06-09T10:00:00+05:30", KOLKATA, &weekday_hours());
    assert_window(w, "2026-06-15T15:00:00+05:30", "2026-06-15T17:00:00+05:30");
    let w = window_of(&["entre 14h e 16h"], "2026-06-09T10:00:00+05:30", KOLKATA, &weekday_hours());
    assert_window(w, "2026-06-09T14:00:00+05:30", "2026-06-09T16:00:00+05:30");
}

// --- Weekend, next week, month ----------------------------------------------------------

#[test]
fn this_weekend_is_saturday_and_sunday_business_hours() {
    let seven_days = hours(&[
        ("mon", "10:00-19:00"),
        ("tue", "10:00-19:00"),
        ("wed", "10:00-19:00"),
        ("thu", "10:00-19:00"),
        ("fri", "10:00-19:00"),
        ("sat", "10:00-19:00"),
        ("sun", "10:00-18:00"),
    ]);
    let w = window_of(&["I'd like to see both this weekend"], "2026-09-09T12:36:00+05:30", KOLKATA, &seven_days);
    let w = assert_window(w, "2026-09-12T10:00:00+05:30", "2026-09-13T18:00:00+05:30");
    assert_eq!(w.rule, "this_weekend+business_hours");
}

#[test]
fn this_weekend_said_when_it_is_over_is_the_next_one() {
    // Sunday 2026-09-13 20:00, after "this weekend"'s afternoons.
    let w = window_of(&["this weekend in the afternoon"], "2026-09-13T20:00:00+05:30", KOLKATA, &weekday_hours());
    assert_window(w, "2026-09-19T12:00:00+05:30", "2026-09-20T17:00:00+05:30");
}

#[test]
fn this_weekend_with_sunday_closed_is_saturday() {
    let w = window_of(&["this weekend"], "2026-09-09T12:36:00+05:30", KOLKATA, &weekday_hours());
    assert_window(w, "2026-09-12T10:00:00+05:30", "2026-09-12T14:00:00+05:30");
}

#[test]
fn this_weekend_with_both_days_closed_is_saturday_9_to_sunday_17() {
    let w = window_of(&["este fin de semana"], "2026-09-09T12:36:00+05:30", KOLKATA, &hours(&[("mon", "09:00-18:00")]));
    let w = assert_window(w, "2026-09-12T09:00:00+05:30", "2026-09-13T17:00:00+05:30");
    assert_eq!(w.rule, "this_weekend+closed_day_as_named");
}

#[test]
fn next_week_keeps_its_calendar_bounds() {
    let w = window_of(&["Next week kabhi bhi call kar lena"], "2026-08-19T14:10:00+05:30", KOLKATA, &weekday_hours());
    let w = assert_window(w, "2026-08-24T00:00:00+05:30", "2026-08-30T23:59:00+05:30");
    assert_eq!(w.rule, "next_week");
    // Said on a Sunday: the Monday after.
    let w = window_of(&["la próxima semana"], "2026-08-23T20:00:00+05:30", KOLKATA, &weekday_hours());
    assert_window(w, "2026-08-24T00:00:00+05:30", "2026-08-30T23:59:00+05:30");
}

#[test]
fn after_salary_day_is_the_first_of_next_month_or_the_next_open_day() {
    // 2026-08-01 is a Saturday (open 10-14).
    let w = window_of(&["after salary day"], "2026-07-15T11:00:00+05:30", KOLKATA, &weekday_hours());
    let w = assert_window(w, "2026-08-01T10:00:00+05:30", "2026-08-01T14:00:00+05:30");
    assert_eq!(w.rule, "after_salary_day+business_hours");
    // 2026-11-01 is a Sunday (closed): Monday the 2nd.
    let w = window_of(&["salary aane ke baad call karo"], "2026-10-20T11:00:00+05:30", KOLKATA, &weekday_hours());
    assert_window(w, "2026-11-02T09:00:00+05:30", "2026-11-02T18:00:00+05:30");
    // December to January crosses the year.
    let w = window_of(&["after the 1st"], "2026-12-10T11:00:00+05:30", KOLKATA, &weekday_hours());
    assert_window(w, "2027-01-01T09:00:00+05:30", "2027-01-01T18:00:00+05:30");
}

#[test]
fn end_of_month_is_the_last_three_days_skipping_closed_ones() {
    // February 2026: 26 Thu, 27 Fri, 28 Sat (open 10-14).
    let w = window_of(&["end of the month"], "2026-02-10T11:00:00+05:30", KOLKATA, &weekday_hours());
    let w = assert_window(w, "2026-02-26T09:00:00+05:30", "2026-02-28T14:00:00+05:30");
    assert_eq!(w.rule, "end_of_month+business_hours");
    // May 2026: 29 Fri, 30 Sat, 31 Sun (closed): ends at Saturday's closing.
    let w = window_of(&["fim do mês"], "2026-05-04T11:00:00+05:30", KOLKATA, &weekday_hours());
    assert_window(w, "2026-05-29T09:00:00+05:30", "2026-05-30T14:00:00+05:30");
    // June 2026 has 30 days: 28 Sun (closed, skipped), 29 Mon, 30 Tue.
    let w = window_of(&["mahine ke end mein"], "2026-06-04T11:00:00+05:30", KOLKATA, &weekday_hours());
    assert_window(w, "2026-06-29T09:00:00+05:30", "2026-06-30T18:00:00+05:30");
    // February of a leap year: 27, 28, 29 Feb 2028 (Sun closed, Mon, Tue).
    let w = window_of(&["month end"], "2028-02-02T11:00:00+05:30", KOLKATA, &weekday_hours());
    assert_window(w, "2028-02-28T09:00:00+05:30", "2028-02-29T18:00:00+05:30");
}

// --- No window, corrections, acceptance -------------------------------------------------

#[test]
fn call_me_later_or_busy_is_no_window() {
    for text in [
        "Not now, I'm busy. Can you call me later?",
        "Não sei ainda, te aviso quando der.",
        "abhi busy hoon, baad mein call karna",
        "Ahora no puedo, llámame más tarde",
    ] {
        assert_eq!(window_of(&[text], "2026-06-09T10:00:00+05:30", KOLKATA, &weekday_hours()), None, "{text}");
    }
}

#[test]
fn the_latest_statement_wins() {
    let w = window_of(&["Monday... actually Wednesday"], "2026-06-09T10:00:00+05:30", KOLKATA, &weekday_hours());
    assert_window(w, "2026-06-10T09:00:00+05:30", "2026-06-10T18:00:00+05:30");
    let w = window_of(
        &["Thursday morning", "sorry, make it Friday afternoon"],
        "2026-06-09T10:00:00+05:30",
        KOLKATA,
        &weekday_hours(),
    );
    let w = assert_window(w, "2026-06-12T12:00:00+05:30", "2026-06-12T17:00:00+05:30");
    assert_eq!(w.turn, 1);
    let w = window_of(&["kal nahi, parso shaam ko"], "2026-06-09T10:00:00+05:30", KOLKATA, &weekday_hours());
    assert_window(w, "2026-06-11T17:00:00+05:30", "2026-06-11T21:00:00+05:30");
}

#[test]
fn a_wider_confirmation_keeps_the_narrower_window() {
    let w = window_of(
        &["Saturday morning?", "yes, Saturday works"],
        "2026-06-09T10:00:00+05:30",
        KOLKATA,
        &weekday_hours(),
    );
    let w = assert_window(w, "2026-06-13T09:00:00+05:30", "2026-06-13T12:00:00+05:30");
    assert_eq!(w.turn, 0);
}

#[test]
fn ai_turns_do_not_name_the_window_nor_does_a_yes_to_their_proposal() {
    // The window is the one the customer named: the training corpus labels a bare yes to the
    // AI's slot null (issue 20).
    let now = rfc("2026-06-09T10:00:00+05:30");
    let tz: Tz = KOLKATA.parse().unwrap();
    let turns = [
        WindowTurn { index: 0, from: Speaker::Customer, text: "I want a demo" },
        WindowTurn { index: 1, from: Speaker::Ai, text: "Can our consultant call you on Thursday at 3 pm?" },
    ];
    assert_eq!(resolver().requested_window(&turns, now, tz, &weekday_hours()), None);
    for reply in ["Yes please", "ok", "sim, pode ser", "haan theek hai"] {
        let accepted = [turns[0], turns[1], WindowTurn { index: 2, from: Speaker::Customer, text: reply }];
        assert_eq!(resolver().requested_window(&accepted, now, tz, &weekday_hours()), None, "{reply}");
    }
}

#[test]
fn the_customers_own_window_wins_over_the_slot_the_ai_booked() {
    let now = rfc("2026-04-13T11:05:00-03:00");
    let tz: Tz = "America/Sao_Paulo".parse().unwrap();
    let turns = [
        WindowTurn { index: 0, from: Speaker::Customer, text: "Wednesday afternoon works for me" },
        WindowTurn { index: 1, from: Speaker::Ai, text: "I can book Wednesday 15 April at 2:00 pm. Shall I confirm?" },
        WindowTurn { index: 2, from: Speaker::Customer, text: "Yes please." },
    ];
    let w = resolver().requested_window(&turns, now, tz, &weekday_hours());
    assert_window(w, "2026-04-15T12:00:00-03:00", "2026-04-15T17:00:00-03:00");
}

// --- DST --------------------------------------------------------------------------------

#[test]
fn new_york_spring_forward_week_changes_offset_inside_next_week() {
    // Said Wednesday 2026-03-04; next week runs Mon 9 Mar... no: DST starts Sun 8 Mar 2026.
    let w = window_of(&["next week"], "2026-03-04T10:00:00-05:00", "America/New_York", &weekday_hours());
    assert_window(w, "2026-03-09T00:00:00-04:00", "2026-03-15T23:59:00-04:00");
    // The week before the change: Monday in EST, Sunday 23:59 in EDT.
    let w = window_of(&["next week"], "2026-02-25T10:00:00-05:00", "America/New_York", &weekday_hours());
    assert_window(w, "2026-03-02T00:00:00-05:00", "2026-03-08T23:59:00-04:00");
    // This weekend across the change, both days closed: Sat 09:00 EST to Sun 17:00 EDT.
    let w = window_of(
        &["this weekend"],
        "2026-03-04T10:00:00-05:00",
        "America/New_York",
        &hours(&[("mon", "09:00-17:00")]),
    );
    assert_window(w, "2026-03-07T09:00:00-05:00", "2026-03-08T17:00:00-04:00");
}

#[test]
fn new_york_fall_back_sunday_keeps_local_hours() {
    // DST ends Sun 2026-11-01 02:00 EDT -> 01:00 EST.
    let w = window_of(&["sunday morning"], "2026-10-29T10:00:00-04:00", "America/New_York", &weekday_hours());
    assert_window(w, "2026-11-01T09:00:00-05:00", "2026-11-01T12:00:00-05:00");
    let w =
        window_of(&["this weekend in the evening"], "2026-10-29T10:00:00-04:00", "America/New_York", &weekday_hours());
    assert_window(w, "2026-10-31T17:00:00-04:00", "2026-11-01T21:00:00-05:00");
}

#[test]
fn london_spring_forward_and_tonight_in_summer_time() {
    // BST starts Sun 2026-03-29 01:00 GMT.
    let w = window_of(&["tomorrow evening"], "2026-03-28T10:00:00+00:00", "Europe/London", &weekday_hours());
    assert_window(w, "2026-03-29T17:00:00+01:00", "2026-03-29T21:00:00+01:00");
    let w = window_of(&["tonight"], "2026-03-29T19:00:00+01:00", "Europe/London", &weekday_hours());
    assert_window(w, "2026-03-29T19:00:00+01:00", "2026-03-29T21:00:00+01:00");
}

#[test]
fn sydney_dst_ends_in_april_and_starts_in_october() {
    // AEDT (+11) ends Sun 2026-04-05 03:00 -> AEST (+10).
    let w = window_of(&["next week"], "2026-04-01T10:00:00+11:00", "Australia/Sydney", &weekday_hours());
    assert_window(w, "2026-04-06T00:00:00+10:00", "2026-04-12T23:59:00+10:00");
    let w = window_of(
        &["this weekend"],
        "2026-04-01T10:00:00+11:00",
        "Australia/Sydney",
        &hours(&[("sat", "10:00-14:00"), ("sun", "10:00-14:00")]),
    );
    assert_window(w, "2026-04-04T10:00:00+11:00", "2026-04-05T14:00:00+10:00");
    // AEDT starts Sun 2026-10-04 02:00 -> 03:00.
    let w = window_of(&["sunday morning"], "2026-10-01T10:00:00+10:00", "Australia/Sydney", &weekday_hours());
    assert_window(w, "2026-10-04T09:00:00+11:00", "2026-10-04T12:00:00+11:00");
}

// --- Vocabulary -------------------------------------------------------------------------

fn write_vocabulary(dir: &Path, language: &str, yaml: &str) -> PathBuf {
    let folder = dir.join(language);
    std::fs::create_dir_all(&folder).unwrap();
    let path = folder.join("time.yaml");
    std::fs::write(&path, yaml).unwrap();
    path
}

#[test]
fn unknown_keys_are_rejected_naming_file_and_key() {
    let dir = tempfile::tempdir().unwrap();
    write_vocabulary(dir.path(), "xx", "weekdays:\n  mon: [lundi]\n  funday: [x]\n");
    let error = TimeResolver::load(dir.path()).unwrap_err();
    let message = error.to_string();
    assert!(matches!(error, VocabularyError::Parse { .. }), "{message}");
    assert!(message.contains("xx/time.yaml") && message.contains("funday"), "{message}");
}

#[test]
fn malformed_templates_and_empty_phrases_name_their_key() {
    let dir = tempfile::tempdir().unwrap();
    write_vocabulary(dir.path(), "xx", "clock:\n  after: [\"after {t}\", \"apres\"]\n");
    let message = TimeResolver::load(dir.path()).unwrap_err().to_string();
    assert!(message.contains("xx/time.yaml") && message.contains("clock.after[1]"), "{message}");
    let dir = tempfile::tempdir().unwrap();
    write_vocabulary(dir.path(), "xx", "days:\n  tomorrow: [\"  \"]\n");
    let message = TimeResolver::load(dir.path()).unwrap_err().to_string();
    assert!(message.contains("days.tomorrow[0]"), "{message}");
    let dir = tempfile::tempdir().unwrap();
    write_vocabulary(dir.path(), "xx", "days:\n  from_now: {\"dans une heure\": 0}\n");
    let message = TimeResolver::load(dir.path()).unwrap_err().to_string();
    assert!(message.contains("days.from_now.dans une heure") && message.contains("1 to 720"), "{message}");
}

#[test]
fn malformed_date_templates_name_their_key() {
    let bad = [
        ("dates:\n  day_of_month: [\"the day\"]\n", "dates.day_of_month[0]"),
        ("dates:\n  day_of_month: [\"{d} {m}\"]\n", "dates.day_of_month[0]"),
        ("dates:\n  ordinal_suffixes: [th]\n  after_weekday: [\"{d}\", \"{o} {d}\"]\n", "dates.after_weekday[1]"),
        ("dates:\n  day_of_month: [\"le {o}\"]\n", "dates.day_of_month[0]"),
        ("dates:\n  day_words: {trente-deux: 32}\n", "dates.day_words.trente-deux"),
        ("dates:\n  ordinal_day_words: {\"3e\": 3}\n", "dates.ordinal_day_words.3e"),
    ];
    for (yaml, key) in bad {
        let dir = tempfile::tempdir().unwrap();
        write_vocabulary(dir.path(), "xx", yaml);
        let message = TimeResolver::load(dir.path()).unwrap_err().to_string();
        assert!(message.contains("xx/time.yaml") && message.contains(key), "{yaml}: {message}");
    }
}

#[test]
fn a_folder_without_time_vocabulary_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    assert!(matches!(TimeResolver::load(dir.path()), Err(VocabularyError::Missing { .. })));
}

#[test]
fn sales_ops_can_add_a_language_without_rust_changes() {
    let dir = tempfile::tempdir().unwrap();
    write_vocabulary(
        dir.path(),
        "fr",
        "weekdays:\n  sat: [samedi]\nparts_of_day:\n  morning:\n    words: [matin]\nclock:\n  after: [\"après {t}\"]\n  clock_words: [h]\n",
    );
    let custom = TimeResolver::load(dir.path()).unwrap();
    let turns = [WindowTurn { index: 0, from: Speaker::Customer, text: "Samedi matin, après 10h" }];
    let w = custom.requested_window(
        &turns,
        rfc("2026-06-09T10:00:00+02:00"),
        "Europe/Paris".parse().unwrap(),
        &weekday_hours(),
    );
    // "après 10h" in the morning is "after 10 am": until 21:00 (eval/README.md, issue 20).
    assert_window(w, "2026-06-13T10:00:00+02:00", "2026-06-13T21:00:00+02:00");
}

// --- Properties -------------------------------------------------------------------------

mod properties {
    use super::*;
    use chrono::{Duration, TimeZone};
    use proptest::prelude::*;

    const PHRASES: &[&str] = &[
        "Saturday morning",
        "kal shaam 6 ke baad",
        "el martes por la mañana",
        "semana que vem",
        "after salary day",
        "tonight after 9",
        "Monday... actually Wednesday",
        "call me later",
        "this weekend",
        "next week",
        "end of month",
        "before 5 pm",
        "after 9 pm",
        "between 3 and 5",
        "tomorrow",
        "sunday evening",
        "à noite",
        "free till 11",
        "parso subah",
        "depois das 18h",
        "today",
        "in the afternoon",
        "at 7",
        "fim do mês",
        "after the 1st",
    ];
    const ZONES: &[&str] =
        &["Asia/Kolkata", "America/New_York", "Europe/London", "Australia/Sydney", "America/Sao_Paulo", "Asia/Dubai"];

    fn arbitrary_now() -> impl Strategy<Value = (DateTime<FixedOffset>, Tz)> {
        // Any minute of 2026-2027, in one of the zones.
        (0i64..(2 * 365 * 24 * 60), 0..ZONES.len()).prop_map(|(minutes, zone)| {
            let tz: Tz = ZONES[zone].parse().unwrap();
            let utc = chrono::Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap() + Duration::minutes(minutes);
            (utc.with_timezone(&tz).fixed_offset(), tz)
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        #[test]
        fn windows_are_ordered_and_not_in_the_past((now, tz) in arbitrary_now(), a in 0..PHRASES.len(), b in 0..PHRASES.len()) {
            let text = format!("{} or {}", PHRASES[a], PHRASES[b]);
            let turns = [WindowTurn { index: 0, from: Speaker::Customer, text: &text }];
            if let Some(found) = resolver().requested_window(&turns, now, tz, &weekday_hours()) {
                let w = &found.window;
                prop_assert!(w.not_before <= w.not_after, "{text}: {w:?}");
                // Only a window on today's date may start before now (a whole day, a part of
                // the day); the end of month may also have begun. None may be over.
                let same_day = w.not_before.with_timezone(&tz).date_naive() == now.with_timezone(&tz).date_naive();
                prop_assert!(w.not_before >= now || same_day || found.rule.starts_with("end_of_month") || found.rule.starts_with("this_weekend"), "{text} at {now}: {w:?} ({})", found.rule);
                prop_assert!(w.not_after >= now || found.rule.starts_with("end_of_month"), "{text} at {now}: {w:?} ({})", found.rule);
                // Offsets are the zone's at that instant.
                prop_assert_eq!(w.not_before.offset().local_minus_utc(), w.not_before.with_timezone(&tz).fixed_offset().offset().local_minus_utc());
            }
        }

        #[test]
        fn arbitrary_text_never_panics(text in "\\PC{0,200}", (now, tz) in arbitrary_now()) {
            let turns = [WindowTurn { index: 0, from: Speaker::Customer, text: &text }];
            let _ = resolver().requested_window(&turns, now, tz, &weekday_hours());
        }

        #[test]
        fn time_like_text_never_panics(words in proptest::collection::vec("(after|before|till|between|and|at|kal|shaam|baje|ke|baad|[0-9]{1,3}|[0-9]{1,2}:[0-9]{2}|pm|am|h|tonight|monday|next|week|de|las|das|às|entre|e|y|-|\\.|,)", 0..12), (now, tz) in arbitrary_now()) {
            let text = words.join(" ");
            let turns = [WindowTurn { index: 0, from: Speaker::Customer, text: &text }];
            if let Some(found) = resolver().requested_window(&turns, now, tz, &weekday_hours()) {
                prop_assert!(found.window.not_before <= found.window.not_after, "{text}: {found:?}");
            }
        }
    }
}

// --- The labelled dev set ---------------------------------------------------------------

/// Every case of /work/shared/eval/dev (read from disk when present, never copied here):
/// the resolver's window must equal `expect.requested_window`.
#[test]
fn dev_set_requested_windows() {
    let dir = Path::new("/work/shared/eval/dev");
    let Ok(entries) = std::fs::read_dir(dir) else {
        eprintln!("eval dev set not found at {}: skipped", dir.display());
        return;
    };
    let mut paths: Vec<PathBuf> =
        entries.map(|e| e.unwrap().path()).filter(|p| p.extension().is_some_and(|e| e == "json")).collect();
    paths.sort();
    let (mut scored, mut right, mut failures) = (0, 0, Vec::new());
    for path in &paths {
        let case: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        let Some(expected) = case["expect"].get("requested_window") else { continue };
        let conversation: Conversation = serde_json::from_value(case["input"].clone()).unwrap();
        let hours = BusinessHours::parse(
            &conversation.business_hours.iter().map(|(k, v)| (k.clone(), v.clone())).collect::<BTreeMap<_, _>>(),
        )
        .unwrap();
        let turns: Vec<WindowTurn<'_>> = conversation
            .turns
            .iter()
            .enumerate()
            .filter(|(_, t)| conversation.handoff_at.is_none_or(|h| t.at <= h))
            .map(|(index, t)| WindowTurn { index, from: t.from, text: &t.text })
            .collect();
        let found =
            resolver().requested_window(&turns, conversation.now, conversation.timezone.parse().unwrap(), &hours);
        let found_bounds = found.as_ref().map(|w| (w.window.not_before, w.window.not_after));
        let expected_bounds = (!expected.is_null())
            .then(|| (rfc(expected["not_before"].as_str().unwrap()), rfc(expected["not_after"].as_str().unwrap())));
        scored += 1;
        if found_bounds == expected_bounds {
            right += 1;
        } else {
            failures.push(format!("{}: expected {expected_bounds:?}, found {found:?}", path.display()));
        }
    }
    eprintln!("requested_window on eval/dev: {right}/{scored}");
    assert!(scored > 0, "no labelled case in {}", dir.display());
    assert!(failures.is_empty(), "{right}/{scored}\n{}", failures.join("\n"));
}

#[test]
fn portuguese_no_before_a_day_is_on_not_not() {
    // Portuguese "no sábado" is "on Saturday"; Spanish "no" negates, so the two must not mix.
    let hours = weekday_hours();
    let found = window_of(
        &["Quero fazer um test drive no sábado de manhã."],
        "2026-07-08T16:00:00-03:00",
        "America/Sao_Paulo",
        &hours,
    );
    assert_window(found, "2026-07-11T09:00:00-03:00", "2026-07-11T12:00:00-03:00");
    let negated = window_of(
        &["Não no sábado de manhã, prefiro outro dia."],
        "2026-07-08T16:00:00-03:00",
        "America/Sao_Paulo",
        &hours,
    );
    assert!(
        negated
            .as_ref()
            .is_none_or(|w| w.window.not_before.date_naive() != rfc("2026-07-11T09:00:00-03:00").date_naive()),
        "{negated:?}"
    );
}

// --- Times that are not requests (issue 20) ---------------------------------------------

const BOGOTA: &str = "America/Bogota";
const SAO_PAULO: &str = "America/Sao_Paulo";
const NEW_YORK: &str = "America/New_York";

#[test]
fn a_time_the_customer_works_is_not_the_time_they_asked_for() {
    // Tuesday 2026-06-09; Thursday is 06-11.
    let w = window_of(
        &["¿Se puede cambiar para el jueves por la tarde? Por la mañana trabajo."],
        "2026-06-09T10:00:00-05:00",
        BOGOTA,
        &weekday_hours(),
    );
    assert_window(w, "2026-06-11T12:00:00-05:00", "2026-06-11T17:00:00-05:00");
    let w = window_of(
        &["Pode ser quinta à tarde? De manhã eu trabalho."],
        "2026-06-09T10:00:00-03:00",
        SAO_PAULO,
        &weekday_hours(),
    );
    assert_window(w, "2026-06-11T12:00:00-03:00", "2026-06-11T17:00:00-03:00");
    let w = window_of(
        &["subah office mein hoon, shaam ko call karo"],
        "2026-06-09T10:00:00+05:30",
        KOLKATA,
        &weekday_hours(),
    );
    assert_window(w, "2026-06-09T17:00:00+05:30", "2026-06-09T21:00:00+05:30");
    assert_eq!(window_of(&["I work till 6"], "2026-06-09T10:00:00-04:00", NEW_YORK, &weekday_hours()), None);
    assert_eq!(window_of(&["Por la mañana trabajo."], "2026-06-09T08:00:00-05:00", BOGOTA, &weekday_hours()), None);
}

#[test]
fn a_part_of_the_day_taken_in_its_own_clause_is_not_the_day_asked_for_in_the_next() {
    // Tuesday 2026-06-09: tomorrow is Wednesday, its business hours 09:00-18:00.
    let now = "2026-06-09T10:00:00-04:00";
    for said in ["I'm at work in the morning, call me tomorrow", "call me tomorrow, in the morning I'm at college"] {
        let w = window_of(&[said], now, NEW_YORK, &weekday_hours());
        assert_window(w, "2026-06-10T09:00:00-04:00", "2026-06-10T18:00:00-04:00");
    }
    let w = window_of(&["kal call karna, subah college mein hota hoon"], now, KOLKATA, &weekday_hours());
    assert_window(w, "2026-06-10T09:00:00+05:30", "2026-06-10T18:00:00+05:30");
    let w = window_of(&["Pode me ligar amanhã? De manhã estou nas consultas."], now, SAO_PAULO, &weekday_hours());
    assert_window(w, "2026-06-10T09:00:00-03:00", "2026-06-10T18:00:00-03:00");
    // Free then, or asked for with the taken part refused beside it: the part stays.
    let w = window_of(&["call me tomorrow morning, I'm free then"], now, NEW_YORK, &weekday_hours());
    assert_window(w, "2026-06-10T09:00:00-04:00", "2026-06-10T12:00:00-04:00");
    let w = window_of(&["tomorrow morning please, afternoons I'm at work"], now, NEW_YORK, &weekday_hours());
    assert_window(w, "2026-06-10T09:00:00-04:00", "2026-06-10T12:00:00-04:00");
    // A refused clock time keeps its day and its convention: "not before 3" is after 3.
    let w =
        window_of(&["Sí, llamadme mañana, pero no antes de las 3 que estoy en clase"], now, BOGOTA, &weekday_hours());
    assert_window(w, "2026-06-10T15:00:00-05:00", "2026-06-10T21:00:00-05:00");
}

#[test]
fn early_is_the_morning() {
    let now = "2026-06-09T10:00:00-03:00";
    for said in ["amanhã cedinho", "amanhã bem cedo"] {
        let w = window_of(&[said], now, SAO_PAULO, &weekday_hours());
        assert_window(w, "2026-06-10T09:00:00-03:00", "2026-06-10T12:00:00-03:00");
    }
    let w = window_of(&["mañana tempranito"], "2026-06-09T10:00:00-05:00", BOGOTA, &weekday_hours());
    assert_window(w, "2026-06-10T09:00:00-05:00", "2026-06-10T12:00:00-05:00");
}

#[test]
fn a_negated_day_is_not_requested() {
    let w =
        window_of(&["not monday. wednesday afternoon works"], "2026-06-09T10:00:00-04:00", NEW_YORK, &weekday_hours());
    assert_window(w, "2026-06-10T12:00:00-04:00", "2026-06-10T17:00:00-04:00");
    assert_eq!(window_of(&["not monday"], "2026-06-09T10:00:00-04:00", NEW_YORK, &weekday_hours()), None);
}

#[test]
fn a_decision_deadline_is_not_a_call_time() {
    let now = "2026-06-09T10:00:00-04:00";
    assert_eq!(
        window_of(&["we need to decide by Friday, get back to me quickly"], now, NEW_YORK, &weekday_hours()),
        None
    );
    assert_eq!(
        window_of(&["Tenemos que decidir antes del viernes, mándeme el folleto"], now, BOGOTA, &weekday_hours()),
        None
    );
    assert_eq!(window_of(&["Friday tak decide karna hai, brochure bhejo"], now, KOLKATA, &weekday_hours()), None);
    assert_eq!(window_of(&["Preciso decidir até sexta."], now, SAO_PAULO, &weekday_hours()), None);
    // A named contact keeps the time a request even beside the deadline.
    let w = window_of(&["call me on Friday morning before we decide"], now, NEW_YORK, &weekday_hours());
    assert_window(w, "2026-06-12T09:00:00-04:00", "2026-06-12T12:00:00-04:00");
}

#[test]
fn a_named_day_wins_over_a_later_bare_today() {
    // Wednesday 2026-06-10.
    let w = window_of(
        &["Can we visit this Saturday morning? Please call me today"],
        "2026-06-10T10:00:00+05:30",
        KOLKATA,
        &weekday_hours(),
    );
    assert_window(w, "2026-06-13T09:00:00+05:30", "2026-06-13T12:00:00+05:30");
    let w =
        window_of(&["el sábado en la mañana, o llámeme hoy"], "2026-06-10T10:00:00-05:00", BOGOTA, &weekday_hours());
    assert_window(w, "2026-06-13T09:00:00-05:00", "2026-06-13T12:00:00-05:00");
    // A today with its own time of day is not bare: it stays the latest request.
    let w = window_of(
        &["Saturday morning is fine. Actually call me after 6 pm today"],
        "2026-06-10T10:00:00+05:30",
        KOLKATA,
        &weekday_hours(),
    );
    assert_window(w, "2026-06-10T18:00:00+05:30", "2026-06-10T21:00:00+05:30");
}

// --- A time of day and the day named around it (issue 20) --------------------------------

/// Tuesday 2026-06-09 10:00 IST, Mon-Fri 09:00-18:00, Sat 10:00-14:00: the customer's turns.
fn on_a_tuesday_morning(customer: &[&str]) -> Option<ResolvedWindow> {
    window_of(customer, "2026-06-09T10:00:00+05:30", KOLKATA, &weekday_hours())
}

#[test]
fn a_sentence_ends_a_time_so_an_unavailable_part_of_day_does_not_bind_the_next_one() {
    let w = on_a_tuesday_morning(&["Mornings I'm stuck at the site, no way. But Friday after four is fine."]);
    assert_window(w, "2026-06-12T16:00:00+05:30", "2026-06-12T21:00:00+05:30");
}

#[test]
fn a_time_of_day_without_a_day_takes_the_day_named_just_before() {
    // In the same turn, and in the customer's previous turn, in every language.
    let cases: [(&[&str], &str, &str); 5] = [
        (&["Could we do Friday? Ideally after 4."], "2026-06-12T16:00:00+05:30", "2026-06-12T21:00:00+05:30"),
        (
            &["do you have space on Thursday?", "after 5 please"],
            "2026-06-11T17:00:00+05:30",
            "2026-06-11T21:00:00+05:30",
        ),
        (&["parso free ho?", "shaam ko 6 ke baad"], "2026-06-11T18:00:00+05:30", "2026-06-11T21:00:00+05:30"),
        (
            &["¿tienen hueco el viernes?", "por la tarde porfa"],
            "2026-06-12T12:00:00+05:30",
            "2026-06-12T17:00:00+05:30",
        ),
        (&["amanhã dá?", "depois das 4"], "2026-06-10T16:00:00+05:30", "2026-06-10T21:00:00+05:30"),
    ];
    for (turns, not_before, not_after) in cases {
        let w = assert_window(on_a_tuesday_morning(turns), not_before, not_after);
        assert!(w.rule.starts_with("day_named_before+"), "{turns:?}: rule {}", w.rule);
    }
    // Only a day asked for or refused lends itself; one told in passing does not.
    let w = on_a_tuesday_morning(&["my sister's engagement is on Friday, busy all day", "can you call after 5 today"]);
    assert_window(w, "2026-06-09T17:00:00+05:30", "2026-06-09T21:00:00+05:30");
}

#[test]
fn a_refused_part_of_the_day_lends_its_day_to_the_one_asked_for() {
    let w = on_a_tuesday_morning(&["Thursday, but afternoons no, I teach. Evening is fine"]);
    assert_window(w, "2026-06-11T17:00:00+05:30", "2026-06-11T21:00:00+05:30");
}

#[test]
fn a_day_refused_after_the_one_asked_for_does_not_replace_it() {
    for (text, not_before, not_after) in [
        ("saturday morning works, sunday not possible", "2026-06-13T09:00:00+05:30", "2026-06-13T12:00:00+05:30"),
        ("pode ser sexta, quinta não", "2026-06-12T09:00:00+05:30", "2026-06-12T18:00:00+05:30"),
        ("el jueves en la tarde, el miércoles no", "2026-06-11T12:00:00+05:30", "2026-06-11T17:00:00+05:30"),
    ] {
        assert_window(on_a_tuesday_morning(&[text]), not_before, not_after);
    }
}

#[test]
fn a_day_alone_right_after_a_time_of_day_is_that_times_day() {
    let w = on_a_tuesday_morning(&["Só de manhã. Na quarta."]);
    assert_window(w, "2026-06-10T09:00:00+05:30", "2026-06-10T12:00:00+05:30");
}

#[test]
fn an_end_alone_closes_the_window_before_it_or_tells_when_the_customer_is_taken() {
    let w = on_a_tuesday_morning(&["ring me tomorrow after 7? free till 10"]);
    assert_window(w, "2026-06-10T19:00:00+05:30", "2026-06-10T22:00:00+05:30");
    let w = on_a_tuesday_morning(&["any chance Thursday after 6pm? I'm at the office till 5.30"]);
    assert_window(w, "2026-06-11T18:00:00+05:30", "2026-06-11T21:00:00+05:30");
}

#[test]
fn picking_a_slot_the_ai_offered_keeps_the_window_the_customer_named() {
    let now = rfc("2026-06-09T10:00:00+05:30");
    let tz: Tz = KOLKATA.parse().unwrap();
    let turns = [
        WindowTurn { index: 0, from: Speaker::Customer, text: "Can you do Friday afternoon?" },
        WindowTurn { index: 1, from: Speaker::Ai, text: "We have Friday at 3 pm or 4 pm." },
        WindowTurn { index: 2, from: Speaker::Customer, text: "3 pm then" },
    ];
    let w = resolver().requested_window(&turns, now, tz, &weekday_hours());
    assert_window(w, "2026-06-12T12:00:00+05:30", "2026-06-12T17:00:00+05:30");
}

#[test]
fn an_afternoon_beside_an_after_time_only_says_pm() {
    for text in ["sábado depois das duas da tarde", "saturday after 2 in the afternoon"] {
        assert_window(on_a_tuesday_morning(&[text]), "2026-06-13T14:00:00+05:30", "2026-06-13T21:00:00+05:30");
    }
    // So does a morning: "after 10 am" runs to 21:00.
    let w = on_a_tuesday_morning(&["saturday morning after 10"]);
    assert_window(w, "2026-06-13T10:00:00+05:30", "2026-06-13T21:00:00+05:30");
}

#[test]
fn a_booking_called_off_or_a_purchase_date_is_no_window() {
    for text in [
        "please cancel my fitting on Thursday at 4",
        "quiero cancelar la cita del lunes",
        "kal 11 baje wali demo cancel karna hai",
        "I want to order it today",
        "quero fechar hoje, pago no pix",
    ] {
        assert_eq!(on_a_tuesday_morning(&[text]), None, "{text}");
    }
}

#[test]
fn vocabulary_words_of_issue_20() {
    // "arvo" and "sat" (Australian and chat English); a greeting and a class schedule are no time.
    let w = on_a_tuesday_morning(&["sat arvo suits me"]);
    assert_window(w, "2026-06-13T12:00:00+05:30", "2026-06-13T17:00:00+05:30");
    for text in ["Sat sri akal ji", "do you have a weekend batch?"] {
        assert_eq!(on_a_tuesday_morning(&[text]), None, "{text}");
    }
    // Hindi "saath" (with) is no "saat h" (7h).
    let w = on_a_tuesday_morning(&["sunday subah aayenge, family ke saath"]);
    assert_window(w, "2026-06-14T09:00:00+05:30", "2026-06-14T12:00:00+05:30");
}

#[test]
fn the_night_of_another_day_is_its_evening_and_tonight_starts_at_six() {
    let w = on_a_tuesday_morning(&["quinta à noite dá?"]);
    assert_window(w, "2026-06-11T17:00:00+05:30", "2026-06-11T21:00:00+05:30");
    let w = on_a_tuesday_morning(&["pode me ligar hoje à noite?"]);
    assert_window(w, "2026-06-09T18:00:00+05:30", "2026-06-09T21:00:00+05:30");
}

#[test]
fn before_a_time_with_its_part_of_the_day_starts_now() {
    // "de la noche" says pm; "before N" still runs from now.
    let w = on_a_tuesday_morning(&["que me llamen hoy antes de las ocho de la noche"]);
    assert_window(w, "2026-06-09T10:00:00+05:30", "2026-06-09T20:00:00+05:30");
}

#[test]
fn a_part_of_the_day_refused_before_a_time_asked_for_is_not_part_of_it() {
    let w = on_a_tuesday_morning(&["mornings I'm at work so Thursday after 3 would be best"]);
    assert_window(w, "2026-06-11T15:00:00+05:30", "2026-06-11T21:00:00+05:30");
}

#[test]
fn a_day_named_alone_in_the_next_turn_is_the_day_of_the_time_asked_for() {
    let w = on_a_tuesday_morning(&["evenings after 8 suit me", "Wednesday would be great"]);
    assert_window(w, "2026-06-10T20:00:00+05:30", "2026-06-10T21:00:00+05:30");
    // A clock time alone (an address, a count) waits for no day.
    let w = on_a_tuesday_morning(&["is the flat at 8 Rose Lane still free?", "can we see it on Saturday?"]);
    assert_window(w, "2026-06-13T10:00:00+05:30", "2026-06-13T14:00:00+05:30");
}

#[test]
fn portuguese_salary_day_and_midday() {
    let w = on_a_tuesday_morning(&["me liga depois que cair o salário"]);
    assert_window(w, "2026-07-01T09:00:00+05:30", "2026-07-01T18:00:00+05:30");
    let w = on_a_tuesday_morning(&["alguém pode me ligar amanhã entre meio dia e uma?"]);
    assert_window(w, "2026-06-10T12:00:00+05:30", "2026-06-10T13:00:00+05:30");
}

#[test]
fn an_hour_of_today_whose_morning_is_over_is_the_evening_one() {
    let w = window_of(&["aaj 8 baje ke baad call karna"], "2026-06-09T17:00:00+05:30", KOLKATA, &weekday_hours());
    assert_window(w, "2026-06-09T20:00:00+05:30", "2026-06-09T21:00:00+05:30");
}

#[test]
fn a_part_of_the_day_and_a_time_in_the_next_clause_are_two_statements() {
    // The morning is when stock arrives, not the am of "after 4".
    let w = on_a_tuesday_morning(&["kal 4 baje ke baad call karo, subah godown mein hota hoon"]);
    assert_window(w, "2026-06-10T16:00:00+05:30", "2026-06-10T21:00:00+05:30");
    // And "after 12" is when the customer leaves, not part of the morning asked for.
    let w = on_a_tuesday_morning(&["parso subah aa jao, 12 ke baad main bahar rehta hoon"]);
    assert_window(w, "2026-06-11T09:00:00+05:30", "2026-06-11T12:00:00+05:30");
}

#[test]
fn hinglish_requests_and_hours() {
    for (text, not_before, not_after) in [
        ("kal shaam aake dekh lete hain", "2026-06-10T17:00:00+05:30", "2026-06-10T21:00:00+05:30"),
        ("mechanic ko Thursday ko bhej do", "2026-06-11T09:00:00+05:30", "2026-06-11T18:00:00+05:30"),
        ("kal subah dus se baarah ke beech call karna", "2026-06-10T10:00:00+05:30", "2026-06-10T12:00:00+05:30"),
    ] {
        assert_window(on_a_tuesday_morning(&[text]), not_before, not_after);
    }
    // "aaj ka rate" is today's price, and "har baar bolte ho kal aayenge" a promise reported.
    for text in ["aaj ka rate kya hai?", "har baar bolte ho kal aayenge"] {
        assert_eq!(on_a_tuesday_morning(&[text]), None, "{text}");
    }
}

#[test]
fn after_8_or_9_is_the_evening_and_after_10_the_morning() {
    let w = on_a_tuesday_morning(&["tomorrow, after 9 please"]);
    assert_window(w, "2026-06-10T21:00:00+05:30", "2026-06-10T23:00:00+05:30");
    let w = on_a_tuesday_morning(&["tomorrow after 10 please"]);
    assert_window(w, "2026-06-10T10:00:00+05:30", "2026-06-10T21:00:00+05:30");
}

#[test]
fn a_start_after_an_end_alone_is_another_statement() {
    let w = on_a_tuesday_morning(&["I'm in the office till 6 tomorrow, ring me after 7"]);
    assert_window(w, "2026-06-10T19:00:00+05:30", "2026-06-10T21:00:00+05:30");
    let w = on_a_tuesday_morning(&["I'm home from 3 today"]);
    assert_window(w, "2026-06-09T15:00:00+05:30", "2026-06-09T21:00:00+05:30");
}

#[test]
fn except_since_and_generic_days_are_no_window() {
    let w = on_a_tuesday_morning(&["next week, any day except Monday"]);
    assert_window(w, "2026-06-15T00:00:00+05:30", "2026-06-21T23:59:00+05:30");
    let w = on_a_tuesday_morning(&["no reply since Friday, call me today"]);
    assert_window(w, "2026-06-09T09:00:00+05:30", "2026-06-09T18:00:00+05:30");
    for text in
        ["what's the price for a Saturday?", "I need the suit for a wedding on Saturday", "es para la boda del sábado"]
    {
        assert_eq!(on_a_tuesday_morning(&[text]), None, "{text}");
    }
}

#[test]
fn a_busy_period_told_after_the_window_does_not_replace_it() {
    let w = on_a_tuesday_morning(&["call me after the 1st, month end is hectic"]);
    assert_window(w, "2026-07-01T09:00:00+05:30", "2026-07-01T18:00:00+05:30");
    // Coming over to sign is a visit, not only a deadline.
    let w = on_a_tuesday_morning(&["I will come Monday to sign if the price is right"]);
    assert_window(w, "2026-06-15T09:00:00+05:30", "2026-06-15T18:00:00+05:30");
}

#[test]
fn the_next_weekday_after_the_one_refused_is_a_week_later() {
    for turns in [
        &["sí pero este sábado no puedo", "el siguiente sábado en la mañana"][..],
        &["is sat nahi ho payega", "agle sat aa jayenge, subah"][..],
    ] {
        assert_window(on_a_tuesday_morning(turns), "2026-06-20T09:00:00+05:30", "2026-06-20T12:00:00+05:30");
    }
    // Without a Saturday named before, the next Saturday is the coming one.
    let w = on_a_tuesday_morning(&["can we do next Saturday?"]);
    assert_window(w, "2026-06-13T10:00:00+05:30", "2026-06-13T14:00:00+05:30");
}

#[test]
fn spanish_requests_in_other_words() {
    let w = on_a_tuesday_morning(&["llamadme el lunes por la mañana y lo hablamos"]);
    assert_window(w, "2026-06-15T09:00:00+05:30", "2026-06-15T12:00:00+05:30");
    let w = on_a_tuesday_morning(&["llámenme después del mediodía, ahorita estoy atendiendo"]);
    assert_window(w, "2026-06-09T12:00:00+05:30", "2026-06-09T21:00:00+05:30");
}

#[test]
fn saturday_or_sunday_side_by_side_is_the_weekend() {
    for text in ["this weekend, saturday or sunday, whichever", "sábado ou domingo, tanto faz"] {
        assert_window(on_a_tuesday_morning(&[text]), "2026-06-13T10:00:00+05:30", "2026-06-13T14:00:00+05:30");
    }
    // Across a clause they are two statements, and the latest wins.
    let w = on_a_tuesday_morning(&["Saturday we have guests, Sunday works"]);
    assert_window(w, "2026-06-14T09:00:00+05:30", "2026-06-14T17:00:00+05:30");
}

#[test]
fn an_end_before_the_start_is_when_the_customer_is_taken() {
    let w =
        on_a_tuesday_morning(&["can I see it tomorrow evening?", "actually make it after 7, I have a class till 6:30"]);
    assert_window(w, "2026-06-10T19:00:00+05:30", "2026-06-10T21:00:00+05:30");
}

#[test]
fn a_request_word_after_a_negation_is_refused() {
    let w = on_a_tuesday_morning(&["tem amanhã à tarde? de manhã eu não consigo sair do trabalho"]);
    assert_window(w, "2026-06-10T12:00:00+05:30", "2026-06-10T17:00:00+05:30");
}

#[test]
fn more_spanish_and_portuguese_requests() {
    for (text, not_before, not_after) in [
        ("mañana lo paso a ver", "2026-06-10T09:00:00+05:30", "2026-06-10T18:00:00+05:30"),
        ("que me llame a la noche, ahora estoy en la obra", "2026-06-09T18:00:00+05:30", "2026-06-09T21:00:00+05:30"),
        (
            "esta semana não, na próxima semana qualquer dia serve",
            "2026-06-15T00:00:00+05:30",
            "2026-06-21T23:59:00+05:30",
        ),
    ] {
        assert_window(on_a_tuesday_morning(&[text]), not_before, not_after);
    }
}

#[test]
fn a_bare_hour_after_a_day_and_its_part_reads_that_part() {
    // "9" after "tomorrow morning" is 9 am (not the evening an "after 9" alone would be), so
    // the later "after 9" only repeats the morning more loosely; an hour the part cannot read
    // ("4" in the morning) keeps its own reading.
    let w = on_a_tuesday_morning(&["Amanhã de manhã? Depois das 9."]);
    assert_window(w, "2026-06-10T09:00:00+05:30", "2026-06-10T12:00:00+05:30");
    let w = on_a_tuesday_morning(&["kal subah?", "4 baje ke baad"]);
    assert_window(w, "2026-06-10T16:00:00+05:30", "2026-06-10T21:00:00+05:30");
}

#[test]
fn renewing_today_and_asking_for_a_call_is_a_call_today() {
    let w = on_a_tuesday_morning(&["meu plano vence amanhã e quero renovar hoje. Pode me ligar?"]);
    assert_window(w, "2026-06-09T09:00:00+05:30", "2026-06-09T18:00:00+05:30");
    assert_eq!(on_a_tuesday_morning(&["quero renovar hoje, pago no pix"]), None);
}

#[test]
fn minutes_said_after_the_hour_are_the_clock_s_minutes() {
    // "five thirty", "las 4 y media", "às 5 e meia": `clock.minute_words` of each language.
    for (text, not_before, not_after) in [
        ("tomorrow after five thirty please", "2026-06-10T17:30:00+05:30", "2026-06-10T21:00:00+05:30"),
        ("mañana después de las 4 y media", "2026-06-10T16:30:00+05:30", "2026-06-10T21:00:00+05:30"),
        ("pode ligar amanhã às 5 e meia", "2026-06-10T17:30:00+05:30", "2026-06-10T18:30:00+05:30"),
    ] {
        assert_window(on_a_tuesday_morning(&[text]), not_before, not_after);
    }
    // Without its minutes the hour reads as before.
    let w = on_a_tuesday_morning(&["tomorrow after five please"]);
    assert_window(w, "2026-06-10T17:00:00+05:30", "2026-06-10T21:00:00+05:30");
}

#[test]
fn spanish_imperatives_and_places_of_work_say_call_and_taken() {
    // "márqueme" asks for the call beside "voy manejando"; "en la mañana estoy en terreno"
    // says when the customer is taken, not when to call.
    let w = on_a_tuesday_morning(&["voy manejando, márqueme pasado mañana en la mañana y ya lo inscribo"]);
    assert_window(w, "2026-06-11T09:00:00+05:30", "2026-06-11T12:00:00+05:30");
    let w = on_a_tuesday_morning(&["que me llame mañana después de las cinco, en la mañana estoy en terreno"]);
    assert_window(w, "2026-06-10T17:00:00+05:30", "2026-06-10T21:00:00+05:30");
    // "cualquier tarde menos el viernes": Friday is refused, not asked for.
    let friday = on_a_tuesday_morning(&["que me llamen cualquier tarde menos el viernes"]);
    assert!(friday.as_ref().is_none_or(|w| !w.window.not_before.to_rfc3339().starts_with("2026-06-12")), "{friday:?}");
}

#[test]
fn the_next_one_after_a_refused_weekday_is_a_week_later() {
    // Tuesday 2026-06-09: this Saturday is the 13th, the one after it the 20th.
    for text in [
        "Not this Saturday, the next one, in the morning",
        "This Saturday I'm busy, the next one in the morning works",
        "No este sábado, el siguiente, por la mañana",
        "Este sábado não, o próximo, de manhã",
        "Sábado não dá. O próximo de manhã pode ser",
        "is saturday nahi, agla wala subah",
    ] {
        assert_window(on_a_tuesday_morning(&[text]), "2026-06-20T09:00:00+05:30", "2026-06-20T12:00:00+05:30");
    }
    // After a weekday that was not refused, "the next one" is about something else.
    let w = on_a_tuesday_morning(&["Saturday I saw the flat, the next one was better. Call me tomorrow evening"]);
    assert_window(w, "2026-06-10T17:00:00+05:30", "2026-06-10T21:00:00+05:30");
}

#[test]
fn a_day_refused_on_its_own_lends_nothing_to_the_time_after_it() {
    // "Not tomorrow, in the evening": this evening, not tomorrow's; the refused Saturday is not
    // the day of the morning asked for after it either.
    for text in ["kal nahi, shaam ko call karna", "not tomorrow, call me in the evening"] {
        assert_window(on_a_tuesday_morning(&[text]), "2026-06-09T17:00:00+05:30", "2026-06-09T21:00:00+05:30");
    }
    let w = on_a_tuesday_morning(&["Saturday no, in the morning please"]);
    assert_window(w, "2026-06-09T09:00:00+05:30", "2026-06-09T12:00:00+05:30");
    // A refused part of the day still lends its day (see above): only the day alone changed.
    let w = on_a_tuesday_morning(&["Thursday, but afternoons no, I teach. Evening is fine"]);
    assert_window(w, "2026-06-11T17:00:00+05:30", "2026-06-11T21:00:00+05:30");
}

#[test]
fn not_before_a_time_is_after_it_in_every_language() {
    // "no antes de las 10" read as "antes de las 10" gave the hour before it.
    for text in [
        "tomorrow, not before 10 please",
        "mañana, no antes de las 10",
        "amanhã, não antes das 10",
        "kal 10 baje se pehle nahi",
        "mañana, y no me llaméis antes de las 10",
        "amanhã, mas não me liga antes das 10",
    ] {
        let w = on_a_tuesday_morning(&[text]);
        assert_window(w, "2026-06-10T10:00:00+05:30", "2026-06-10T21:00:00+05:30");
    }
}

#[test]
fn spanish_portuguese_and_hinglish_say_a_morning_next_week_the_first_and_a_visit_in_more_ways() {
    // A Tuesday morning (2026-06-09): Monday the 15th, the week after, and the 1st of July.
    let w = on_a_tuesday_morning(&["el lunes en la mañanita me paso a verlo"]);
    assert_window(w, "2026-06-15T09:00:00+05:30", "2026-06-15T12:00:00+05:30");
    let w = on_a_tuesday_morning(&["posso ir na segunda de manhãzinha"]);
    assert_window(w, "2026-06-15T09:00:00+05:30", "2026-06-15T12:00:00+05:30");
    let w = on_a_tuesday_morning(&["llámeme la semana próxima"]);
    assert_window(w, "2026-06-15T00:00:00+05:30", "2026-06-21T23:59:00+05:30");
    // European Portuguese: "a trabalhar" takes the customer's morning; "entre a uma e as duas".
    let w = on_a_tuesday_morning(&["liguem-me segunda à tarde, de manhã estou a trabalhar"]);
    assert_window(w, "2026-06-15T12:00:00+05:30", "2026-06-15T17:00:00+05:30");
    let w = on_a_tuesday_morning(&["amanhã à hora de almoço, entre a uma e as duas"]);
    assert_window(w, "2026-06-10T13:00:00+05:30", "2026-06-10T14:00:00+05:30");
    // Hinglish: a visit the customer asks for in their own words ("call him over").
    let w = on_a_tuesday_morning(&["saturday subah bula lo technician ko"]);
    assert_window(w, "2026-06-13T09:00:00+05:30", "2026-06-13T12:00:00+05:30");
    // "del uno" is a day of the month: one o'clock is "la una".
    for text in ["llamame después del uno que cobro", "la llevo después del día primero"] {
        let w = on_a_tuesday_morning(&[text]);
        let found = w.unwrap_or_else(|| panic!("{text}: no window"));
        assert_eq!(found.window.not_before.to_rfc3339(), "2026-07-01T09:00:00+05:30", "{text}");
    }
}

#[test]
fn a_day_of_the_month_said_in_words_is_a_date_in_every_language() {
    // Voice transcripts spell the day; the digits gave a window and the words none.
    let cases = [
        ("can someone ring me on the nineteenth", "2026-06-19T09:00:00+05:30", "2026-06-19T18:00:00+05:30"),
        ("call me on the twenty-second of june", "2026-06-22T09:00:00+05:30", "2026-06-22T18:00:00+05:30"),
        ("llámenme el quince por la mañana", "2026-06-15T09:00:00+05:30", "2026-06-15T12:00:00+05:30"),
        ("me liga dia vinte e seis de manhã", "2026-06-26T09:00:00+05:30", "2026-06-26T12:00:00+05:30"),
        ("pandrah tareekh ko subah call karna", "2026-06-15T09:00:00+05:30", "2026-06-15T12:00:00+05:30"),
    ];
    for (text, from, to) in cases {
        let w = on_a_tuesday_morning(&[text]);
        assert!(w.is_some(), "{text}: no window");
        assert_window(w, from, to);
    }
    // A number word beside no word of the template's own, or before a word that makes it
    // something else, is no date: "Friday, do call" is Friday, "el dos ambientes" a flat.
    let w = on_a_tuesday_morning(&["friday do call me"]);
    assert_window(w, "2026-06-12T09:00:00+05:30", "2026-06-12T18:00:00+05:30");
    assert!(on_a_tuesday_morning(&["llámenme, me interesa el dos ambientes"]).is_none());
    // "The third time I call" is no date.
    assert!(on_a_tuesday_morning(&["this is the third time I call you"]).is_none());
}

#[test]
fn asking_to_be_called_in_everyday_words_outranks_the_work_said_beside_it() {
    // "Háblenme" (Mexico's "call me"), "me chama", "me dá um toque": without them the clause
    // read only as the customer at work (or as nothing asked), and the time asked for was lost.
    for text in [
        "háblenme el jueves después de las 5 que salgo del trabajo",
        "me chama na quinta depois das 5 que antes disso tô trabalhando",
    ] {
        let w = on_a_tuesday_morning(&[text]);
        assert_window(w, "2026-06-11T17:00:00+05:30", "2026-06-11T21:00:00+05:30");
    }
    let w = on_a_tuesday_morning(&["me dá um toque quinta à tarde, de manhã eu trabalho"]);
    assert_window(w, "2026-06-11T12:00:00+05:30", "2026-06-11T17:00:00+05:30");
    // A call asked for someone else ("llámenlo"), and European Portuguese "é que me dava jeito".
    let w = on_a_tuesday_morning(&["el que decide es mi hermano, llámenlo el viernes en la tarde que hoy trabaja"]);
    assert_window(w, "2026-06-12T12:00:00+05:30", "2026-06-12T17:00:00+05:30");
    let w = on_a_tuesday_morning(&["sexta de manhã é que me dava jeito, à tarde estou a trabalhar"]);
    assert_window(w, "2026-06-12T09:00:00+05:30", "2026-06-12T12:00:00+05:30");
    // "A la tarde" alone (River Plate Spanish), and "amnh", WhatsApp's "amanhã".
    let w = on_a_tuesday_morning(&["mire, a la mañana estoy con los chicos, llámeme a la tarde"]);
    assert_window(w, "2026-06-09T12:00:00+05:30", "2026-06-09T17:00:00+05:30");
    let w = on_a_tuesday_morning(&["amnh depois das 3 pode ser?"]);
    assert_window(w, "2026-06-10T15:00:00+05:30", "2026-06-10T21:00:00+05:30");
}

#[test]
fn a_part_of_the_day_the_customer_is_taken_in_is_not_the_one_asked_for() {
    // Said in one breath (no comma to end the clause), or in the next turn: the unavailability
    // refuses the part of the day nearest it, the later one on a tie.
    for customer in [
        &["call me back tomorrow afternoon I'm in meetings all morning"][..],
        &["llámame mañana por la tarde por la mañana trabajo"],
        &["ring me tomorrow afternoon don't ring in the morning I'm a driver"],
        &["kal dopahar pickup kar lo", "subah main ghar pe nahi hoti"],
    ] {
        let w = on_a_tuesday_morning(customer);
        assert_window(w, "2026-06-10T12:00:00+05:30", "2026-06-10T17:00:00+05:30");
    }
    let w = on_a_tuesday_morning(&["call me tomorrow morning I'm at work in the afternoon"]);
    assert_window(w, "2026-06-10T09:00:00+05:30", "2026-06-10T12:00:00+05:30");
    // Taken now is no refusal of the time asked for; a time drawn as the consequence of being
    // taken is the one asked for.
    for text in ["llamame a la noche que estoy en el laburo ahora", "me liga à noite que eu tô no trabalho agora"] {
        assert_window(on_a_tuesday_morning(&[text]), "2026-06-09T18:00:00+05:30", "2026-06-09T21:00:00+05:30");
    }
    let w = on_a_tuesday_morning(&["subah koi ghar pe nahi hota toh shaam ko aana"]);
    assert_window(w, "2026-06-09T17:00:00+05:30", "2026-06-09T21:00:00+05:30");
    let w = on_a_tuesday_morning(&["quinta de manhã tenho reuniões portanto quinta à tarde"]);
    assert_window(w, "2026-06-11T12:00:00+05:30", "2026-06-11T17:00:00+05:30");
}

/// Each `(text, not_before, not_after)` said on a Tuesday morning in Kolkata, the times to the
/// minute ("2026-06-10T12:00").
fn assert_tuesday_windows(cases: &[(&str, &str, &str)]) {
    for (text, not_before, not_after) in cases {
        let w = on_a_tuesday_morning(&[text]);
        assert_window(w, &format!("{not_before}:00+05:30"), &format!("{not_after}:00+05:30"));
    }
}

#[test]
fn a_part_of_the_day_given_as_the_reason_is_when_the_customer_is_taken() {
    // "Because in the morning I ...": the part of the day after a reason word explains the time
    // asked for just before it, whatever the customer does then (no word of being busy needed).
    assert_tuesday_windows(&[
        (
            "can you ring tomorrow afternoon because in the morning I take my mum to dialysis",
            "2026-06-10T12:00",
            "2026-06-10T17:00",
        ),
        (
            "el jueves por la tarde porque por la mañana llevo a mi suegra al médico",
            "2026-06-11T12:00",
            "2026-06-11T17:00",
        ),
        ("liga sexta de manhã que à tarde eu busco minha filha na natação", "2026-06-12T09:00", "2026-06-12T12:00"),
        (
            "kal subah aa jaiye kyunki dopahar mein dukaan band karke bank jaana hai",
            "2026-06-10T09:00",
            "2026-06-10T12:00",
        ),
        (
            "amanhã à tarde pode ser? porque de manhã o carro fica com meu marido",
            "2026-06-10T12:00",
            "2026-06-10T17:00",
        ),
        // A reason word that asks for the time after it gives no reason.
        ("mañana, prefiero que sea por la tarde", "2026-06-10T12:00", "2026-06-10T17:00"),
        // The same part of the day again is the time asked for, said twice.
        ("sábado de manhã, porque de manhã é quando estou em casa", "2026-06-13T09:00", "2026-06-13T12:00"),
    ]);
}

#[test]
fn a_time_said_with_the_reason_it_suits_is_the_time_asked_for() {
    // A bare time and then why ("que/because/kyunki ... I work"): the reason says the customer is
    // taken at other times, not at the time just named.
    assert_tuesday_windows(&[
        ("el jueves temprano que estamos los dos en la oficina", "2026-06-11T09:00", "2026-06-11T12:00"),
        ("sábado de manhã que durante a semana eu trabalho", "2026-06-13T09:00", "2026-06-13T12:00"),
        ("Saturday morning since on weekdays I'm working", "2026-06-13T09:00", "2026-06-13T12:00"),
        ("kal shaam kyunki din mein duty hai", "2026-06-10T17:00", "2026-06-10T21:00"),
        ("monday evening because I'm at work till 5", "2026-06-15T17:00", "2026-06-15T21:00"),
        // "Que" in "el lunes que viene" is no reason.
        ("mejor el lunes que viene que estoy de vacaciones esta semana", "2026-06-15T09:00", "2026-06-15T18:00"),
    ]);
}

#[test]
fn a_time_at_or_just_after_the_end_asked_for_is_when_the_customer_is_taken() {
    // "Before four ... at four thirty": the later time says why the window ends there; read as
    // the window's start, it left a start after the end and no window at all.
    assert_tuesday_windows(&[
        (
            "could the plumber come today before four the kids come home at four thirty",
            "2026-06-09T10:00",
            "2026-06-09T16:00",
        ),
        (
            "pueden venir hoy antes de las cinco que a las cinco y media recojo a los niños",
            "2026-06-09T10:00",
            "2026-06-09T17:00",
        ),
        (
            "aaj 4 baje se pehle aa jao please 4 baje ke baad main school jaati hoon",
            "2026-06-09T10:00",
            "2026-06-09T16:00",
        ),
        ("dá pra ligar antes das 12 porque a partir das 12 eu tô no caixa", "2026-06-09T10:00", "2026-06-09T12:00"),
        // Far after it, the start is the other side of noon: after 10, before 1 (pm).
        ("kal 10 baje ke baad lekin 1 baje se pehle", "2026-06-10T10:00", "2026-06-10T13:00"),
    ]);
}

#[test]
fn a_day_named_in_the_reason_is_not_asked_for_by_the_request_before_it() {
    // "Call me Wednesday because Thursday I'm travelling": the call word asked for Wednesday; the
    // later day, read as the later request, took its place.
    assert_tuesday_windows(&[
        ("llámame el jueves porque el viernes viajo a Lima", "2026-06-11T09:00", "2026-06-11T18:00"),
        ("me liga amanhã porque segunda eu tô de plantão", "2026-06-10T09:00", "2026-06-10T18:00"),
        ("call me Wednesday because Thursday I'm travelling", "2026-06-10T09:00", "2026-06-10T18:00"),
        ("kal call karna kyunki parso main bahar hoon", "2026-06-10T09:00", "2026-06-10T18:00"),
        // "Que" after a verb of wanting asks; it gives no reason.
        (
            "hoy ya me voy que es viernes me gustaría que me llamaran el lunes por la mañana",
            "2026-06-15T09:00",
            "2026-06-15T12:00",
        ),
    ]);
}

#[test]
fn an_hour_said_in_words_past_twelve_is_a_24_hour_time() {
    let w = on_a_tuesday_morning(&["me liga depois das dezoito"]);
    assert_window(w, "2026-06-09T18:00:00+05:30", "2026-06-09T21:00:00+05:30");
    let w = on_a_tuesday_morning(&["llámame después de las dieciocho y treinta"]);
    assert_window(w, "2026-06-09T18:30:00+05:30", "2026-06-09T21:00:00+05:30");
}
