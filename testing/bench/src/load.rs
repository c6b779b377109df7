//! The load generator: signed WhatsApp webhooks from many customers, in bursts or as a flood, each one
//! re-sent until the daemon acknowledges it (as Meta does), with its acknowledgement latency.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tokio::sync::Semaphore;
use tokio::time::Instant;

use super::stats::Samples;

/// How long a message is re-sent before the generator gives up on it (it then counts as not acknowledged).
const GIVE_UP_AFTER: Duration = Duration::from_secs(180);

const TEXTS: &[&str] = &[
    "Hi, I saw your ad for the 3BHK in Baner",
    "What is the price? My budget is around 1.2 crore",
    "Is there an EMI or payment plan?",
    "Can we visit this Saturday morning? Please call me after 6 pm today",
    "I need this urgently, please call me back",
];

/// One message of the workload and when to send it, from the start of the run.
#[derive(Debug, Clone)]
pub struct Planned {
    pub wamid: String,
    pub wa_id: String,
    pub name: String,
    pub text: &'static str,
    pub at: Duration,
    /// Which of its customer's messages this is (0 for the first): a mixed workload alternates vendors by it.
    pub index: usize,
}

/// `messages` spread over `customers`, each customer one burst starting at a random moment within `spread`,
/// its messages 10% to 50% of the quiet period apart (so a burst is one handoff, as in real chats).
pub fn bursts(
    tag: &str,
    messages: usize,
    customers: usize,
    spread: Duration,
    quiet: Duration,
    seed: u64,
) -> Vec<Planned> {
    let customers = customers.clamp(1, messages.max(1));
    let mut rng = StdRng::seed_from_u64(seed);
    let mut plan = Vec::with_capacity(messages);
    for customer in 0..customers {
        let count = messages / customers + usize::from(customer < messages % customers);
        let mut at = if spread.is_zero() { Duration::ZERO } else { spread.mul_f64(rng.random::<f64>()) };
        for i in 0..count {
            if i > 0 && !quiet.is_zero() {
                at += quiet.mul_f64(rng.random_range(0.1..0.5));
            }
            plan.push(Planned {
                wamid: format!("wamid.{tag}.{customer}.{i}"),
                wa_id: customer_phone(customer),
                name: format!("Customer {customer}"),
                text: TEXTS[(customer + i) % TEXTS.len()],
                at,
                index: i,
            });
        }
    }
    plan.sort_by_key(|p| p.at);
    plan
}

/// `count` messages at a fixed rate, round-robin over `customers`.
pub fn fixed_rate(tag: &str, count: usize, customers: usize, rate: f64) -> Vec<Planned> {
    let customers = customers.max(1);
    (0..count)
        .map(|n| Planned {
            wamid: format!("wamid.{tag}.{n}"),
            wa_id: customer_phone(n % customers),
            name: format!("Customer {}", n % customers),
            text: TEXTS[n % TEXTS.len()],
            at: Duration::from_secs_f64(n as f64 / rate),
            index: n / customers,
        })
        .collect()
}

/// An Indian mobile, distinct per customer: WhatsApp's `wa_id` of the mock CRM's `customer`-th seeded contact
/// (see [`handoffd_mocks::seed_contact_phone`]), so a run can start with some customers already in the CRM.
pub fn customer_phone(customer: usize) -> String {
    format!("9197{:08}", customer + 1)
}

/// What a load run saw.
#[derive(Debug, Default)]
pub struct LoadResult {
    pub sent: usize,
    /// Acknowledged messages by wamid.
    pub acked: HashMap<String, Acked>,
    pub ack_latency: Samples,
    /// First send to last acknowledgement.
    pub elapsed: Duration,
    /// Attempts that failed (connection refused while the daemon was down, non-2xx) and were re-sent.
    pub retries: u64,
}

impl LoadResult {
    pub fn per_second(&self) -> f64 {
        let secs = self.elapsed.as_secs_f64();
        if secs > 0.0 { self.acked.len() as f64 / secs } else { 0.0 }
    }
}

/// An acknowledged message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Acked {
    /// When the acknowledgement arrived.
    pub at: DateTime<Utc>,
    /// Whose message it was (WhatsApp's `wa_id`, the customer's phone without `+`).
    pub wa_id: String,
}

/// Where and how to send.
#[derive(Debug, Clone)]
pub struct Target {
    /// `http://host:port/webhooks` of each instance: the connector id follows. Messages are spread over them in
    /// turn, as a load balancer would, and a message re-sent goes to the next (so a killed instance is avoided).
    pub webhooks: Vec<String>,
    /// The one secret the bench config gives every vendor (Meta's app secret, Vapi's HMAC key,
    /// Retell's API key).
    pub app_secret: String,
    pub vendor: crate::Vendor,
}

/// How latency is measured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Clock {
    /// From the moment the request is sent (closed loop: a flood).
    FromSend,
    /// From the moment the message was scheduled (open loop at a fixed rate: waiting for a free connection counts,
    /// so a daemon that falls behind shows it).
    FromSchedule,
}

/// Sends every planned message at its time, at most `concurrency` at once, re-sending until acknowledged.
pub async fn play(target: &Target, plan: Vec<Planned>, concurrency: usize, clock: Clock) -> LoadResult {
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(concurrency.max(1))
        .timeout(Duration::from_secs(30))
        .build()
        .expect("a plain HTTP client builds");
    let permits = Arc::new(Semaphore::new(concurrency.max(1)));
    let shared = Arc::new(Mutex::new(LoadResult { sent: plan.len(), ..LoadResult::default() }));
    let start = Instant::now();
    let mut handles = Vec::with_capacity(plan.len());
    for (number, planned) in plan.into_iter().enumerate() {
        let (client, permits, shared, target) = (client.clone(), permits.clone(), shared.clone(), target.clone());
        handles.push(tokio::spawn(async move {
            let scheduled = start + planned.at;
            tokio::time::sleep_until(scheduled).await;
            let _permit = permits.acquire_owned().await.expect("the semaphore is never closed");
            let (latency, retries) = send_until_acked(&client, &target, number, &planned, scheduled, clock).await;
            let mut result = shared.lock().expect("no panics while holding the lock");
            result.retries += retries;
            if let Some(latency) = latency {
                result.ack_latency.push(latency);
                result.acked.insert(planned.wamid, Acked { at: Utc::now(), wa_id: planned.wa_id });
            }
        }));
    }
    for handle in handles {
        let _ = handle.await;
    }
    let mut result = std::mem::take(&mut *shared.lock().expect("no panics while holding the lock"));
    result.elapsed = start.elapsed();
    result
}

async fn send_until_acked(
    client: &reqwest::Client,
    target: &Target,
    number: usize,
    planned: &Planned,
    scheduled: Instant,
    clock: Clock,
) -> (Option<Duration>, u64) {
    let mut retries = 0;
    let deadline = Instant::now() + GIVE_UP_AFTER;
    loop {
        let vendor = target.vendor.for_message(planned.index);
        let (body, headers) = signed_webhook(vendor, &target.app_secret, planned);
        let sent_at = Instant::now();
        let instance = &target.webhooks[(number + retries as usize) % target.webhooks.len()];
        let url = format!("{instance}/{}", vendor.connector_id());
        let mut request = client.post(&url).header("content-type", "application/json");
        for (name, value) in headers {
            request = request.header(name, value);
        }
        let outcome = request.body(body).send().await;
        if let Ok(response) = outcome
            && response.status().is_success()
        {
            let from = if clock == Clock::FromSchedule && retries == 0 { scheduled } else { sent_at };
            return (Some(from.elapsed()), retries);
        }
        retries += 1;
        if Instant::now() > deadline {
            return (None, retries);
        }
        tokio::time::sleep(Duration::from_millis((50 * retries).min(1000))).await;
    }
}

/// The vendor's body for `planned` and the headers that sign it, as the vendor would send them.
fn signed_webhook(vendor: crate::Vendor, secret: &str, planned: &Planned) -> (String, Vec<(&'static str, String)>) {
    match vendor {
        crate::Vendor::Whatsapp | crate::Vendor::Mixed => {
            let body = webhook_body(planned);
            let signature = handoffd_whatsapp_cloud::sign(secret, body.as_bytes());
            (body, vec![("X-Hub-Signature-256", signature)])
        }
        crate::Vendor::Vapi => {
            let body = vapi_report(planned);
            let plan: handoffd_vapi::HmacPlan =
                serde_json::from_value(serde_json::json!({"secretKey": secret, "algorithm": "sha256"}))
                    .expect("a valid plan");
            let timestamp = Utc::now().timestamp().to_string();
            let signature = handoffd_vapi::auth::sign(&plan, body.as_bytes(), &timestamp);
            (body, vec![("x-signature", signature), ("x-timestamp", timestamp)])
        }
        crate::Vendor::Retell => {
            let body = retell_event(planned);
            let signature = handoffd_retell::sign(secret, body.as_bytes(), Utc::now().timestamp_millis());
            (body, vec![("x-retell-signature", signature)])
        }
    }
}

fn vapi_report(planned: &Planned) -> String {
    let now = Utc::now();
    serde_json::json!({"message": {"type": "end-of-call-report", "endedReason": "customer-ended-call",
        "startedAt": (now - chrono::TimeDelta::seconds(60)).to_rfc3339(), "endedAt": now.to_rfc3339(),
        "customer": {"number": format!("+{}", planned.wa_id), "name": planned.name},
        "call": {"id": planned.wamid, "type": "inboundPhoneCall"},
        "artifact": {"messages": [
            {"role": "bot", "message": "Thanks for calling, how can I help?", "secondsFromStart": 1.0},
            {"role": "user", "message": planned.text, "secondsFromStart": 4.0}]},
        "analysis": {"summary": planned.text}}})
    .to_string()
}

fn retell_event(planned: &Planned) -> String {
    let now = Utc::now().timestamp_millis();
    serde_json::json!({"event": "call_ended", "call": {"call_id": planned.wamid, "call_type": "phone_call",
        "direction": "inbound", "from_number": format!("+{}", planned.wa_id), "to_number": "+14155550100",
        "call_status": "ended", "start_timestamp": now - 60_000, "end_timestamp": now,
        "disconnection_reason": "user_hangup",
        "transcript_object": [{"role": "agent", "content": "Thanks for calling, how can I help?"},
            {"role": "user", "content": planned.text}]}})
    .to_string()
}

fn webhook_body(planned: &Planned) -> String {
    serde_json::json!({"object": "whatsapp_business_account", "entry": [{"id": "102290129340398", "changes": [{
        "field": "messages",
        "value": {"messaging_product": "whatsapp",
            "metadata": {"display_phone_number": "15550783881", "phone_number_id": "106540352242922"},
            "contacts": [{"profile": {"name": planned.name}, "wa_id": planned.wa_id}],
            "messages": [{"from": planned.wa_id, "id": planned.wamid, "timestamp": Utc::now().timestamp().to_string(),
                "type": "text", "text": {"body": planned.text}}]}}]}]})
    .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bursts_cover_every_message_once_and_keep_gaps_inside_the_quiet_period() {
        let quiet = Duration::from_secs(1);
        let plan = bursts("t", 1000, 200, Duration::from_secs(10), quiet, 7);
        assert_eq!(plan.len(), 1000);
        let wamids: std::collections::HashSet<_> = plan.iter().map(|p| p.wamid.clone()).collect();
        assert_eq!(wamids.len(), 1000);
        let mut by_customer: HashMap<&str, Vec<Duration>> = HashMap::new();
        for p in &plan {
            by_customer.entry(&p.wa_id).or_default().push(p.at);
        }
        assert_eq!(by_customer.len(), 200);
        for times in by_customer.values() {
            assert_eq!(times.len(), 5);
            assert!(times.windows(2).all(|w| w[1] - w[0] < quiet), "{times:?}");
        }
    }
}
