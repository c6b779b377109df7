//! `handoffd replay`: run stored raw events through the pipeline again (after a connector fix,
//! for quarantined bodies, or to rebuild what they produced; what was already produced is not
//! duplicated), with progress until the daemon has processed them.
//!
//! With the daemon running, the events are queued through its admin API (its normaliser takes
//! them at once); without it, in the store, for the next start.

use std::io::IsTerminal;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;

use super::store_from_config;
use crate::http::admin::ReplayRequest;

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub config: super::ConfigArg,
    /// Only events received in the last DURATION (`2h`, `7d`) or since an RFC 3339 time.
    #[arg(long)]
    pub since: Option<String>,
    /// Only events received before this RFC 3339 time.
    #[arg(long)]
    pub until: Option<String>,
    /// Only this connector's events.
    #[arg(long)]
    pub connector: Option<String>,
    /// Only the events that were quarantined (signed bodies that could not be parsed).
    #[arg(long)]
    pub quarantined: bool,
    /// Queue them and return, without waiting for the daemon to process them.
    #[arg(long)]
    pub no_wait: bool,
}

pub(super) fn instant(text: &str, now: chrono::DateTime<chrono::Utc>) -> anyhow::Result<chrono::DateTime<chrono::Utc>> {
    if let Ok(at) = chrono::DateTime::parse_from_rfc3339(text) {
        return Ok(at.with_timezone(&chrono::Utc));
    }
    let ago = humantime::parse_duration(text)
        .with_context(|| format!("`{text}` is neither a duration like `2h` nor an RFC 3339 time"))?;
    Ok(now - chrono::Duration::from_std(ago)?)
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let loaded = crate::config::load(&args.config.config)?;
    let now = chrono::Utc::now();
    let request = ReplayRequest {
        since: args.since.as_deref().map(|t| instant(t, now)).transpose()?,
        until: args.until.as_deref().map(|t| instant(t, now)).transpose()?,
        connector: args.connector.clone(),
        quarantined_only: args.quarantined,
    };
    let runtime = super::CommandRuntime::new()?;
    runtime.block_on(async {
        let admin = &loaded.config.admin;
        let mut post = reqwest::Client::new().post(format!("http://{}/admin/replay", admin.listen)).json(&request);
        if let Some(token) = &admin.token {
            post = post.bearer_auth(token);
        }
        let store = store_from_config(&args.config).await?;
        let (queued, daemon_running) = match post.send().await {
            Ok(answer) if answer.status().is_success() => {
                let body: serde_json::Value = answer.json().await.context("the daemon's answer")?;
                (body["queued"].as_u64().unwrap_or(0), true)
            }
            Ok(answer) => anyhow::bail!(
                "the daemon refused the replay ({}): {}",
                answer.status(),
                answer.text().await.unwrap_or_default()
            ),
            Err(_) => {
                println!(
                    "handoffd is not running on admin.listen `{}`: queuing in the store for its next start.",
                    admin.listen
                );
                (store.requeue_inbox(&request.selection()).await?, false)
            }
        };
        println!("Queued {queued} stored events.");
        if !daemon_running || args.no_wait || queued == 0 {
            return Ok(ExitCode::SUCCESS);
        }
        wait_processed(store.as_ref(), queued).await
    })
}

/// Until nothing is left unprocessed: a progress bar on a terminal, a line every few seconds otherwise.
async fn wait_processed(store: &dyn crate::store::Store, queued: u64) -> anyhow::Result<ExitCode> {
    let bar = std::io::stderr().is_terminal().then(|| {
        let bar = indicatif::ProgressBar::new(queued);
        bar.set_style(
            indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} events replayed ({per_sec}, {eta} left)")
                .expect("a valid template"),
        );
        bar
    });
    let mut last_line = std::time::Instant::now();
    loop {
        let left = (store.stage_counts().await?.inbox_unprocessed.max(0) as u64).min(queued);
        let done = queued - left;
        match &bar {
            Some(bar) => bar.set_position(done),
            None if last_line.elapsed() >= Duration::from_secs(5) || left == 0 => {
                eprintln!("replay: {done}/{queued} events processed");
                last_line = std::time::Instant::now();
            }
            None => {}
        }
        if left == 0 {
            if let Some(bar) = bar {
                bar.finish();
            }
            return Ok(ExitCode::SUCCESS);
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}
