//! The brief's channel history: one short line per touch, most recent first.
//!
//! Lines read like "WhatsApp 18:04 (3 messages): what is the price of the 2BHK?" or
//! "Voice AI yesterday 17:30, 12 min: asked about loans". Times are shown in the offset of
//! `now` (the customer's zone), relative to it.

use std::time::Duration;

use chrono::{DateTime, Datelike, FixedOffset, Utc};
use handoffd_contract::brief::ChannelEvent;
use handoffd_contract::interaction::Channel;

/// Messages on one channel less than this apart are one burst, hence one line.
const BURST_GAP: chrono::Duration = chrono::Duration::minutes(30);
/// The brief is read in 30 seconds: older touches are left out.
const MAX_LINES: usize = 8;
/// Longest text shown per line, in characters.
const MAX_TEXT_CHARS: usize = 60;

/// One past touch with the customer.
#[derive(Clone, Debug, PartialEq)]
pub struct HistoryItem {
    pub channel: Channel,
    /// How the line names the channel when the default is not enough (e.g. "Voice AI" for a
    /// Vapi call); `None`: WhatsApp, Call, SMS, Web chat, Email, CRM.
    pub label: Option<String>,
    pub at: DateTime<Utc>,
    /// The message text, or a summary of a call or CRM change.
    pub text_or_summary: String,
    /// A call's length; calls are never grouped into bursts.
    pub duration: Option<Duration>,
}

/// Summarises past touches into brief lines, most recent first, at most eight.
pub fn summarize(events: &[HistoryItem], now: DateTime<FixedOffset>) -> Vec<ChannelEvent> {
    let mut sorted: Vec<&HistoryItem> = events.iter().collect();
    sorted.sort_by_key(|item| item.at);

    let mut bursts: Vec<Vec<&HistoryItem>> = Vec::new();
    for item in sorted {
        match bursts.last_mut() {
            Some(burst) if continues(burst, item) => burst.push(item),
            _ => bursts.push(vec![item]),
        }
    }
    bursts.iter().rev().take(MAX_LINES).map(|burst| line(burst, now)).collect()
}

fn continues(burst: &[&HistoryItem], item: &HistoryItem) -> bool {
    let last = burst[burst.len() - 1];
    last.channel == item.channel
        && last.label == item.label
        && last.duration.is_none()
        && item.duration.is_none()
        && item.at - last.at <= BURST_GAP
}

fn line(burst: &[&HistoryItem], now: DateTime<FixedOffset>) -> ChannelEvent {
    let first = burst[0];
    let at = first.at.with_timezone(now.offset());
    let label = first.label.clone().unwrap_or_else(|| default_label(first.channel).to_owned());
    let mut summary = format!("{label} {}", when(at, now));
    if let Some(duration) = first.duration {
        summary.push_str(", ");
        summary.push_str(&format_duration(duration));
    }
    if burst.len() > 1 {
        summary.push_str(&format!(" ({} messages)", burst.len()));
    }
    // The longest text of a burst says the most: openers like "hi" say nothing.
    let text = burst.iter().map(|item| squeeze(&item.text_or_summary)).max_by_key(|t| t.chars().count());
    if let Some(text) = text.filter(|t| !t.is_empty()) {
        summary.push_str(": ");
        summary.push_str(&shorten(&text));
    }
    ChannelEvent { channel: first.channel.as_str().to_owned(), at, summary }
}

fn default_label(channel: Channel) -> &'static str {
    match channel {
        Channel::Whatsapp => "WhatsApp",
        Channel::Voice => "Call",
        Channel::Sms => "SMS",
        Channel::Webchat => "Web chat",
        Channel::Email => "Email",
        Channel::Crm => "CRM",
    }
}

fn when(at: DateTime<FixedOffset>, now: DateTime<FixedOffset>) -> String {
    let days_ago = (now.date_naive() - at.date_naive()).num_days();
    match days_ago {
        0 => at.format("%H:%M").to_string(),
        1 => at.format("yesterday %H:%M").to_string(),
        2..=6 => at.format("%a %H:%M").to_string(),
        _ if at.year() == now.year() => at.format("%-d %b").to_string(),
        _ => at.format("%-d %b %Y").to_string(),
    }
}

fn format_duration(duration: Duration) -> String {
    let secs = duration.as_secs();
    match secs {
        0..60 => format!("{secs} s"),
        60..3600 => format!("{} min", (secs + 30) / 60),
        _ => {
            let minutes = (secs + 30) / 60;
            format!("{} h {} min", minutes / 60, minutes % 60)
        }
    }
}

fn squeeze(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn shorten(text: &str) -> String {
    if text.chars().count() <= MAX_TEXT_CHARS {
        return text.to_owned();
    }
    let cut: String = text.chars().take(MAX_TEXT_CHARS).collect();
    // Cut at a word boundary when one is near, so no word is shown half.
    let cut = match cut.rfind(' ') {
        Some(space) if space > MAX_TEXT_CHARS / 2 => &cut[..space],
        _ => cut.as_str(),
    };
    format!("{}…", cut.trim_end_matches([',', '.', ';', ':', ' ']))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text).unwrap().with_timezone(&Utc)
    }

    fn item(channel: Channel, when: &str, text: &str) -> HistoryItem {
        HistoryItem { channel, label: None, at: at(when), text_or_summary: text.into(), duration: None }
    }

    fn now() -> DateTime<FixedOffset> {
        DateTime::parse_from_rfc3339("2026-06-10T19:00:00+05:30").unwrap()
    }

    #[test]
    fn lines_are_short_most_recent_first_and_in_the_customers_zone() {
        let mut call = item(Channel::Voice, "2026-06-09T12:00:00Z", "asked about loans");
        call.label = Some("Voice AI".into());
        call.duration = Some(Duration::from_secs(12 * 60 + 10));
        let events = vec![
            call,
            item(Channel::Whatsapp, "2026-06-10T12:34:00Z", "hi"),
            item(Channel::Whatsapp, "2026-06-10T12:35:00Z", "what is the price of the 2BHK in Baner?"),
            item(Channel::Whatsapp, "2026-06-10T12:36:00Z", "ok"),
            item(Channel::Crm, "2026-03-02T09:00:00Z", "form filled: Meta lead ad"),
            item(Channel::Email, "2025-12-30T09:00:00Z", "brochure sent"),
        ];
        let lines = summarize(&events, now());
        let summaries: Vec<&str> = lines.iter().map(|l| l.summary.as_str()).collect();
        assert_eq!(
            summaries,
            vec![
                "WhatsApp 18:04 (3 messages): what is the price of the 2BHK in Baner?",
                "Voice AI yesterday 17:30, 12 min: asked about loans",
                "CRM 2 Mar: form filled: Meta lead ad",
                "Email 30 Dec 2025: brochure sent",
            ]
        );
        assert_eq!(lines[0].channel, "whatsapp");
        assert_eq!(lines[0].at.to_rfc3339(), "2026-06-10T18:04:00+05:30");
    }

    #[test]
    fn long_text_is_cut_at_a_word_and_old_lines_dropped() {
        let long = "I would like to know whether the apartment comes with covered parking and a power backup";
        let lines = summarize(&[item(Channel::Sms, "2026-06-07T05:00:00Z", long)], now());
        assert_eq!(lines[0].summary, "SMS Sun 10:30: I would like to know whether the apartment comes with…");
        let many: Vec<HistoryItem> =
            (0..20).map(|day| item(Channel::Email, &format!("2026-05-{:02}T09:00:00Z", day + 1), "x")).collect();
        let lines = summarize(&many, now());
        assert_eq!(lines.len(), MAX_LINES);
        assert!(lines[0].summary.starts_with("Email 20 May"), "{}", lines[0].summary);
    }

    #[test]
    fn durations_read_naturally() {
        assert_eq!(format_duration(Duration::from_secs(45)), "45 s");
        assert_eq!(format_duration(Duration::from_secs(89)), "1 min");
        assert_eq!(format_duration(Duration::from_secs(3600 + 5 * 60)), "1 h 5 min");
    }
}
