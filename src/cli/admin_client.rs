//! How the admin verbs reach their data: the running daemon's admin API on `admin.listen` (with
//! `admin.token`), or the store itself when no daemon answers there. Each verb says on stderr
//! which one it used, so an admin knows whether a change went through the daemon.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use serde::de::DeserializeOwned;

use super::{ConfigArg, store_from_config};
use crate::store::Store;

/// Where an admin verb's answers come from.
pub enum Via {
    Daemon(AdminClient),
    Store(Arc<dyn Store>),
}

/// The running daemon's admin API.
pub struct AdminClient {
    http: reqwest::Client,
    base: String,
    token: Option<String>,
}

/// The daemon when one answers on `admin.listen`, else the store.
pub async fn connect(arg: &ConfigArg) -> anyhow::Result<Via> {
    let loaded = crate::config::load(&arg.config)?;
    let client = AdminClient::for_config(&loaded.config.admin)?;
    match client.probe().await? {
        true => {
            eprintln!("Using the running daemon's admin API on `{}`.", loaded.config.admin.listen);
            Ok(Via::Daemon(client))
        }
        false => {
            eprintln!(
                "handoffd is not running on admin.listen `{}`: using the store directly.",
                loaded.config.admin.listen
            );
            Ok(Via::Store(store_from_config(arg).await?))
        }
    }
}

/// The running daemon, for what only it holds (pauses, polls): an error when none answers.
pub async fn daemon(arg: &ConfigArg) -> anyhow::Result<AdminClient> {
    let loaded = crate::config::load(&arg.config)?;
    let client = AdminClient::for_config(&loaded.config.admin)?;
    if !client.probe().await? {
        anyhow::bail!(
            "handoffd is not running on admin.listen `{}` (from `{}`): this needs the running daemon",
            loaded.config.admin.listen,
            arg.config.display()
        );
    }
    eprintln!("Using the running daemon's admin API on `{}`.", loaded.config.admin.listen);
    Ok(client)
}

impl AdminClient {
    fn for_config(admin: &crate::config::schema::AdminConfig) -> anyhow::Result<Self> {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(2))
            .timeout(Duration::from_secs(60))
            .build()
            .context("building the HTTP client")?;
        Ok(Self { http, base: format!("http://{}", admin.listen), token: admin.token.clone() })
    }

    /// `true` when a daemon answers; `false` when nothing listens; an error for a daemon that
    /// refuses us (a wrong token is not a reason to go around it to the store).
    async fn probe(&self) -> anyhow::Result<bool> {
        match self.request(reqwest::Method::GET, "/admin/config").send().await {
            Ok(answer) if answer.status() == reqwest::StatusCode::UNAUTHORIZED => anyhow::bail!(
                "the daemon on `{}` refused admin.token (401): is this the configuration it runs with?",
                self.base
            ),
            Ok(_) => Ok(true),
            Err(error) if error.is_connect() || error.is_timeout() => Ok(false),
            Err(error) => Err(error).context(format!("asking the daemon on `{}`", self.base)),
        }
    }

    fn request(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        let request = self.http.request(method, format!("{}{path}", self.base));
        match &self.token {
            Some(token) => request.bearer_auth(token),
            None => request,
        }
    }

    /// Send, and turn an answer other than 2xx into an error with the daemon's own words.
    pub async fn send(&self, method: reqwest::Method, path: &str) -> anyhow::Result<reqwest::Response> {
        let answer = self
            .request(method.clone(), path)
            .send()
            .await
            .with_context(|| format!("{method} {path} on the daemon's admin API"))?;
        if answer.status().is_success() {
            return Ok(answer);
        }
        let status = answer.status();
        let text = answer.text().await.unwrap_or_default();
        anyhow::bail!("{text} (the daemon answered {status} to {method} {path})")
    }

    pub async fn get<T: DeserializeOwned>(&self, path: &str) -> anyhow::Result<T> {
        self.send(reqwest::Method::GET, path).await?.json().await.with_context(|| format!("the answer to GET {path}"))
    }

    /// [`AdminClient::get`], with `None` for a 404 (what was asked for does not exist).
    pub async fn get_optional<T: DeserializeOwned>(&self, path: &str) -> anyhow::Result<Option<T>> {
        let answer = self
            .request(reqwest::Method::GET, path)
            .send()
            .await
            .with_context(|| format!("GET {path} on the daemon's admin API"))?;
        if answer.status() == reqwest::StatusCode::NOT_FOUND {
            return Ok(None);
        }
        if !answer.status().is_success() {
            let status = answer.status();
            anyhow::bail!("{} (the daemon answered {status} to GET {path})", answer.text().await.unwrap_or_default());
        }
        Ok(Some(answer.json().await.with_context(|| format!("the answer to GET {path}"))?))
    }

    /// POST a JSON body, and read the JSON answer (an answer other than 2xx is an error).
    pub async fn post_body<T: DeserializeOwned>(&self, path: &str, body: Vec<u8>) -> anyhow::Result<T> {
        let answer = self
            .request(reqwest::Method::POST, path)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body)
            .send()
            .await
            .with_context(|| format!("POST {path} on the daemon's admin API"))?;
        if !answer.status().is_success() {
            let status = answer.status();
            anyhow::bail!("{} (the daemon answered {status} to POST {path})", answer.text().await.unwrap_or_default());
        }
        answer.json().await.with_context(|| format!("the answer to POST {path}"))
    }

    pub async fn post<T: DeserializeOwned>(&self, path: &str) -> anyhow::Result<T> {
        self.send(reqwest::Method::POST, path).await?.json().await.with_context(|| format!("the answer to POST {path}"))
    }
}

/// A path segment as typed by a user (a phone's `+`, an email's `@`), escaped for a URL.
pub fn segment(text: &str) -> String {
    url::form_urlencoded::byte_serialize(text.as_bytes()).collect::<String>().replace('+', "%20")
}
