//! Reading a local server process's resource use from Linux `/proc`: CPU time (user + system, all
//! threads) from `/proc/<pid>/stat`, resident memory from `VmRSS` in `/proc/<pid>/status`.
//!
//! Read-only and pid-based; it never signals or attaches to the process.

use std::io;
use std::process::Command;
use std::sync::OnceLock;

/// CPU seconds (`utime + stime`) the process `pid` has used so far.
///
/// # Errors
/// When `/proc/<pid>/stat` cannot be read or parsed (no such process, not Linux).
pub fn cpu_seconds(pid: u32) -> io::Result<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    parse_stat_ticks(&stat).map(|ticks| ticks as f64 / clock_ticks_per_second()).ok_or_else(|| bad("stat", &stat))
}

/// Resident set size of `pid` in bytes.
///
/// # Errors
/// When `/proc/<pid>/status` cannot be read or has no `VmRSS` line.
pub fn rss_bytes(pid: u32) -> io::Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    parse_vmrss_kib(&status).map(|kib| kib * 1024).ok_or_else(|| bad("status", &status))
}

fn bad(file: &str, text: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, format!("unparsable /proc/<pid>/{file}: {:.80}", text))
}

/// `utime + stime` in clock ticks. The command name (field 2) may hold spaces and parentheses, so
/// fields are counted from the last `)`: state is the first after it, utime the 12th, stime the 13th.
fn parse_stat_ticks(stat: &str) -> Option<u64> {
    let rest = &stat[stat.rfind(')')? + 1..];
    let mut fields = rest.split_whitespace().skip(11);
    let utime: u64 = fields.next()?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some(utime + stime)
}

fn parse_vmrss_kib(status: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// `sysconf(_SC_CLK_TCK)` through `getconf` (no libc binding in this crate); 100, the Linux value
/// on every common architecture, if `getconf` is missing.
fn clock_ticks_per_second() -> f64 {
    static TCK: OnceLock<f64> = OnceLock::new();
    *TCK.get_or_init(|| {
        Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|o| String::from_utf8(o.stdout).ok()?.trim().parse().ok())
            .filter(|&t: &f64| t > 0.0)
            .unwrap_or(100.0)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_fields_are_counted_after_the_command_name() {
        let stat = "1234 (redis (x) 1) S 1 1234 1234 0 -1 4194560 3000 0 0 0 250 75 0 0 20 0 5 0 100 0 0";
        assert_eq!(parse_stat_ticks(stat), Some(325));
        assert_eq!(parse_stat_ticks("garbage"), None);
    }

    #[test]
    fn vmrss_is_read_in_kib() {
        assert_eq!(parse_vmrss_kib("Name:\tx\nVmRSS:\t   12345 kB\nVmSwap: 0 kB\n"), Some(12345));
        assert_eq!(parse_vmrss_kib("Name:\tx\n"), None);
    }

    #[test]
    fn own_process_is_readable() {
        let pid = std::process::id();
        assert!(rss_bytes(pid).unwrap() > 0);
        assert!(cpu_seconds(pid).unwrap() >= 0.0);
    }
}
