//! The customer's own clock: a window is read in the customer's zone (from their phone's
//! country or area code) while business hours stay the business's, and the task shows the
//! window on the owner's clock with the customer's beside it. One case per shipped language,
//! each with a customer abroad, and local customers unchanged.

use handoffd_contract::conversation::Conversation;

use crate::interpret_common::interpreter;

/// A one-turn conversation of a customer with `phone`, for a business in `timezone` open
/// Monday to Saturday.
fn chat(now: &str, timezone: &str, phone: &str, text: &str) -> Conversation {
    serde_json::from_value(serde_json::json!({
        "now": now,
        "timezone": timezone,
        "business_hours": {"mon": "09:00-18:00", "tue": "09:00-18:00", "wed": "09:00-18:00",
            "thu": "09:00-18:00", "fri": "09:00-18:00", "sat": "10:00-14:00"},
        "customer": {"name": "Ana Souza", "phones": [phone]},
        "channel": "whatsapp",
        "turns": [{"at": now, "from": "customer", "text": text}]
    }))
    .unwrap()
}

/// The requested window as RFC 3339 bounds, and the task's "Requested time" line.
fn window_and_line(conversation: &Conversation) -> ((String, String), String) {
    let interpreter = interpreter();
    let brief = interpreter.interpret(conversation).unwrap();
    let window = brief.requested_window.as_ref().expect("a requested window");
    let task = interpreter.task_text(&brief, conversation);
    let line = task.facts.iter().find(|f| f.label == "Requested time").map(|f| f.value.clone()).unwrap_or_default();
    let utc = |at: &chrono::DateTime<chrono::FixedOffset>| at.with_timezone(&chrono::Utc).to_rfc3339();
    ((utc(&window.not_before), utc(&window.not_after)), line)
}

fn bounds(from: &str, to: &str) -> (String, String) {
    let parse = |s: &str| chrono::DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&chrono::Utc).to_rfc3339();
    (parse(from), parse(to))
}

#[test]
fn pt_a_brazilian_customer_of_an_indian_business_gets_their_own_morning_on_a_closed_sunday() {
    // Saturday 18:25 in India is Saturday 09:55 in São Paulo: "amanhã" is Sunday there, a day
    // the business is closed, and a part of the day is kept as the customer said it.
    let conversation = chat(
        "2026-06-13T18:25:00+05:30",
        "Asia/Kolkata",
        "+55 11 91234-5678",
        "Quero ver o apartamento de 2 quartos, pode ser amanhã de manhã?",
    );
    let (window, line) = window_and_line(&conversation);
    assert_eq!(window, bounds("2026-06-14T09:00:00-03:00", "2026-06-14T12:00:00-03:00"));
    assert!(line.starts_with("Sun 14 Jun 17:30-20:30 IST (customer: Sun 09:00-12:00 Sao Paulo time)"), "{line}");
}

#[test]
fn pt_a_whole_day_named_abroad_is_the_business_s_hours_on_the_customer_s_clock() {
    // Wednesday evening in India; "amanhã" is Thursday, open 09:00-18:00 IST = 00:30-09:30 BRT.
    let conversation = chat(
        "2026-06-10T18:25:00+05:30",
        "Asia/Kolkata",
        "+55 11 91234-5678",
        "Quero ver o apartamento. Pode me ligar amanhã?",
    );
    let (window, line) = window_and_line(&conversation);
    assert_eq!(window, bounds("2026-06-11T09:00:00+05:30", "2026-06-11T18:00:00+05:30"));
    assert!(line.contains("(customer: Thu 00:30-09:30 Sao Paulo time)"), "{line}");
}

#[test]
fn en_a_californian_customer_by_area_code() {
    // Wednesday 18:25 IST is 05:55 in Los Angeles: "tomorrow" is their Thursday.
    let conversation =
        chat("2026-06-10T18:25:00+05:30", "Asia/Kolkata", "+1 415 555 0134", "Can you call me tomorrow after 6 pm?");
    let (window, line) = window_and_line(&conversation);
    assert_eq!(window, bounds("2026-06-11T18:00:00-07:00", "2026-06-11T21:00:00-07:00"));
    assert!(line.starts_with("Fri 12 Jun 06:30-09:30 IST (customer: Thu 18:00-21:00 PDT)"), "{line}");
}

#[test]
fn es_a_mexican_customer_of_a_spanish_business() {
    let conversation = chat(
        "2026-06-10T18:25:00+02:00",
        "Europe/Madrid",
        "+52 55 1234 5678",
        "¿Me pueden llamar el jueves por la tarde?",
    );
    let (window, line) = window_and_line(&conversation);
    assert_eq!(window, bounds("2026-06-11T12:00:00-06:00", "2026-06-11T17:00:00-06:00"));
    assert!(line.starts_with("Thu 11 Jun 20:00 to Fri 12 Jun 01:00 CEST"), "{line}");
    assert!(line.contains("(customer: Thu 12:00-17:00 CST)"), "{line}");
}

#[test]
fn hi_a_customer_in_dubai_of_an_indian_business() {
    let conversation =
        chat("2026-06-10T18:25:00+05:30", "Asia/Kolkata", "+971 50 123 4567", "kal shaam 6 baje ke baad call karo");
    let (window, line) = window_and_line(&conversation);
    assert_eq!(window, bounds("2026-06-11T18:00:00+04:00", "2026-06-11T21:00:00+04:00"));
    assert!(line.starts_with("Thu 11 Jun 19:30-22:30 IST (customer: Thu 18:00-21:00 Dubai time)"), "{line}");
}

#[test]
fn local_customers_and_numbers_that_name_no_zone_keep_the_business_clock() {
    for phone in ["+91 98200 12345", "+61 408 555 912", "98200 12345"] {
        let conversation =
            chat("2026-06-10T18:25:00+05:30", "Asia/Kolkata", phone, "kal shaam 6 baje ke baad call karo");
        let (window, line) = window_and_line(&conversation);
        assert_eq!(window, bounds("2026-06-11T18:00:00+05:30", "2026-06-11T21:00:00+05:30"), "{phone}");
        assert!(!line.contains("customer:"), "{phone}: {line}");
    }
}

#[test]
fn a_stated_customer_zone_wins_and_an_unknown_one_is_refused() {
    let mut conversation =
        chat("2026-06-10T18:25:00+05:30", "Asia/Kolkata", "+91 98200 12345", "Can you call me tomorrow morning?");
    conversation.customer_timezone = Some("Europe/Lisbon".into());
    let (window, _) = window_and_line(&conversation);
    assert_eq!(window, bounds("2026-06-11T09:00:00+01:00", "2026-06-11T12:00:00+01:00"));
    conversation.customer_timezone = Some("Europe/Atlantis".into());
    let error = interpreter().interpret(&conversation).unwrap_err();
    assert!(error.to_string().contains("customer_timezone"), "{error}");
}
