//! `handoffd run` under a service manager: the notify protocol as systemd's `Type=notify` and
//! `WatchdogSec=` speak it, against a socket this test listens on (DESIGN: the test machine does
//! not boot with systemd).

use std::os::unix::net::UnixDatagram;
use std::time::{Duration, Instant};

use super::child::Daemon;

fn messages_until(socket: &UnixDatagram, within: Duration, done: impl Fn(&[String]) -> bool) -> Vec<String> {
    socket.set_read_timeout(Some(Duration::from_millis(100))).unwrap();
    let until = Instant::now() + within;
    let mut messages = Vec::new();
    let mut buffer = [0u8; 1024];
    while Instant::now() < until && !done(&messages) {
        if let Ok(n) = socket.recv(&mut buffer) {
            messages.push(String::from_utf8_lossy(&buffer[..n]).into_owned());
        }
    }
    messages
}

#[test]
fn ready_once_listening_then_watchdog_pings_then_stopping() {
    let dir = tempfile::tempdir().unwrap();
    let socket_path = dir.path().join("notify.sock");
    let socket = UnixDatagram::bind(&socket_path).unwrap();
    let started = Instant::now();
    let daemon = Daemon::start(
        "",
        &[],
        &[
            ("NOTIFY_SOCKET", socket_path.to_str().unwrap()),
            // 400 ms: a ping every 200 ms.
            ("WATCHDOG_USEC", "400000"),
        ],
    );

    let messages = messages_until(&socket, Duration::from_secs(30), |m| m.iter().any(|m| m.starts_with("READY=1")));
    let ready =
        messages.iter().find(|m| m.starts_with("READY=1")).unwrap_or_else(|| panic!("no READY=1: {messages:?}"));
    println!("start to READY=1: {} ms", started.elapsed().as_millis());
    assert!(ready.contains(&format!("STATUS=Running: webhooks on 127.0.0.1:{}", daemon.port)), "{ready}");
    assert!(messages.iter().any(|m| m.starts_with("STATUS=Starting")), "a status while starting: {messages:?}");
    // READY=1 means the listener is bound: a connection succeeds at once.
    std::net::TcpStream::connect(("127.0.0.1", daemon.port)).expect("listening once ready");

    let pings =
        messages_until(&socket, Duration::from_secs(2), |m| m.iter().filter(|m| *m == "WATCHDOG=1").count() >= 3);
    assert!(pings.iter().filter(|m| *m == "WATCHDOG=1").count() >= 3, "watchdog pings: {pings:?}");

    let (exit, log) = daemon.stop();
    assert!(exit.success(), "{log}");
    let last = messages_until(&socket, Duration::from_secs(2), |m| m.iter().any(|m| m.starts_with("STOPPING=1")));
    assert!(last.iter().any(|m| m.starts_with("STOPPING=1")), "STOPPING=1 at shutdown: {last:?}");
}
