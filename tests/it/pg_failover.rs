//! A PostgreSQL failover seen from one daemon: every connection dropped at once, then the server gone for a
//! while and back. The pools reconnect, the LISTEN connection subscribes again, webhooks are answered 5xx while
//! the store cannot commit them (never 2xx without a commit), and every acknowledged message makes exactly its
//! task once the store answers again.
//!
//! Two ways to drop connections: `pg_terminate_backend` on the daemon's own sessions (its schema is its
//! `application_name`; `datname = current_database()` would also end other tests' sessions on the shared test
//! database), and the daemon's `store.url` pointing at a TCP relay in front of the server, which the test cuts
//! (every connection closed, new ones refused) as a failed primary would be, then restores as a new primary
//! answering at the same address.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use handoffd_mocks::MockOptions;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

use crate::spine::harness::{Backend, Harness, eventually, now_unix, post_signed, start_mock, text_webhook};

/// A TCP relay in front of the PostgreSQL server: the daemon's "primary".
struct Primary {
    addr: SocketAddr,
    up: Arc<AtomicBool>,
    /// Bumped by [`Primary::cut`]: every relayed connection ends.
    generation: watch::Sender<u64>,
    accepting: tokio::task::JoinHandle<()>,
}

impl Primary {
    async fn start(server: SocketAddr) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("a relay port");
        let addr = listener.local_addr().expect("its address");
        let up = Arc::new(AtomicBool::new(true));
        let (generation, _) = watch::channel(0u64);
        let (accepting_up, cuts) = (up.clone(), generation.clone());
        let accepting = tokio::spawn(async move {
            loop {
                let Ok((mut client, _)) = listener.accept().await else { continue };
                if !accepting_up.load(Ordering::SeqCst) {
                    // Down: the connection is closed at once, as by a host that is not there.
                    drop(client);
                    continue;
                }
                let mut cut = cuts.subscribe();
                tokio::spawn(async move {
                    let Ok(mut upstream) = TcpStream::connect(server).await else { return };
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut client, &mut upstream) => {}
                        _ = cut.changed() => {}
                    }
                });
            }
        });
        Self { addr, up, generation, accepting }
    }

    /// The primary fails: every connection through it is closed and new ones are refused.
    fn cut(&self) {
        self.up.store(false, Ordering::SeqCst);
        self.generation.send_modify(|g| *g += 1);
    }

    /// A new primary answers at the same address.
    fn restore(&self) {
        self.up.store(true, Ordering::SeqCst);
    }
}

impl Drop for Primary {
    fn drop(&mut self) {
        self.accepting.abort();
    }
}

/// `url` with its host and port replaced by `addr`.
fn through(url: &str, addr: SocketAddr) -> String {
    let mut url = reqwest::Url::parse(url).expect("the store URL parses");
    url.set_host(Some(&addr.ip().to_string())).expect("a host");
    url.set_port(Some(addr.port())).expect("a port");
    url.to_string()
}

/// Runs one statement on the test server (not through the relay).
async fn admin(server_url: &str, sql: &str, schema: &str) -> i64 {
    let pool = sqlx::PgPool::connect(server_url).await.expect("the test server answers");
    let count: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(sql.to_owned()))
        .bind(schema)
        .fetch_one(&pool)
        .await
        .expect("the statement runs");
    pool.close().await;
    count
}

/// Ends every session the daemon has open (they carry its schema as `application_name`).
const TERMINATE: &str =
    "SELECT COUNT(*) FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1) t";

/// The daemon's sessions listening for wake-ups, started at or after `since` (server time, seconds since epoch).
const LISTENING_SINCE: &str = "SELECT COUNT(*) FROM pg_stat_activity WHERE application_name = $1 \
     AND query LIKE 'LISTEN %' AND backend_start >= to_timestamp($2)";

async fn listening_since(server_url: &str, schema: &str, since: f64) -> i64 {
    let pool = sqlx::PgPool::connect(server_url).await.expect("the test server answers");
    let count: i64 = sqlx::query_scalar(LISTENING_SINCE)
        .bind(schema)
        .bind(since)
        .fetch_one(&pool)
        .await
        .expect("the statement runs");
    pool.close().await;
    count
}

async fn server_now(server_url: &str) -> f64 {
    let pool = sqlx::PgPool::connect(server_url).await.expect("the test server answers");
    let now: f64 = sqlx::query_scalar("SELECT EXTRACT(EPOCH FROM clock_timestamp())::float8")
        .fetch_one(&pool)
        .await
        .expect("the server's clock");
    pool.close().await;
    now
}

fn message(customer: usize) -> (String, String) {
    let phone = format!("9198300{customer:05}");
    let body = text_webhook(
        &format!("wamid.FAILOVER{customer}"),
        &phone,
        "Ravi",
        "Please call me about the 3BHK, budget 1.2 crore",
        now_unix(),
    );
    (phone, body)
}

/// Posts until acknowledged, as a vendor re-sends; the statuses that were not 2xx.
async fn post_until_acknowledged(addr: SocketAddr, body: &str) -> Vec<u16> {
    let mut refused = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let status = post_signed(addr, body).await;
        if status.is_success() {
            return refused;
        }
        refused.push(status.as_u16());
        assert!(tokio::time::Instant::now() < deadline, "not acknowledged within 60 s: {refused:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test]
async fn a_failover_drops_every_connection_and_nothing_acknowledged_is_lost() {
    let mock = start_mock(MockOptions::default()).await;
    let Some(mut harness) = Harness::on(Backend::Postgres, mock.base_url()) else { return };
    let server_url = crate::pg_scratch::url_or_skip("the failover test").expect("set, since the harness is");
    let schema = harness.store_url.split("application_name=").nth(1).expect("the schema names the sessions").to_owned();
    let server: SocketAddr = {
        let url = reqwest::Url::parse(&server_url).expect("the server URL parses");
        let host = url.host_str().expect("a host").to_owned();
        let port = url.port().unwrap_or(5432);
        tokio::net::lookup_host((host.as_str(), port)).await.expect("the host resolves").next().expect("an address")
    };
    let primary = Primary::start(server).await;
    harness.store_url = through(&harness.store_url, primary.addr);
    let daemon = harness.start().await;
    let addr = daemon.addr;
    let mut acknowledged = Vec::new();

    // Before anything happens.
    for customer in 0..4 {
        let (phone, body) = message(customer);
        assert_eq!(post_signed(addr, &body).await, 200);
        acknowledged.push(phone);
    }
    eventually(Duration::from_secs(30), "the first tasks", || async {
        Some(()).filter(|_| mock.report().tasks_created >= 4)
    })
    .await;

    // Every session of the daemon's ended by the server: the pool replaces them, the listener subscribes again.
    let terminated_at = server_now(&server_url).await;
    let ended = admin(&server_url, TERMINATE, &schema).await;
    assert!(ended >= 2, "the daemon had its pool and its LISTEN session open: {ended} ended");
    for customer in 4..8 {
        let (phone, body) = message(customer);
        // At most the group commit that met the dead connection is refused; the vendor's retry is accepted.
        let refused = post_until_acknowledged(addr, &body).await;
        assert!(refused.iter().all(|s| *s == 503), "refused only as retryable: {refused:?}");
        acknowledged.push(phone);
    }
    eventually(Duration::from_secs(20), "the LISTEN session re-established", || async {
        (listening_since(&server_url, &schema, terminated_at).await >= 1).then_some(())
    })
    .await;

    // The primary fails and stays away for a while: nothing can be committed, so nothing is acknowledged.
    primary.cut();
    let (phone, body) = message(8);
    let client = reqwest::Client::new();
    let during = client
        .post(format!("http://{addr}/webhooks/wa-main"))
        .header("content-type", "application/json")
        .header(
            "X-Hub-Signature-256",
            handoffd_whatsapp_cloud::sign(crate::spine::harness::APP_SECRET, body.as_bytes()),
        )
        .body(body.clone())
        .timeout(Duration::from_secs(60))
        .send()
        .await
        .expect("answered");
    assert_eq!(during.status(), 503, "a webhook the store could not commit is refused, never acknowledged");
    let ready = client.get(format!("http://{addr}/readyz")).timeout(Duration::from_secs(60)).send().await.unwrap();
    assert_eq!(ready.status(), 503, "not ready while the store does not answer");

    // A new primary at the same address: the vendor's retry is accepted, and new messages too.
    primary.restore();
    let refused = post_until_acknowledged(addr, &body).await;
    assert!(refused.iter().all(|s| *s == 503), "{refused:?}");
    acknowledged.push(phone);
    for customer in 9..12 {
        let (phone, body) = message(customer);
        post_until_acknowledged(addr, &body).await;
        acknowledged.push(phone);
    }
    eventually(Duration::from_secs(20), "ready again", || async {
        let ready = reqwest::get(format!("http://{addr}/readyz")).await.ok()?;
        (ready.status() == 200).then_some(())
    })
    .await;

    eventually(Duration::from_secs(60), "a task per acknowledged customer", || async {
        Some(()).filter(|_| mock.report().tasks_created as usize >= acknowledged.len())
    })
    .await;
    // Longer than a quiet period and a round: nothing more may come.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let report = mock.report();
    assert_eq!(report.tasks_created as usize, acknowledged.len(), "{report:#?}");
    assert_eq!((report.duplicate_tasks, report.duplicate_contacts), (0, 0), "{report:#?}");
    assert_eq!(report.contacts_created as usize, acknowledged.len(), "{report:#?}");
    let failures = daemon.stage_health().failures();
    assert!(failures.is_empty(), "no stage ended through the failover: {failures:?}");
    daemon.shutdown().await.expect("a clean stop");
}
