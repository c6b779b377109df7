//! Snapshots of the CRM task text for three conversations: what a rep reads in 30 seconds.

use crate::interpret_common::{interpreter, repo};

fn task_for(case: &str) -> String {
    let path = repo().join("tests/interpret_cases").join(case);
    let case = handoffd::interpret::score::load_case(&path).unwrap();
    task_of(&case.input, None)
}

/// The task of a conversation, routed to `owner` when one is given, checked for what every
/// task must be: a short subject, and no line that says what another line says.
fn task_of(input: &handoffd_contract::conversation::Conversation, owner: Option<(&str, &str)>) -> String {
    let interpreter = interpreter();
    let mut brief = interpreter.interpret(input).unwrap();
    if let Some((id, name)) = owner {
        brief.recommended_owner = Some(handoffd_contract::brief::OwnerChoice {
            id: id.into(),
            name: Some(name.into()),
            rule: "default".into(),
            reason: "round robin over 2 owners".into(),
        });
    }
    let task = interpreter.task_text(&brief, input);
    assert!(task.subject.chars().count() < 80, "subject too long: {}", task.subject);
    for (i, a) in task.facts.iter().enumerate() {
        for b in &task.facts[i + 1..] {
            assert_ne!(a.value, b.value, "`{}` and `{}` say the same", a.label, b.label);
        }
    }
    let action = task.facts.iter().find(|f| f.label == "Action").map(|f| f.value.to_lowercase()).unwrap_or_default();
    assert!(
        !(action.contains("apologise first") && action.contains("an apology")),
        "the apology is said twice: {action}"
    );
    if let Some(owner) = owner {
        assert!(task.to_plain().contains(&format!("Owner: {}\n", owner.1)), "the owner by name");
        assert!(!task.to_plain().contains(owner.0), "no owner id in the text");
    }
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

#[test]
fn task_text_for_a_spanish_callback_with_an_authority_objection() {
    insta::assert_snapshot!(task_for("104-paneles-solares-esposo-decide-jueves.json"));
}

#[test]
fn task_text_for_a_spanish_refund() {
    insta::assert_snapshot!(task_for("116-pedido-no-ha-llegado-reembolso.json"));
}

#[test]
fn task_text_for_a_portuguese_booking() {
    insta::assert_snapshot!(task_for("115-onix-test-drive-sabado-agendado.json"));
}

#[test]
fn task_text_for_a_portuguese_enrolment_on_whatsapp() {
    insta::assert_snapshot!(task_for("110-matricula-engenharia-parcelar-whatsapp.json"));
}

/// A Brazilian customer of a business in India, routed to an owner: the window on the owner's
/// clock with the customer's beside it, the owner by name, fact values as values.
#[test]
fn task_text_for_a_customer_abroad_routed_to_a_named_owner() {
    let input: handoffd_contract::conversation::Conversation = serde_json::from_value(serde_json::json!({
        "now": "2026-06-13T18:25:00+05:30",
        "timezone": "Asia/Kolkata",
        "business_hours": {"mon": "09:30-19:30", "tue": "09:30-19:30", "wed": "09:30-19:30",
            "thu": "09:30-19:30", "fri": "09:30-19:30", "sat": "10:00-18:00"},
        "customer": {"name": "Ana Souza", "phones": ["+55 11 91234-5678"]},
        "channel": "whatsapp",
        "turns": [
            {"at": "2026-06-13T18:20:00+05:30", "from": "customer",
             "text": "Oi! Quero um apartamento de 3 quartos em Goa, meu orçamento é 1.2 crore. Qual o preço?"},
            {"at": "2026-06-13T18:21:00+05:30", "from": "ai", "text": "Temos opções! Quando podemos ligar?"},
            {"at": "2026-06-13T18:22:00+05:30", "from": "customer", "text": "Amanhã de manhã? Depois das 9."}
        ]
    }))
    .unwrap();
    insta::assert_snapshot!(task_of(&input, Some(("75480001", "Asha Rao"))));
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
