//! What a sales rep reads for message types that carry no plain text: locations, shared
//! contacts, reactions, orders, flow replies. Shared by inbound parsing and the send proxy.

use serde_json::Value;

use crate::json::{array_at, number_text, text_at};

/// "Location: name, address (lat, long)", leaving out what is missing.
pub(crate) fn location(location: &Value) -> Option<String> {
    let place: Vec<&str> =
        [text_at(location, &["name"]), text_at(location, &["address"])].into_iter().flatten().collect();
    let coordinates =
        match (location.get("latitude").and_then(number_text), location.get("longitude").and_then(number_text)) {
            (Some(lat), Some(long)) => Some(format!("({lat}, {long})")),
            _ => None,
        };
    match (place.is_empty(), coordinates) {
        (true, None) => None,
        (true, Some(coordinates)) => Some(format!("Location: {coordinates}")),
        (false, None) => Some(format!("Location: {}", place.join(", "))),
        (false, Some(coordinates)) => Some(format!("Location: {} {coordinates}", place.join(", "))),
    }
}

/// "Shared contact: Asha Rao (+91 98200 11111, +91 22 4000 1111)"; several joined with "; ".
pub(crate) fn shared_contacts(contacts: &[Value]) -> Option<String> {
    let cards: Vec<String> = contacts.iter().filter_map(contact_card).collect();
    match cards.len() {
        0 => None,
        1 => Some(format!("Shared contact: {}", cards[0])),
        _ => Some(format!("Shared contacts: {}", cards.join("; "))),
    }
}

fn contact_card(contact: &Value) -> Option<String> {
    let name = text_at(contact, &["name", "formatted_name"]).map(str::to_owned).or_else(|| {
        let parts: Vec<&str> = [text_at(contact, &["name", "first_name"]), text_at(contact, &["name", "last_name"])]
            .into_iter()
            .flatten()
            .collect();
        (!parts.is_empty()).then(|| parts.join(" "))
    });
    let phones: Vec<&str> = array_at(contact, &["phones"])
        .iter()
        .filter_map(|p| text_at(p, &["phone"]).or_else(|| text_at(p, &["wa_id"])))
        .collect();
    match (name, phones.is_empty()) {
        (None, true) => None,
        (Some(name), true) => Some(name),
        (None, false) => Some(phones.join(", ")),
        (Some(name), false) => Some(format!("{name} ({})", phones.join(", "))),
    }
}

/// "Reacted 👍 to a message"; an empty emoji is WhatsApp's way of removing a reaction.
pub(crate) fn reaction(emoji: Option<&str>) -> String {
    match emoji.map(str::trim).filter(|e| !e.is_empty()) {
        Some(emoji) => format!("Reacted {emoji} to a message"),
        None => "Removed a reaction from a message".to_owned(),
    }
}

/// "Order: 2 × SKU-1 at 7.99 USD, 1 × SKU-2 at 12.50 USD; total 28.48 USD. Note: ..."
pub(crate) fn order(order: &Value) -> Option<String> {
    let items = array_at(order, &["product_items"]);
    let mut lines = Vec::new();
    let mut total = 0.0_f64;
    let mut currencies: Vec<&str> = Vec::new();
    let mut total_known = true;
    for item in items {
        let product = text_at(item, &["product_retailer_id"]).unwrap_or("item");
        let quantity = item.get("quantity").and_then(number_text).unwrap_or_else(|| "1".to_owned());
        let price = item.get("item_price").and_then(number_text);
        let currency = text_at(item, &["currency"]);
        let mut line = format!("{quantity} × {product}");
        if let Some(price) = &price {
            line.push_str(&format!(" at {price}"));
            if let Some(currency) = currency {
                line.push_str(&format!(" {currency}"));
            }
        }
        lines.push(line);
        match (quantity.parse::<f64>(), price.as_deref().map(str::parse::<f64>)) {
            (Ok(q), Some(Ok(p))) if q.is_finite() && p.is_finite() => total += q * p,
            _ => total_known = false,
        }
        if let Some(currency) = currency
            && !currencies.contains(&currency)
        {
            currencies.push(currency);
        }
    }
    let note = text_at(order, &["text"]);
    if lines.is_empty() && note.is_none() {
        return None;
    }
    let mut summary = format!("Order: {}", if lines.is_empty() { "no items".to_owned() } else { lines.join(", ") });
    if total_known && !lines.is_empty() && currencies.len() <= 1 {
        summary.push_str(&format!("; total {}", amount(total)));
        if let Some(currency) = currencies.first() {
            summary.push_str(&format!(" {currency}"));
        }
    }
    if let Some(note) = note {
        summary.push_str(&format!(". Note: {note}"));
    }
    Some(summary)
}

/// 2 decimals when there is a fraction, none otherwise (12 INR, 28.48 USD).
fn amount(value: f64) -> String {
    let cents = (value * 100.0).round();
    if cents % 100.0 == 0.0 { format!("{}", cents / 100.0) } else { format!("{:.2}", cents / 100.0) }
}

/// A WhatsApp Flow's answers ("Form reply: budget: 40L, city: Pune"), without `flow_token`.
pub(crate) fn flow_reply(nfm_reply: &Value) -> Option<String> {
    let answers = text_at(nfm_reply, &["response_json"])
        .and_then(|raw| serde_json::from_str::<Value>(raw).ok())
        .or_else(|| nfm_reply.get("response_json").filter(|v| v.is_object()).cloned());
    // Sorted by name, so the summary does not depend on serde_json's map order.
    let mut answers: Vec<(&String, &Value)> =
        answers.as_ref().and_then(Value::as_object).map(|object| object.iter().collect()).unwrap_or_default();
    answers.sort_by(|a, b| a.0.cmp(b.0));
    let fields: Vec<String> = answers
        .into_iter()
        .filter(|(key, _)| key.as_str() != "flow_token")
        .filter_map(|(key, value)| scalar_text(value).map(|value| format!("{key}: {value}")))
        .collect();
    if fields.is_empty() {
        return text_at(nfm_reply, &["body"]).map(str::to_owned);
    }
    Some(format!("Form reply: {}", fields.join(", ")))
}

fn scalar_text(value: &Value) -> Option<String> {
    match value {
        Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_owned()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(if *b { "yes" } else { "no" }.to_owned()),
        Value::Array(items) => {
            let items: Vec<String> = items.iter().filter_map(scalar_text).collect();
            (!items.is_empty()).then(|| items.join(" / "))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn a_location_reads_as_place_and_coordinates() {
        let full =
            json!({"latitude": 18.5204, "longitude": 73.8567, "name": "Sunrise Towers", "address": "Baner Road, Pune"});
        assert_eq!(location(&full).as_deref(), Some("Location: Sunrise Towers, Baner Road, Pune (18.5204, 73.8567)"));
        assert_eq!(location(&json!({"latitude": 1.5, "longitude": 2})).as_deref(), Some("Location: (1.5, 2)"));
        assert_eq!(location(&json!({})), None);
    }

    #[test]
    fn an_order_sums_its_items() {
        let order_json = json!({"text": "Before Friday", "product_items": [
            {"product_retailer_id": "SKU-1", "quantity": 2, "item_price": 7.99, "currency": "USD"},
            {"product_retailer_id": "SKU-2", "quantity": 1, "item_price": 12.5, "currency": "USD"}]});
        assert_eq!(
            order(&order_json).as_deref(),
            Some("Order: 2 × SKU-1 at 7.99 USD, 1 × SKU-2 at 12.5 USD; total 28.48 USD. Note: Before Friday")
        );
    }

    #[test]
    fn a_flow_reply_lists_answers_without_the_token() {
        let reply = json!({"body": "Sent", "response_json": "{\"flow_token\":\"t1\",\"city\":\"Pune\",\"rooms\":3}"});
        assert_eq!(flow_reply(&reply).as_deref(), Some("Form reply: city: Pune, rooms: 3"));
        assert_eq!(flow_reply(&json!({"body": "Sent", "response_json": "not json"})).as_deref(), Some("Sent"));
    }
}
