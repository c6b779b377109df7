use handoffd_contract::identity::IdentityKey;
use handoffd_contract::interaction::{Channel, Content, DeliveryStatus, Direction, Interaction, VendorError};

use crate::{parse_fixture, unix};

const T: i64 = 1_764_057_600;

#[test]
fn each_status_is_an_outbound_interaction_keyed_by_wamid_and_status() {
    let event = parse_fixture("statuses.json");
    assert!(event.ignored.is_empty(), "{:?}", event.ignored);
    let priya = vec![IdentityKey::phone("+919820011111"), IdentityKey::vendor("whatsapp", "919820011111")];
    let status = |state: &str, at: i64, keys: Vec<IdentityKey>, name: Option<&str>, errors: Vec<VendorError>| {
        let message_id = if state == "failed" { "wamid.OUTBOUND0005" } else { "wamid.OUTBOUND0001" };
        Interaction {
            dedup_key: format!("{message_id}:{state}"),
            channel: Channel::Whatsapp,
            direction: Direction::Outbound,
            at: unix(at),
            keys,
            display_name: name.map(str::to_owned),
            content: Content::Status(DeliveryStatus {
                message_id: message_id.to_owned(),
                status: state.to_owned(),
                errors,
            }),
        }
    };
    let mut sent_keys = priya.clone();
    sent_keys.push(IdentityKey::vendor("whatsapp_bsuid", "IN.52710348862001"));
    let expected = vec![
        status("sent", T + 1100, sent_keys, Some("Priya Nair"), vec![]),
        status("delivered", T + 1105, priya.clone(), Some("Priya Nair"), vec![]),
        status("read", T + 1200, priya, Some("Priya Nair"), vec![]),
        status(
            "failed",
            T + 1300,
            vec![IdentityKey::phone("+917700022222"), IdentityKey::vendor("whatsapp", "917700022222")],
            None,
            vec![VendorError {
                code: Some(131047),
                title: Some("Re-engagement message".to_owned()),
                message: Some("Re-engagement message".to_owned()),
                details: Some("More than 24 hours have passed since the recipient last replied.".to_owned()),
            }],
        ),
    ];
    assert_eq!(event.interactions, expected);
}
