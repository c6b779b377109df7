//! `handoffd run` as a child process on a configuration of its own.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::spine::harness::Harness;

pub struct Daemon {
    pub child: Child,
    pub port: u16,
    pub config: PathBuf,
    log: PathBuf,
    _dir: tempfile::TempDir,
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// The spine's configuration with fixed ports and `extra` lines appended to `server:`, written to a file.
pub fn write_config(dir: &Path, server_extra: &str) -> (PathBuf, u16, u16) {
    let (port, admin_port) = (free_port(), free_port());
    // Delivery goes nowhere: these tests are about the front door.
    let harness = Harness::on(crate::spine::harness::Backend::Sqlite, "http://127.0.0.1:9".to_owned())
        .expect("SQLite always runs");
    let text = harness
        .config_text()
        .replace(&harness.state_dir.path().display().to_string(), &dir.display().to_string())
        .replace("server:\n  listen: 127.0.0.1:0", &format!("server:\n  listen: 127.0.0.1:{port}\n{server_extra}"))
        .replace("admin:\n  listen: 127.0.0.1:0", &format!("admin:\n  listen: 127.0.0.1:{admin_port}"))
        .replace("vocabulary: vocabulary", &format!("vocabulary: {}/config/vocabulary", env!("CARGO_MANIFEST_DIR")));
    let path = dir.join("handoffd.yaml");
    std::fs::write(&path, text).unwrap();
    (path, port, admin_port)
}

impl Daemon {
    /// Starts `handoffd run`, through `wrapper` (e.g. `prlimit --nofile=1024:1024 --`) when given.
    pub fn start(server_extra: &str, wrapper: &[&str], env: &[(&str, &str)]) -> Self {
        Self::start_edited(server_extra, wrapper, env, |text| text)
    }

    /// [`Daemon::start`] on the configuration as `edit` rewrites it.
    pub fn start_edited(
        server_extra: &str,
        wrapper: &[&str],
        env: &[(&str, &str)],
        edit: impl FnOnce(String) -> String,
    ) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let (config, port, _admin_port) = write_config(dir.path(), server_extra);
        std::fs::write(&config, edit(std::fs::read_to_string(&config).unwrap())).unwrap();
        let binary = env!("CARGO_BIN_EXE_handoffd");
        let mut command = match wrapper.split_first() {
            Some((program, args)) => {
                let mut command = Command::new(program);
                command.args(args).arg(binary);
                command
            }
            None => Command::new(binary),
        };
        // A file, not a pipe: a pipe nobody reads would block the daemon once full.
        let log = dir.path().join("handoffd.log");
        let log_file = std::fs::File::create(&log).unwrap();
        command.args(["run", "--config"]).arg(&config).stdout(Stdio::null()).stderr(log_file);
        for (key, value) in env {
            command.env(key, value);
        }
        let child = command.spawn().unwrap();
        Self { child, port, config, log, _dir: dir }
    }

    pub fn wait_listening(&self) {
        let started = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(started.elapsed() < Duration::from_secs(30), "the daemon did not start listening");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The daemon's resident memory in kB (`VmRSS`).
    pub fn rss_kb(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid())).unwrap();
        let line = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap();
        line.split_whitespace().nth(1).unwrap().parse().unwrap()
    }

    /// The daemon's own pid (under a wrapper such as prlimit, which execs it, the same).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// SIGTERM, wait, and return the log.
    pub fn stop(mut self) -> (std::process::ExitStatus, String) {
        self.terminate()
    }

    /// [`Daemon::stop`], keeping its folder (configuration, store, log) for what comes after.
    pub fn terminate(&mut self) -> (std::process::ExitStatus, String) {
        let _ = Command::new("kill").args(["-TERM", &self.pid().to_string()]).status();
        let stopping = Instant::now();
        let exit = loop {
            if let Some(exit) = self.child.try_wait().unwrap() {
                break exit;
            }
            assert!(stopping.elapsed() < Duration::from_secs(40), "the daemon did not stop after SIGTERM");
            std::thread::sleep(Duration::from_millis(50));
        };
        (exit, self.log())
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap()
    }
}
