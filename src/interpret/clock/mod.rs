//! The customer's own clock: the zone a requested window is read in.
//!
//! A customer asking for "amanhã de manhã" means their morning, not the business's. The zone
//! comes from, in order:
//! 0. a clock the customer names beside a time ("after 7 Dubai time", "21h horário do Japão",
//!    "10 your time", "8 to 10 my time": see [`said`]); "my time" is their phone's zone even in
//!    the business's own country;
//! 1. the conversation's `customer_timezone`, when it names one (the daemon fills it from the
//!    customer's phone, see [`zone_of_phones`]);
//! 2. the customer's phone, when its country is not the country of the conversation's
//!    `timezone` (a +55 customer of a business in India): the number's zone, from its country
//!    where the country has one zone (or one most of it lives in) and from its area code where
//!    the country has several and the number carries one (US, CA, BR, MX, AU landlines, the
//!    Canaries, the Azores);
//! 3. the conversation's `timezone`, the business's zone (today's behaviour).
//!
//! Within the business's own country rule 2 keeps the conversation's `timezone`: a canonical
//! conversation's `timezone` is "the customer / business" zone, and whoever wrote it knew more
//! than an area code does. The daemon, which knows the business's zone apart from the
//! customer's, applies the area code in the same country too (`assemble`).
//!
//! Business hours and closed days stay the business's: a whole day the customer names is the
//! business's opening hours of that date, shown on the customer's clock.

mod phone_zones;
mod said;

use chrono_tz::Tz;
use handoffd_contract::conversation::{Conversation, Speaker};

use super::InterpretError;
use phone_zones::{AREA_ZONES, CALLING_CODES, ZONE_REGIONS};
use said::SaidClock;

/// Where the customer's zone came from, for the brief's notes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ZoneSource {
    /// The conversation's `customer_timezone`.
    Stated,
    /// The customer named the clock ("after 7 Dubai time"); the phrase, folded.
    Said { phrase: String },
    /// The customer's phone number: its country, or its area code.
    Phone { phone: String, by: PhoneZoneBy },
    /// The conversation's `timezone`.
    Business,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PhoneZoneBy {
    Country,
    AreaCode,
}

/// The zone a conversation's requested window is read in, and why.
#[derive(Clone, Debug, PartialEq)]
pub struct CustomerClock {
    pub zone: Tz,
    pub source: ZoneSource,
}

impl CustomerClock {
    /// A note for the brief when the customer's clock is not the business's, else `None`.
    pub fn note(&self, business: Tz) -> Option<String> {
        if self.zone == business {
            return None;
        }
        Some(match &self.source {
            ZoneSource::Stated => format!("the customer's time is read in `{}` (stated)", self.zone.name()),
            ZoneSource::Said { phrase } => {
                format!("the customer's time is read in `{}`, as they said (\"{phrase}\")", self.zone.name())
            }
            ZoneSource::Phone { phone, by } => format!(
                "the customer's time is read in `{}`, from the {} of {phone}",
                self.zone.name(),
                match by {
                    PhoneZoneBy::Country => "country",
                    PhoneZoneBy::AreaCode => "area code",
                }
            ),
            ZoneSource::Business => return None,
        })
    }
}

/// The customer's clock of a conversation whose business zone is `business` (its `timezone`).
pub fn customer_clock(conversation: &Conversation, business: Tz) -> Result<CustomerClock, InterpretError> {
    // A stated zone is checked first: a conversation whose `customer_timezone` is not a zone is
    // refused whatever its customer says.
    let stated = match &conversation.customer_timezone {
        Some(name) => Some(name.parse::<Tz>().map_err(|_| InterpretError::Field {
            field: "customer_timezone",
            message: format!("unknown time zone `{name}` (expected an IANA name such as `America/Sao_Paulo`)"),
        })?),
        None => None,
    };
    let customer_turns = conversation.turns.iter().filter(|t| t.from == Speaker::Customer).map(|t| t.text.as_str());
    match said::said_clock(customer_turns) {
        Some(SaidClock::Zone { zone, phrase }) => {
            return Ok(CustomerClock { zone, source: ZoneSource::Said { phrase } });
        }
        Some(SaidClock::Yours { phrase }) => {
            return Ok(CustomerClock { zone: business, source: ZoneSource::Said { phrase } });
        }
        Some(SaidClock::Mine { phrase }) => {
            // Their own clock: the stated one below, else their phone's, in the business's country too.
            if stated.is_none()
                && let Some(found) = conversation.customer.phones.iter().find_map(|p| phone_zone(p))
            {
                return Ok(CustomerClock { zone: found.zone, source: ZoneSource::Said { phrase } });
            }
        }
        None => {}
    }
    if let Some(zone) = stated {
        return Ok(CustomerClock { zone, source: ZoneSource::Stated });
    }
    let business_region = region_of(business.name());
    for phone in &conversation.customer.phones {
        let Some(found) = phone_zone(phone) else { continue };
        let same_country = business_region.is_some_and(|region| found.regions.contains(&region));
        if !same_country && found.zone != business {
            return Ok(CustomerClock {
                zone: found.zone,
                source: ZoneSource::Phone { phone: phone.clone(), by: found.by },
            });
        }
        break;
    }
    Ok(CustomerClock { zone: business, source: ZoneSource::Business })
}

/// The zone of the first of `phones` that names one, when it is not `business`: what the
/// daemon, knowing the business's zone apart from the customer's, sets as the conversation's
/// `customer_timezone` (area codes count within the business's own country too).
pub fn zone_of_phones<'a>(phones: impl IntoIterator<Item = &'a str>, business: Tz) -> Option<Tz> {
    let zone = phones.into_iter().find_map(phone_zone)?.zone;
    (zone != business).then_some(zone)
}

/// What a phone number says about where its owner lives.
#[derive(Clone, Debug, PartialEq)]
pub struct PhoneZone {
    pub zone: Tz,
    pub by: PhoneZoneBy,
    /// The regions (ISO 3166) its calling code serves.
    pub regions: &'static [&'static str],
}

/// The zone of an international number (`+` and digits; spaces, dashes and brackets are
/// ignored), or `None` when the number is not international or its zone is not known (a
/// mobile in a country of several zones).
pub fn phone_zone(phone: &str) -> Option<PhoneZone> {
    let rest = phone.trim().strip_prefix('+')?;
    let mut digits = String::with_capacity(rest.len());
    for c in rest.chars() {
        match c {
            '0'..='9' => digits.push(c),
            ' ' | '-' | '.' | '(' | ')' => {}
            _ => return None,
        }
    }
    // Calling codes are prefix-free: at most one of the first 1 to 3 digits is one.
    let (code, regions, country_zone) = (1..=3.min(digits.len()))
        .find_map(|n| CALLING_CODES.iter().find(|(cc, _, _)| *cc == &digits[..n]))
        .map(|(cc, regions, zone)| (*cc, *regions, *zone))?;
    let area = (code.len() + 1..=digits.len().min(MAX_PREFIX)).rev().find_map(|n| {
        AREA_ZONES.binary_search_by(|(prefix, _)| prefix.cmp(&&digits[..n])).ok().map(|i| AREA_ZONES[i].1)
    });
    let (name, by) = match area {
        Some("") => (country_zone?, PhoneZoneBy::Country),
        Some(zone) => (zone, PhoneZoneBy::AreaCode),
        None => (country_zone?, PhoneZoneBy::Country),
    };
    Some(PhoneZone { zone: name.parse().ok()?, by, regions })
}

/// The longest prefix in [`AREA_ZONES`].
const MAX_PREFIX: usize = 10;

/// The ISO 3166 region of an IANA zone, when the tz database names one.
pub fn region_of(zone: &str) -> Option<&'static str> {
    ZONE_REGIONS.binary_search_by(|(name, _)| name.cmp(&zone)).ok().map(|i| ZONE_REGIONS[i].1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn zone(phone: &str) -> Option<(String, PhoneZoneBy)> {
        phone_zone(phone).map(|z| (z.zone.name().to_owned(), z.by))
    }

    #[test]
    fn the_tables_are_sorted_for_binary_search() {
        assert!(AREA_ZONES.windows(2).all(|w| w[0].0 < w[1].0));
        assert!(ZONE_REGIONS.windows(2).all(|w| w[0].0 <= w[1].0));
        assert!(AREA_ZONES.iter().all(|(p, _)| p.len() <= MAX_PREFIX));
        for (_, _, zone) in CALLING_CODES {
            if let Some(zone) = zone {
                assert!(zone.parse::<Tz>().is_ok(), "{zone}");
            }
        }
        for (_, zone) in AREA_ZONES.iter().filter(|(_, z)| !z.is_empty()) {
            assert!(zone.parse::<Tz>().is_ok(), "{zone}");
        }
    }

    #[test]
    fn one_zone_countries_by_their_calling_code() {
        use PhoneZoneBy::*;
        assert_eq!(zone("+91 98200 12345"), Some(("Asia/Kolkata".into(), Country)));
        assert_eq!(zone("+971 50 123 4567"), Some(("Asia/Dubai".into(), Country)));
        assert_eq!(zone("+65 9123 4567"), Some(("Asia/Singapore".into(), Country)));
        assert_eq!(zone("+54 9 11 2345-6789"), Some(("America/Argentina/Buenos_Aires".into(), Country)));
        assert_eq!(zone("+57 310 123 4567"), Some(("America/Bogota".into(), Country)));
        assert_eq!(zone("+51 912 345 678"), Some(("America/Lima".into(), Country)));
        assert_eq!(zone("+44 7911 123456"), Some(("Europe/London".into(), Country)));
        // Spain's and Portugal's mobiles: the mainland, where most of each country lives.
        assert_eq!(zone("+34 622 507 381"), Some(("Europe/Madrid".into(), Country)));
        assert_eq!(zone("+351 919 226 540"), Some(("Europe/Lisbon".into(), Country)));
    }

    #[test]
    fn several_zone_countries_by_area_code() {
        use PhoneZoneBy::*;
        assert_eq!(zone("+1 212 555 0134"), Some(("America/New_York".into(), AreaCode)));
        assert_eq!(zone("+1 (415) 555-0134"), Some(("America/Los_Angeles".into(), AreaCode)));
        assert_eq!(zone("+1 416 555 0134"), Some(("America/Toronto".into(), AreaCode)));
        assert_eq!(zone("+55 11 91234-5678"), Some(("America/Sao_Paulo".into(), AreaCode)));
        assert_eq!(zone("+55 92 99123-4567"), Some(("America/Manaus".into(), AreaCode)));
        assert_eq!(zone("+55 81 99712-4480"), Some(("America/Recife".into(), AreaCode)));
        assert_eq!(zone("+52 664 281 5590"), Some(("America/Tijuana".into(), AreaCode)));
        assert_eq!(zone("+52 55 1234 5678"), Some(("America/Mexico_City".into(), AreaCode)));
        assert_eq!(zone("+61 7 3123 4567"), Some(("Australia/Brisbane".into(), AreaCode)));
        assert_eq!(zone("+61 2 9123 4567"), Some(("Australia/Sydney".into(), AreaCode)));
        assert_eq!(zone("+34 928 123 456"), Some(("Atlantic/Canary".into(), AreaCode)));
        assert_eq!(zone("+351 296 123 456"), Some(("Atlantic/Azores".into(), AreaCode)));
    }

    #[test]
    fn numbers_that_name_no_zone() {
        // An Australian mobile can be anywhere in a country of five zones.
        assert_eq!(zone("+61 408 555 912"), None);
        // Not international: the country is unknown.
        assert_eq!(zone("98200 12345"), None);
        assert_eq!(zone("+91 98200 abc"), None);
        assert_eq!(zone("+"), None);
    }

    fn conversation(timezone: &str, phone: &str, stated: Option<&str>) -> Conversation {
        serde_json::from_value(serde_json::json!({
            "now": "2026-06-13T18:25:00+05:30", "timezone": timezone, "channel": "whatsapp",
            "customer": {"phones": [phone]}, "turns": [], "customer_timezone": stated
        }))
        .unwrap()
    }

    #[test]
    fn a_foreign_phone_wins_over_the_business_zone_and_a_local_one_does_not() {
        let kolkata: Tz = "Asia/Kolkata".parse().unwrap();
        let clock = customer_clock(&conversation("Asia/Kolkata", "+55 11 91234-5678", None), kolkata).unwrap();
        assert_eq!(clock.zone.name(), "America/Sao_Paulo");
        assert!(clock.note(kolkata).unwrap().contains("area code of +55 11 91234-5678"), "{:?}", clock.note(kolkata));
        let clock = customer_clock(&conversation("Asia/Kolkata", "+91 98200 12345", None), kolkata).unwrap();
        assert_eq!((clock.zone, clock.source), (kolkata, ZoneSource::Business));
        // In the business's own country, the conversation's zone stands.
        let recife: Tz = "America/Recife".parse().unwrap();
        let clock = customer_clock(&conversation("America/Recife", "+55 92 99123-4567", None), recife).unwrap();
        assert_eq!(clock.zone, recife);
        // A stated zone wins; an unknown one is an error naming the field.
        let clock =
            customer_clock(&conversation("Asia/Kolkata", "+91 98200 12345", Some("Europe/Lisbon")), kolkata).unwrap();
        assert_eq!((clock.zone.name(), clock.source), ("Europe/Lisbon", ZoneSource::Stated));
        let error = customer_clock(&conversation("Asia/Kolkata", "+91 1", Some("Mars/Olympus")), kolkata).unwrap_err();
        assert!(error.to_string().contains("customer_timezone"), "{error}");
    }

    fn saying(timezone: &str, phone: &str, text: &str) -> Conversation {
        let mut conversation = conversation(timezone, phone, None);
        conversation.turns = serde_json::from_value(serde_json::json!([
            {"at": "2026-06-13T18:20:00+05:30", "from": "customer", "text": text}
        ]))
        .unwrap();
        conversation
    }

    #[test]
    fn a_clock_the_customer_names_wins_over_the_phone_and_the_business() {
        let sao_paulo: Tz = "America/Sao_Paulo".parse().unwrap();
        let new_york: Tz = "America/New_York".parse().unwrap();
        // A Brazilian number in Tokyo.
        let said = saying("America/Sao_Paulo", "+55 11 91234-5678", "pode ser amanhã 21h, horário do Japão");
        let clock = customer_clock(&said, sao_paulo).unwrap();
        assert_eq!(clock.zone.name(), "Asia/Tokyo");
        assert!(clock.note(sao_paulo).unwrap().contains("as they said"), "{:?}", clock.note(sao_paulo));
        // "Your time" is the business's, over a foreign phone.
        let said = saying("America/Sao_Paulo", "+351 962 107 443", "liguem-me amanhã às 10, no vosso horário");
        assert_eq!(customer_clock(&said, sao_paulo).unwrap().zone, sao_paulo);
        // "My time" is the phone's, in the business's own country too (Honolulu's area code).
        let said = saying("America/New_York", "+1 808 555 0171", "Monday 8 to 10 am my time");
        assert_eq!(customer_clock(&said, new_york).unwrap().zone.name(), "Pacific/Honolulu");
        // A stated zone that is no zone is refused, whatever the customer says.
        let mut said = saying("America/New_York", "+1 808 555 0171", "call me at 9 Dubai time");
        said.customer_timezone = Some("Mars/Olympus".into());
        assert!(customer_clock(&said, new_york).is_err());
        // Without a time beside it, a place names no clock.
        let said = saying("America/New_York", "+1 808 555 0171", "do you ship to Dubai time to time?");
        assert_eq!(customer_clock(&said, new_york).unwrap().zone, new_york);
    }

    #[test]
    fn the_daemon_reads_area_codes_in_its_own_country_too() {
        let new_york: Tz = "America/New_York".parse().unwrap();
        assert_eq!(zone_of_phones(["+1 415 555 0134"], new_york).map(|z| z.name()), Some("America/Los_Angeles"));
        assert_eq!(zone_of_phones(["+1 212 555 0134"], new_york), None);
        assert_eq!(zone_of_phones(["9820012345", "+61 408 555 912"], new_york), None);
    }
}
