//! Three daemons sharing one PostgreSQL: webhooks spread across them, one killed with SIGKILL mid-run and
//! another restarted. Every acknowledged event still makes exactly its task, no task or contact is made twice,
//! and the CRM account's rate limit holds across instances (one writer per account: its lease).
//!
//! Needs `HANDOFFD_TEST_POSTGRES_URL` (skipped without it, failing under CI). The daemons are child processes
//! (`handoffd run`), so a kill is a real SIGKILL; the mock CRM runs in the test.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use handoffd_mocks::{MockLimits, MockOptions};

use crate::spine::harness::{Backend, Harness, eventually, now_unix, post_signed, start_mock, text_webhook};

/// The CRM account's limit, in the mock and in the connector's config: small, so that delivering every task
/// takes a few windows and a doubled rate would show.
const LIMIT: u32 = 10;
const CUSTOMERS: usize = 24;
/// Each customer writes twice: once before the kill, once after.
const ROUNDS: usize = 2;

struct Instance {
    addr: SocketAddr,
    config: PathBuf,
    log: PathBuf,
    child: Option<Child>,
}

impl Instance {
    fn start(&mut self) {
        let log = std::fs::File::create(&self.log).expect("a log file");
        let child = Command::new(env!("CARGO_BIN_EXE_handoffd"))
            .args(["run", "--config"])
            .arg(&self.config)
            .env("RUST_LOG", "warn,handoffd::lease=info")
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("a log file"))
            .stderr(log)
            .spawn()
            .expect("handoffd starts");
        self.child = Some(child);
    }

    fn sigkill(&mut self) {
        let mut child = self.child.take().expect("running");
        child.kill().expect("SIGKILL");
        child.wait().expect("reaped");
    }

    fn sigterm(&mut self) {
        let mut child = self.child.take().expect("running");
        let status = Command::new("kill").args(["-TERM", &child.id().to_string()]).status().expect("kill -TERM");
        assert!(status.success());
        let exited = child.wait().expect("reaped");
        assert!(exited.success(), "a SIGTERM ends the daemon cleanly: {exited}\n{}", self.log_text());
    }

    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    async fn ready(&self) {
        let url = format!("http://{}/readyz", self.addr);
        eventually(Duration::from_secs(20), "an instance ready", || {
            let url = url.clone();
            async move { reqwest::get(&url).await.ok().filter(|r| r.status() == 200) }
        })
        .await;
    }
}

impl Drop for Instance {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").expect("a free port").local_addr().expect("its address").port()
}

/// The harness's configuration on `store_url`, with this instance's ports and files that resolve from anywhere.
fn instance_config(harness: &Harness, dir: &Path, name: &str) -> Instance {
    let (port, admin_port) = (free_port(), free_port());
    let vocabulary = Path::new(env!("CARGO_MANIFEST_DIR")).join("config/vocabulary");
    let text = harness
        .config_text()
        .replacen("listen: 127.0.0.1:0", &format!("listen: 127.0.0.1:{port}"), 1)
        .replacen("listen: 127.0.0.1:0", &format!("listen: 127.0.0.1:{admin_port}"), 1)
        .replace("vocabulary: vocabulary", &format!("vocabulary: {}", vocabulary.display()));
    let config = dir.join(format!("{name}.yaml"));
    std::fs::write(&config, text).expect("the config is written");
    Instance {
        addr: format!("127.0.0.1:{port}").parse().expect("an address"),
        config,
        log: dir.join(format!("{name}.log")),
        child: None,
    }
}

#[tokio::test]
async fn three_instances_share_the_work_and_survive_a_kill_and_a_restart() {
    let mock = start_mock(MockOptions {
        limits: MockLimits { ten_second_max: LIMIT, ..MockLimits::default() },
        ..MockOptions::default()
    })
    .await;
    // A scratch schema of its own; `None`: no PostgreSQL here (skipped, and said so).
    let Some(mut harness) = Harness::on(Backend::Postgres, mock.base_url()) else { return };
    // Batches of four: a few dozen calls, several windows of the account's limit.
    harness.extra_hubspot = format!("    limits: {{requests: {LIMIT}, window: 10s, max_batch: 4}}\n");
    let dir = tempfile::tempdir().expect("a temp dir");
    let mut instances: Vec<Instance> =
        ["a", "b", "c"].iter().map(|name| instance_config(&harness, dir.path(), name)).collect();
    // Started together: their migrations race for the advisory lock on a fresh schema.
    for instance in &mut instances {
        instance.start();
    }
    for instance in &instances {
        instance.ready().await;
    }

    let mut acknowledged = Vec::new();
    let mut sent = 0usize;
    let mut send = async |instances: &[&Instance], round: usize| {
        for customer in 0..CUSTOMERS {
            let phone = format!("9198200{customer:05}");
            let body = text_webhook(
                &format!("wamid.MULTI{customer}x{round}"),
                &phone,
                "Asha",
                "I want a site visit for the 2BHK this weekend, budget 90 lakh",
                now_unix(),
            );
            let to = instances[sent % instances.len()];
            sent += 1;
            if post_signed(to.addr, &body).await == 200 {
                acknowledged.push(phone);
            }
        }
    };
    send(&instances.iter().collect::<Vec<_>>(), 0).await;
    // Mid-run: `b` dies without a word, holding whatever it had claimed or leased.
    instances[1].sigkill();
    send(&[&instances[0], &instances[2]], 1).await;
    // `c` restarts (a deploy): it hands its account lease back and comes again.
    instances[2].sigterm();
    instances[2].start();
    instances[2].ready().await;

    let customers: std::collections::BTreeSet<String> = acknowledged.iter().cloned().collect();
    assert_eq!(acknowledged.len(), CUSTOMERS * ROUNDS, "every webhook to a live instance is acknowledged");
    // Generous: the account allows 10 requests per 10 s, and CI runs this beside the whole suite.
    eventually(Duration::from_secs(150), "a task per customer", || async {
        Some(()).filter(|_| mock.report().tasks_created as usize >= customers.len())
    })
    .await;
    // Longer than a quiet period and a round: nothing more may come.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let report = mock.report();
    let logs = || instances.iter().map(Instance::log_text).collect::<Vec<_>>().join("\n---\n");
    assert_eq!(report.tasks_created as usize, customers.len(), "{report:#?}\n{}", logs());
    assert_eq!((report.duplicate_tasks, report.duplicate_contacts), (0, 0), "{report:#?}");
    assert_eq!(report.contacts_created as usize, customers.len(), "one contact per customer: {report:#?}");
    assert!(
        report.max_requests_in_10s_window <= u64::from(LIMIT),
        "the account's limit held across instances: {report:#?}\n{}",
        logs()
    );
    assert_eq!(report.rate_limited.ten_secondly_rolling, 0, "{report:#?}");
    // Every customer's task names its own contact.
    let contacts: std::collections::BTreeSet<String> =
        mock.tasks().iter().flat_map(|t| t.associations.iter().map(|a| a.to_id.clone())).collect();
    assert_eq!(contacts.len(), customers.len());
    // The daemons end before their schema is dropped.
    drop(instances);
}
