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
