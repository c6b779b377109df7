//! `handoffd reload`: ask the running daemon (its admin API on `admin.listen`) to reload its
//! configuration, and print what it said: the keys that wait for a restart, or every problem.

use std::process::ExitCode;

use anyhow::Context;

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub config: super::ConfigArg,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let loaded = crate::config::load(&args.config.config)?;
    let admin = &loaded.config.admin;
    let runtime = super::CommandRuntime::new()?;
    runtime.block_on(async {
        let mut request = reqwest::Client::new().post(format!("http://{}/admin/reload", admin.listen));
        if let Some(token) = &admin.token {
            request = request.bearer_auth(token);
        }
        let answer = request.send().await.with_context(|| {
            format!(
                "handoffd does not answer on admin.listen `{}`: is it running with this configuration?",
                admin.listen
            )
        })?;
        let status = answer.status();
        let body: serde_json::Value = answer.json().await.unwrap_or_default();
        let lines = |key: &str| -> Vec<String> {
            body[key].as_array().into_iter().flatten().filter_map(|v| v.as_str().map(str::to_owned)).collect()
        };
        match status.as_u16() {
            200 => {
                println!("Reloaded `{}`.", loaded.path.display());
                let later = lines("needs_restart");
                if !later.is_empty() {
                    println!("These take effect at the next restart: {}", later.join(", "));
                }
                Ok(ExitCode::SUCCESS)
            }
            422 => {
                eprintln!("Refused; the running configuration stays:");
                for problem in lines("problems") {
                    eprintln!("{problem}");
                }
                Ok(ExitCode::FAILURE)
            }
            401 => anyhow::bail!("the daemon refused admin.token"),
            other => anyhow::bail!("the daemon answered {other}"),
        }
    })
}
