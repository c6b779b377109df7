//! `handoffd demo`: the whole pipeline on a laptop with no vendor account. Starts the bundled
//! mock CRM and the daemon (example configuration, a throw-away database), sends three sample
//! WhatsApp conversations as signed webhooks, and shows the tasks that were written.

use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use serde_json::json;

use crate::config::duration::ConfigDuration;
use crate::config::process_env;
use crate::registry::DemoWebhooks;
use handoffd_mocks::{MockCrm, MockOptions};

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub config: super::ConfigArg,
    /// Quiet period for the demo (the example's 90 s would make you wait).
    #[arg(long, default_value = "2s")]
    pub quiet_period: humantime::Duration,
}

/// (WhatsApp id, profile name, messages).
const CONVERSATIONS: &[(&str, &str, &[&str])] = &[
    (
        "919820012345",
        "Rahul Mehta",
        &[
            "Hi, I saw your ad for the 3BHK in Baner",
            "What is the price? My budget is around 1.2 crore",
            "Is there an EMI or payment plan?",
            "Can we visit this Saturday morning? Please call me after 6 pm today",
        ],
    ),
    (
        "5511987654321",
        "Camila Souza",
        &["Oi! Meu ar-condicionado parou de novo, é a segunda vez", "Quero falar com um supervisor amanhã de manhã"],
    ),
    ("14155550123", "Jordan Lee", &["just browsing for now, maybe in a few months", "no calls please, email is fine"]),
];

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    crate::telemetry::init();
    let runtime = super::CommandRuntime::new()?;
    runtime.block_on(demo(args))
}

async fn demo(args: Args) -> anyhow::Result<ExitCode> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let mock = MockCrm::start(MockOptions::default(), listener).await;
    println!("Mock CRM (HubSpot endpoints) on {}", mock.base_url());

    let (hubspot_url, graph_url) = (mock.base_url(), mock.graph_base_url());
    let env = move |name: &str| match name {
        "HUBSPOT_BASE_URL" => Some(hubspot_url.clone()),
        "WHATSAPP_BASE_URL" => Some(graph_url.clone()),
        other => process_env(other),
    };
    let mut loaded = crate::config::load_with_env(&args.config.config, &env)?;
    let state = tempfile_dir()?;
    loaded.config.store.url = format!("sqlite://{}", state.join("demo.db").display());
    loaded.config.server.listen = "127.0.0.1:0".to_owned();
    loaded.config.conversation.quiet_period = ConfigDuration(*args.quiet_period);
    let webhooks = DemoWebhooks::find(&loaded.config.connectors)
        .context("the configuration has no whatsapp_cloud connector to send the demo through")?;
    let connector_id = webhooks.connector_id.clone();

    let daemon = crate::daemon::start(&loaded).await?;
    println!("handoffd on http://{} (database {})", daemon.addr, state.display());
    let client = reqwest::Client::new();
    let mut sent = 0;
    for (n, (wa_id, name, messages)) in CONVERSATIONS.iter().enumerate() {
        for (i, text) in messages.iter().enumerate() {
            let body = whatsapp_text(&format!("wamid.DEMO{n}x{i}"), wa_id, name, text);
            let status = client
                .post(format!("http://{}/webhooks/{connector_id}", daemon.addr))
                .header("content-type", "application/json")
                .header(webhooks.signature_header(), webhooks.signature(body.as_bytes()))
                .body(body)
                .send()
                .await?
                .status();
            anyhow::ensure!(status.is_success(), "the daemon answered {status} to a demo webhook");
            sent += 1;
        }
        println!("Sent {} WhatsApp messages from {name} (+{wa_id}).", messages.len());
    }

    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while mock.tasks().len() < CONVERSATIONS.len() && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    daemon.shutdown().await?;
    let tasks = mock.tasks();
    println!("\n{sent} messages became {} CRM tasks:\n", tasks.len());
    for task in &tasks {
        let p = &task.properties;
        let get = |k: &str| p.get(k).map(String::as_str).unwrap_or("-");
        println!("== {}", get("hs_task_subject"));
        println!(
            "   owner {}  priority {}  due {}  contact {}",
            get("hubspot_owner_id"),
            get("hs_task_priority"),
            get("hs_timestamp"),
            task.associations.first().map(|a| a.to_id.as_str()).unwrap_or("-")
        );
        for line in html_to_lines(get("hs_task_body")) {
            println!("   {line}");
        }
        println!();
    }
    mock.shutdown().await;
    let _ = std::fs::remove_dir_all(&state);
    Ok(if tasks.len() == CONVERSATIONS.len() { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}

fn whatsapp_text(wamid: &str, wa_id: &str, name: &str, text: &str) -> String {
    json!({"object": "whatsapp_business_account", "entry": [{"id": "102290129340398", "changes": [{"field": "messages",
        "value": {"messaging_product": "whatsapp",
            "metadata": {"display_phone_number": "15550783881", "phone_number_id": "106540352242922"},
            "contacts": [{"profile": {"name": name}, "wa_id": wa_id}],
            "messages": [{"from": wa_id, "id": wamid, "timestamp": chrono::Utc::now().timestamp().to_string(),
                "type": "text", "text": {"body": text}}]}}]}]})
    .to_string()
}

/// The HTML task body as the plain lines a rep reads.
fn html_to_lines(html: &str) -> Vec<String> {
    html.split("</p>")
        .map(|p| {
            let mut text = String::new();
            let mut in_tag = false;
            for c in p.chars() {
                match c {
                    '<' => in_tag = true,
                    '>' => in_tag = false,
                    _ if !in_tag => text.push(c),
                    _ => {}
                }
            }
            text.replace("&quot;", "\"")
                .replace("&#39;", "'")
                .replace("&lt;", "<")
                .replace("&gt;", ">")
                .replace("&amp;", "&")
        })
        .filter(|line| !line.trim().is_empty())
        .collect()
}

fn tempfile_dir() -> anyhow::Result<std::path::PathBuf> {
    let dir = std::env::temp_dir().join(format!("handoffd-demo-{}", std::process::id()));
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create `{}`", dir.display()))?;
    Ok(dir)
}
