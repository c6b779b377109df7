//! The process's own figures in Prometheus's standard names, read from `/proc/self` at scrape
//! time (Linux; elsewhere nothing is exported).

use std::sync::OnceLock;

/// Clock ticks per second for `/proc/self/stat`'s CPU times: 100 on every Linux this runs on
/// (`sysconf(_SC_CLK_TCK)`, which would need unsafe code to ask).
const TICKS_PER_SECOND: f64 = 100.0;

pub fn export() {
    static START: OnceLock<f64> = OnceLock::new();
    let start = *START.get_or_init(|| {
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs_f64()).unwrap_or(0.0)
            - uptime_of_process().unwrap_or(0.0)
    });
    metrics::gauge!("process_start_time_seconds").set(start);
    if let Ok(status) = std::fs::read_to_string("/proc/self/status") {
        for (key, name) in [("VmRSS:", "process_resident_memory_bytes"), ("VmSize:", "process_virtual_memory_bytes")] {
            if let Some(kb) = status
                .lines()
                .find_map(|l| l.strip_prefix(key))
                .and_then(|v| v.split_whitespace().next()?.parse::<f64>().ok())
            {
                metrics::gauge!(name).set(kb * 1024.0);
            }
        }
    }
    if let Ok(entries) = std::fs::read_dir("/proc/self/fd") {
        metrics::gauge!("process_open_fds").set(entries.count() as f64);
    }
    if let Some(max) = std::fs::read_to_string("/proc/self/limits").ok().and_then(|limits| {
        limits.lines().find(|l| l.starts_with("Max open files"))?.split_whitespace().nth(3)?.parse::<f64>().ok()
    }) {
        metrics::gauge!("process_max_fds").set(max);
    }
    if let Some((user, system)) = cpu_ticks() {
        metrics::gauge!("process_cpu_seconds_total").set((user + system) / TICKS_PER_SECOND);
    }
}

/// utime and stime from `/proc/self/stat` (fields 14 and 15; the command name may hold spaces).
fn cpu_ticks() -> Option<(f64, f64)> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    let after_name = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    Some((fields.get(11)?.parse().ok()?, fields.get(12)?.parse().ok()?))
}

/// Seconds since the process started: the system's uptime minus the process's start tick.
fn uptime_of_process() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    let after_name = &stat[stat.rfind(')')? + 2..];
    let start_ticks: f64 = after_name.split_whitespace().nth(19)?.parse().ok()?;
    let uptime: f64 = std::fs::read_to_string("/proc/uptime").ok()?.split_whitespace().next()?.parse().ok()?;
    Some(uptime - start_ticks / TICKS_PER_SECOND)
}
