//! Snapshots of the CRM task text for three conversations: what a rep reads in 30 seconds.

use crate::interpret_common::{interpreter, repo};

fn task_for(case: &str) -> String {
    let path = repo().join("tests/interpret_cases").join(case);
    let case = handoffd::interpret::score::load_case(&path).unwrap();
    let interpreter = interpreter();
    let brief = interpreter.interpret(&case.input).unwrap();
    let task = interpreter.task_text(&brief, &case.input);
    assert!(task.subject.chars().count() < 80, "subject too long: {}", task.subject);
    format!("subject: {}\n{}", task.subject, task.to_plain())
}

#[test]
fn task_text_for_a_callback_with_an_objection() {
    insta::assert_snapshot!(task_for("114-hotel-wedding-quote-too-expensive-other-hotel.json"));
}

#[test]
fn task_text_for_an_escalation() {
    insta::assert_snapshot!(task_for("109-plumber-leak-third-time-refund-senior.json"));
}

#[test]
fn task_text_for_a_hinglish_callback() {
    insta::assert_snapshot!(task_for("106-pulsar-emi-kal-subah.json"));
}

/// A customer who refused calls gets a task to write to them, on the channel they named.
#[test]
fn a_refused_call_makes_a_task_on_the_channel_the_customer_named() {
    let conversation = |text: &str| -> handoffd_contract::conversation::Conversation {
        serde_json::from_value(serde_json::json!({
            "now": "2026-06-09T18:25:00+05:30",
            "timezone": "Asia/Kolkata",
            "business_hours": {"mon": "09:30-19:30", "tue": "09:30-19:30"},
            "customer": {"name": "Meera Iyer", "phones": ["+91 98200 12345"]},
            "channel": "whatsapp",
            "turns": [
                {"at": "2026-06-09T18:18:00+05:30", "from": "customer", "text": text},
                {"at": "2026-06-09T18:19:00+05:30", "from": "ai", "text": "Noted, our team will get back to you."}
            ]
        }))
        .unwrap()
    };
    let interpreter = interpreter();
    let input = conversation("What is the price of the 2BHK? No calls please, email is fine.");
    let brief = interpreter.interpret(&input).unwrap();
    let preference = brief.contact_preference.as_ref().expect("a contact preference");
    assert_eq!((preference.channels.clone(), preference.avoid.clone()), (vec!["email".into()], vec!["call".into()]));
    assert_eq!(preference.turn, Some(0));
    let task = interpreter.task_text(&brief, &input);
    assert!(task.subject.starts_with("Email Meera"), "{}", task.subject);
    assert!(
        brief.recommended_action.contains("by email") && !brief.recommended_action.starts_with("Call"),
        "{}",
        brief.recommended_action
    );

    // Without the refusal it is a call.
    let input = conversation("What is the price of the 2BHK?");
    let brief = interpreter.interpret(&input).unwrap();
    assert!(brief.contact_preference.is_none());
    assert!(interpreter.task_text(&brief, &input).subject.starts_with("Call Meera"));
}
