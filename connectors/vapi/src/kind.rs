//! `kind: vapi` as the daemon's registry sees it: the config block, its pure validation, and
//! the parts it builds (a webhook source, and a poller when `api_key` is set).

use std::sync::Arc;

use base64::Engine;
use handoffd_contract::kind::{BuildContext, BuildError, Builds, Built, ConfigProblem, ConnectorKind};
use handoffd_contract::poll::PollSettings;

use crate::Vapi;
use crate::config::{AuthenticationPlan, VapiConfig};
use crate::poll::VapiPoller;

/// The `vapi` connector kind.
#[derive(Debug)]
pub struct VapiKind;

impl ConnectorKind for VapiKind {
    const NAME: &'static str = "vapi";
    const BUILDS: Builds =
        Builds { webhook_source: true, poll_source: true, crm: false, messenger: false, routes: false };
    type Config = VapiConfig;

    fn id(config: &VapiConfig) -> &str {
        &config.id
    }

    fn default_region(config: &VapiConfig) -> Option<&str> {
        config.default_region.as_deref()
    }

    fn validate(config: &VapiConfig) -> Vec<ConfigProblem> {
        validate(config)
    }

    fn build(config: &VapiConfig, context: &BuildContext) -> Result<Built, BuildError> {
        let source = Vapi::new(config).ok_or_else(|| BuildError {
            id: config.id.clone(),
            message: "needs `authentication_plan` or `secret`".to_owned(),
        })?;
        let poll_source = config.api_key.as_ref().map(|api_key| {
            let settings = config.poll.clone().unwrap_or_default();
            Arc::new(VapiPoller {
                id: config.id.clone(),
                base_url: config.base_url.clone(),
                api_key: api_key.clone(),
                schedule: settings.schedule.clone(),
                look_back: settings.look_back(),
                settle: settings.settle(),
                http: context.http.clone(),
                now: chrono::Utc::now,
            }) as Arc<dyn handoffd_contract::poll::PollSource>
        });
        Ok(Built { webhook_source: Some(Arc::new(source)), poll_source, ..Built::default() })
    }
}

/// Every problem in a `vapi` block. Pure: nothing is looked up.
pub fn validate(config: &VapiConfig) -> Vec<ConfigProblem> {
    let mut problems = Vec::new();
    match (&config.authentication_plan, &config.secret) {
        (None, None) => problems.push(ConfigProblem::block(
            "needs `authentication_plan` (the credential Vapi calls the server URL with) or `secret` (the legacy X-Vapi-Secret)",
        )),
        (Some(_), Some(_)) => problems.push(ConfigProblem::at(
            "secret",
            "give `authentication_plan` or `secret`, not both: Vapi sends one credential",
        )),
        (None, Some(secret)) if secret.trim().is_empty() => problems.push(ConfigProblem::at("secret", "must not be empty")),
        _ => {}
    }
    match &config.authentication_plan {
        Some(AuthenticationPlan::Hmac(plan)) => {
            let key = "authentication_plan";
            if plan.secret_key.trim().is_empty() {
                problems.push(ConfigProblem::at(format!("{key}.secretKey"), "must not be empty"));
            } else if plan.secret_is_base64
                && base64::engine::general_purpose::STANDARD.decode(plan.secret_key.trim()).is_err()
            {
                problems
                    .push(ConfigProblem::at(format!("{key}.secretKey"), "is not base64, but `secretIsBase64` is true"));
            }
            for (name, value) in
                [("signatureHeader", &plan.signature_header), ("timestampHeader", &plan.timestamp_header)]
            {
                if http::HeaderName::from_bytes(value.as_bytes()).is_err() {
                    problems
                        .push(ConfigProblem::at(format!("{key}.{name}"), format!("`{value}` is not a header name")));
                }
            }
            if let Some(format) = &plan.payload_format {
                if format.contains("{url}") {
                    problems.push(ConfigProblem::at(
                        format!("{key}.payloadFormat"),
                        "`{url}` cannot be checked: the URL Vapi called is not the one handoffd sees behind a proxy; sign `{timestamp}.{body}`",
                    ));
                }
                if !format.contains("{body}") {
                    problems.push(ConfigProblem::at(format!("{key}.payloadFormat"), "must sign the `{body}`"));
                }
                if format.contains("{svix-id}") && plan.message_id_header.is_none() {
                    problems.push(ConfigProblem::at(format!("{key}.messageIdHeader"), "is needed for `{svix-id}`"));
                }
            }
        }
        Some(AuthenticationPlan::Bearer(plan)) => {
            if plan.token.trim().is_empty() {
                problems.push(ConfigProblem::at("authentication_plan.token", "must not be empty"));
            }
            if http::HeaderName::from_bytes(plan.header_name.as_bytes()).is_err() {
                problems.push(ConfigProblem::at(
                    "authentication_plan.headerName",
                    format!("`{}` is not a header name", plan.header_name),
                ));
            }
        }
        None => {}
    }
    match url::Url::parse(&config.base_url) {
        Ok(url) if matches!(url.scheme(), "http" | "https") && url.host().is_some() => {}
        _ => problems.push(ConfigProblem::at(
            "base_url",
            format!("`{}` must be an http:// or https:// URL with a host", config.base_url),
        )),
    }
    if config.api_key.as_deref().is_some_and(|key| key.trim().is_empty()) {
        problems.push(ConfigProblem::at("api_key", "must not be empty"));
    }
    if let Some(poll) = &config.poll {
        if config.api_key.is_none() {
            problems.push(ConfigProblem::at("poll", "the poller needs `api_key` (a Vapi private key) to list calls"));
        }
        problems.extend(PollSettings::validate(poll));
    }
    problems
}
