//! Phones: E.164 through the `phonenumber` crate, plus the country quirks that make one
//! person look like two across WhatsApp, voice and the CRM.
//!
//! A number is accepted only when the numbering plan says it is valid (after the repairs
//! below); anything else becomes a `phone_raw:` key with a problem, never a guessed E.164.

use std::str::FromStr;

use phonenumber::country::Id;
use phonenumber::{Mode, PhoneNumber};

use super::keys::{NormalizedKey, PHONE_PREFIX, PHONE_RAW_PREFIX};

/// Longer input is not a phone number; capping it also bounds the parser's work.
const MAX_PHONE_CHARS: usize = 64;

/// Raw numbers shorter than this are short codes or junk: matching on them would join strangers.
const MIN_RAW_MATCH_DIGITS: usize = 7;

/// What voice vendors put where a withheld caller id would be: these must never link customers.
const WITHHELD: &[&str] = &["anonymous", "unknown", "private", "restricted", "unavailable", "withheld", "null", "none"];

pub(crate) fn normalize_phone(input: &str, default_region: Option<&str>) -> NormalizedKey {
    let trimmed = input.trim();
    if trimmed.is_empty() {
        return raw_key(input, "", "the phone number is empty".into(), false);
    }
    if trimmed.chars().count() > MAX_PHONE_CHARS {
        let cut: String = trimmed.chars().take(MAX_PHONE_CHARS).collect();
        return raw_key(input, &cut, "the phone number is too long to be one".into(), false);
    }
    let letters: String = trimmed.chars().filter(|c| c.is_alphanumeric()).collect::<String>().to_lowercase();
    if WITHHELD.contains(&letters.as_str()) {
        return raw_key(input, trimmed, format!("the caller's number was withheld ('{trimmed}')"), false);
    }

    let region = match default_region.map(str::trim).filter(|r| !r.is_empty()) {
        None => Ok(None),
        Some(code) => Id::from_str(&code.to_ascii_uppercase()).map(Some).map_err(|_| code.to_owned()),
    };
    let digits: String = trimmed.chars().filter(char::is_ascii_digit).collect();
    let explicit_plus =
        trimmed.trim_start_matches(|c: char| !c.is_ascii_digit() && c != '+' && c != '＋').starts_with(['+', '＋']);
    // `00` is the international prefix nearly everywhere, and no national number starts with
    // it, so "0091 98200 12345" means +91 even for a connector whose region dials out with 011.
    let double_zero = !explicit_plus && digits.starts_with("00") && starts_with_digits(trimmed);

    let mut attempts: Vec<(Option<Id>, String)> = Vec::new();
    if explicit_plus {
        attempts.push((None, trimmed.to_owned()));
    } else {
        if double_zero {
            attempts.push((None, format!("+{}", &digits[2..])));
        }
        if let Ok(Some(id)) = region {
            attempts.push((Some(id), trimmed.to_owned()));
        }
    }

    let mut last_reason = None;
    for (region_id, text) in &attempts {
        match parse_valid(*region_id, text) {
            Ok(number) => return parsed_key(&number),
            Err(reason) => last_reason = Some(reason),
        }
    }

    // The raw key keeps the digits as written (with `+` when the writer gave an international
    // form), so the same unreadable number from two systems still meets itself.
    let written = if double_zero {
        format!("+{}", &digits[2..])
    } else if explicit_plus {
        format!("+{digits}")
    } else if digits.is_empty() {
        trimmed.to_lowercase()
    } else {
        digits.clone()
    };
    let reason = match (last_reason, &region) {
        (Some(reason), _) => reason,
        (None, Err(code)) => format!("it has no country code and the default region '{code}' is unknown"),
        (None, Ok(_)) => "it has no country code and the connector has no default region".to_owned(),
    };
    let matchable = written.chars().filter(char::is_ascii_digit).count() >= MIN_RAW_MATCH_DIGITS;
    raw_key(input, &written, format!("could not read '{trimmed}' as a phone number: {reason}"), matchable)
}

fn starts_with_digits(text: &str) -> bool {
    text.trim_start_matches(|c: char| c == '(' || c.is_whitespace()).starts_with(|c: char| c.is_ascii_digit())
}

/// Parses and validates, trying the country repairs when the plain parse is not valid.
fn parse_valid(region: Option<Id>, text: &str) -> Result<PhoneNumber, String> {
    let number = phonenumber::parse(region, text).map_err(|e| e.to_string())?;
    if number.is_valid() {
        return Ok(number);
    }
    // Read without a region, the phonenumber crate strips the country's national prefix from the digits after
    // an explicit country code: Russia's 8 from "+7 812 ..." (St Petersburg) and "+7 800 ..." (toll-free), which
    // then fail. Spain has no national prefix, so a second read with its region keeps the digits as written
    // (the country code still comes from the `+`).
    if region.is_none()
        && let Ok(number) = phonenumber::parse(Some(Id::ES), text)
        && number.is_valid()
    {
        return Ok(number);
    }
    let e164 = number.format().mode(Mode::E164).to_string();
    let code = number.code().value();
    let rest = e164.strip_prefix(&format!("+{code}")).unwrap_or_default();
    repair(code, rest).ok_or_else(|| format!("{e164} is not a valid number in its numbering plan"))
}

/// Parses `+{code}{national}` and keeps it only if valid.
fn valid(code: u16, national: &str) -> Option<PhoneNumber> {
    phonenumber::parse(None, format!("+{code}{national}")).ok().filter(PhoneNumber::is_valid)
}

/// Known spellings of a valid number that the numbering plan itself rejects.
fn repair(code: u16, national: &str) -> Option<PhoneNumber> {
    match code {
        // Brazil added a ninth digit (9) to every mobile in 2012-2016; old contacts and some
        // WhatsApp ids still carry the 8-digit form "DDD 8765-4321", whose first digit is 6-9.
        55 if national.len() == 10 && matches!(national.as_bytes()[2], b'6'..=b'9') => {
            valid(code, &format!("{}9{}", &national[..2], &national[2..]))
        }
        // Mexico dropped the mobile "1" after +52 in 2019, but WhatsApp ids still read 521...
        52 if national.len() == 11 && national.starts_with('1') => valid(code, &national[1..]),
        // Mexico's old domestic mobile prefixes 044/045 (local / long distance) before 10 digits.
        52 if national.len() == 13 && (national.starts_with("044") || national.starts_with("045")) => {
            valid(code, &national[3..])
        }
        // Argentina's domestic mobile form "area 15 number" written after +54 (with or without
        // the international 9): drop the 15, put the 9 after the country code.
        54 => {
            let body = if national.len() == 13 && national.starts_with('9') { &national[1..] } else { national };
            if body.len() != 12 {
                return None;
            }
            (2..=4)
                .filter(|&area| &body[area..area + 2] == "15")
                .find_map(|area| valid(code, &format!("9{}{}", &body[..area], &body[area + 2..])))
        }
        _ => None,
    }
}

fn parsed_key(number: &PhoneNumber) -> NormalizedKey {
    // The extension is dropped: it names a desk on a shared line, not a person's channel, and
    // E.164 has no place for it.
    let e164 = number.format().mode(Mode::E164).to_string();
    let mut key = NormalizedKey::clean(format!("{PHONE_PREFIX}{e164}"));
    // Argentina: a mobile is +54 9 <area> <number> when dialled from abroad (and in WhatsApp),
    // but CRMs often store it as +54 <area> <number>; the subscriber number is the same line,
    // so both spellings share the key without the 9. The plain form stays canonical when that
    // is all we saw, because it may truly be a landline.
    if let Some(national) = e164.strip_prefix("+549")
        && national.len() == 10
    {
        key.match_keys.push(format!("{PHONE_PREFIX}+54{national}"));
    }
    // Brazil: the pre-2016 8-digit spelling of a mobile whose number begins 6-9 is the same
    // line. Some such spellings (radio ranges 7xxx) are still valid on their own, so the 9-form
    // carries the 8-digit key too; 2-5 is left out because those 8-digit numbers are landlines.
    if let Some(national) = e164.strip_prefix("+55")
        && national.len() == 11
        && national.as_bytes()[2] == b'9'
        && matches!(national.as_bytes()[3], b'6'..=b'9')
    {
        key.match_keys.push(format!("{PHONE_PREFIX}+55{}{}", &national[..2], &national[3..]));
    }
    key
}

fn raw_key(input: &str, written: &str, problem: String, matchable: bool) -> NormalizedKey {
    let canonical = format!("{PHONE_RAW_PREFIX}{written}");
    NormalizedKey {
        match_keys: if matchable { vec![canonical.clone()] } else { Vec::new() },
        canonical,
        raw: Some(input.to_owned()),
        problem: Some(problem),
    }
}
