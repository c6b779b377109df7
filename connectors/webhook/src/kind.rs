//! `kind: webhook` as the daemon's registry sees it: the config block, its pure validation, and
//! the webhook source it builds.

use std::sync::Arc;

use handoffd_contract::kind::{BuildContext, BuildError, Builds, Built, ConfigProblem, ConnectorKind};

use crate::GenericWebhook;
use crate::config::{FieldMap, SignatureConfig, WebhookConfig};
use crate::mapping::channel;
use crate::signature::{HmacScheme, Scheme, standard_webhooks_key};

/// The `webhook` connector kind.
#[derive(Debug)]
pub struct WebhookKind;

impl ConnectorKind for WebhookKind {
    const NAME: &'static str = "webhook";
    const BUILDS: Builds =
        Builds { webhook_source: true, poll_source: false, crm: false, messenger: false, routes: false };
    type Config = WebhookConfig;

    fn id(config: &WebhookConfig) -> &str {
        &config.id
    }

    fn default_region(config: &WebhookConfig) -> Option<&str> {
        config.default_region.as_deref()
    }

    fn validate(config: &WebhookConfig) -> Vec<ConfigProblem> {
        validate(config)
    }

    fn build(config: &WebhookConfig, _context: &BuildContext) -> Result<Built, BuildError> {
        let source =
            GenericWebhook::new(config.clone()).map_err(|message| BuildError { id: config.id.clone(), message })?;
        Ok(Built { webhook_source: Some(Arc::new(source)), ..Built::default() })
    }
}

/// The signature scheme with its secret decoded and its durations read.
pub fn scheme(config: &SignatureConfig) -> Result<Scheme, String> {
    let tolerance = |text: &str| {
        humantime::parse_duration(text).map_err(|e| format!("`signature.tolerance` `{text}` is not a duration: {e}"))
    };
    Ok(match config {
        SignatureConfig::StandardWebhooks { secret, tolerance: t } => Scheme::StandardWebhooks {
            key: standard_webhooks_key(secret).map_err(|e| format!("`signature.secret`: {e}"))?,
            tolerance: tolerance(t)?,
        },
        SignatureConfig::Hmac {
            header,
            algorithm,
            encoding,
            secret,
            signed,
            prefix,
            timestamp_header,
            id_header,
            tolerance: t,
        } => Scheme::Hmac(HmacScheme {
            header: header.to_ascii_lowercase(),
            algorithm: *algorithm,
            encoding: *encoding,
            secret: secret.as_bytes().to_vec(),
            signed: signed.clone(),
            prefix: prefix.clone().filter(|p| !p.is_empty()),
            timestamp_header: timestamp_header.clone(),
            id_header: id_header.clone(),
            tolerance: tolerance(t)?,
        }),
    })
}

fn is_pointer(pointer: &str) -> bool {
    pointer.is_empty() || pointer.starts_with('/')
}

/// Every problem in a `webhook` block. Pure: nothing is looked up.
pub fn validate(config: &WebhookConfig) -> Vec<ConfigProblem> {
    let mut problems = Vec::new();
    match config.signature.as_ref() {
        SignatureConfig::StandardWebhooks { secret, .. } => match standard_webhooks_key(secret) {
            Err(message) => problems.push(ConfigProblem::at("signature.secret", message)),
            // The specification asks for 24 to 64 bytes; shorter keys are guessable.
            Ok(key) if key.len() < 16 => problems.push(ConfigProblem::at(
                "signature.secret",
                format!("decodes to {} bytes; Standard Webhooks secrets are 24 to 64", key.len()),
            )),
            Ok(_) => {}
        },
        SignatureConfig::Hmac { header, secret, signed, timestamp_header, id_header, .. } => {
            if secret.is_empty() {
                problems.push(ConfigProblem::at("signature.secret", "must not be empty"));
            }
            if http::HeaderName::from_bytes(header.as_bytes()).is_err() {
                problems.push(ConfigProblem::at("signature.header", format!("`{header}` is not a header name")));
            }
            if !signed.contains("{body}") {
                problems.push(ConfigProblem::at(
                    "signature.signed",
                    "must include `{body}`: an unsigned body could be forged",
                ));
            }
            if signed.contains("{timestamp}") && timestamp_header.is_none() {
                problems
                    .push(ConfigProblem::at("signature.signed", "uses `{timestamp}` but no `timestamp_header` is set"));
            }
            if signed.contains("{id}") && id_header.is_none() {
                problems.push(ConfigProblem::at("signature.signed", "uses `{id}` but no `id_header` is set"));
            }
        }
    }
    if let Err(message) = scheme(&config.signature)
        && message.contains("tolerance")
    {
        problems.push(ConfigProblem::at("signature.tolerance", message));
    }
    if channel(&config.channel).is_none() {
        problems.push(ConfigProblem::at(
            "channel",
            format!("`{}` is none of `voice`, `whatsapp`, `sms`, `webchat`, `email`", config.channel),
        ));
    }
    problems
        .extend(validate_fields(&config.fields, matches!(*config.signature, SignatureConfig::StandardWebhooks { .. })));
    if let Some(accept) = &config.accept {
        if !is_pointer(&accept.pointer) {
            problems.push(ConfigProblem::at("accept.pointer", format!("`{}` is not a JSON Pointer", accept.pointer)));
        }
        if accept.values.is_empty() {
            problems.push(ConfigProblem::at("accept.values", "lists no event type: nothing would be recorded"));
        }
    }
    problems
}

fn validate_fields(fields: &FieldMap, has_webhook_id: bool) -> Vec<ConfigProblem> {
    let mut problems = Vec::new();
    let mut pointers: Vec<(String, &String)> = Vec::new();
    if let Some(dedup) = &fields.dedup_key {
        pointers.extend(dedup.all().iter().enumerate().map(|(i, p)| (format!("fields.dedup_key[{i}]"), p)));
    } else if !has_webhook_id {
        problems.push(ConfigProblem::at(
            "fields.dedup_key",
            "is required (a stable event id: a vendor's retry must not make a second task)",
        ));
    }
    if fields.phone.is_none() && fields.email.is_none() {
        problems.push(ConfigProblem::at("fields", "needs `phone` or `email`: the customer must be identifiable"));
    }
    let named = [
        ("phone", &fields.phone),
        ("email", &fields.email),
        ("name", &fields.name),
        ("channel", &fields.channel),
        ("time", &fields.time),
        ("turns", &fields.turns),
        ("turn_offset", &fields.turn_offset),
        ("text", &fields.text),
        ("call_id", &fields.call_id),
        ("duration", &fields.duration),
        ("recording_url", &fields.recording_url),
        ("ended_reason", &fields.ended_reason),
    ];
    pointers.extend(named.iter().filter_map(|(key, p)| p.as_ref().map(|p| (format!("fields.{key}"), p))));
    pointers.push(("fields.turn_role".into(), &fields.turn_role));
    pointers.push(("fields.turn_text".into(), &fields.turn_text));
    pointers.extend(fields.analysis.iter().map(|(label, p)| (format!("fields.analysis.{label}"), p)));
    for (key, pointer) in pointers {
        if !is_pointer(pointer) {
            problems.push(ConfigProblem::at(key, format!("`{pointer}` is not a JSON Pointer (it starts with `/`)")));
        }
    }
    problems
}
