//! Interpolation of `${...}` references and systemd credentials in a configuration file, with
//! an injected environment (no process-global variables).

use std::collections::HashMap;
use std::path::PathBuf;

use handoffd::config::{self, ConfigReport, Loaded};
use handoffd::registry::ConnectorConfig;

const TEMPLATE: &str = r#"store:
  url: ${STORE_URL:-sqlite://state/test.db}
server:
  listen: 127.0.0.1:${PORT:-8080}
admin:
  token: ${ADMIN_TOKEN:-}
business:
  timezone: Asia/Kolkata   # ${NOT_A_REFERENCE:?comments are never expanded}
  hours:
    mon: "09:30-19:30"
routing:
  owners:
    - id: "1001"
      name: "Price $$100 and pa$s"
delivery:
  crm: hs
  max_attempts: ${ATTEMPTS:-8}
connectors:
  - id: wa
    kind: whatsapp_cloud
    app_secret: APP_SECRET_SLOT
    verify_token: ${VERIFY:-vt}
    phone_number_id: "1065"
  - id: hs
    kind: hubspot
    access_token: TOKEN_SLOT
"#;

struct Case {
    _dir: tempfile::TempDir,
    path: PathBuf,
    text: String,
}

fn write(app_secret: &str, token: &str) -> Case {
    let text = TEMPLATE.replace("APP_SECRET_SLOT", app_secret).replace("TOKEN_SLOT", token);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("handoffd.yaml");
    std::fs::write(&path, &text).unwrap();
    Case { _dir: dir, path, text }
}

fn load(case: &Case, vars: &[(&str, &str)]) -> Result<Loaded, ConfigReport> {
    let vars: HashMap<String, String> = vars.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
    config::load_with_env(&case.path, &move |name| vars.get(name).cloned())
}

fn secrets(loaded: &Loaded) -> (String, String) {
    let [ConnectorConfig::WhatsappCloud(wa), ConnectorConfig::Hubspot(hs)] = loaded.config.connectors.as_slice() else {
        panic!("unexpected connectors");
    };
    (wa.app_secret.clone(), hs.access_token.clone().unwrap_or_default())
}

/// Line and 1-based column of `needle` in the case's text.
fn at(case: &Case, needle: &str) -> String {
    let (i, line) = case.text.lines().enumerate().find(|(_, l)| l.contains(needle)).unwrap();
    format!("{}:{}:{}", case.path.display(), i + 1, line.find(needle).unwrap() + 1)
}

#[test]
fn defaults_apply_when_unset_or_empty() {
    let case = write("${APP:-app-default}", "${TOKEN:-tok-default}");
    let loaded = load(&case, &[("TOKEN", "")]).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(secrets(&loaded), ("app-default".to_owned(), "tok-default".to_owned()));
    assert_eq!(loaded.config.store.url, "sqlite://state/test.db");
    assert_eq!(loaded.config.server.listen, "127.0.0.1:8080");
    assert_eq!(loaded.config.delivery.max_attempts, 8);
    // An unquoted reference that expands to nothing is null, as if the key were left out.
    assert_eq!(loaded.config.admin.token, None);
    // `$$` is a literal `$`; a lone `$` stays as written.
    assert_eq!(loaded.config.routing.owners[0].name.as_deref(), Some("Price $100 and pa$s"));
}

#[test]
fn set_variables_replace_defaults_and_keep_their_type() {
    let case = write("${APP}", "${TOKEN:?set TOKEN}");
    let vars = [("APP", "a"), ("TOKEN", "t"), ("PORT", "9999"), ("ATTEMPTS", "3"), ("ADMIN_TOKEN", "adm")];
    let loaded = load(&case, &vars).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(secrets(&loaded), ("a".to_owned(), "t".to_owned()));
    assert_eq!(loaded.config.server.listen, "127.0.0.1:9999");
    assert_eq!(loaded.config.delivery.max_attempts, 3);
    assert_eq!(loaded.config.admin.token.as_deref(), Some("adm"));
}

#[test]
fn secrets_with_yaml_special_characters_arrive_intact() {
    let nasty = "p: w # not a comment \"q\" 'r' \\ {x: [y]} &a *b !t |\n- next line";
    for (app, token) in [("${NASTY}", "\"${NASTY}\""), ("'${NASTY}'", "pre-${NASTY}-post")] {
        let case = write(app, token);
        let loaded = load(&case, &[("NASTY", nasty)]).unwrap_or_else(|e| panic!("{app} {token}: {e}"));
        let (app_secret, access_token) = secrets(&loaded);
        assert_eq!(app_secret, nasty);
        let expected_token = if token.starts_with("pre") { format!("pre-{nasty}-post") } else { nasty.to_owned() };
        assert_eq!(access_token, expected_token);
    }
}

#[test]
fn block_scalars_expand_and_later_lines_keep_their_numbers() {
    let case = write("|-\n      ${PART}\n      tail # kept", "tok");
    let vars = [("PART", "first\nsecond")];
    let loaded = load(&case, &vars).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(secrets(&loaded).0, "first\nsecond\ntail # kept");

    let broken = case.text.replace("kind: hubspot", "kind: hubspat");
    std::fs::write(&case.path, &broken).unwrap();
    let case = Case { text: broken, ..case };
    let error = load(&case, &vars).unwrap_err().to_string();
    assert!(
        error.starts_with(&format!("{}: connectors[1].kind: unknown variant", at(&case, "kind: hubspat"))),
        "{error}"
    );
}

#[test]
fn required_variable_reports_its_message_and_position() {
    let case = write("${APP_SECRET:?set APP_SECRET to the Meta app secret}", "tok");
    let error = load(&case, &[]).unwrap_err().to_string();
    let expected = format!(
        "{}: connectors[0].app_secret: set APP_SECRET to the Meta app secret (environment variable `APP_SECRET` is not set or empty)",
        at(&case, "${APP_SECRET")
    );
    assert_eq!(error, expected);
    // Set but empty fails the same way.
    assert!(load(&case, &[("APP_SECRET", "")]).is_err());
}

#[test]
fn every_interpolation_error_is_reported() {
    let case = write("${APP_MISSING}", "x-${TOKEN_MISSING:?token needed}-${cred:hs}");
    let error = load(&case, &[]).unwrap_err().to_string();
    let lines: Vec<&str> = error.lines().collect();
    assert_eq!(lines.len(), 3, "{error}");
    assert!(
        lines[0].starts_with(&format!(
            "{}: connectors[0].app_secret: environment variable `APP_MISSING` is not set",
            at(&case, "${APP_MISSING")
        )),
        "{error}"
    );
    assert!(
        lines[1].starts_with(&format!("{}: connectors[1].access_token: token needed", at(&case, "${TOKEN_MISSING"))),
        "{error}"
    );
    assert!(
        lines[2].starts_with(&format!(
            "{}: connectors[1].access_token: credential `hs` needs CREDENTIALS_DIRECTORY",
            at(&case, "${cred:hs}")
        )),
        "{error}"
    );
}

#[test]
fn malformed_references_are_errors() {
    let case = write("${1BAD}", "${UNCLOSED");
    let error = load(&case, &[]).unwrap_err().to_string();
    assert_eq!(error.lines().count(), 2, "{error}");
    assert!(error.contains("is not a reference"), "{error}");
    assert!(error.contains("is not closed"), "{error}");
}

#[test]
fn credentials_come_from_credentials_directory() {
    let creds = tempfile::tempdir().unwrap();
    std::fs::write(creds.path().join("wa_app_secret"), "from-credential\n").unwrap();
    std::fs::write(creds.path().join("hs_token"), "tok: with # specials\n").unwrap();
    let case = write("${cred:wa_app_secret}", "${cred:hs_token}");
    let dir = creds.path().to_str().unwrap();
    let loaded = load(&case, &[("CREDENTIALS_DIRECTORY", dir)]).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(secrets(&loaded), ("from-credential".to_owned(), "tok: with # specials".to_owned()));
}

#[test]
fn missing_credential_file_is_an_error() {
    let creds = tempfile::tempdir().unwrap();
    let case = write("${cred:absent}", "${cred:../escape}");
    let error = load(&case, &[("CREDENTIALS_DIRECTORY", creds.path().to_str().unwrap())]).unwrap_err().to_string();
    let lines: Vec<&str> = error.lines().collect();
    assert_eq!(lines.len(), 2, "{error}");
    assert!(
        lines[0].starts_with(&format!(
            "{}: connectors[0].app_secret: cannot read credential `absent`",
            at(&case, "${cred:absent}")
        )),
        "{error}"
    );
    assert!(lines[1].contains("is not a credential name"), "{error}");
}

#[test]
fn error_messages_never_contain_secret_values() {
    let case = write("\"${APP}\"", "tok");
    // The secret is set, but empty after quoting: the validation pass reports it without a value.
    let error = load(&case, &[("APP", ""), ("ADMIN_TOKEN", "hunter2"), ("PORT", "bad")]).unwrap_err().to_string();
    assert!(error.contains("connectors[0].app_secret: secret is empty"), "{error}");
    assert!(!error.contains("hunter2"), "{error}");
}
