//! What the bench reads from the operating system: its own open-file limit, CPU time
//! (its own, the server's, and that of the stores the server uses with their children)
//! and the server's resident memory.

use std::time::Duration;

/// Raises this process's `RLIMIT_NOFILE` soft limit to the hard limit; returns the new
/// soft limit.
pub fn raise_nofile_limit() -> std::io::Result<u64> {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit only read and write the struct we pass.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) != 0 {
            return Err(std::io::Error::last_os_error());
        }
        limit.rlim_cur = limit.rlim_max;
        if libc::setrlimit(libc::RLIMIT_NOFILE, &limit) != 0 {
            return Err(std::io::Error::last_os_error());
        }
    }
    Ok(limit.rlim_cur)
}

/// CPU time (user + system) this process has used.
pub fn own_cpu() -> Duration {
    // SAFETY: getrusage writes into the zeroed struct we pass.
    let usage = unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_SELF, &mut usage);
        usage
    };
    let micros = |t: libc::timeval| t.tv_sec as u64 * 1_000_000 + t.tv_usec as u64;
    Duration::from_micros(micros(usage.ru_utime) + micros(usage.ru_stime))
}

/// What `/proc/PID/stat` says of a process: its parent, and its CPU time in clock ticks,
/// its own and that of its children it has waited for.
struct Stat {
    ppid: u32,
    own_ticks: u64,
    reaped_children_ticks: u64,
}

fn stat(pid: u32) -> Option<Stat> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may hold spaces: fields are counted after its closing parenthesis.
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let field = |i: usize| fields.get(i).and_then(|f| f.parse::<u64>().ok());
    Some(Stat {
        ppid: u32::try_from(field(1)?).ok()?,
        own_ticks: field(11)? + field(12)?,
        reaped_children_ticks: field(13)? + field(14)?,
    })
}

fn ticks_to_duration(ticks: u64) -> Duration {
    // SAFETY: sysconf has no preconditions.
    let per_sec = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as u64;
    Duration::from_micros(ticks * 1_000_000 / per_sec)
}

/// CPU time (user + system) of process `pid`, from `/proc/PID/stat`.
pub fn process_cpu(pid: u32) -> Option<Duration> {
    stat(pid).map(|s| ticks_to_duration(s.own_ticks))
}

/// CPU time of process `pid` and of its children, live or exited: what a server that
/// forks a process per connection (PostgreSQL) uses in all. A child that exits between
/// two readings moves from the live sum into the parent's reaped-children time, so the
/// total does not jump.
pub fn process_tree_cpu(pid: u32) -> Option<Duration> {
    let root = stat(pid)?;
    let mut ticks = root.own_ticks + root.reaped_children_ticks;
    for entry in std::fs::read_dir("/proc").ok()?.flatten() {
        let Some(child) = entry.file_name().to_str().and_then(|n| n.parse::<u32>().ok()) else {
            continue;
        };
        if let Some(s) = stat(child).filter(|s| s.ppid == pid) {
            ticks += s.own_ticks + s.reaped_children_ticks;
        }
    }
    Some(ticks_to_duration(ticks))
}

/// CPU time all cores of the machine spent busy so far (`/proc/stat`: everything but
/// idle and I/O wait).
pub fn machine_busy() -> Option<Duration> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let fields: Vec<u64> = stat
        .lines()
        .next()?
        .strip_prefix("cpu ")?
        .split_whitespace()
        .filter_map(|f| f.parse().ok())
        .collect();
    // user nice system idle iowait irq softirq steal …
    let busy: u64 = fields
        .iter()
        .take(8)
        .enumerate()
        .filter(|(i, _)| *i != 3 && *i != 4)
        .map(|(_, v)| v)
        .sum();
    Some(ticks_to_duration(busy))
}

/// Resident memory of process `pid` in KiB (`VmRSS` of `/proc/PID/status`).
pub fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_its_own_process() {
        let pid = std::process::id();
        assert!(rss_kib(pid).unwrap() > 0);
        assert!(process_cpu(pid).is_some());
        assert!(process_tree_cpu(pid).unwrap() >= process_cpu(pid).unwrap());
        assert!(machine_busy().is_some());
    }
}
