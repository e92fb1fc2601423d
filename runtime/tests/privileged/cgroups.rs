//! Chapter 02: limits through cgroups, one cgroup per container.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use crate::support::{cgroup_dirs, stderr, Host};

/// The file holding a limit, in whichever cgroup version the host runs.
fn limit_file(id: &str, v1: (&str, &str), v2: &str) -> PathBuf {
    let base = PathBuf::from("/sys/fs/cgroup");
    let name = format!("mydocker-{id}");
    if base.join("cgroup.controllers").exists() {
        base.join(name).join(v2)
    } else {
        base.join(v1.0).join(name).join(v1.1)
    }
}

#[test]
#[ignore = "needs root: just test-root, or the VM"]
fn a_memory_hog_is_killed_at_the_limit() {
    let host = Host::new();
    let out = host.run(&["run", "-m", "32m", "tail", "/dev/zero"]);
    assert_eq!(out.status.code(), Some(137));
    assert!(
        stderr(&out).contains("ran out of memory"),
        "{}",
        stderr(&out)
    );
    host.assert_clean();
}

#[test]
#[ignore = "needs root: just test-root, or the VM"]
fn limits_are_written_to_the_containers_own_cgroup() {
    let host = Host::new();
    let cidfile = host.root().join("cid");
    let mut child = host
        .command(&[
            "run",
            "--cidfile",
            cidfile.to_str().unwrap(),
            "-m",
            "64m",
            "--cpu-shares",
            "512",
            "--cpus",
            "0.5",
            "--cpuset-cpus",
            "0",
            "sleep",
            "2",
        ])
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    let id = loop {
        match std::fs::read_to_string(&cidfile) {
            Ok(id) if !id.is_empty() => break id,
            _ if Instant::now() > deadline => panic!("no container ID written"),
            _ => std::thread::sleep(Duration::from_millis(20)),
        }
    };
    // The cidfile is written before the cgroup: wait for the limits too.
    let memory = limit_file(&id, ("memory", "memory.limit_in_bytes"), "memory.max");
    let read = |p: &PathBuf| {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            match std::fs::read_to_string(p) {
                Ok(v) if !v.trim().is_empty() && v.trim() != "max" => break v.trim().to_string(),
                _ if Instant::now() > deadline => panic!("{} never appeared", p.display()),
                _ => std::thread::sleep(Duration::from_millis(20)),
            }
        }
    };
    assert_eq!(read(&memory), (64u64 << 20).to_string());
    let shares = limit_file(&id, ("cpu", "cpu.shares"), "cpu.weight");
    let expected_shares = if shares.ends_with("cpu.weight") {
        "20"
    } else {
        "512"
    };
    assert_eq!(read(&shares), expected_shares);
    let quota = read(&limit_file(&id, ("cpu", "cpu.cfs_quota_us"), "cpu.max"));
    assert!(quota == "50000" || quota == "50000 100000", "quota {quota}");
    assert_eq!(
        read(&limit_file(&id, ("cpuset", "cpuset.cpus"), "cpuset.cpus")),
        "0"
    );

    assert_eq!(child.wait().unwrap().code(), Some(0));
    host.assert_clean();
}

#[test]
#[ignore = "needs root: just test-root, or the VM"]
fn the_cgroup_is_removed_when_the_container_ends() {
    let host = Host::new();
    // Which cgroup the command starts in is chapter 03's business: at this
    // stage it may run before the parent moves it (see the chapter).
    let out = host.run(&["run", "-m", "64m", "true"]);
    assert_eq!(out.status.code(), Some(0));
    host.assert_clean();
}

#[test]
#[ignore = "needs root: just test-root, or the VM"]
fn a_limit_the_kernel_refuses_leaves_no_cgroup() {
    let host = Host::new();
    let out = host.run(&["run", "--cpuset-cpus", "1000", "true"]);
    assert_eq!(out.status.code(), Some(125));
    assert!(stderr(&out).contains("cpuset.cpus"), "{}", stderr(&out));
    assert!(cgroup_dirs().is_empty(), "{:?}", cgroup_dirs());
    host.assert_clean();
}
