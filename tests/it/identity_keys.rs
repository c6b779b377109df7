//! Identity keys: every phone quirk with real-format (made-up) numbers, and properties.

use handoffd::identity::keys::normalize;
use handoffd_contract::identity::IdentityKey;
use proptest::prelude::*;

fn phone(value: &str, region: Option<&str>) -> handoffd::identity::NormalizedKey {
    normalize(&IdentityKey::phone(value), region)
}

/// The canonical key of a phone, failing loudly when it was not parsed.
fn canonical(value: &str, region: Option<&str>) -> String {
    let key = phone(value, region);
    assert_eq!(key.problem, None, "{value} ({region:?}) was not read: {key:?}");
    key.canonical
}

fn share_a_match_key(a: &str, a_region: Option<&str>, b: &str, b_region: Option<&str>) -> bool {
    let (a, b) = (phone(a, a_region), phone(b, b_region));
    a.match_keys.iter().any(|k| b.match_keys.contains(k))
}

#[test]
fn brazil_mobile_with_and_without_the_ninth_digit_is_one_person() {
    let with_nine = canonical("+55 11 98765-4321", None);
    assert_eq!(with_nine, "phone:+5511987654321");
    // An old contact and an old WhatsApp id without the 9.
    assert_eq!(canonical("+55 11 8765-4321", None), with_nine);
    assert_eq!(canonical("+551187654321", None), with_nine);
    assert_eq!(canonical("+55 21 9876-5432", None), "phone:+5521998765432");
    // The 7xxx radio range is still valid with 8 digits; it joins through the 8-digit key.
    assert_eq!(canonical("+55 11 7123-4567", None), "phone:+551171234567");
    assert!(share_a_match_key("+55 11 97123-4567", None, "+55 11 7123-4567", None));
    // A new 9-digit mobile beginning 92 never had an 8-digit form: 2xxx-xxxx is a landline.
    assert_eq!(phone("+55 11 92345-6789", None).match_keys, vec!["phone:+5511923456789"]);
    // Domestic forms: area code in brackets, trunk 0, carrier selection code 15.
    assert_eq!(canonical("(11) 98765-4321", Some("BR")), with_nine);
    assert_eq!(canonical("(11) 8765-4321", Some("BR")), with_nine);
    assert_eq!(canonical("011 98765 4321", Some("BR")), with_nine);
    assert_eq!(canonical("0 15 11 98765-4321", Some("BR")), with_nine);
}

#[test]
fn brazil_landlines_are_left_alone() {
    // Fixed lines start with 2-5 and never had a ninth digit.
    assert_eq!(canonical("+55 11 3333-4444", None), "phone:+551133334444");
    assert_eq!(canonical("+55 21 2576-4321", None), "phone:+552125764321");
}

#[test]
fn mexico_whatsapp_521_ids_join_the_plain_number() {
    let plain = canonical("+52 55 1234 5678", None);
    assert_eq!(plain, "phone:+525512345678");
    assert_eq!(canonical("+5215512345678", None), plain);
    assert_eq!(canonical("+52 1 55 1234 5678", None), plain);
    assert_eq!(canonical("55 1234 5678", Some("MX")), plain);
    // The old domestic mobile prefix 044 (and 045 for long distance).
    assert_eq!(canonical("044 55 1234 5678", Some("MX")), plain);
    assert_eq!(canonical("045 33 1234 5678", Some("MX")), "phone:+523312345678");
    assert_eq!(canonical("+5213312345678", None), "phone:+523312345678");
}

#[test]
fn argentina_mobile_nine_and_local_fifteen_join() {
    let mobile = phone("+54 9 11 1234-5678", None);
    assert_eq!(mobile.canonical, "phone:+5491112345678");
    // The CRM's spelling without the 9 (dialled like a landline) shares the key without the 9.
    assert!(mobile.match_keys.contains(&"phone:+541112345678".to_owned()));
    assert!(share_a_match_key("+54 9 11 1234-5678", None, "+54 11 1234-5678", None));
    // A plain +54 number stays canonical as written: it may truly be a landline.
    assert_eq!(canonical("+54 11 1234-5678", None), "phone:+541112345678");
    // Domestic: trunk 0, area code, 15, number.
    assert_eq!(canonical("011 15-1234-5678", Some("AR")), mobile.canonical);
    assert_eq!(canonical("(0351) 15 412-3456", Some("AR")), "phone:+5493514123456");
    // The domestic 15 kept after the country code, with or without the 9.
    assert_eq!(canonical("+54 11 15 1234 5678", None), mobile.canonical);
    assert_eq!(canonical("+54 9 11 15 1234 5678", None), mobile.canonical);
    assert_eq!(canonical("549 11 1234 5678", Some("AR")), mobile.canonical);
}

#[test]
fn argentina_fifteen_without_an_area_code_is_not_guessed() {
    let key = phone("15 1234-5678", Some("AR"));
    assert!(key.is_raw_phone(), "{key:?}");
    assert!(key.problem.is_some());
}

#[test]
fn india_with_and_without_zero_or_91() {
    let expected = "phone:+919820012345";
    assert_eq!(canonical("+91 98200 12345", None), expected);
    assert_eq!(canonical("+91 (0) 98200 12345", None), expected);
    assert_eq!(canonical("919820012345", Some("IN")), expected);
    assert_eq!(canonical("09820012345", Some("IN")), expected);
    assert_eq!(canonical("98200-12345", Some("IN")), expected);
    assert_eq!(canonical("0091 98200 12345", Some("IN")), expected);
}

#[test]
fn us_with_and_without_the_one() {
    let expected = "phone:+14155552671";
    assert_eq!(canonical("+1 (415) 555-2671", None), expected);
    assert_eq!(canonical("1-415-555-2671", Some("US")), expected);
    assert_eq!(canonical("(415) 555-2671", Some("US")), expected);
    assert_eq!(canonical("415.555.2671", Some("us")), expected);
    assert_eq!(canonical("tel:+1-415-555-2671", None), expected);
}

#[test]
fn a_russian_number_whose_area_code_starts_with_eight_keeps_it() {
    // St Petersburg (812) and toll-free (800): 8 is also Russia's national prefix, which a read without a region
    // stripped, leaving an invalid number.
    for (input, region, expected) in [
        ("+7 812 123-45-67", None, "phone:+78121234567"),
        ("0078121234567", Some("IN"), "phone:+78121234567"),
        ("+7 800 123 4567", Some("RU"), "phone:+78001234567"),
    ] {
        let key = phone(input, region);
        assert_eq!(key.canonical, expected, "{input}");
        assert_eq!(key.problem, None, "{input}");
        assert_eq!(phone(key.e164().unwrap(), None).canonical, expected, "{input} read again");
    }
}

#[test]
fn double_zero_is_international_even_where_the_region_dials_out_otherwise() {
    // The US dials out with 011, Brazil with 00 + a carrier code; 00 + country code still wins.
    assert_eq!(canonical("0091 98200 12345", None), "phone:+919820012345");
    assert_eq!(canonical("00 91 98200 12345", Some("US")), "phone:+919820012345");
    assert_eq!(canonical("0091-9820-012345", Some("BR")), "phone:+919820012345");
    assert_eq!(canonical("011 91 98200 12345", Some("US")), "phone:+919820012345");
}

#[test]
fn unreadable_phones_are_kept_raw_and_flagged_never_guessed() {
    // Too short for India: not turned into a wrong +91 number.
    let key = phone("12345", Some("IN"));
    assert_eq!(key.canonical, "phone_raw:12345");
    assert_eq!(key.raw.as_deref(), Some("12345"));
    assert!(key.problem.as_deref().unwrap().contains("could not read '12345'"));
    assert!(key.match_keys.is_empty(), "a short code must not link customers");

    // Invalid after +91: kept with its plus, matchable by its exact spelling.
    let key = phone("+91 12345 678", None);
    assert_eq!(key.canonical, "phone_raw:+9112345678");
    assert_eq!(key.match_keys, vec!["phone_raw:+9112345678"]);

    // No country code and no region: not guessed.
    let key = phone("9820012345", None);
    assert_eq!(key.canonical, "phone_raw:9820012345");
    assert!(key.problem.as_deref().unwrap().contains("no default region"), "{key:?}");

    let key = phone("9820012345", Some("XX"));
    assert!(key.problem.as_deref().unwrap().contains("'XX' is unknown"), "{key:?}");
}

#[test]
fn withheld_caller_ids_never_link() {
    for value in ["anonymous", "Unknown", " PRIVATE ", "", "   "] {
        let key = phone(value, Some("US"));
        assert!(key.match_keys.is_empty(), "{value:?}: {key:?}");
        assert!(key.problem.is_some());
    }
}

#[test]
fn extensions_are_dropped_from_the_identity() {
    assert_eq!(canonical("+55 11 98765-4321 ext. 12", None), "phone:+5511987654321");
}

/// Valid Brazilian area codes (DDD) across the country.
const BR_DDDS: &[&str] = &["11", "19", "21", "27", "31", "41", "47", "51", "61", "71", "81", "85", "91", "98"];
/// Mexican area codes of Mexico City, Guadalajara, Monterrey (2 digits) and Puebla, Tijuana (3).
const MX_AREAS: &[&str] = &["55", "33", "81", "222", "664"];
const REGIONS: &[Option<&str>] = &[None, Some("IN"), Some("BR"), Some("MX"), Some("AR"), Some("US"), Some("GB")];

fn phone_like() -> impl Strategy<Value = String> {
    let cc = prop::sample::select(vec!["1", "44", "52", "54", "55", "91", "49", "971", ""]);
    let sep = prop::sample::select(vec!["", " ", "-", "(", ")", "."]);
    (prop::sample::select(vec!["+", "", "00", "0"]), cc, prop::collection::vec(("[0-9]{1,4}", sep), 1..5)).prop_map(
        |(lead, cc, parts)| {
            let mut out = format!("{lead}{cc}");
            for (digits, sep) in parts {
                out.push_str(sep);
                out.push_str(&digits);
            }
            out
        },
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn normalising_the_e164_output_again_gives_the_same_key(
        input in phone_like(),
        region in prop::sample::select(REGIONS.to_vec()),
        again in prop::sample::select(REGIONS.to_vec()),
    ) {
        let first = phone(&input, region);
        if let Some(e164) = first.e164() {
            let second = phone(e164, again);
            prop_assert_eq!(&second.canonical, &first.canonical);
            prop_assert_eq!(&second.match_keys, &first.match_keys);
            prop_assert_eq!(second.problem, None);
        } else {
            prop_assert!(first.is_raw_phone());
            prop_assert!(first.problem.is_some());
        }
    }

    #[test]
    fn brazil_ninth_digit_variants_share_a_match_key(
        ddd in prop::sample::select(BR_DDDS.to_vec()),
        subscriber in "[6-9][0-9]{7}",
    ) {
        let with_nine = format!("+55{ddd}9{subscriber}");
        let without = format!("+55{ddd}{subscriber}");
        let a = phone(&with_nine, None);
        prop_assert_eq!(a.problem.as_deref(), None, "{} not valid", with_nine);
        prop_assert!(share_a_match_key(&with_nine, None, &without, None), "{} vs {}", with_nine, without);
    }

    #[test]
    fn mexico_521_variants_share_a_match_key(
        area in prop::sample::select(MX_AREAS.to_vec()),
        rest in "[2-9][0-9]{7}",
    ) {
        let national: String = format!("{area}{rest}").chars().take(10).collect();
        let plain = format!("+52{national}");
        let whatsapp = format!("+521{national}");
        prop_assert_eq!(phone(&plain, None).problem, None, "{} not valid", plain);
        prop_assert!(share_a_match_key(&plain, None, &whatsapp, None), "{} vs {}", plain, whatsapp);
        let domestic_old = format!("1{national}");
        prop_assert!(share_a_match_key(&plain, None, &domestic_old, Some("MX")), "{}", domestic_old);
    }

    #[test]
    fn normalize_never_panics(
        input in any::<String>(),
        region in prop::option::of("[A-Za-z]{0,3}"),
    ) {
        for key in [
            IdentityKey::phone(input.as_str()),
            IdentityKey::email(input.as_str()),
            IdentityKey::vendor(input.as_str(), input.as_str()),
        ] {
            let normalized = normalize(&key, region.as_deref());
            prop_assert!(!normalized.canonical.is_empty());
        }
    }

    #[test]
    fn digit_soup_never_panics(input in "[0-9+() .\\-]{0,40}", region in prop::sample::select(REGIONS.to_vec())) {
        let key = phone(&input, region);
        // A key is never dropped: it is either E.164 or raw with a reason.
        prop_assert!(key.e164().is_some() || (key.is_raw_phone() && key.problem.is_some()));
    }
}
