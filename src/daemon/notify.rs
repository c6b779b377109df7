//! The service manager's notify protocol (systemd's `sd_notify`): `READY=1` once the daemon can
//! serve, `STATUS=` lines an admin sees in `systemctl status`, `WATCHDOG=1` pings, `RELOADING=1`
//! and `STOPPING=1`.
//!
//! Written here rather than taken from a crate because the target must be injectable: tests
//! listen on a socket of their own, and a process-wide environment variable cannot be set per
//! test. Outside systemd (`NOTIFY_SOCKET` unset) every call does nothing.

use std::os::unix::net::UnixDatagram;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// Where notifications go, and how often the watchdog wants a ping.
#[derive(Clone, Default)]
pub struct ServiceManager {
    target: Option<Arc<Target>>,
    watchdog: Option<Duration>,
}

struct Target {
    socket: UnixDatagram,
    address: std::os::unix::net::SocketAddr,
}

impl std::fmt::Debug for ServiceManager {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServiceManager")
            .field("notifying", &self.target.is_some())
            .field("watchdog", &self.watchdog)
            .finish()
    }
}

impl ServiceManager {
    /// No service manager: every notification is dropped.
    pub fn none() -> Self {
        Self::default()
    }

    /// From `NOTIFY_SOCKET` and `WATCHDOG_USEC` (with `WATCHDOG_PID`, when set, naming this
    /// process), as systemd sets them for `Type=notify` with `WatchdogSec=`.
    pub fn from_env() -> Self {
        let Some(socket) = std::env::var_os("NOTIFY_SOCKET") else {
            return Self::none();
        };
        let for_us = std::env::var("WATCHDOG_PID").map(|pid| pid.trim() == std::process::id().to_string());
        let watchdog = match for_us {
            Ok(false) => None,
            _ => std::env::var("WATCHDOG_USEC").ok().and_then(|usec| usec.trim().parse::<u64>().ok()),
        };
        Self::to_socket(socket.into(), watchdog.filter(|usec| *usec > 0).map(Duration::from_micros))
    }

    /// To a socket path (`@name` for Linux's abstract namespace), with the watchdog timeout the
    /// manager enforces.
    pub fn to_socket(path: PathBuf, watchdog_timeout: Option<Duration>) -> Self {
        let target = match connect(&path) {
            Ok(target) => Some(Arc::new(target)),
            Err(error) => {
                tracing::warn!(socket = %path.display(), %error, "Cannot reach the service manager's notify socket.");
                None
            }
        };
        Self { target, watchdog: watchdog_timeout }
    }

    /// How often to ping: half the manager's timeout (sd_watchdog_enabled(3)'s advice), or
    /// `None` when no watchdog is armed.
    pub fn watchdog_interval(&self) -> Option<Duration> {
        self.target.as_ref().and(self.watchdog).map(|timeout| timeout / 2)
    }

    pub fn ready(&self, status: &str) {
        self.send(&format!("READY=1\nSTATUS={}", one_line(status)));
    }

    pub fn status(&self, status: &str) {
        self.send(&format!("STATUS={}", one_line(status)));
    }

    pub fn watchdog_ping(&self) {
        self.send("WATCHDOG=1");
    }

    pub fn reloading(&self) {
        self.send("RELOADING=1\nSTATUS=Reloading the configuration");
    }

    pub fn stopping(&self) {
        self.send("STOPPING=1\nSTATUS=Stopping: finishing the requests and rounds in flight");
    }

    fn send(&self, message: &str) {
        let Some(target) = &self.target else { return };
        if let Err(error) = target.socket.send_to_addr(message.as_bytes(), &target.address) {
            tracing::warn!(%error, "Could not notify the service manager.");
        }
    }
}

fn connect(path: &std::path::Path) -> std::io::Result<Target> {
    let socket = UnixDatagram::unbound()?;
    socket.set_nonblocking(true)?;
    let text = path.to_string_lossy();
    let address = match text.strip_prefix('@') {
        Some(name) => abstract_address(name)?,
        None => std::os::unix::net::SocketAddr::from_pathname(path)?,
    };
    Ok(Target { socket, address })
}

#[cfg(target_os = "linux")]
fn abstract_address(name: &str) -> std::io::Result<std::os::unix::net::SocketAddr> {
    use std::os::linux::net::SocketAddrExt;
    std::os::unix::net::SocketAddr::from_abstract_name(name.as_bytes())
}

#[cfg(not(target_os = "linux"))]
fn abstract_address(_name: &str) -> std::io::Result<std::os::unix::net::SocketAddr> {
    Err(std::io::Error::new(std::io::ErrorKind::Unsupported, "abstract sockets exist only on Linux"))
}

/// A status is one line of the protocol: a newline would start another assignment.
fn one_line(status: &str) -> String {
    status.replace(['\n', '\r'], " ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn listen() -> (tempfile::TempDir, UnixDatagram, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("notify.sock");
        let socket = UnixDatagram::bind(&path).unwrap();
        socket.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        (dir, socket, path)
    }

    fn receive(socket: &UnixDatagram) -> String {
        let mut buffer = [0u8; 512];
        let n = socket.recv(&mut buffer).unwrap();
        String::from_utf8_lossy(&buffer[..n]).into_owned()
    }

    #[test]
    fn ready_and_status_reach_the_socket_as_the_protocol_writes_them() {
        let (_dir, socket, path) = listen();
        let manager = ServiceManager::to_socket(path, Some(Duration::from_secs(30)));
        manager.ready("Serving on 127.0.0.1:8080\nand more");
        assert_eq!(receive(&socket), "READY=1\nSTATUS=Serving on 127.0.0.1:8080 and more");
        manager.watchdog_ping();
        assert_eq!(receive(&socket), "WATCHDOG=1");
        assert_eq!(manager.watchdog_interval(), Some(Duration::from_secs(15)));
    }

    #[test]
    fn without_a_socket_nothing_is_sent_and_no_watchdog_is_armed() {
        let manager = ServiceManager::none();
        manager.ready("x");
        assert_eq!(manager.watchdog_interval(), None);
    }
}
