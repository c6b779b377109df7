//! `handoffd audit --customer KEY`: a customer's whole timeline (interactions on every channel,
//! handoffs, audit events) in time order.

use std::process::ExitCode;

use anyhow::Context;
use handoffd_contract::identity::IdentityKey;

use super::store_from_config;

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub config: super::ConfigArg,
    /// The customer: a phone (`+919820012345`, `09820012345` with `--region IN`), an email,
    /// a match key (`vendor:whatsapp:9198...`) or the store's customer id.
    #[arg(long)]
    pub customer: String,
    /// Region for a phone written without a country code.
    #[arg(long)]
    pub region: Option<String>,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let runtime = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    runtime.block_on(async {
        let store = store_from_config(&args.config).await?;
        let Some(customer_id) = find_customer(store.as_ref(), &args.customer, args.region.as_deref()).await? else {
            eprintln!("No customer is known by `{}`.", args.customer);
            return Ok(ExitCode::FAILURE);
        };
        let timeline = store.customer_timeline(&customer_id).await?;
        if args.json {
            println!("{}", serde_json::to_string_pretty(&timeline)?);
            return Ok(ExitCode::SUCCESS);
        }
        println!(
            "customer {}{}",
            timeline.customer_id,
            timeline.display_name.map(|n| format!(" ({n})")).unwrap_or_default()
        );
        if let Some(survivor) = &timeline.merged_into {
            println!("merged into {survivor}: its timeline continues there");
        }
        let keys: Vec<&str> = timeline.keys.iter().map(|(k, _)| k.as_str()).collect();
        println!("keys: {}", keys.join(", "));
        for event in &timeline.events {
            println!(
                "{}\t{:<11}\t{:<18}\t{}",
                event.at.format("%Y-%m-%d %H:%M:%S"),
                event.source,
                event.label,
                event.summary
            );
        }
        Ok(ExitCode::SUCCESS)
    })
}

/// The customer a key names: its match keys, tried in turn, then a customer id as given.
async fn find_customer(
    store: &dyn crate::store::Store,
    given: &str,
    region: Option<&str>,
) -> anyhow::Result<Option<String>> {
    let given = given.trim();
    let key = if given.contains(':') && !given.starts_with('+') {
        None
    } else if given.contains('@') {
        Some(IdentityKey::email(given))
    } else {
        Some(IdentityKey::phone(given))
    };
    let candidates: Vec<String> = match &key {
        Some(key) => crate::ingest::match_keys(key, region).into_iter().map(|(k, _)| k).collect(),
        None => vec![given.to_owned()],
    };
    for candidate in &candidates {
        if let Some(customer) = store.customer_for_key(candidate).await? {
            return Ok(Some(customer));
        }
    }
    // A customer id (a UUID) as `identity conflicts` prints it.
    match store.customer_timeline(given).await {
        Ok(_) => Ok(Some(given.to_owned())),
        Err(crate::store::StoreError::NotFound(_)) => Ok(None),
        Err(error) => Err(error.into()),
    }
}
