//! The identity stage's pure steps together: normalise an interaction's keys, resolve them,
//! decide, apply the merge to the index, and undo it.

use handoffd::identity::keys::{match_keys_of, normalize_all};
use handoffd::identity::{CustomerId, Decision, IdentityIndex, KnownCustomer, Resolution, decide, split};
use handoffd_contract::identity::IdentityKey;

fn bind(index: &mut IdentityIndex, keys: &[IdentityKey], region: Option<&str>, customer: i64) {
    let keys = match_keys_of(&normalize_all(keys, region));
    index.reassign(&keys, CustomerId(customer));
}

fn known(index: &IdentityIndex, id: i64, crm: Option<&str>) -> KnownCustomer {
    KnownCustomer {
        id: CustomerId(id),
        created_at: None,
        crm_contact_id: crm.map(str::to_owned),
        keys: index.keys_of(CustomerId(id)),
    }
}

#[test]
fn whatsapp_mexico_and_a_crm_phone_become_one_customer_and_the_merge_can_be_undone() {
    let mut index = IdentityIndex::new();
    // Customer 1: a CRM contact whose phone was typed domestically in Mexico City.
    bind(&mut index, &[IdentityKey::phone("55 1234 5678"), IdentityKey::email("Lucia@Example.mx")], Some("MX"), 1);
    // Customer 2: a voice-AI caller known by the vendor's id and an email.
    bind(&mut index, &[IdentityKey::vendor("vapi", "cust_8f2"), IdentityKey::email("lucia.r@example.mx")], None, 2);

    // A WhatsApp message: the wa_id carries the old 521 prefix.
    let message =
        normalize_all(&[IdentityKey::phone("+5215512345678"), IdentityKey::vendor("whatsapp", "5215512345678")], None);
    let keys = match_keys_of(&message);
    assert_eq!(index.resolve(&keys), Resolution::One(CustomerId(1)), "the 521 id reaches the CRM phone");
    let Decision::Existing { customer, new_keys } = decide(&message, |k| index.get(k), &[]) else {
        panic!("expected the existing customer");
    };
    index.reassign(&new_keys, customer);

    // The customer then writes from the email the voice AI knew: two customers, one person.
    let linking =
        normalize_all(&[IdentityKey::phone("+52 55 1234 5678"), IdentityKey::email("LUCIA.R@example.mx ")], None);
    assert_eq!(index.resolve(&match_keys_of(&linking)), Resolution::Several(vec![CustomerId(1), CustomerId(2)]));
    let customers = [known(&index, 1, Some("crm-501")), known(&index, 2, None)];
    let Decision::Merge { survivor, merges, .. } = decide(&linking, |k| index.get(k), &customers) else {
        panic!("expected a merge");
    };
    assert_eq!(survivor, CustomerId(1));
    let record = &merges[0];
    assert_eq!(record.absorbed_evidence, vec!["email:lucia.r@example.mx"]);
    index.reassign(&record.moved_keys, survivor);
    assert_eq!(index.get("vendor:vapi:cust_8f2"), Some(CustomerId(1)));
    assert!(index.keys_of(CustomerId(2)).is_empty());

    // Undo: customer 2 gets back exactly what it had.
    let plan = split(record, |k| index.get(k));
    index.reassign(&plan.restore, plan.customer);
    let mut restored = index.keys_of(CustomerId(2));
    restored.sort();
    assert_eq!(restored, vec!["email:lucia.r@example.mx", "vendor:vapi:cust_8f2"]);
    assert_eq!(index.get("phone:+525512345678"), Some(CustomerId(1)));
    assert_eq!(index.get("vendor:whatsapp:5215512345678"), Some(CustomerId(1)));
}

#[test]
fn argentina_crm_landline_spelling_meets_the_whatsapp_mobile() {
    let mut index = IdentityIndex::new();
    bind(&mut index, &[IdentityKey::phone("+54 11 1234-5678")], None, 7);
    let message = normalize_all(&[IdentityKey::phone("+5491112345678")], None);
    assert_eq!(index.resolve(&match_keys_of(&message)), Resolution::One(CustomerId(7)));
}

#[test]
fn a_withheld_caller_id_joins_nobody() {
    let mut index = IdentityIndex::new();
    bind(&mut index, &[IdentityKey::phone("anonymous")], Some("US"), 3);
    assert!(index.is_empty());
    let call = normalize_all(&[IdentityKey::phone("Anonymous")], Some("US"));
    assert_eq!(decide(&call, |k| index.get(k), &[]), Decision::New { keys: vec![] });
}
