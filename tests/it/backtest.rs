//! `handoffd backtest`: a fixture history made by the pipeline's own stages in a SQLite store (interactions
//! applied as the normaliser does, briefs made and routed by the handoff maker at chosen times), replayed
//! through candidate rules on the command line.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::{DateTime, TimeZone, Utc};
use handoffd::conversation::{BriefMaker, HandoffMaker};
use handoffd::daemon::shared::Shared;
use handoffd::interpret::Interpreter;
use handoffd::store::{NormalizedBatch, NormalizedInteraction, Store};
use handoffd_contract::conversation::Speaker;
use handoffd_contract::identity::IdentityKey;
use handoffd_contract::interaction::{Channel, Content, Direction, Interaction, Message};
use serde_json::Value;

const IST: chrono_tz::Tz = chrono_tz::Asia::Kolkata;

fn ist(d: u32, h: u32, mi: u32) -> DateTime<Utc> {
    IST.with_ymd_and_hms(2026, 11, d, h, mi, 0).unwrap().with_timezone(&Utc)
}

fn config_text(db: &Path, owners: &str) -> String {
    format!(
        r#"store:
  url: sqlite://{db}
server:
  listen: 127.0.0.1:0
admin:
  listen: 127.0.0.1:0
business:
  timezone: Asia/Kolkata
  hours: {{mon: "09:30-19:30", tue: "09:30-19:30", wed: "09:30-19:30", thu: "09:30-19:30", fri: "09:30-19:30", sat: "10:00-18:00"}}
interpret:
  vocabulary: {vocabulary}
routing:
{owners}
delivery:
  crm: hubspot-main
connectors:
  - id: wa-main
    kind: whatsapp_cloud
    app_secret: test-app-secret
    verify_token: token
    phone_number_id: "106540352242922"
    base_url: http://127.0.0.1:9/graph
    default_region: IN
  - id: hubspot-main
    kind: hubspot
    base_url: http://127.0.0.1:9
    access_token: mock-hubspot-token
"#,
        db = db.display(),
        vocabulary = Path::new(env!("CARGO_MANIFEST_DIR")).join("config/vocabulary").display(),
    )
}

const RUNNING_OWNERS: &str = r#"  owners:
    - {id: u1, name: Asha}
    - {id: u2, name: Ravi}"#;

/// A customer of the fixture: what they wrote, when (day of November, hour, minute in IST), and whether
/// the handoff maker made it into a brief.
struct Past {
    phone: &'static str,
    name: &'static str,
    text: &'static str,
    at: (u32, u32, u32),
    made: bool,
}

const fn past(phone: &'static str, name: &'static str, text: &'static str, at: (u32, u32, u32), made: bool) -> Past {
    Past { phone, name, text, at, made }
}

const HISTORY: &[Past] = &[
    past("+919820000004", "Dev", "Hi, I want to buy the 2BHK flat, please call me", (29, 11, 0), true),
    past("+919820000001", "Priya", "I want to book a test drive for the Civic, please call me", (30, 10, 0), true),
    past("+919820000002", "Kabir", "Please send me the price of the annual gym plan and call me", (30, 11, 0), true),
    past("+919820000003", "Meera", "I need a plumber, the kitchen pipe is leaking, please call", (30, 12, 0), true),
    past("+919820000005", "Tara", "I want to buy solar panels for my house, call me please", (30, 13, 0), false),
];

struct Fixture {
    _dir: tempfile::TempDir,
    dir: PathBuf,
    config: PathBuf,
    store: Arc<dyn Store>,
    /// handoff id per customer name.
    handoffs: Vec<(String, String)>,
}

impl Fixture {
    fn handoff(&self, name: &str) -> &str {
        &self.handoffs.iter().find(|(n, _)| n == name).unwrap().1
    }
}

/// The history: each conversation applied as the normaliser applies it, and the handoff maker run at its
/// ready time (quiet period 90 s), as the daemon would; Tara's is left unmade (no brief stored).
async fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().to_owned();
    let config = path.join("handoffd.yaml");
    std::fs::write(&config, config_text(&path.join("handoffd.db"), RUNNING_OWNERS)).unwrap();
    let loaded = handoffd::config::load(&config).unwrap();
    let store = handoffd::store::open(&loaded.store_url()).await.unwrap();
    let interpreter = Arc::new(Interpreter::load(&loaded.config.interpret, loaded.base_dir()).unwrap());
    let briefs = BriefMaker::from_config(&loaded.config, interpreter, store.clone()).unwrap();
    let maker = HandoffMaker {
        store: store.clone(),
        briefs: Shared::new(briefs),
        crm_id: "hubspot-main".into(),
        reopen_after: chrono::Duration::days(7),
        handoffs_changed: Default::default(),
        outbox_changed: Default::default(),
        last_expiry: Default::default(),
    };
    let mut handoffs = Vec::new();
    for (i, Past { phone, name, text, at: (d, h, mi), made }) in HISTORY.iter().enumerate() {
        let at = ist(*d, *h, *mi);
        let interaction = Interaction {
            dedup_key: format!("m{i}"),
            channel: Channel::Whatsapp,
            direction: Direction::Inbound,
            at,
            keys: vec![IdentityKey::phone(*phone)],
            display_name: Some((*name).to_owned()),
            content: Content::Message(Message {
                from: Speaker::Customer,
                kind: "text".into(),
                text: Some((*text).into()),
                ..Default::default()
            }),
        };
        let keys = interaction.keys.iter().flat_map(|k| handoffd::ingest::match_keys(k, None)).collect();
        let batch = NormalizedBatch {
            connector_id: "wa-main".into(),
            received_at: at,
            quiet_period: chrono::Duration::seconds(90),
            reopen_after: chrono::Duration::days(7),
            interactions: vec![NormalizedInteraction { interaction, keys, end_signal: None }],
        };
        handoffd::ingest::apply_interactions(store.as_ref(), &[(i as i64 + 1, batch)]).await.unwrap();
        let ready = at + chrono::Duration::seconds(90);
        let waiting = store.ready_handoffs(ready, 10).await.unwrap();
        assert_eq!(waiting.len(), 1, "{name}'s handoff alone is ready");
        handoffs.push(((*name).to_owned(), waiting[0].id.clone()));
        if *made {
            assert_eq!(maker.round(ready).await.unwrap(), 1, "{name}'s handoff is made");
        }
    }
    Fixture { _dir: dir, dir: path, config, store, handoffs }
}

fn handoffd(config: &Path, args: &[&str]) -> (i32, String, String) {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_handoffd"))
        .args(args)
        .arg("--config")
        .arg(config)
        .output()
        .expect("run handoffd");
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

const PERIOD: [&str; 4] = ["--since", "2026-11-28T00:00:00Z", "--until", "2026-12-01T00:00:00Z"];

/// The candidate: Maya joins, Ravi goes first, and every urgency gets longer than the running policy.
const CANDIDATE: &str = r#"# Candidate rules for next week
routing:
  owners:
    - {id: u2, name: Ravi}
    - {id: u1, name: Asha}
    - {id: u3, name: Maya}
  due:
    high: 2h
    medium: 8h
    low: 4d
"#;

/// What the store holds that a backtest must leave alone: the rotation, and each handoff's state, version and
/// audit trail.
async fn footprint(fixture: &Fixture) -> (i64, Vec<String>) {
    let mut seen = Vec::new();
    for (_, handoff) in &fixture.handoffs {
        let stored = fixture.store.handoff_conversation(handoff).await.unwrap();
        let audit = fixture.store.audit_for_handoff(handoff).await.unwrap();
        seen.push(format!("{:?} v{} {:?}", stored.handoff.state, stored.handoff.version, audit));
    }
    (fixture.store.rotation_position("default").await.unwrap(), seen)
}

#[tokio::test]
async fn a_candidate_that_moves_handoffs_is_diffed_in_text_and_json_and_nothing_is_written() {
    let fixture = fixture().await;
    let before = footprint(&fixture).await;
    assert_eq!(before.0, 4, "four handoffs were routed round robin");
    let rules = fixture.dir.join("rules.yaml");
    std::fs::write(&rules, CANDIDATE).unwrap();
    let rules_arg = rules.to_str().unwrap();
    let (dev, priya, kabir, meera, tara) = (
        fixture.handoff("Dev"),
        fixture.handoff("Priya"),
        fixture.handoff("Kabir"),
        fixture.handoff("Meera"),
        fixture.handoff("Tara"),
    );

    let (code, out, err) = handoffd(&fixture.config, &[&["backtest", "--rules", rules_arg][..], &PERIOD[..]].concat());
    println!("{out}{err}");
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("backtest: 5/5 replayed"), "plain progress lines off a terminal: {err}");
    assert!(
        out.starts_with(&format!(
            "Backtest of `{rules_arg}` on 5 handoffs routed from Sat 2026-11-28 05:30 IST to Tue 2026-12-01 05:30 IST \
             (5 routing decisions replayed, 1 conversation interpreted again)."
        )),
        "{out}"
    );
    for line in [
        "  owner    before  after  change",
        "  u1 Asha       2      2      +0",
        "  u2 Ravi       2      1      -1",
        "  u3 Maya       0      2      +2",
        "Assignments that change: 4",
        &format!("  {priya}  Priya (phone:+919820000001)  u2 Ravi -> u3 Maya  (rule default_pool)"),
        &format!("  {kabir}  Kabir (phone:+919820000002)  u1 Asha -> u2 Ravi  (rule default_pool)"),
        &format!("  {meera}  Meera (phone:+919820000003)  u2 Ravi -> u1 Asha  (rule default_pool)"),
        &format!("  {tara}  Tara (phone:+919820000005)  (never routed) -> u3 Maya  (rule default_pool)"),
        // Owners without hours of their own are never off shift (routing's rule): Dev's Sunday is not flagged.
        "Would land off shift: none",
        "Would be unassigned: none",
        "SLA at risk: 0 before, 5 after",
    ] {
        assert!(out.lines().any(|l| l == line), "missing line `{line}` in:\n{out}");
    }
    assert!(!out.contains(&format!("  {dev}  Dev (phone:+919820000004)  u1 Asha -> ")), "Dev keeps Asha: {out}");

    let (code, out, err) =
        handoffd(&fixture.config, &[&["backtest", "--rules", rules_arg, "--format", "json"][..], &PERIOD[..]].concat());
    assert_eq!(code, 0, "{err}");
    let report: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(report["rules"], rules_arg);
    assert_eq!(report["period"]["since"], "2026-11-28T00:00:00Z");
    assert_eq!(report["period"]["until"], "2026-12-01T00:00:00Z");
    assert_eq!(
        (report["handoffs"].as_u64(), report["decisions"].as_u64(), report["reinterpreted"].as_u64()),
        (Some(5), Some(5), Some(1))
    );
    assert_eq!(report["not_replayed"], serde_json::json!([]));
    assert_eq!(
        report["load"],
        serde_json::json!([
            {"owner": "u1", "name": "Asha", "before": 2, "after": 2},
            {"owner": "u2", "name": "Ravi", "before": 2, "after": 1},
            {"owner": "u3", "name": "Maya", "before": 0, "after": 2},
        ])
    );
    let changes = report["changes"].as_array().unwrap();
    let moved: Vec<(&str, Option<&str>, &str)> = changes
        .iter()
        .map(|c| (c["handoff"].as_str().unwrap(), c["before"]["owner"].as_str(), c["after"]["owner"].as_str().unwrap()))
        .collect();
    assert_eq!(
        moved,
        vec![(priya, Some("u2"), "u3"), (kabir, Some("u1"), "u2"), (meera, Some("u2"), "u1"), (tara, None, "u3")]
    );
    let priya_change = &changes[0];
    assert_eq!(priya_change["customer"]["name"], "Priya");
    assert_eq!(priya_change["customer"]["key"], "phone:+919820000001");
    assert_eq!(priya_change["routed_at"], "2026-11-30T04:31:30Z");
    assert_eq!(priya_change["before"]["rule"], "default_pool");
    assert_eq!(priya_change["before"]["name"], "Ravi");
    // Running policy: medium or high urgency from Mon 10:01:30 IST; the candidate's is later whichever it is.
    let due_before = priya_change["before"]["due"].as_str().unwrap();
    let due_after = priya_change["after"]["due"].as_str().unwrap();
    assert!(due_after > due_before, "{due_before} -> {due_after}");
    assert!(changes[3]["before"].is_null(), "Tara was never routed");
    assert_eq!(report["off_shift"], serde_json::json!([]));
    assert_eq!(report["unassigned"], serde_json::json!([]));
    assert_eq!(report["sla_at_risk"]["before"], 0);
    assert_eq!(report["sla_at_risk"]["after"], 5);
    for risk in report["sla_at_risk"]["handoffs"].as_array().unwrap() {
        let reason = risk["reason"].as_str().unwrap();
        assert!(reason.contains("-urgency policy allows"), "{reason}");
    }

    assert_eq!(footprint(&fixture).await, before, "a backtest writes nothing");
}

#[tokio::test]
async fn the_running_rules_replayed_change_nothing_but_the_unrouted_handoff() {
    let fixture = fixture().await;
    // A whole configuration is accepted as the candidate: here, the running one.
    let config_arg = fixture.config.to_str().unwrap();
    let (code, out, err) = handoffd(
        &fixture.config,
        &[&["backtest", "--rules", config_arg, "--format", "json"][..], &PERIOD[..]].concat(),
    );
    assert_eq!(code, 0, "{err}");
    let report: Value = serde_json::from_str(&out).unwrap();
    let changes = report["changes"].as_array().unwrap();
    assert_eq!(changes.len(), 1, "{changes:?}");
    assert_eq!(changes[0]["handoff"], fixture.handoff("Tara"));
    assert_eq!(report["sla_at_risk"]["before"], 0);
    assert_eq!(report["sla_at_risk"]["after"], 0);

    // The candidate's rotation starts at the owner the period's first decision went to (Asha), not at the
    // stored position: with two owners added around the running two, Dev and Priya keep theirs.
    let rules = fixture.dir.join("four.yaml");
    std::fs::write(
        &rules,
        "routing:\n  owners:\n    - {id: u3, name: Maya}\n    - {id: u4, name: Zoe}\n    - {id: u1, name: Asha}\n    - {id: u2, name: Ravi}\n",
    )
    .unwrap();
    let (code, out, err) = handoffd(
        &fixture.config,
        &[&["backtest", "--rules", rules.to_str().unwrap(), "--format", "json"][..], &PERIOD[..]].concat(),
    );
    assert_eq!(code, 0, "{err}");
    let report: Value = serde_json::from_str(&out).unwrap();
    let moved: Vec<(&str, Option<&str>, &str)> = report["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["handoff"].as_str().unwrap(), c["before"]["owner"].as_str(), c["after"]["owner"].as_str().unwrap()))
        .collect();
    assert_eq!(
        moved,
        vec![
            (fixture.handoff("Kabir"), Some("u1"), "u3"),
            (fixture.handoff("Meera"), Some("u2"), "u4"),
            (fixture.handoff("Tara"), None, "u1"),
        ]
    );
}

#[tokio::test]
async fn a_bad_rules_file_is_refused_with_file_line_and_key() {
    let fixture = fixture().await;
    let rules = fixture.dir.join("bad.yaml");
    std::fs::write(&rules, "routing:\n  owners:\n    - {id: u1, name: Asha}\n    - {id: u1, name: Ravi}\n").unwrap();
    let (code, out, _) = handoffd(&fixture.config, &["backtest", "--rules", rules.to_str().unwrap()]);
    assert_eq!(code, 2, "{out}");
    let expected = format!("{}:4:", rules.display());
    assert!(out.starts_with(&expected), "{out}");
    assert!(out.contains(": routing.owners[1].id: `u1` is already the id of `routing.owners[0]`"), "{out}");

    std::fs::write(&rules, "# candidate\nrouting:\n  owners:\n    - id: u1\n      nmae: Asha\n").unwrap();
    let (code, out, _) = handoffd(&fixture.config, &["backtest", "--rules", rules.to_str().unwrap()]);
    assert_eq!(code, 2, "{out}");
    assert!(out.starts_with(&format!("{}:5:", rules.display())), "{out}");
    assert!(out.contains("routing.owners[0].nmae") && out.contains("unknown field `nmae`"), "{out}");
}

#[tokio::test]
async fn an_empty_period_says_so() {
    let fixture = fixture().await;
    let rules = fixture.dir.join("rules.yaml");
    std::fs::write(&rules, CANDIDATE).unwrap();
    let period = ["--since", "2026-10-01T00:00:00Z", "--until", "2026-10-08T00:00:00Z"];
    let (code, out, err) =
        handoffd(&fixture.config, &[&["backtest", "--rules", rules.to_str().unwrap()][..], &period[..]].concat());
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        out,
        "No handoff was routed from Thu 2026-10-01 05:30 IST to Thu 2026-10-08 05:30 IST: nothing to replay.\n"
    );
    let (code, out, _) = handoffd(
        &fixture.config,
        &[&["backtest", "--rules", rules.to_str().unwrap(), "--format", "json"][..], &period[..]].concat(),
    );
    assert_eq!(code, 0);
    let report: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(report["handoffs"], 0);
    assert_eq!(report["changes"], serde_json::json!([]));
}
