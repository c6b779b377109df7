use handoffd_contract::conversation::Speaker;
use handoffd_contract::identity::IdentityKey;
use handoffd_contract::interaction::{
    Channel, Content, Direction, Interaction, MediaRef, Message, Modification, Referral, SystemEvent,
};
use handoffd_contract::webhook::ParseError;
use serde_json::json;

use crate::{message, parse_fixture, unix};

const T: i64 = 1_764_057_600;

fn wamid(suffix: &str) -> String {
    format!("wamid.HBgMOTE5ODIwMDExMTExFQIAEhgU{suffix}")
}

fn priya_keys() -> Vec<IdentityKey> {
    vec![
        IdentityKey::phone("+919820011111"),
        IdentityKey::vendor("whatsapp", "919820011111"),
        IdentityKey::vendor("whatsapp_bsuid", "IN.52710348862001"),
    ]
}

/// (kind, text) of every message in order: a compact view for the type-by-type tests.
fn kinds_and_texts(interactions: &[Interaction]) -> Vec<(String, Option<String>)> {
    interactions.iter().map(|i| (message(i).kind.clone(), message(i).text.clone())).collect()
}

fn pairs(expected: &[(&str, Option<&str>)]) -> Vec<(String, Option<String>)> {
    expected.iter().map(|(k, t)| (k.to_string(), t.map(str::to_owned))).collect()
}

#[test]
fn a_text_from_an_ad_is_one_whole_interaction() {
    let event = parse_fixture("text_with_referral.json");
    assert!(event.ignored.is_empty(), "{:?}", event.ignored);
    let expected = Interaction {
        dedup_key: wamid("TXT1"),
        channel: Channel::Whatsapp,
        direction: Direction::Inbound,
        at: unix(T),
        keys: priya_keys(),
        display_name: Some("Priya Nair".to_owned()),
        content: Content::Message(Message {
            from: Speaker::Customer,
            kind: "text".to_owned(),
            text: Some("Hi, is the 2BHK in Baner still available?".to_owned()),
            referral: Some(Referral {
                source_type: Some("ad".to_owned()),
                source_id: Some("120210009988776".to_owned()),
                source_url: Some("https://fb.me/3kQx9Lp2".to_owned()),
                headline: Some("2BHK homes in Baner from 85L".to_owned()),
                body: Some("Book a site visit this weekend".to_owned()),
                click_id: Some("ARAkLm9Qx7Zp1".to_owned()),
            }),
            // The referral fields we do not map stay inspectable.
            extra: json!({"referral": {"media_type": "image", "image_url": "https://scontent.example/ad-baner.jpg"}}),
            ..Message::default()
        }),
    };
    assert_eq!(event.interactions, vec![expected]);
}

#[test]
fn media_carry_their_refs_and_captions() {
    let event = parse_fixture("media.json");
    assert!(event.ignored.is_empty(), "{:?}", event.ignored);
    assert_eq!(
        kinds_and_texts(&event.interactions),
        pairs(&[
            ("image", Some("This is the floor plan I got")),
            ("video", None),
            ("audio", None),
            ("audio", None),
            ("document", Some("My salary slip")),
            ("sticker", None),
        ])
    );
    let media: Vec<MediaRef> = event.interactions.iter().flat_map(|i| message(i).media.clone()).collect();
    let media_ref = |kind: &str, id: &str, mime: &str, filename: Option<&str>| MediaRef {
        kind: kind.to_owned(),
        id: id.to_owned(),
        mime_type: Some(mime.to_owned()),
        filename: filename.map(str::to_owned),
    };
    assert_eq!(
        media,
        vec![
            media_ref("image", "880011223344", "image/jpeg", None),
            media_ref("video", "880011223355", "video/mp4", None),
            media_ref("voice", "880011223366", "audio/ogg; codecs=opus", None),
            media_ref("audio", "880011223377", "audio/mpeg", None),
            media_ref("document", "880011223388", "application/pdf", Some("salary-oct.pdf")),
            media_ref("sticker", "880011223399", "image/webp", None),
        ]
    );
    // The forwarded flag is not mapped: it stays in `extra`, and a forward is no reply.
    let forwarded = message(&event.interactions[3]);
    assert_eq!(forwarded.extra, json!({"context": {"forwarded": true}}));
    assert_eq!(forwarded.refers_to, None);
    assert_eq!(message(&event.interactions[0]).extra, serde_json::Value::Null);
    assert_eq!(event.interactions[5].at, unix(T + 60));
}

#[test]
fn locations_and_shared_contacts_read_as_text() {
    let event = parse_fixture("location_and_contacts.json");
    assert_eq!(
        kinds_and_texts(&event.interactions),
        pairs(&[
            ("location", Some("Location: Orchid Heights, Baner Road, Pune 411045 (18.5596, 73.7799)")),
            ("contacts", Some("Shared contacts: Anil Nair (+91 98200 33333); Meera (+91 22 4000 5555)")),
        ])
    );
    // Shared contacts are not the sender: the keys stay Priya's.
    assert_eq!(event.interactions[1].keys, priya_keys());
}

#[test]
fn reactions_point_at_the_message_they_react_to() {
    let event = parse_fixture("reaction.json");
    assert_eq!(
        kinds_and_texts(&event.interactions),
        pairs(&[
            ("reaction", Some("Reacted 👍 to a message")),
            ("reaction", Some("Removed a reaction from a message"))
        ])
    );
    for interaction in &event.interactions {
        assert_eq!(message(interaction).refers_to.as_deref(), Some("wamid.OUTBOUND0001"));
    }
}

#[test]
fn an_order_is_summarised() {
    let event = parse_fixture("order.json");
    assert_eq!(
        kinds_and_texts(&event.interactions),
        pairs(&[(
            "order",
            Some(
                "Order: 3 × tile-beige-60 at 450 INR, 2 × grout-white-1kg at 120.5 INR; total 1591 INR. \
                 Note: Please deliver by Friday"
            )
        )])
    );
}

#[test]
fn interactive_replies_read_as_what_the_customer_chose() {
    let event = parse_fixture("interactive.json");
    assert_eq!(
        kinds_and_texts(&event.interactions),
        pairs(&[
            ("interactive.button_reply", Some("Yes, book it")),
            ("interactive.list_reply", Some("Saturday 10 AM — Site visit, 45 minutes")),
            ("interactive.nfm_reply", Some("Form reply: bhk: 2, budget: 90L, loan_needed: yes")),
        ])
    );
    assert_eq!(message(&event.interactions[0]).refers_to.as_deref(), Some("wamid.OUTBOUND0002"));
    assert_eq!(message(&event.interactions[1]).refers_to, None);
}

#[test]
fn a_template_quick_reply_reads_as_its_button_text() {
    let event = parse_fixture("template_button.json");
    assert_eq!(kinds_and_texts(&event.interactions), pairs(&[("button", Some("Call me after 6 PM"))]));
    assert_eq!(message(&event.interactions[0]).refers_to.as_deref(), Some("wamid.OUTBOUND0003"));
}

#[test]
fn system_messages_carry_the_new_keys() {
    let event = parse_fixture("system.json");
    assert!(event.ignored.is_empty(), "{:?}", event.ignored);
    let systems: Vec<(&str, &[IdentityKey], &SystemEvent)> = event
        .interactions
        .iter()
        .map(|i| match &i.content {
            Content::System(system) => (i.dedup_key.as_str(), i.keys.as_slice(), system),
            other => panic!("expected a system event, got {other:?}"),
        })
        .collect();
    let old_number = [IdentityKey::phone("+919820011111"), IdentityKey::vendor("whatsapp", "919820011111")];
    assert_eq!(systems[0].0, wamid("SYS1"));
    assert_eq!(systems[0].1, old_number);
    assert_eq!(
        systems[0].2,
        &SystemEvent {
            kind: "user_changed_number".to_owned(),
            text: Some("User Priya Nair changed from 919820011111 to 919820099999".to_owned()),
            new_keys: vec![IdentityKey::phone("+919820099999"), IdentityKey::vendor("whatsapp", "919820099999")],
        }
    );
    assert_eq!(systems[1].2.kind, "customer_identity_changed");
    assert_eq!(systems[1].2.new_keys, vec![]);
    // A BSUID change names no phone at all: old BSUID as the key, new one as the new key.
    assert_eq!(systems[2].1, [IdentityKey::vendor("whatsapp_bsuid", "IN.52710348862001")]);
    assert_eq!(systems[2].2.new_keys, vec![IdentityKey::vendor("whatsapp_bsuid", "IN.60012349876543")]);
    // The older shape names the new number `new_wa_id`.
    assert_eq!(systems[3].2.kind, "customer_changed_number");
    assert_eq!(
        systems[3].2.new_keys,
        vec![IdentityKey::phone("+917700044444"), IdentityKey::vendor("whatsapp", "917700044444")]
    );
    assert_eq!(systems.len(), 4);
}

#[test]
fn edits_and_deletions_modify_the_original() {
    let event = parse_fixture("edit_revoke.json");
    let edit = message(&event.interactions[0]);
    assert_eq!(
        (edit.kind.as_str(), edit.text.as_deref(), edit.refers_to.clone(), edit.modifies),
        ("edit", Some("Hi, is the 3BHK in Baner still available?"), Some(wamid("TXT1")), Some(Modification::Edit))
    );
    let revoke = message(&event.interactions[1]);
    assert_eq!(
        (revoke.kind.as_str(), revoke.text.as_deref(), revoke.refers_to.clone(), revoke.modifies),
        ("revoke", None, Some(wamid("DOC1")), Some(Modification::Revoke))
    );
}

#[test]
fn a_welcome_request_is_kept_with_its_sender() {
    let event = parse_fixture("request_welcome.json");
    assert_eq!(kinds_and_texts(&event.interactions), pairs(&[("request_welcome", None)]));
    assert_eq!(event.interactions[0].display_name.as_deref(), Some("Rahul Mehta"));
    assert_eq!(
        event.interactions[0].keys,
        vec![IdentityKey::phone("+917700022222"), IdentityKey::vendor("whatsapp", "917700022222")]
    );
}

#[test]
fn unsupported_and_unknown_types_are_kept_raw() {
    let body = crate::fixture("unsupported_and_future.json");
    let raw: serde_json::Value = serde_json::from_slice(&body).unwrap();
    let event = parse_fixture("unsupported_and_future.json");
    assert_eq!(
        kinds_and_texts(&event.interactions),
        pairs(&[("unsupported", None), ("poll_vote", Some("Voted: Saturday"))])
    );
    let raw_messages = &raw["entry"][0]["changes"][0]["value"]["messages"];
    assert_eq!(message(&event.interactions[0]).extra, raw_messages[0]);
    assert_eq!(message(&event.interactions[0]).extra["errors"][0]["code"], 131051);
    assert_eq!(message(&event.interactions[1]).extra, raw_messages[1]);
}

#[test]
fn a_user_known_only_by_bsuid_has_no_phone_key() {
    let event = parse_fixture("bsuid_only.json");
    let interaction = &event.interactions[0];
    assert_eq!(interaction.keys, vec![IdentityKey::vendor("whatsapp_bsuid", "IN.99887766554433")]);
    assert_eq!(interaction.display_name.as_deref(), Some("Kiran"));
    assert_eq!(message(interaction).text.as_deref(), Some("Please call me, I hide my number"));
}

#[test]
fn every_entry_and_every_change_is_read() {
    let event = parse_fixture("two_entries_two_changes.json");
    let summary: Vec<(String, Direction, Vec<IdentityKey>)> =
        event.interactions.iter().map(|i| (i.dedup_key.clone(), i.direction, i.keys.clone())).collect();
    let rahul = vec![IdentityKey::phone("+917700022222"), IdentityKey::vendor("whatsapp", "917700022222")];
    assert_eq!(
        summary,
        vec![
            (wamid("MUL1"), Direction::Inbound, priya_keys()),
            ("wamid.OUTBOUND0006:delivered".to_owned(), Direction::Outbound, rahul.clone()),
            (wamid("MUL2"), Direction::Inbound, rahul),
        ]
    );
    assert_eq!(
        event.ignored,
        vec!["entry[1].changes[1]: field `message_template_status_update` is not handled".to_owned()]
    );
}

#[test]
fn the_envelope_is_checked() {
    assert!(matches!(crate::parse(b"not json"), Err(ParseError::Json(_))));
    assert!(matches!(crate::parse(br#"{"object":"page","entry":[]}"#), Err(ParseError::Shape(_))));
    assert!(matches!(crate::parse(br#"{"entry":[]}"#), Err(ParseError::Shape(_))));
    assert!(matches!(crate::parse(br#"{"object":"whatsapp_business_account"}"#), Err(ParseError::Shape(_))));
    let empty = crate::parse(br#"{"object":"whatsapp_business_account","entry":[]}"#).unwrap();
    assert!(empty.interactions.is_empty() && empty.ignored.is_empty());
}

#[test]
fn a_broken_item_is_described_and_the_others_still_parse() {
    let body = json!({"object": "whatsapp_business_account", "entry": [{"id": "1", "changes": [{"field": "messages", "value": {
    "messages": [
        {"from": "919820011111", "timestamp": "1764057600", "type": "text", "text": {"body": "no id"}},
        {"from": "919820011111", "id": "wamid.B", "timestamp": "yesterday", "type": "text"},
        {"from": "919820011111", "id": "wamid.C", "timestamp": 1764057600, "type": "text", "text": {"body": "fine"}}
    ]}}]}]});
    let before = chrono::Utc::now();
    let event = crate::parse(body.to_string().as_bytes()).unwrap();
    assert_eq!(event.interactions.len(), 2);
    // A message with an unreadable time is kept, timed when it was received.
    assert_eq!(event.interactions[0].dedup_key, "wamid.B");
    assert!(event.interactions[0].at >= before, "{:?}", event.interactions[0].at);
    assert_eq!(message(&event.interactions[1]).text.as_deref(), Some("fine"));
    assert_eq!(event.ignored, vec!["entry[0].changes[0].messages[0]: the message has no `id`".to_owned()]);
}

/// Meta signs what it sends, but a timestamp far outside any clock (`-99999999999999`, a year
/// before WhatsApp, next week) must not drop the message or place it out of its conversation.
#[test]
fn a_signed_message_with_an_implausible_timestamp_is_kept_with_the_receive_time() {
    for timestamp in [json!("-99999999999999"), json!(-99999999999999_i64), json!("86400"), json!("99999999999")] {
        let body = json!({"object": "whatsapp_business_account", "entry": [{"id": "1", "changes": [{"field": "messages", "value": {
        "messages": [{"from": "919820011111", "id": "wamid.T", "timestamp": timestamp, "type": "text", "text": {"body": "hi"}}]
        }}]}]});
        let before = chrono::Utc::now();
        let event = crate::parse(body.to_string().as_bytes()).unwrap();
        assert_eq!(event.interactions.len(), 1, "{timestamp}: {:?}", event.ignored);
        let at = event.interactions[0].at;
        assert!(at >= before && at <= chrono::Utc::now(), "{timestamp} gave {at}");
    }
}
