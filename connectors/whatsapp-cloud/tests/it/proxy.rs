use handoffd_contract::conversation::Speaker;
use handoffd_contract::identity::IdentityKey;
use handoffd_contract::interaction::{Channel, Content, Direction, Interaction, MediaRef, Message};
use handoffd_whatsapp_cloud::outbound_from_send;
use serde_json::{Value, json};

use crate::{connector, message, unix};

const AT: i64 = 1_764_060_000;

fn meta_answer(wamid: &str, input: &str, wa_id: &str) -> Vec<u8> {
    json!({"messaging_product": "whatsapp", "contacts": [{"input": input, "wa_id": wa_id}], "messages": [{"id": wamid}]})
        .to_string()
        .into_bytes()
}

fn send(request: Value) -> Interaction {
    outbound_from_send(
        request.to_string().as_bytes(),
        &meta_answer("wamid.SENT0001", "+919820011111", "919820011111"),
        unix(AT),
    )
    .expect("an accepted send is a turn")
}

#[test]
fn a_text_send_is_an_ai_turn_keyed_by_its_wamid() {
    let request = json!({"messaging_product": "whatsapp", "recipient_type": "individual", "to": "+919820011111",
        "type": "text", "text": {"preview_url": false, "body": "Our Baner site is open Saturday 10 AM to 6 PM."}});
    let expected = Interaction {
        dedup_key: "wamid.SENT0001".to_owned(),
        channel: Channel::Whatsapp,
        direction: Direction::Outbound,
        at: unix(AT),
        keys: vec![IdentityKey::phone("+919820011111"), IdentityKey::vendor("whatsapp", "919820011111")],
        display_name: None,
        content: Content::Message(Message {
            from: Speaker::Ai,
            kind: "text".to_owned(),
            text: Some("Our Baner site is open Saturday 10 AM to 6 PM.".to_owned()),
            ..Message::default()
        }),
    };
    assert_eq!(send(request), expected);
}

#[test]
fn the_answer_wa_id_adds_keys_when_it_differs_from_to() {
    // Meta answers with the canonical wa_id (e.g. Brazil without the ninth digit).
    let request = json!({"to": "5511987654321", "type": "text", "text": {"body": "Olá"}});
    let answer = meta_answer("wamid.SENT0002", "5511987654321", "551187654321");
    let turn = outbound_from_send(request.to_string().as_bytes(), &answer, unix(AT)).unwrap();
    assert_eq!(
        turn.keys,
        vec![
            IdentityKey::phone("+5511987654321"),
            IdentityKey::vendor("whatsapp", "5511987654321"),
            IdentityKey::phone("+551187654321"),
            IdentityKey::vendor("whatsapp", "551187654321"),
        ]
    );
}

#[test]
fn a_template_reads_as_its_name_language_and_parameters() {
    let request = json!({"messaging_product": "whatsapp", "to": "919820011111", "type": "template", "template": {
    "name": "visit_confirmation", "language": {"code": "en_US"},
    "components": [
        {"type": "body", "parameters": [{"type": "text", "text": "Saturday"}, {"type": "text", "text": "10 AM"}]},
        {"type": "button", "sub_type": "quick_reply", "index": "0", "parameters": [{"type": "payload", "payload": "RESCHEDULE"}]}
    ]}});
    let turn = send(request);
    assert_eq!(message(&turn).kind, "template");
    assert_eq!(message(&turn).text.as_deref(), Some("Template `visit_confirmation` (en_US): Saturday, 10 AM"));
}

#[test]
fn template_currency_and_dates_use_their_fallback_values() {
    let request = json!({"to": "919820011111", "type": "template", "template": {"name": "emi_offer", "language": {"code": "en"},
        "components": [{"type": "body", "parameters": [
            {"type": "currency", "currency": {"fallback_value": "₹42,500", "code": "INR", "amount_1000": 42_500_000}},
            {"type": "date_time", "date_time": {"fallback_value": "1 December 2025"}}]}]}});
    assert_eq!(message(&send(request)).text.as_deref(), Some("Template `emi_offer` (en): ₹42,500, 1 December 2025"));
}

#[test]
fn interactive_sends_list_their_choices() {
    let buttons = json!({"to": "919820011111", "type": "interactive", "interactive": {"type": "button",
        "body": {"text": "Shall I have someone call you?"},
        "action": {"buttons": [{"type": "reply", "reply": {"id": "y", "title": "Yes"}}, {"type": "reply", "reply": {"id": "n", "title": "No"}}]}}});
    let turn = send(buttons);
    assert_eq!(message(&turn).kind, "interactive.button");
    assert_eq!(message(&turn).text.as_deref(), Some("Buttons: Yes | No — Shall I have someone call you?"));

    let list = json!({"to": "919820011111", "type": "interactive", "interactive": {"type": "list",
        "body": {"text": "Pick a visit slot"},
        "action": {"button": "Slots", "sections": [
            {"title": "Saturday", "rows": [{"id": "s10", "title": "Sat 10 AM"}, {"id": "s16", "title": "Sat 4 PM"}]},
            {"title": "Sunday", "rows": [{"id": "u11", "title": "Sun 11 AM"}]}]}}});
    assert_eq!(
        message(&send(list)).text.as_deref(),
        Some("List: Sat 10 AM | Sat 4 PM | Sun 11 AM — Pick a visit slot")
    );
}

#[test]
fn media_and_locations_and_replies_are_read() {
    let image = json!({"to": "919820011111", "type": "image", "context": {"message_id": "wamid.INBOUND77"},
        "image": {"link": "https://cdn.example/brochure.jpg", "caption": "Brochure for Orchid Heights"}});
    let turn = send(image);
    let sent = message(&turn);
    assert_eq!(sent.text.as_deref(), Some("Brochure for Orchid Heights"));
    assert_eq!(sent.refers_to.as_deref(), Some("wamid.INBOUND77"));
    assert_eq!(
        sent.media,
        vec![MediaRef {
            kind: "image".into(),
            id: "https://cdn.example/brochure.jpg".into(),
            mime_type: None,
            filename: None
        }]
    );

    let location = json!({"to": "919820011111", "type": "location",
        "location": {"latitude": 18.5596, "longitude": 73.7799, "name": "Orchid Heights", "address": "Baner Road, Pune"}});
    assert_eq!(
        message(&send(location)).text.as_deref(),
        Some("Location: Orchid Heights, Baner Road, Pune (18.5596, 73.7799)")
    );
}

#[test]
fn no_wamid_means_no_turn() {
    let request = json!({"to": "919820011111", "type": "text", "text": {"body": "hello"}}).to_string();
    let refused = json!({"error": {"message": "(#131047) Re-engagement message", "code": 131047}}).to_string();
    assert_eq!(outbound_from_send(request.as_bytes(), refused.as_bytes(), unix(AT)), None);
    assert_eq!(outbound_from_send(request.as_bytes(), b"<html>502</html>", unix(AT)), None);
    assert_eq!(outbound_from_send(b"garbage", &meta_answer("wamid.X", "1", "1"), unix(AT)), None);
}

#[test]
fn the_connector_knows_its_phone_numbers() {
    let connector = connector();
    assert!(connector.serves_phone_number("106600112233"));
    assert!(connector.serves_phone_number("106600112299"));
    assert!(!connector.serves_phone_number("106600112200"));
    assert!(!connector.serves_phone_number(""));
}
