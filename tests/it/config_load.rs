//! Configuration loading: the example, structural errors, every validation error kind, with
//! the exact `file:line:col: key: message` an admin sees.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use handoffd::config::{self, ConfigReport, Loaded};
use handoffd::registry::ConnectorConfig;

/// A small valid configuration; tests change one thing and look for it by its text.
const BASE: &str = r#"store:
  url: sqlite://state/test.db
server:
  listen: 127.0.0.1:8080
admin:
  listen: 127.0.0.1:9464
conversation:
  quiet_period: 90s
business:
  timezone: Asia/Kolkata
  hours:
    mon: "09:30-19:30"
    sat: "10:00-18:00"
routing:
  owners:
    - id: "1001"
      name: Asha
    - id: "1002"
delivery:
  crm: hs
connectors:
  - id: wa
    kind: whatsapp_cloud
    app_secret: s3cret
    verify_token: vt
    phone_number_id: "1065"
    default_region: IN
  - id: hs
    kind: hubspot
    base_url: http://127.0.0.1:8090/hubspot
    access_token: tok
    default_region: IN
"#;

struct Case {
    _dir: tempfile::TempDir,
    path: PathBuf,
    text: String,
}

fn write(text: &str) -> Case {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("handoffd.yaml");
    std::fs::write(&path, text).unwrap();
    Case { _dir: dir, path, text: text.to_owned() }
}

fn with_env<'a>(vars: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
    let vars: HashMap<&str, &str> = vars.iter().copied().collect();
    move |name| vars.get(name).map(|v| (*v).to_owned())
}

fn load(case: &Case) -> Result<Loaded, ConfigReport> {
    config::load_with_env(&case.path, &|_| None)
}

/// The report's lines, which must exist.
fn report(case: &Case) -> Vec<String> {
    let error = load(case).expect_err("the configuration should be rejected");
    error.to_string().lines().map(str::to_owned).collect()
}

/// 1-based line of the first line containing `needle` (the test's own text, so lines are exact).
fn line_of(case: &Case, needle: &str) -> usize {
    case.text.lines().position(|l| l.contains(needle)).unwrap_or_else(|| panic!("`{needle}` not in the case")) + 1
}

fn assert_has(lines: &[String], expected_prefix: &str) {
    assert!(
        lines.iter().any(|l| l.starts_with(expected_prefix)),
        "no line starts with {expected_prefix:?} in:\n{}",
        lines.join("\n")
    );
}

#[test]
fn example_config_loads_and_checks_clean() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("config/example.yaml");
    let loaded = config::load_with_env(&path, &|_| None).unwrap_or_else(|e| panic!("{e}"));
    let ids: Vec<&str> = loaded.config.connectors.iter().map(ConnectorConfig::id).collect();
    assert_eq!(ids, ["wa-main", "hubspot-main", "vapi-main", "retell-main"]);
    // `token: ${HANDOFFD_ADMIN_TOKEN:-}` unset means no token, not an empty one.
    assert!(loaded.config.admin.token.is_none());
    assert_eq!(loaded.base_dir(), path.parent().unwrap());
}

#[test]
fn base_fixture_loads() {
    let case = write(BASE);
    let loaded = load(&case).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(loaded.config.connectors.len(), 2);
}

#[test]
fn unreadable_file_is_reported() {
    let error = config::load(Path::new("/nonexistent/handoffd.yaml")).unwrap_err();
    assert!(error.to_string().starts_with("/nonexistent/handoffd.yaml: cannot read the file"), "{error}");
}

#[test]
fn unknown_field_in_connector_has_its_own_line() {
    let case = write(&BASE.replace("    access_token: tok", "    acces_token: tok"));
    let line = line_of(&case, "acces_token");
    let lines = report(&case);
    assert_eq!(lines.len(), 1, "{lines:?}");
    let expected = format!(
        "{}:{line}:5: connectors[1].acces_token: unknown field `acces_token`, expected one of",
        case.path.display()
    );
    assert_has(&lines, &expected);
    assert!(lines[0].contains("access_token"), "the valid keys are listed: {}", lines[0]);
}

#[test]
fn unknown_top_level_field_has_its_line() {
    let case = write(&BASE.replace("store:", "stor:"));
    let lines = report(&case);
    assert_has(&lines, &format!("{}:1:1: stor: unknown field `stor`, expected one of store", case.path.display()));
}

#[test]
fn unknown_kind_lists_the_valid_kinds_at_its_line() {
    let case = write(&BASE.replace("kind: hubspot", "kind: hubspat"));
    let line = line_of(&case, "kind: hubspat");
    let lines = report(&case);
    let expected =
        format!("{}:{line}:5: connectors[1].kind: unknown variant `hubspat`, expected one of", case.path.display());
    assert_has(&lines, &expected);
    assert!(lines[0].contains("whatsapp_cloud") && lines[0].contains("hubspot"), "{}", lines[0]);
    assert!(!lines[0].contains(" at line "), "the position is given once, first: {}", lines[0]);
}

#[test]
fn wrong_value_type_names_its_key() {
    let case = write(&BASE.replace("quiet_period: 90s", "quiet_period: ninety"));
    let line = line_of(&case, "quiet_period");
    let lines = report(&case);
    assert_has(&lines, &format!("{}:{line}:", case.path.display()));
    assert!(lines[0].contains("conversation.quiet_period: `ninety` is not a duration"), "{}", lines[0]);
}

#[test]
fn yaml_syntax_error_has_a_position() {
    let case = write(&BASE.replace("    mon: \"09:30-19:30\"", "    mon: \"09:30-19:30"));
    let lines = report(&case);
    assert!(
        lines[0].starts_with(&format!("{}:", case.path.display())) && lines[0].contains("YAML syntax"),
        "{lines:?}"
    );
}

/// One validation problem: the report holds exactly `key` at the line of `needle`.
fn assert_single(text: &str, needle: &str, key: &str, message_part: &str) {
    let case = write(text);
    let line = line_of(&case, needle);
    let lines = report(&case);
    let prefix = format!("{}:{line}:", case.path.display());
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(lines[0].starts_with(&prefix), "expected {prefix} in {lines:?}");
    assert!(lines[0].contains(&format!(": {key}: ")), "expected key {key} in {lines:?}");
    assert!(lines[0].contains(message_part), "expected {message_part:?} in {lines:?}");
}

#[test]
fn store_url_scheme() {
    let text = BASE.replace("sqlite://state/test.db", "mysql://db/handoffd");
    assert_single(&text, "mysql://", "store.url", "`sqlite://` or `postgres://`");
    let text = BASE.replace("sqlite://state/test.db", "postgres://u@db/handoffd");
    assert!(load(&write(&text)).is_ok());
}

#[test]
fn listen_addresses_parse() {
    assert_single(&BASE.replace("127.0.0.1:8080", "localhost"), "localhost", "server.listen", "not an address");
    assert_single(&BASE.replace("127.0.0.1:9464", "127.0.0.1:99999"), "99999", "admin.listen", "not an address");
}

#[test]
fn admin_off_loopback_needs_a_token() {
    let open = BASE.replace("127.0.0.1:9464", "0.0.0.0:9464");
    assert_single(&open, "0.0.0.0:9464", "admin.listen", "`admin.token` is required");
    let with_token = open.replace("  listen: 0.0.0.0:9464", "  listen: 0.0.0.0:9464\n  token: adm1n");
    assert!(load(&write(&with_token)).is_ok());
}

#[test]
fn durations_must_be_positive() {
    assert_single(&BASE.replace("90s", "0s"), "quiet_period", "conversation.quiet_period", "longer than zero");
    let due = BASE.replace("routing:\n", "routing:\n  due:\n    high: 0m\n");
    assert_single(&due, "high: 0m", "routing.due.high", "longer than zero");
}

#[test]
fn timezone_must_exist() {
    let text = BASE.replace("Asia/Kolkata", "Asia/Bombay_City");
    assert_single(&text, "timezone", "business.timezone", "`Asia/Bombay_City` is not an IANA time zone");
}

#[test]
fn business_hours_days_and_ranges() {
    assert_single(&BASE.replace("mon:", "monday:"), "monday", "business.hours.monday", "not a day");
    assert_single(&BASE.replace("\"10:00-18:00\"", "\"18:00-10:00\""), "18:00", "business.hours.sat", "before closing");
    assert_single(&BASE.replace("\"10:00-18:00\"", "\"10am-6pm\""), "10am", "business.hours.sat", "not opening hours");
}

#[test]
fn routing_owners_nonempty_and_unique() {
    let none = BASE.replace("    - id: \"1001\"\n      name: Asha\n    - id: \"1002\"\n", "");
    let none = none.replace("  owners:\n", "  owners: []\n");
    assert_single(&none, "owners: []", "routing.owners", "at least one owner");
}

#[test]
fn duplicate_owner_is_reported_at_the_second() {
    let case = write(&BASE.replace("\"1002\"", "\"1001\""));
    let second = case.text.lines().enumerate().filter(|(_, l)| l.contains("\"1001\"")).nth(1).unwrap().0 + 1;
    assert_has(&report(&case), &format!("{}:{second}:7: routing.owners[1].id:", case.path.display()));
}

#[test]
fn delivery_crm_must_name_a_crm_connector() {
    assert_single(&BASE.replace("crm: hs", "crm: nope"), "crm: nope", "delivery.crm", "no connector has id `nope`");
    assert_single(&BASE.replace("crm: hs", "crm: wa"), "crm: wa", "delivery.crm", "not a CRM");
}

#[test]
fn connector_ids_unique_and_url_safe() {
    let case = write(&BASE.replace("- id: hs", "- id: wa").replace("crm: hs", "crm: wa"));
    let lines = report(&case);
    let second = case.text.lines().enumerate().filter(|(_, l)| l.contains("- id: wa")).nth(1).unwrap().0 + 1;
    assert_has(
        &lines,
        &format!("{}:{second}:5: connectors[1].id: `wa` is already the id of `connectors[0]`", case.path.display()),
    );
    let text = BASE.replace("- id: hs", "- id: \"hs/main\"").replace("crm: hs", "crm: \"hs/main\"");
    assert_single(&text, "- id: \"hs/main\"", "connectors[1].id", "URL-safe");
}

#[test]
fn base_url_is_http() {
    let text = BASE.replace("http://127.0.0.1:8090/hubspot", "ftp://127.0.0.1/hubspot");
    assert_single(&text, "ftp://", "connectors[1].base_url", "http:// or https://");
    let text = BASE.replace("http://127.0.0.1:8090/hubspot", "not a url");
    assert_single(&text, "not a url", "connectors[1].base_url", "not a URL");
}

#[test]
fn default_region_is_known() {
    let text = BASE.replacen("default_region: IN", "default_region: ZZ", 1);
    assert_single(&text, "ZZ", "connectors[0].default_region", "`ZZ` is not an ISO 3166");
    let text = BASE.replacen("default_region: IN", "default_region: India", 1);
    assert_single(&text, "India", "connectors[0].default_region", "not an ISO 3166");
}

#[test]
fn secrets_must_not_be_empty() {
    assert_single(
        &BASE.replace("app_secret: s3cret", "app_secret: \"\""),
        "app_secret",
        "connectors[0].app_secret",
        "secret is empty",
    );
}

#[test]
fn hubspot_needs_exactly_one_credential() {
    let both = BASE.replace(
        "    access_token: tok\n",
        "    access_token: tok\n    oauth:\n      client_id: c\n      client_secret: s\n      refresh_token: r\n",
    );
    assert_single(&both, "oauth:", "connectors[1].oauth", "not both");
    let neither = BASE.replace("    access_token: tok\n", "");
    assert_single(&neither, "- id: hs", "connectors[1]", "needs `access_token`");
}

#[test]
fn every_validation_problem_is_reported_at_once() {
    let text = BASE
        .replace("sqlite://state/test.db", "mysql://x")
        .replace("Asia/Kolkata", "Mars/Olympus")
        .replace("crm: hs", "crm: missing")
        .replacen("default_region: IN", "default_region: ZZ", 1)
        .replace("app_secret: s3cret", "app_secret: ''");
    let case = write(&text);
    let lines = report(&case);
    let file = case.path.display();
    let expected = [
        format!("{file}:{}:3: store.url:", line_of(&case, "mysql")),
        format!("{file}:{}:3: business.timezone:", line_of(&case, "Mars")),
        format!("{file}:{}:3: delivery.crm:", line_of(&case, "crm: missing")),
        format!("{file}:{}:5: connectors[0].app_secret:", line_of(&case, "app_secret")),
        format!("{file}:{}:5: connectors[0].default_region:", line_of(&case, "ZZ")),
    ];
    assert_eq!(lines.len(), expected.len(), "{lines:#?}");
    for (line, prefix) in lines.iter().zip(&expected) {
        assert!(line.starts_with(prefix.as_str()), "{line:?} should start with {prefix:?}");
    }
}

#[test]
fn load_error_display_is_the_report() {
    let case = write(&BASE.replace("Asia/Kolkata", "Mars/Olympus"));
    let error = config::load(&case.path).unwrap_err();
    let report = load(&case).unwrap_err();
    assert_eq!(error.to_string(), report.to_string());
    assert!(error.downcast_ref::<ConfigReport>().is_some());
}

#[test]
fn interpolation_env_is_injected_not_global() {
    let case = write(&BASE.replace("access_token: tok", "access_token: ${HS_TOKEN_INJECTED}"));
    let env = with_env(&[("HS_TOKEN_INJECTED", "from-closure")]);
    let loaded = config::load_with_env(&case.path, &env).unwrap_or_else(|e| panic!("{e}"));
    let ConnectorConfig::Hubspot(hubspot) = &loaded.config.connectors[1] else { panic!("not hubspot") };
    assert_eq!(hubspot.access_token.as_deref(), Some("from-closure"));
}

#[test]
fn the_sla_ladder_and_confirmation_are_checked_at_their_lines() {
    let valid = format!(
        "{BASE}sla:\n  check_every: 2m\n  ladder:\n    - after: 20m\n      action: remind\n    - after: 1h\n      action: reassign\n    \
         - after: 2h\n      action: notify_manager\n      webhook: {{url: \"https://hooks.example.com/sla\", secret: hk}}\n      \
         whatsapp: {{messenger: wa, to: \"+919820012345\", template: sla_alert, language: en}}\n  \
         confirm: {{messenger: wa, template: callback_confirmation, language: en, parameters: [owner_name, due]}}\n"
    );
    let loaded = load(&write(&valid)).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(loaded.config.sla.unwrap().ladder.len(), 3);

    let text = format!(
        "{BASE}sla:\n  check_every: 5s\n  ladder:\n    - after: 1h\n      action: remind\n      webhook: {{url: \"https://h.example.com\", secret: s}}\n    \
         - after: 30m\n      action: notify_manager\n    - after: 2h\n      action: notify_manager\n      \
         webhook: {{url: \"ftp://h.example.com\", secret: ''}}\n      whatsapp: {{messenger: hs, to: \"98200\", template: t, language: en}}\n  \
         confirm: {{messenger: nope, template: ' ', language: en}}\n"
    );
    let case = write(&text);
    let lines = report(&case);
    let file = case.path.display();
    for (needle, key) in [
        ("check_every: 5s", "sla.check_every"),
        ("webhook: {url: \"https://h.example.com\"", "sla.ladder[0].webhook"),
        ("after: 30m", "sla.ladder[1].after"),
        ("after: 30m", "sla.ladder[1].action"),
        ("ftp://", "sla.ladder[2].webhook.url"),
        ("ftp://", "sla.ladder[2].webhook.secret"),
        ("messenger: hs", "sla.ladder[2].whatsapp.messenger"),
        ("messenger: hs", "sla.ladder[2].whatsapp.to"),
        ("messenger: nope", "sla.confirm.messenger"),
        ("messenger: nope", "sla.confirm.template"),
    ] {
        // `after: 30m` and the step's `action` are on neighbouring lines.
        let line = line_of(&case, needle) + usize::from(key == "sla.ladder[1].action");
        assert_has(&lines, &format!("{file}:{line}:"));
        assert!(
            lines.iter().any(|l| l.starts_with(&format!("{file}:{line}:")) && l.contains(&format!(": {key}: "))),
            "{key} at line {line} in:\n{}",
            lines.join("\n")
        );
    }
    assert_eq!(lines.len(), 10, "{lines:#?}");
}

#[test]
fn a_pools_manager_is_an_owner_reached_through_notify() {
    let owners = "    - id: \"1002\"\n";
    let with_manager = |notify: &str, manager: &str, step: &str| {
        BASE.replace(
            owners,
            &format!(
                "    - id: \"1002\"\n      name: Priya\n{notify}  pools:\n    sales: [\"1001\", \"1002\"]\n  managers:\n    sales: \"{manager}\"\n"
            ),
        ) + &format!("sla:\n  ladder:\n    - after: 2h\n      action: notify_manager\n{step}")
    };
    // The manager's own webhook is enough: the step need not name one.
    let valid = with_manager(
        "      notify: {webhook: {url: \"https://hooks.example.com/priya\", secret: hk}, phone: \"+919820012345\"}\n",
        "1002",
        "",
    );
    load(&write(&valid)).unwrap_or_else(|e| panic!("{e}"));

    let case = write(&with_manager("      notify: {phone: \"98200\"}\n", "priya@example.com", ""));
    let lines = report(&case);
    let file = case.path.display();
    for (needle, key) in [
        ("phone: \"98200\"", "routing.owners[1].notify.phone"),
        ("sales: \"priya@example.com\"", "routing.managers.sales"),
        ("action: notify_manager", "sla.ladder[0].action"),
    ] {
        let line = line_of(&case, needle);
        assert!(
            lines.iter().any(|l| l.starts_with(&format!("{file}:{line}:")) && l.contains(&format!(": {key}: "))),
            "{key} at line {line} in:\n{}",
            lines.join("\n")
        );
    }
    assert_eq!(lines.len(), 3, "{lines:#?}");
}
