//! The daemon under test as a child process (`handoffd run --config FILE`), so that it can be killed with
//! SIGKILL and its own memory measured, and so that the bench sees it only as users do: webhooks and `/metrics`.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use anyhow::Context;
use tokio::process::{Child, Command};

/// What the daemon's configuration is generated from.
#[derive(Debug, Clone)]
pub struct DaemonSetup {
    /// The instance's name among several sharing one PostgreSQL store (`a`, `b`, ...): it names its
    /// configuration and log files.
    pub name: String,
    /// The `handoffd` executable.
    pub exe: PathBuf,
    /// The interpretation vocabulary folder (absolute, the config lives in a temp dir).
    pub vocabulary: PathBuf,
    pub state_dir: PathBuf,
    pub listen_port: u16,
    /// `admin.listen`'s port, where the bench reads `/metrics`.
    pub admin_port: u16,
    /// The CRM: its connector block, its id and the owners routing assigns.
    pub crm: crate::crm::DaemonCrm,
    pub app_secret: String,
    pub quiet_period: Duration,
    /// Whether the daemon syncs its CRM identity cache (at start, then every 5 minutes).
    pub crm_sync: bool,
    /// `delivery.linger`; `None` leaves it to the product's default for the CRM.
    pub linger: Option<Duration>,
    /// SQLite's `synchronous` mode (`full`, the default, or `normal`).
    pub synchronous: String,
    /// `store.url` when not a SQLite file in `state_dir` (a PostgreSQL schema).
    pub store_url: Option<String>,
    /// Hold delivery back, so that handoffs pile up ready in the outbox: the CRM is paused through the admin API
    /// once the daemon is ready and resumed in place ([`DaemonProcess::resume_crm`]), or, with `release_by_restart`
    /// (HubSpot only), its account allows one request an hour and [`DaemonProcess::start_released`] restarts
    /// the daemon with the CRM's own limits.
    pub hold_delivery: bool,
    /// Let held delivery go by a restart with the CRM's own limits rather than a resume (HubSpot only).
    pub release_by_restart: bool,
}

impl DaemonSetup {
    /// The limits that hold delivery back until a restart, when held that way (see `release_by_restart`).
    fn holding_limits(&self) -> Option<&'static str> {
        self.crm.holding_limits().filter(|_| self.release_by_restart)
    }

    pub fn db_url(&self) -> String {
        if let Some(url) = &self.store_url {
            return url.clone();
        }
        format!("sqlite://{}?synchronous={}", self.state_dir.join("handoffd.db").display(), self.synchronous)
    }

    pub fn config_path(&self) -> PathBuf {
        self.state_dir.join(format!("handoffd-{}.yaml", self.name))
    }

    pub fn config_text(&self) -> String {
        format!(
            r#"store:
  url: "{db}"
server:
  listen: 127.0.0.1:{port}
admin:
  listen: 127.0.0.1:{admin_port}
conversation:
  quiet_period: {quiet}ms
business:
  timezone: Asia/Kolkata
  hours: {{mon: "09:30-19:30", tue: "09:30-19:30", wed: "09:30-19:30", thu: "09:30-19:30", fri: "09:30-19:30", sat: "10:00-18:00"}}
interpret:
  vocabulary: {vocabulary}
{identity}routing:
  owners:
{owners}delivery:
  crm: {crm_id}
  max_attempts: 20
  retry_min: 200ms
  retry_max: 2s
{linger}connectors:
  - id: wa-main
    kind: whatsapp_cloud
    app_secret: {secret}
    verify_token: bench-verify-token
    phone_number_id: "106540352242922"
    base_url: http://127.0.0.1:9/graph
    default_region: IN
  - id: vapi-main
    kind: vapi
    authentication_plan: {{type: hmac, secretKey: {secret}, algorithm: sha256}}
    default_region: IN
  - id: retell-main
    kind: retell
    api_key: {secret}
    default_region: IN
{connector}{hold}"#,
            db = self.db_url(),
            port = self.listen_port,
            admin_port = self.admin_port,
            quiet = self.quiet_period.as_millis(),
            linger = self.linger.map(|linger| format!("  linger: {}ms\n", linger.as_millis())).unwrap_or_default(),
            vocabulary = self.vocabulary.display(),
            identity = if self.crm_sync { "identity:\n  crm_sync: \"0 */5 * * * *\"\n" } else { "" },
            secret = self.app_secret,
            owners = self.crm.owners.iter().map(|id| format!("    - id: \"{id}\"\n")).collect::<String>(),
            crm_id = self.crm.id,
            connector = self.crm.connector,
            hold = if self.hold_delivery { self.holding_limits().unwrap_or_default() } else { "" },
        )
    }
}

/// A running daemon child and the highest resident set any of its incarnations reached.
#[derive(Debug)]
pub struct DaemonProcess {
    setup: DaemonSetup,
    child: Child,
    peak_rss_kib: u64,
    pub restarts: u32,
}

impl DaemonProcess {
    pub async fn start(setup: DaemonSetup) -> anyhow::Result<Self> {
        std::fs::write(setup.config_path(), setup.config_text())
            .with_context(|| format!("cannot write `{}`", setup.config_path().display()))?;
        let child = spawn(&setup)?;
        let mut process = Self { setup, child, peak_rss_kib: 0, restarts: 0 };
        process.wait_ready().await?;
        if process.setup.hold_delivery && process.setup.holding_limits().is_none() {
            process.pause_crm().await?;
        }
        Ok(process)
    }

    /// Pauses delivery to the CRM through the admin API (until the process restarts): how delivery is held for a
    /// CRM whose limiter refuses rather than waits once its budget is spent.
    async fn pause_crm(&self) -> anyhow::Result<()> {
        self.control_crm("pause").await
    }

    /// Ends a held delivery paused through the admin API: resumed in place. (A restart would make the new
    /// incarnation take the account's lease over, and a taken-over account waits one rate window of the vendor's
    /// before its first call: a day for Salesforce and Zoho, whose windows are their daily allocations.)
    pub async fn resume_crm(&mut self) -> anyhow::Result<()> {
        self.setup.hold_delivery = false;
        self.control_crm("resume").await
    }

    async fn control_crm(&self, action: &str) -> anyhow::Result<()> {
        let url = format!("http://127.0.0.1:{}/admin/connectors/{}/{action}", self.setup.admin_port, self.setup.crm.id);
        let response = reqwest::Client::new()
            .post(&url)
            .timeout(Duration::from_secs(10))
            .send()
            .await
            .with_context(|| format!("asking `{url}`"))?;
        anyhow::ensure!(response.status().is_success(), "`{url}` answered {}", response.status());
        Ok(())
    }

    /// Whether delivery is held by pausing the CRM (not by limits).
    pub fn held_by_pause(&self) -> bool {
        self.setup.hold_delivery && self.setup.holding_limits().is_none()
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.id()
    }

    /// SIGKILL, no warning and no restart (a machine lost): the other instances must take its work over.
    pub async fn kill9(&mut self) -> anyhow::Result<()> {
        self.sample_rss();
        self.child.kill().await.context("killing the daemon")
    }

    /// Reads the child's high-water mark of resident memory (`VmHWM`) and keeps the largest seen.
    pub fn sample_rss(&mut self) -> u64 {
        if let Some(kib) = self.pid().and_then(peak_rss_kib) {
            self.peak_rss_kib = self.peak_rss_kib.max(kib);
        }
        self.peak_rss_kib
    }

    /// SIGKILL, no warning, then start a new incarnation on the same database and port.
    pub async fn kill9_and_restart(&mut self) -> anyhow::Result<()> {
        self.sample_rss();
        self.child.kill().await.context("killing the daemon")?;
        self.child = spawn(&self.setup)?;
        self.restarts += 1;
        self.wait_ready().await
    }

    /// Ends a held delivery, once every instance was killed ([`DaemonProcess::kill9`]: a held round waits for the
    /// hour, and none may deliver on the held limits while another starts on HubSpot's): a new incarnation with
    /// HubSpot's limits. It takes back the jobs its predecessor had leased at once (same worker id).
    pub async fn start_released(&mut self) -> anyhow::Result<()> {
        self.setup.hold_delivery = false;
        std::fs::write(self.setup.config_path(), self.setup.config_text())
            .with_context(|| format!("cannot write `{}`", self.setup.config_path().display()))?;
        self.child = spawn(&self.setup)?;
        self.wait_ready().await
    }

    /// SIGTERM (a graceful stop), SIGKILL if it has not exited within 40 s; returns the peak RSS in KiB.
    pub async fn stop(mut self) -> anyhow::Result<u64> {
        self.sample_rss();
        if let Some(pid) = self.pid() {
            let _ = Command::new("kill").arg("-TERM").arg(pid.to_string()).status().await;
        }
        if tokio::time::timeout(Duration::from_secs(40), self.child.wait()).await.is_err() {
            self.child.kill().await.context("killing a daemon that ignored SIGTERM")?;
        }
        Ok(self.peak_rss_kib)
    }

    async fn wait_ready(&mut self) -> anyhow::Result<()> {
        let client = reqwest::Client::new();
        let url = format!("http://127.0.0.1:{}/readyz", self.setup.listen_port);
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        loop {
            if let Ok(response) = client.get(&url).timeout(Duration::from_secs(2)).send().await
                && response.status().is_success()
            {
                return Ok(());
            }
            if let Some(status) = self.child.try_wait()? {
                anyhow::bail!(
                    "the daemon exited with {status} before it was ready; see `{}`",
                    log_path(&self.setup).display()
                );
            }
            anyhow::ensure!(tokio::time::Instant::now() < deadline, "the daemon was not ready within 60 s");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

fn log_path(setup: &DaemonSetup) -> PathBuf {
    setup.state_dir.join(format!("daemon-{}.log", setup.name))
}

fn spawn(setup: &DaemonSetup) -> anyhow::Result<Child> {
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log_path(setup))
        .context("opening the daemon's log file")?;
    Command::new(&setup.exe)
        .arg("run")
        .arg("--config")
        .arg(setup.config_path())
        .env("RUST_LOG", std::env::var("HANDOFFD_BENCH_LOG").unwrap_or_else(|_| "warn".to_owned()))
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log)
        .kill_on_drop(true)
        .spawn()
        .with_context(|| format!("starting `{}`", setup.exe.display()))
}

/// `VmHWM` of a process, in KiB.
pub fn peak_rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status.lines().find_map(|line| line.strip_prefix("VmHWM:")?.trim().strip_suffix("kB")?.trim().parse().ok())
}

/// A port that was free a moment ago (the daemon keeps it across restarts).
pub fn free_port() -> anyhow::Result<u16> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").context("finding a free port")?;
    Ok(listener.local_addr()?.port())
}
