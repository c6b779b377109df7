//! What the Graph API send proxy adds to a send: the same sends at a fixed rate straight to a
//! local mock Graph API and through handoffd's proxy, latency percentiles of both.
//!
//! `cargo bench --bench proxy` (env: PROXY_BENCH_RATE, default 500/s; PROXY_BENCH_SENDS, 5000).

use std::time::{Duration, Instant};

use handoffd_mocks::{MockCrm, MockOptions};

fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

async fn run(client: &reqwest::Client, url: &str, rate: u64, sends: u64) -> Vec<Duration> {
    let body = serde_json::json!({"messaging_product": "whatsapp", "to": "919820012345", "type": "text",
        "text": {"body": "Our team will call you Saturday morning."}})
    .to_string();
    let interval = Duration::from_secs_f64(1.0 / rate as f64);
    let start = Instant::now();
    let mut tasks = Vec::with_capacity(sends as usize);
    for i in 0..sends {
        let due = start + interval * i as u32;
        tokio::time::sleep_until(due.into()).await;
        let (client, url, body) = (client.clone(), url.to_owned(), body.clone());
        tasks.push(tokio::spawn(async move {
            let sent = Instant::now();
            let answer = client
                .post(url)
                .bearer_auth("bot-token")
                .header("content-type", "application/json")
                .body(body)
                .send()
                .await;
            let ok = answer.map(|a| a.status().is_success()).unwrap_or(false);
            (sent.elapsed(), ok)
        }));
    }
    let mut latencies = Vec::new();
    for task in tasks {
        let (latency, ok) = task.await.expect("send task");
        assert!(ok, "a send failed");
        latencies.push(latency);
    }
    latencies.sort();
    latencies
}

fn pct(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

#[tokio::main]
async fn main() {
    let (rate, sends) = (env_or("PROXY_BENCH_RATE", 500), env_or("PROXY_BENCH_SENDS", 5000));
    let mock =
        MockCrm::start(MockOptions::default(), tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap()).await;
    let state = std::env::temp_dir().join(format!("handoffd-proxy-bench-{}", std::process::id()));
    std::fs::create_dir_all(&state).unwrap();
    let graph = mock.graph_base_url();
    let hubspot = mock.base_url();
    let env = move |name: &str| match name {
        "WHATSAPP_BASE_URL" => Some(graph.clone()),
        "HUBSPOT_BASE_URL" => Some(hubspot.clone()),
        _ => None,
    };
    let config = concat!(env!("CARGO_MANIFEST_DIR"), "/config/example.yaml");
    let mut loaded = handoffd::config::load_with_env(std::path::Path::new(config), &env).expect("example config");
    loaded.config.store.url = format!("sqlite://{}/bench.db", state.display());
    loaded.config.server.listen = "127.0.0.1:0".into();
    loaded.config.admin.listen = "127.0.0.1:0".into();
    let daemon = handoffd::daemon::start(&loaded).await.expect("daemon");

    let client = reqwest::Client::builder().pool_max_idle_per_host(256).build().unwrap();
    let path = "/v23.0/106540352242922/messages";
    let direct_url = format!("{}{path}", mock.graph_base_url());
    let proxy_url = format!("http://{}/graph{path}", daemon.addr);
    run(&client, &proxy_url, rate, sends.min(500)).await; // warm up both paths
    let direct = run(&client, &direct_url, rate, sends).await;
    let proxied = run(&client, &proxy_url, rate, sends).await;

    println!("{sends} sends at {rate}/s (debug or release as built; 2-core machine shared with the daemon and mock)");
    println!("{:<10} {:>10} {:>10} {:>10}", "path", "p50", "p99", "max");
    for (name, l) in [("direct", &direct), ("proxy", &proxied)] {
        println!("{name:<10} {:>10.2?} {:>10.2?} {:>10.2?}", pct(l, 0.5), pct(l, 0.99), l[l.len() - 1]);
    }
    let added = pct(&proxied, 0.99).saturating_sub(pct(&direct, 0.99));
    println!("added at p99: {added:.2?}");
    daemon.shutdown().await.unwrap();
    let _ = std::fs::remove_dir_all(&state);
}
