//! Checks that need the whole parsed configuration: references, addresses, durations, hours,
//! secrets. Pure: no network and no file. Every problem is reported, each at its key's line.

use std::collections::HashMap;
use std::net::SocketAddr;

use super::Config;
use super::locate::SourceMap;
use super::report::Problem;
use crate::registry::{self, ConnectorConfig};

/// Keys that hold secrets, under any connector kind (the vendors' own names) or section. An
/// empty one is a deployment mistake (an unset variable quoted as `"${X}"`), never intended.
const SECRET_KEYS: &[&str] = &[
    "app_secret",
    "verify_token",
    "access_token",
    "client_secret",
    "refresh_token",
    "api_key",
    "auth_token",
    "secret",
    "token",
    "private_key",
];

const DAYS: &[&str] = &["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

/// Every problem in `config`; `map` names their lines.
pub fn validate(config: &Config, map: &SourceMap) -> Vec<Problem> {
    let mut found = Found { map, problems: Vec::new() };
    store_and_listeners(config, &mut found);
    durations(config, &mut found);
    business(config, &mut found);
    routing(config, &mut found);
    connectors(config, &mut found);
    delivery(config, &mut found);
    identity(config, &mut found);
    sla(config, &mut found);
    secrets(&mut found);
    connector_kinds(config, &mut found);
    found.problems
}

struct Found<'a> {
    map: &'a SourceMap,
    problems: Vec<Problem>,
}

impl Found<'_> {
    fn add(&mut self, path: &str, message: impl Into<String>) {
        self.problems.push(Problem::new(self.map.nearest(path), path, message));
    }
}

fn store_and_listeners(config: &Config, found: &mut Found<'_>) {
    if let Err(error) = config.store.token_keys() {
        found.add("store.token_keys", error);
    }
    let url = &config.store.url;
    if !["sqlite://", "postgres://", "postgresql://"].iter().any(|scheme| url.starts_with(scheme)) {
        found.add("store.url", "must start with `sqlite://` or `postgres://`");
    }
    if config.server.listen.parse::<SocketAddr>().is_err() {
        found.add("server.listen", format!("`{}` is not an address like `127.0.0.1:8080`", config.server.listen));
    }
    match config.admin.listen.parse::<SocketAddr>() {
        Err(_) => {
            found.add("admin.listen", format!("`{}` is not an address like `127.0.0.1:9464`", config.admin.listen))
        }
        Ok(addr) if !addr.ip().is_loopback() && config.admin.token.as_deref().is_none_or(str::is_empty) => found.add(
            "admin.listen",
            format!(
                "`{addr}` is not a loopback address, so `admin.token` is required to protect metrics and the admin API"
            ),
        ),
        Ok(_) => {}
    }
}

fn durations(config: &Config, found: &mut Found<'_>) {
    let delivery = &config.delivery;
    let due = &config.routing.due;
    for (path, duration) in [
        ("conversation.quiet_period", config.conversation.quiet_period),
        ("conversation.reopen_after", config.conversation.reopen_after),
        ("routing.due.high", due.high),
        ("routing.due.medium", due.medium),
        ("routing.due.low", due.low),
        ("delivery.retry_min", delivery.retry_min),
        ("delivery.retry_max", delivery.retry_max),
    ] {
        if duration.get().is_zero() {
            found.add(path, "must be longer than zero");
        }
    }
    if delivery.retry_min > delivery.retry_max {
        found.add("delivery.retry_min", "must not be longer than `delivery.retry_max`");
    }
    if delivery.max_attempts == 0 {
        found.add("delivery.max_attempts", "must be at least 1");
    }
    if delivery.batch_size == 0 {
        found.add("delivery.batch_size", "must be at least 1");
    }
    if delivery.linger.is_some_and(|linger| linger.get() > std::time::Duration::from_secs(60)) {
        found.add("delivery.linger", "must be at most 60s: a task waits this long for others to share its call");
    }
}

/// The CRM sync schedule, parsed as `run` parses it, so `check` refuses what `run` would.
fn identity(config: &Config, found: &mut Found<'_>) {
    if let Some(expression) = &config.identity.crm_sync
        && let Err(error) = crate::identity::sync::parse_schedule(expression)
    {
        found.add("identity.crm_sync", error);
    }
}

/// The SLA watcher's ladder and confirmation: what `run` would refuse or could never do.
fn sla(config: &Config, found: &mut Found<'_>) {
    let Some(sla) = &config.sla else { return };
    if sla.check_every.get() < std::time::Duration::from_secs(10) {
        found.add("sla.check_every", "must be at least 10s: each check reads every open task from the CRM");
    }
    let mut previous: Option<std::time::Duration> = None;
    for (i, step) in sla.ladder.iter().enumerate() {
        let path = format!("sla.ladder[{i}]");
        if previous.is_some_and(|previous| step.after.get() <= previous) {
            found.add(&format!("{path}.after"), "must be later than the step before it (steps run in order)");
        }
        previous = Some(step.after.get());
        use super::schema::LadderAction;
        let misplaced: &[(&str, bool)] = &[
            ("note", step.note.is_some() && step.action != LadderAction::Remind),
            ("webhook", step.webhook.is_some() && step.action != LadderAction::NotifyManager),
            ("whatsapp", step.whatsapp.is_some() && step.action != LadderAction::NotifyManager),
            ("manager", step.manager.is_some() && step.action != LadderAction::NotifyManager),
        ];
        for (key, wrong) in misplaced {
            if *wrong {
                found.add(&format!("{path}.{key}"), format!("does not apply to action `{}`", step.action.as_str()));
            }
        }
        match step.action {
            LadderAction::Remind => {}
            LadderAction::Reassign if config.routing.owners.len() < 2 => {
                found.add(&format!("{path}.action"), "`reassign` needs at least two owners in `routing.owners`")
            }
            LadderAction::Reassign => {}
            LadderAction::NotifyManager => {
                for pool in unreachable_managers(config, step) {
                    found.add(
                        &format!("{path}.action"),
                        format!(
                            "`notify_manager` cannot reach pool `{pool}`'s manager: give the step a `webhook` or a \
                             `whatsapp` with `to`, or the pool a manager (`routing.managers.{pool}`) whose owner entry \
                             has `notify.webhook` (or `notify.phone` and a step `whatsapp`)"
                        ),
                    );
                }
                if let Some(webhook) = &step.webhook
                    && let Err(message) = check_base_url(&webhook.url)
                {
                    found.add(&format!("{path}.webhook.url"), message);
                }
                if let Some(whatsapp) = &step.whatsapp {
                    let path = format!("{path}.whatsapp");
                    messenger(config, found, &format!("{path}.messenger"), &whatsapp.messenger);
                    if let Some(problem) = whatsapp.to.as_deref().and_then(e164_problem) {
                        found.add(&format!("{path}.to"), problem);
                    }
                    not_blank(found, &format!("{path}.template"), &whatsapp.template);
                    not_blank(found, &format!("{path}.language"), &whatsapp.language);
                }
            }
        }
    }
    if let Some(confirm) = &sla.confirm {
        messenger(config, found, "sla.confirm.messenger", &confirm.messenger);
        not_blank(found, "sla.confirm.template", &confirm.template);
        not_blank(found, "sla.confirm.language", &confirm.language);
    }
}

/// `None` for an E.164 number like `+919820012345`, else why not.
fn e164_problem(number: &str) -> Option<String> {
    let digits = number.strip_prefix('+').unwrap_or("");
    (digits.len() < 8 || !digits.chars().all(|c| c.is_ascii_digit()))
        .then(|| format!("`{number}` is not an E.164 number like `+919820012345`"))
}

/// The pools a `notify_manager` step could reach nobody for: neither the pool's manager (their owner entry's
/// `notify`) nor the step itself names a webhook, or a number for the step's WhatsApp template.
fn unreachable_managers(config: &Config, step: &super::schema::LadderStep) -> Vec<String> {
    let routing = &config.routing;
    let pools: Vec<String> = if routing.pools.is_empty() {
        vec![crate::route::IMPLICIT_POOL.to_owned()]
    } else {
        routing.pools.keys().cloned().collect()
    };
    pools
        .into_iter()
        .filter(|pool| {
            let notify = routing
                .managers
                .get(pool)
                .and_then(|manager| routing.owners.iter().find(|o| o.is_named(manager)))
                .and_then(|owner| owner.notify.as_ref());
            let webhook = step.webhook.is_some() || notify.is_some_and(|n| n.webhook.is_some());
            let whatsapp =
                step.whatsapp.as_ref().is_some_and(|w| w.to.is_some() || notify.is_some_and(|n| n.phone.is_some()));
            !webhook && !whatsapp
        })
        .collect()
}

/// `id` names a connector that can message customers.
fn messenger(config: &Config, found: &mut Found<'_>, path: &str, id: &str) {
    match config.connectors.iter().find(|c| c.id() == id) {
        None => found.add(path, format!("no connector has id `{id}`")),
        Some(connector) if !registry::messenger_kinds().any(|kind| kind == connector.kind()) => found.add(
            path,
            format!(
                "connector `{id}` is a `{}` connector, which cannot send messages ({} can)",
                connector.kind(),
                registry::messenger_kinds().collect::<Vec<_>>().join(", ")
            ),
        ),
        Some(_) => {}
    }
}

fn not_blank(found: &mut Found<'_>, path: &str, value: &str) {
    if value.trim().is_empty() {
        found.add(path, "must not be empty");
    }
}

fn business(config: &Config, found: &mut Found<'_>) {
    let business = &config.business;
    if business.timezone.parse::<chrono_tz::Tz>().is_err() {
        found.add("business.timezone", format!("`{}` is not an IANA time zone like `Asia/Kolkata`", business.timezone));
    }
    for (day, hours) in &business.hours {
        let path = format!("business.hours.{day}");
        if !DAYS.contains(&day.as_str()) {
            found.add(&path, format!("`{day}` is not a day: expected one of {}", DAYS.join(", ")));
        }
        if let Err(message) = parse_hours(hours) {
            found.add(&path, message);
        }
    }
}

/// `"09:30-19:30"` -> minutes since midnight, opening before closing.
fn parse_hours(text: &str) -> Result<(u32, u32), String> {
    let invalid = || format!("`{text}` is not opening hours like `09:30-19:30`");
    let (open, close) = text.split_once('-').ok_or_else(invalid)?;
    let minutes = |t: &str| -> Option<u32> {
        let (h, m) = t.trim().split_once(':')?;
        if h.len() != 2 || m.len() != 2 {
            return None;
        }
        let (h, m) = (h.parse::<u32>().ok()?, m.parse::<u32>().ok()?);
        (h < 24 && m < 60).then_some(h * 60 + m)
    };
    let (open, close) = (minutes(open).ok_or_else(invalid)?, minutes(close).ok_or_else(invalid)?);
    if open >= close {
        return Err(format!("`{text}`: opening must be before closing"));
    }
    Ok((open, close))
}

fn routing(config: &Config, found: &mut Found<'_>) {
    use crate::route::owners::{holiday_problems, owner_problems};
    let routing = &config.routing;
    let owners = &routing.owners;
    if owners.is_empty() {
        found.add("routing.owners", "needs at least one owner");
    }
    let (mut ids, mut emails): (HashMap<&str, usize>, HashMap<String, usize>) = Default::default();
    for (i, owner) in owners.iter().enumerate() {
        if let Some(notify) = &owner.notify {
            if let Some(problem) = notify.phone.as_deref().and_then(e164_problem) {
                found.add(&format!("routing.owners[{i}].notify.phone"), problem);
            }
            if let Some(webhook) = &notify.webhook
                && let Err(message) = check_base_url(&webhook.url)
            {
                found.add(&format!("routing.owners[{i}].notify.webhook.url"), message);
            }
        }
        for (key, message) in owner_problems(owner, &routing.holidays) {
            let path =
                if key.is_empty() { format!("routing.owners[{i}]") } else { format!("routing.owners[{i}].{key}") };
            found.add(&path, message);
        }
        if let Some(id) = owner.id.as_deref().filter(|id| !id.trim().is_empty())
            && let Some(first) = ids.insert(id, i)
        {
            found.add(
                &format!("routing.owners[{i}].id"),
                format!("`{id}` is already the id of `routing.owners[{first}]`"),
            );
        }
        if let Some(email) = owner.email.as_deref().filter(|e| !e.trim().is_empty())
            && let Some(first) = emails.insert(email.trim().to_ascii_lowercase(), i)
        {
            found.add(
                &format!("routing.owners[{i}].email"),
                format!("`{email}` is already the email of `routing.owners[{first}]`"),
            );
        }
    }
    for (region, i, message) in holiday_problems(&routing.holidays) {
        found.add(&format!("routing.holidays.{region}[{i}]"), message);
    }
    let is_owner = |name: &str| owners.iter().any(|o| o.is_named(name));
    let business_tz = business_timezone(config);
    for (pool, members) in &routing.pools {
        if members.is_empty() {
            found.add(&format!("routing.pools.{pool}"), "has no owners");
        }
        for (j, member) in members.iter().enumerate() {
            if !is_owner(member) {
                found.add(
                    &format!("routing.pools.{pool}[{j}]"),
                    format!("`{member}` is not the email or id of any owner under `routing.owners`"),
                );
            }
        }
        // Shifts are checked only when they parse (their own errors are reported above).
        let shifts: Option<Vec<bool>> = members
            .iter()
            .filter_map(|m| owners.iter().find(|o| o.is_named(m)))
            .map(|o| {
                crate::route::owners::Owner::from_config(o, business_tz, &config.business.hours, &routing.holidays)
                    .ok()
                    .map(|owner| owner.ever_on_shift())
            })
            .collect();
        if let Some(shifts) = shifts
            && !members.is_empty()
            && !shifts.is_empty()
            && shifts.iter().all(|open| !open)
        {
            found.add(&format!("routing.pools.{pool}"), "nobody in this pool is ever on shift (no working hours)");
        }
    }
    let pools: Vec<&str> = if routing.pools.is_empty() {
        vec![crate::route::IMPLICIT_POOL]
    } else {
        routing.pools.keys().map(String::as_str).collect()
    };
    let known_pool = |name: &str| pools.contains(&name);
    let unknown_pool = |name: &str| format!("`{name}` is not a pool under `routing.pools` ({})", pools.join(", "));
    let mut rule_names: HashMap<&str, usize> = HashMap::new();
    for (i, rule) in routing.rules.iter().enumerate() {
        if let Some(first) = rule_names.insert(&rule.name, i) {
            found.add(
                &format!("routing.rules[{i}].name"),
                format!("`{}` is already the name of `routing.rules[{first}]`", rule.name),
            );
        }
        if !known_pool(&rule.pool) {
            found.add(&format!("routing.rules[{i}].pool"), unknown_pool(&rule.pool));
        }
        if let Some(fallback) = &rule.fallback_pool
            && !known_pool(fallback)
        {
            found.add(&format!("routing.rules[{i}].fallback_pool"), unknown_pool(fallback));
        }
        let when = &rule.when;
        for (key, values, allowed) in [
            ("urgency", &when.urgency, &["high", "medium", "low"][..]),
            ("disposition", &when.disposition, &["callback", "escalation", "nurture", "closed_lost", "booked"][..]),
            ("channel", &when.channel, &["whatsapp", "voice", "sms", "webchat", "email", "crm"][..]),
        ] {
            for (j, value) in values.iter().flatten().enumerate() {
                if !allowed.contains(&value.as_str()) {
                    found.add(
                        &format!("routing.rules[{i}].when.{key}[{j}]"),
                        format!("`{value}` is not one of {}", allowed.join(", ")),
                    );
                }
            }
        }
        if rule.confirm == Some(true) && config.sla.as_ref().and_then(|sla| sla.confirm.as_ref()).is_none() {
            found.add(
                &format!("routing.rules[{i}].confirm"),
                "`true` needs `sla.confirm` (the messenger and template the confirmation is sent with)",
            );
        }
        if !rule.skills.is_empty() && known_pool(&rule.pool) {
            let members: Vec<&crate::config::schema::OwnerConfig> = match routing.pools.get(&rule.pool) {
                Some(names) => names.iter().filter_map(|m| owners.iter().find(|o| o.is_named(m))).collect(),
                None => owners.iter().collect(),
            };
            let skilled = members
                .iter()
                .any(|o| rule.skills.iter().all(|s| o.skills.iter().any(|have| have.eq_ignore_ascii_case(s))));
            if !skilled {
                found.add(
                    &format!("routing.rules[{i}].skills"),
                    format!("nobody in pool `{}` has every one of {}", rule.pool, rule.skills.join(", ")),
                );
            }
        }
    }
    if let Some(default) = &routing.default_pool
        && !known_pool(default)
    {
        found.add("routing.default_pool", unknown_pool(default));
    }
    for (pool, manager) in &routing.managers {
        if !known_pool(pool) {
            found.add(&format!("routing.managers.{pool}"), unknown_pool(pool));
        } else if !is_owner(manager) {
            found.add(
                &format!("routing.managers.{pool}"),
                format!("`{manager}` is not under `routing.owners` (a manager is reached through their owner entry's `notify`)"),
            );
        }
    }
    if let Some(expression) = &routing.owner_sync
        && let Err(error) = crate::route::sync::parse_schedule(expression)
    {
        found.add("routing.owner_sync", error);
    }
}

fn business_timezone(config: &Config) -> chrono_tz::Tz {
    config.business.timezone.parse().unwrap_or(chrono_tz::UTC)
}

fn connectors(config: &Config, found: &mut Found<'_>) {
    let mut seen: HashMap<&str, usize> = HashMap::new();
    for (i, connector) in config.connectors.iter().enumerate() {
        let id = connector.id();
        let path = format!("connectors[{i}].id");
        if id.is_empty() || !id.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '~')) {
            found.add(&path, format!("`{id}` must be non-empty and URL-safe (letters, digits, `-`, `_`, `.`, `~`)"));
        } else if let Some(first) = seen.insert(id, i) {
            found.add(&path, format!("`{id}` is already the id of `connectors[{first}]`"));
        }
        // Read from the YAML itself, so that every kind, including ones added later, is checked.
        let url_path = format!("connectors[{i}].base_url");
        if let Some(base_url) = found.map.scalar(&url_path).filter(|s| !s.is_null())
            && let Err(message) = check_base_url(&base_url.value)
        {
            found.add(&url_path, message);
        }
        let region_path = format!("connectors[{i}].default_region");
        if let Some(region) = found.map.scalar(&region_path).filter(|s| !s.is_null())
            && !is_known_region(&region.value)
        {
            let message =
                format!("`{}` is not an ISO 3166 alpha-2 region with phone numbering, like `IN`", region.value);
            found.add(&region_path, message);
        }
    }
}

/// Each kind's own validation of its block (what building it would refuse), at `connectors[i].<key>`. A key
/// the generic checks above already reported (`base_url`, an empty secret) is not reported twice.
fn connector_kinds(config: &Config, found: &mut Found<'_>) {
    for (i, connector) in config.connectors.iter().enumerate() {
        for problem in connector.validate() {
            let path = if problem.key.is_empty() {
                format!("connectors[{i}]")
            } else {
                format!("connectors[{i}].{}", problem.key)
            };
            if !found.problems.iter().any(|reported| reported.key == path) {
                found.add(&path, problem.message);
            }
        }
    }
}

fn check_base_url(text: &str) -> Result<(), String> {
    let url = url::Url::parse(text).map_err(|e| format!("`{text}` is not a URL: {e}"))?;
    if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
        return Err(format!("`{text}` must be an http:// or https:// URL with a host"));
    }
    Ok(())
}

fn is_known_region(code: &str) -> bool {
    code.len() == 2
        && code.chars().all(|c| c.is_ascii_uppercase())
        && phonenumber::metadata::DATABASE.by_id(code).is_some()
}

fn delivery(config: &Config, found: &mut Found<'_>) {
    let crm = &config.delivery.crm;
    match config.connectors.iter().find(|c| c.id() == crm) {
        None => {
            let ids: Vec<&str> = config.connectors.iter().map(ConnectorConfig::id).collect();
            found.add("delivery.crm", format!("no connector has id `{crm}` (connector ids: {})", ids.join(", ")));
        }
        Some(connector) if !registry::crm_kinds().any(|kind| kind == connector.kind()) => found.add(
            "delivery.crm",
            format!(
                "connector `{crm}` is a `{}` connector, not a CRM ({})",
                connector.kind(),
                registry::crm_kinds().collect::<Vec<_>>().join(", ")
            ),
        ),
        Some(_) => {}
    }
}

fn secrets(found: &mut Found<'_>) {
    let mut empty: Vec<String> = found
        .map
        .paths()
        .filter(|(path, located)| {
            let key = path.rsplit(['.', ']']).next().unwrap_or(path);
            SECRET_KEYS.contains(&key)
                && located.scalar.as_ref().is_some_and(|s| !s.is_null() && s.value.trim().is_empty())
        })
        .map(|(path, _)| path.to_owned())
        .collect();
    empty.sort();
    for path in empty {
        found.add(&path, "secret is empty (is its environment variable or credential file empty?)");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hours() {
        assert_eq!(parse_hours("09:30-19:30"), Ok((570, 1170)));
        assert!(parse_hours("19:30-09:30").is_err());
        assert!(parse_hours("9:30-19:30").is_err());
        assert!(parse_hours("09:30-24:00").is_err());
    }

    #[test]
    fn regions() {
        assert!(is_known_region("IN"));
        assert!(is_known_region("BR"));
        assert!(!is_known_region("XX"));
        assert!(!is_known_region("in"));
    }
}
