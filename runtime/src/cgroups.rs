//! Chapter 02: resource limits with cgroups, through cgroups-rs.
//!
//! Every container gets its own cgroup, `mydocker-<id>`, in every mounted
//! hierarchy (cgroup v1) or in the unified one (v2). The limits are written
//! before the container's process joins it, and it is removed when the
//! container ends.

use std::time::Duration;

use cgroups_rs::fs::cpu::CpuController;
use cgroups_rs::fs::cpuset::CpuSetController;
use cgroups_rs::fs::memory::MemController;
use cgroups_rs::fs::{hierarchies, Cgroup, Controller};
use cgroups_rs::CgroupPid;
use nix::unistd::Pid;

use crate::error::{Context, Error, Result};

/// The limits a user can set on `run`.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct Resources {
    /// Memory limit, e.g. 64m or 1g (at least 6m).
    #[arg(short = 'm', long, value_name = "SIZE", value_parser = parse_memory)]
    pub memory: Option<u64>,

    /// Relative CPU weight (2–262144; the default is 1024).
    #[arg(long, value_name = "SHARES", value_parser = clap::value_parser!(u64).range(2..=262144))]
    pub cpu_shares: Option<u64>,

    /// How much CPU time, in CPUs: 0.5 is half of one CPU.
    #[arg(long, value_name = "CPUS", value_parser = parse_cpus)]
    pub cpus: Option<f64>,

    /// Which CPUs the container may run on, e.g. 0 or 0-1 or 0,2.
    #[arg(long, value_name = "LIST", value_parser = parse_cpuset)]
    pub cpuset_cpus: Option<String>,
}

/// The CFS period `--cpus` is expressed in, as Docker uses.
const CFS_PERIOD_US: u64 = 100_000;

/// A container's cgroup; removed when dropped.
pub struct ContainerCgroup {
    cgroup: Cgroup,
    name: String,
    memory_limit: Option<u64>,
}

impl ContainerCgroup {
    pub fn create(id: &str, resources: &Resources) -> Result<ContainerCgroup> {
        let name = format!("mydocker-{id}");
        let hierarchy = hierarchies::auto();
        let version = if hierarchy.v2() { "v2" } else { "v1" };
        let cgroup = Cgroup::new(hierarchy, &name)
            .with_context(|| format!("failed to create cgroup {name} (cgroup {version})"))?;
        tracing::info!(cgroup = %name, version, "created cgroup");
        // From here on, dropping the guard removes the cgroup again.
        let guard = ContainerCgroup {
            cgroup,
            name,
            memory_limit: resources.memory,
        };
        guard.apply(resources)?;
        Ok(guard)
    }

    // ANCHOR: apply
    /// Write each limit, checking every write: a limit that silently fails
    /// to apply is worse than an error.
    fn apply(&self, r: &Resources) -> Result<()> {
        if let Some(bytes) = r.memory {
            let mem: &MemController = self.controller("memory")?;
            mem.set_limit(bytes as i64).with_context(|| {
                format!("failed to set the memory limit of {} to {bytes}", self.name)
            })?;
        }
        if let Some(shares) = r.cpu_shares {
            let cpu: &CpuController = self.controller("cpu")?;
            let value = if self.cgroup.v2() {
                shares_to_weight(shares)
            } else {
                shares
            };
            cpu.set_shares(value).with_context(|| {
                format!("failed to set the CPU shares of {} to {shares}", self.name)
            })?;
        }
        if let Some(cpus) = r.cpus {
            let cpu: &CpuController = self.controller("cpu")?;
            let quota = (cpus * CFS_PERIOD_US as f64).round() as i64;
            cpu.set_cfs_quota_and_period(Some(quota), Some(CFS_PERIOD_US))
                .with_context(|| {
                    format!("failed to set the CPU quota of {} to {quota}us", self.name)
                })?;
        }
        if let Some(list) = &r.cpuset_cpus {
            let cpuset: &CpuSetController = self.controller("cpuset")?;
            cpuset.set_cpus(list).with_context(|| {
                format!("failed to set cpuset.cpus of {} to {list} (does this machine have those CPUs?)", self.name)
            })?;
        }
        Ok(())
    }
    // ANCHOR_END: apply

    fn controller<'a, T>(&'a self, name: &str) -> Result<&'a T>
    where
        &'a T: From<&'a cgroups_rs::fs::Subsystem>,
        T: Controller + cgroups_rs::fs::ControllIdentifier,
    {
        self.cgroup.controller_of::<T>().ok_or_else(|| {
            Error::usage(format!(
                "the {name} cgroup controller is not available on this host: limits on it cannot be set"
            ))
        })
    }

    /// Put the container's init into the cgroup. Its children follow.
    pub fn add(&self, pid: Pid) -> Result<()> {
        self.cgroup
            .add_task_by_tgid(CgroupPid::from(pid.as_raw() as u64))
            .with_context(|| format!("failed to move process {pid} into cgroup {}", self.name))
    }

    /// If the kernel's OOM killer ended the container, say so: exit 137
    /// alone does not tell a user why.
    pub fn report_oom(&self, exit_code: i32) {
        if exit_code == 128 + libc::SIGKILL && self.oom_kills() > 0 {
            let limit = self
                .memory_limit
                .map(|b| format!(" ({b} bytes)"))
                .unwrap_or_default();
            tracing::warn!(
                "the container ran out of memory: the kernel killed it at its memory limit{limit}"
            );
        }
    }

    fn oom_kills(&self) -> u64 {
        let Some(mem) = self.cgroup.controller_of::<MemController>() else {
            return 0;
        };
        // v1 reports it in memory.oom_control, v2 in memory.events.
        let file = if self.cgroup.v2() {
            "memory.events"
        } else {
            "memory.oom_control"
        };
        let text = std::fs::read_to_string(mem.path().join(file)).unwrap_or_default();
        text.lines()
            .find_map(|line| line.strip_prefix("oom_kill "))
            .and_then(|n| n.trim().parse().ok())
            .unwrap_or(0)
    }
}

impl Drop for ContainerCgroup {
    fn drop(&mut self) {
        // The kernel may take a moment to empty the cgroup after the
        // container's init exits; rmdir fails with EBUSY until then.
        for attempt in 0..50 {
            match self.cgroup.delete() {
                Ok(()) => {
                    tracing::info!(cgroup = %self.name, "removed cgroup");
                    return;
                }
                Err(e) if attempt == 49 => {
                    tracing::error!(cgroup = %self.name, "failed to remove cgroup: {e}");
                }
                Err(_) => std::thread::sleep(Duration::from_millis(20)),
            }
        }
    }
}

/// cgroup v2 has `cpu.weight` (1–10000, default 100) instead of
/// `cpu.shares` (2–262144, default 1024); map one range onto the other.
pub fn shares_to_weight(shares: u64) -> u64 {
    1 + (shares.clamp(2, 262_144) - 2) * 9999 / 262_142
}

/// Parse a size like `64m`, `1.5g`, `512k`, `1048576` or `64MB`.
pub fn parse_size(text: &str) -> std::result::Result<u64, String> {
    let lower = text.trim().to_ascii_lowercase();
    let digits_end = lower
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(lower.len());
    let (number, unit) = lower.split_at(digits_end);
    let multiplier: u64 = match unit.trim_end_matches('b') {
        "" => 1,
        "k" => 1 << 10,
        "m" => 1 << 20,
        "g" => 1 << 30,
        "t" => 1 << 40,
        _ => {
            return Err(format!(
                "invalid size {text:?}: use a number with b, k, m or g, like 64m"
            ))
        }
    };
    let value: f64 = number
        .parse()
        .map_err(|_| format!("invalid size {text:?}: use a number with b, k, m or g, like 64m"))?;
    let bytes = value * multiplier as f64;
    if !bytes.is_finite() || bytes >= u64::MAX as f64 {
        return Err(format!("invalid size {text:?}: too large"));
    }
    Ok(bytes as u64)
}

/// Docker refuses memory limits under 6 MiB: the container could not even start.
pub const MIN_MEMORY: u64 = 6 << 20;

fn parse_memory(text: &str) -> std::result::Result<u64, String> {
    let bytes = parse_size(text)?;
    if bytes < MIN_MEMORY {
        return Err(format!(
            "memory limit {text} is too small: the minimum is 6m"
        ));
    }
    Ok(bytes)
}

fn parse_cpus(text: &str) -> std::result::Result<f64, String> {
    let online = nix::unistd::sysconf(nix::unistd::SysconfVar::_NPROCESSORS_ONLN)
        .ok()
        .flatten()
        .unwrap_or(1) as f64;
    let cpus: f64 = text
        .parse()
        .map_err(|_| format!("invalid --cpus {text:?}: use a number like 0.5"))?;
    if !(0.01..=online).contains(&cpus) {
        return Err(format!(
            "--cpus {text} is out of range: this machine has {online} CPUs, so use 0.01 to {online:.2}"
        ));
    }
    Ok(cpus)
}

/// A CPU list like `0`, `0-3` or `0,2-3`. Whether those CPUs exist is the
/// kernel's to say when the cgroup is written.
pub fn parse_cpuset(text: &str) -> std::result::Result<String, String> {
    let bad = || format!("invalid CPU list {text:?}: use numbers and ranges like 0 or 0-1 or 0,2");
    for part in text.split(',') {
        let mut ends = part.splitn(2, '-');
        let first: u32 = ends.next().unwrap_or("").parse().map_err(|_| bad())?;
        if let Some(last) = ends.next() {
            let last: u32 = last.parse().map_err(|_| bad())?;
            if last < first {
                return Err(bad());
            }
        }
    }
    Ok(text.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_take_docker_units() {
        assert_eq!(parse_size("64m"), Ok(64 << 20));
        assert_eq!(parse_size("64MB"), Ok(64 << 20));
        assert_eq!(parse_size("1g"), Ok(1 << 30));
        assert_eq!(parse_size("1.5g"), Ok(3 << 29));
        assert_eq!(parse_size("512k"), Ok(512 << 10));
        assert_eq!(parse_size("1048576"), Ok(1 << 20));
    }

    #[test]
    fn bad_sizes_are_rejected() {
        for bad in ["", "m", "64x", "-1m", "m64", "1..5m", "64 m b"] {
            assert!(parse_size(bad).is_err(), "{bad:?} should be rejected");
        }
        assert!(parse_size("99999999999t").is_err());
    }

    #[test]
    fn tiny_memory_limits_are_refused() {
        assert!(parse_memory("1m").unwrap_err().contains("minimum is 6m"));
        assert_eq!(parse_memory("6m"), Ok(6 << 20));
    }

    #[test]
    fn cpus_must_fit_the_machine() {
        assert_eq!(parse_cpus("0.5"), Ok(0.5));
        assert!(parse_cpus("0").is_err());
        assert!(parse_cpus("half").is_err());
        assert!(parse_cpus("4096").unwrap_err().contains("out of range"));
    }

    #[test]
    fn cpu_lists_are_checked() {
        for good in ["0", "0-1", "0,2-3"] {
            assert!(parse_cpuset(good).is_ok(), "{good}");
        }
        for bad in ["", "a", "1-", "3-1", "0,,1", "-1"] {
            assert!(parse_cpuset(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn shares_map_onto_weights() {
        assert_eq!(shares_to_weight(2), 1);
        assert_eq!(shares_to_weight(262_144), 10_000);
        assert_eq!(shares_to_weight(1024), 39);
    }
}
