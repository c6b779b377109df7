//! A clock the customer names: "after 7 Dubai time", "8 to 10 am Sydney time", "amanhã 21h
//! horário do Japão", "hora de Lima", "your time, not mine", "9 my time".
//!
//! A customer abroad who says whose clock they mean knows better than their phone number (a
//! Brazilian number in Tokyo) or the business's zone. Only a turn that also tells a time (a digit
//! or a part of the day) counts: "thanks for your time" or "what are your hours?" name no clock.

use std::sync::LazyLock;

use chrono_tz::Tz;
use regex::Regex;

use crate::interpret::text::fold;

/// Whose clock a customer named.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SaidClock {
    /// A place or a zone's abbreviation, and the phrase that named it.
    Zone { zone: Tz, phrase: String },
    /// "My time", "meu horário": the customer's own clock, where their phone tells it.
    Mine { phrase: String },
    /// "Your time", "su hora": the business's clock.
    Yours { phrase: String },
}

/// Places and abbreviations customers name, folded (lower case, no accents), with their zone.
/// A country of several zones appears by its cities only.
const PLACES: &[(&str, &str)] = &[
    ("abu dhabi", "Asia/Dubai"),
    ("aest", "Australia/Sydney"),
    ("amsterdam", "Europe/Amsterdam"),
    ("angola", "Africa/Luanda"),
    ("argentina", "America/Argentina/Buenos_Aires"),
    ("atlanta", "America/New_York"),
    ("auckland", "Pacific/Auckland"),
    ("bahrain", "Asia/Bahrain"),
    ("bangalore", "Asia/Kolkata"),
    ("bengaluru", "Asia/Kolkata"),
    ("berlin", "Europe/Berlin"),
    ("bogota", "America/Bogota"),
    ("boston", "America/New_York"),
    ("brasil", "America/Sao_Paulo"),
    ("brasilia", "America/Sao_Paulo"),
    ("brazil", "America/Sao_Paulo"),
    ("brt", "America/Sao_Paulo"),
    ("bst", "Europe/London"),
    ("buenos aires", "America/Argentina/Buenos_Aires"),
    ("california", "America/Los_Angeles"),
    ("canarias", "Atlantic/Canary"),
    ("cet", "Europe/Paris"),
    ("chicago", "America/Chicago"),
    ("chile", "America/Santiago"),
    ("china", "Asia/Shanghai"),
    ("colombia", "America/Bogota"),
    ("dallas", "America/Chicago"),
    ("delhi", "Asia/Kolkata"),
    ("doha", "Asia/Qatar"),
    ("dubai", "Asia/Dubai"),
    ("dublin", "Europe/Dublin"),
    ("eastern", "America/New_York"),
    ("edt", "America/New_York"),
    ("espana", "Europe/Madrid"),
    ("est", "America/New_York"),
    ("et", "America/New_York"),
    ("france", "Europe/Paris"),
    ("frankfurt", "Europe/Berlin"),
    ("geneva", "Europe/Zurich"),
    ("genebra", "Europe/Zurich"),
    ("germany", "Europe/Berlin"),
    ("gulf", "Asia/Dubai"),
    ("hawaii", "Pacific/Honolulu"),
    ("hong kong", "Asia/Hong_Kong"),
    ("honolulu", "Pacific/Honolulu"),
    ("houston", "America/Chicago"),
    ("india", "Asia/Kolkata"),
    ("indian", "Asia/Kolkata"),
    ("ireland", "Europe/Dublin"),
    ("irlanda", "Europe/Dublin"),
    ("ist", "Asia/Kolkata"),
    ("japan", "Asia/Tokyo"),
    ("japao", "Asia/Tokyo"),
    ("jst", "Asia/Tokyo"),
    ("jeddah", "Asia/Riyadh"),
    ("johannesburg", "Africa/Johannesburg"),
    ("kenya", "Africa/Nairobi"),
    ("kuwait", "Asia/Kuwait"),
    ("lagos", "Africa/Lagos"),
    ("lima", "America/Lima"),
    ("lisboa", "Europe/Lisbon"),
    ("lisbon", "Europe/Lisbon"),
    ("london", "Europe/London"),
    ("londres", "Europe/London"),
    ("los angeles", "America/Los_Angeles"),
    ("luanda", "Africa/Luanda"),
    ("madrid", "Europe/Madrid"),
    ("maputo", "Africa/Maputo"),
    ("melbourne", "Australia/Melbourne"),
    ("mexico", "America/Mexico_City"),
    ("miami", "America/New_York"),
    ("mocambique", "Africa/Maputo"),
    ("mozambique", "Africa/Maputo"),
    ("mumbai", "Asia/Kolkata"),
    ("muscat", "Asia/Muscat"),
    ("nairobi", "Africa/Nairobi"),
    ("new york", "America/New_York"),
    ("new zealand", "Pacific/Auckland"),
    ("nigeria", "Africa/Lagos"),
    ("nova york", "America/New_York"),
    ("nueva york", "America/New_York"),
    ("ny", "America/New_York"),
    ("nyc", "America/New_York"),
    ("oman", "Asia/Muscat"),
    ("pacific", "America/Los_Angeles"),
    ("paris", "Europe/Paris"),
    ("pdt", "America/Los_Angeles"),
    ("peru", "America/Lima"),
    ("portugal", "Europe/Lisbon"),
    ("pst", "America/Los_Angeles"),
    ("qatar", "Asia/Qatar"),
    ("riyadh", "Asia/Riyadh"),
    ("san francisco", "America/Los_Angeles"),
    ("santiago", "America/Santiago"),
    ("sao paulo", "America/Sao_Paulo"),
    ("saudi", "Asia/Riyadh"),
    ("seattle", "America/Los_Angeles"),
    ("sgt", "Asia/Singapore"),
    ("shanghai", "Asia/Shanghai"),
    ("singapore", "Asia/Singapore"),
    ("south africa", "Africa/Johannesburg"),
    ("spain", "Europe/Madrid"),
    ("suica", "Europe/Zurich"),
    ("switzerland", "Europe/Zurich"),
    ("sydney", "Australia/Sydney"),
    ("tokyo", "Asia/Tokyo"),
    ("toquio", "Asia/Tokyo"),
    ("toronto", "America/Toronto"),
    ("uae", "Asia/Dubai"),
    ("uk", "Europe/London"),
    ("us eastern", "America/New_York"),
    ("zurich", "Europe/Zurich"),
];

/// Abbreviations: a clock only right after a time ("7 pm IST", "9h BRT"), never alone
/// ("est" is a word in Portuguese and Spanish). "LA" and "NY" count only as "LA time", "NY
/// time" ("a las 5 la llamo"). Left out: "GST" (India's tax: "5000 + 18 gst"), "PT" (Pacific
/// or Portugal), "WAT" (pidgin "wat time").
const ABBREVIATIONS: &[&str] = &["aest", "brt", "bst", "cet", "edt", "est", "et", "ist", "jst", "pdt", "pst", "sgt"];

struct Patterns {
    /// "Dubai time", "hora de Lima", "horário do Japão", "India ke time", "7 pm IST".
    place: Regex,
    mine: Regex,
    yours: Regex,
    /// A time told in the same turn: a digit or a part of the day.
    told: Regex,
}

static PATTERNS: LazyLock<Patterns> = LazyLock::new(|| {
    let alternation = |names: &mut dyn Iterator<Item = &str>| {
        let mut names: Vec<&str> = names.collect();
        // Longest first, so "new york" wins over "ny" and "abu dhabi" is whole.
        names.sort_by_key(|n| std::cmp::Reverse(n.len()));
        names.iter().map(|n| regex::escape(n)).collect::<Vec<_>>().join("|")
    };
    let places = alternation(&mut PLACES.iter().map(|(n, _)| *n).filter(|n| !ABBREVIATIONS.contains(n)));
    let abbreviations = alternation(&mut ABBREVIATIONS.iter().copied());
    let place = format!(
        r"\b(?P<a>{places}) (?:ke |ka |ki )?(?:time|timing|samay|local time)\b|\b(?:hora|horario|fuso|fuso horario|hora local)(?: local)? (?:de |do |da |del |en |em |no |na )?(?P<b>{places})\b|(?:\d|\bam|\bpm)\s*(?:hrs?\b\s*)?(?P<c>{abbreviations})\b(?: time\b)?"
    );
    Patterns {
        place: Regex::new(&place).expect("the place pattern compiles"),
        mine: Regex::new(r"\b(?:my (?:time|local time|timezone|time zone)|mi (?:hora|horario)|meu (?:horario|fuso)|hora (?:de )?aqui|horario (?:de )?aqui|(?:mere|mera|apne|yahan ke) (?:time|timing|hisaab))\b").expect("the mine pattern compiles"),
        yours: Regex::new(r"(?:\d\s*(?:am|pm|h|hrs)?\s*|\b(?:at|in|by|on) )your (?:time|local time|timezone|time zone)\b|\b(?:your time,? not mine|(?:su|tu|vuestra) hora\b|(?:su|vuestro|seu|vosso) (?:horario|fuso)|(?:hora|horario) de (?:voces|ustedes|vosotros|ai|alla)|(?:aapke|aapka|tumhare) (?:time|timing|hisaab))\b").expect("the yours pattern compiles"),
        told: Regex::new(r"\d|\b(?:morning|afternoon|evening|night|tonight|manana|tarde|noche|manha|noite|subah|shaam|sham|raat|dopahar)\b").expect("the told pattern compiles"),
    }
});

/// The last clock a customer turn names among `texts` (the customer's turns, in order): the latest
/// word is the one they stand by.
pub fn said_clock<'a>(texts: impl IntoIterator<Item = &'a str>) -> Option<SaidClock> {
    let patterns = &*PATTERNS;
    let mut said = None;
    for text in texts {
        let folded = fold(text);
        if !patterns.told.is_match(&folded) {
            continue;
        }
        // Within a turn the first named clock is the customer's frame ("9 my time, so 5 your time"
        // is rare; "after 7 Dubai time" is the rule).
        let mut found: Vec<(usize, SaidClock)> = Vec::new();
        if let Some(c) = patterns.place.captures(&folded) {
            let name = c.name("a").or(c.name("b")).or(c.name("c")).map(|m| m.as_str()).unwrap_or_default();
            if let Some(zone) = PLACES.iter().find(|(n, _)| *n == name).and_then(|(_, z)| z.parse::<Tz>().ok()) {
                let whole = c.get(0).expect("a match has a whole");
                found.push((whole.start(), SaidClock::Zone { zone, phrase: whole.as_str().trim().to_owned() }));
            }
        }
        if let Some(m) = patterns.mine.find(&folded) {
            found.push((m.start(), SaidClock::Mine { phrase: m.as_str().to_owned() }));
        }
        if let Some(m) = patterns.yours.find(&folded) {
            found.push((m.start(), SaidClock::Yours { phrase: m.as_str().to_owned() }));
        }
        if let Some((_, clock)) = found.into_iter().min_by_key(|(at, _)| *at) {
            said = Some(clock);
        }
    }
    said
}

#[cfg(test)]
mod tests {
    use super::*;

    fn zone_of(text: &str) -> Option<String> {
        match said_clock([text])? {
            SaidClock::Zone { zone, .. } => Some(zone.name().to_owned()),
            SaidClock::Mine { .. } => Some("mine".into()),
            SaidClock::Yours { .. } => Some("yours".into()),
        }
    }

    #[test]
    fn a_place_or_an_abbreviation_after_a_time_names_a_clock() {
        assert_eq!(zone_of("call me after 7 Dubai time").as_deref(), Some("Asia/Dubai"));
        assert_eq!(zone_of("Saturday 8-10 am Sydney time works").as_deref(), Some("Australia/Sydney"));
        assert_eq!(zone_of("amanhã 21h, horário do Japão").as_deref(), Some("Asia/Tokyo"));
        assert_eq!(zone_of("el lunes a las 9, hora de Lima").as_deref(), Some("America/Lima"));
        assert_eq!(zone_of("kal 3 baje India time pe call karo").as_deref(), Some("Asia/Kolkata"));
        assert_eq!(zone_of("Monday 9 am New York time").as_deref(), Some("America/New_York"));
        assert_eq!(zone_of("after 6 pm IST please").as_deref(), Some("Asia/Kolkata"));
        assert_eq!(zone_of("depois das 15h horário de Brasília").as_deref(), Some("America/Sao_Paulo"));
    }

    #[test]
    fn my_time_and_your_time_name_the_customers_and_the_businesss_clock() {
        assert_eq!(zone_of("Monday 8 to 10 my time").as_deref(), Some("mine"));
        assert_eq!(zone_of("call at 10 your time, not mine").as_deref(), Some("yours"));
        assert_eq!(zone_of("às 9 no vosso horário").as_deref(), Some("yours"));
    }

    #[test]
    fn no_clock_without_a_time_or_from_words_that_only_look_like_one() {
        assert_eq!(zone_of("thanks for your time"), None);
        assert_eq!(zone_of("what are your hours in Dubai?"), None);
        assert_eq!(zone_of("este est muy bien, la casa de la playa"), None);
        assert_eq!(zone_of("I'll take it, thanks for your time at 5"), None);
        assert_eq!(zone_of("is it available in Dubai? call me at 5"), None);
        assert_eq!(zone_of("a las 5 la llamo, a la hora de la cita"), None);
        assert_eq!(zone_of("a las 5 esta bien"), None);
        assert_eq!(zone_of("5000 + 18 gst, call me at 6"), None);
        assert_eq!(zone_of("wat time una dey open? 9?"), None);
    }
}
