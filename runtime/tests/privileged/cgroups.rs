//! Chapter 02: limits through cgroups, one cgroup per container.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::support::{cgroup_dirs, stderr, Host};

/// A file of the container's cgroup: under the controller's hierarchy on
/// cgroup v1, in the unified hierarchy on v2 (`controller` is then None).
fn cgroup_file(id: &str, controller: Option<&str>, file: &str) -> PathBuf {
    let base = PathBuf::from("/sys/fs/cgroup");
    let name = format!("mydocker-{id}");
    match controller {
        Some(controller) => base.join(controller).join(name).join(file),
        None => base.join(name).join(file),
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
    let child = host
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
    // Even if an assertion fails, let the container end and clean up
    // before the next test looks for leftovers.
    let child = WaitOnDrop(child);
    let id = eventually(|| {
        std::fs::read_to_string(&cidfile)
            .ok()
            .filter(|id| !id.is_empty())
    });
    let v2 = Path::new("/sys/fs/cgroup/cgroup.controllers").exists();
    let expect = |v1: (&str, &str), v2_file: &str, v1_value: &str, v2_value: &str| {
        let (file, expected) = if v2 {
            (cgroup_file(&id, None, v2_file), v2_value)
        } else {
            (cgroup_file(&id, Some(v1.0), v1.1), v1_value)
        };
        // The cgroup is created a moment after the ID is written, and the
        // limits a moment after that.
        let found = eventually(|| {
            let value = std::fs::read_to_string(&file).ok()?.trim().to_string();
            (value == expected).then_some(value)
        });
        assert_eq!(found, expected, "{}", file.display());
    };
    let mem = (64u64 << 20).to_string();
    expect(
        ("memory", "memory.limit_in_bytes"),
        "memory.max",
        &mem,
        &mem,
    );
    expect(("cpu", "cpu.shares"), "cpu.weight", "512", "20");
    expect(
        ("cpu", "cpu.cfs_quota_us"),
        "cpu.max",
        "50000",
        "50000 100000",
    );
    expect(("cpuset", "cpuset.cpus"), "cpuset.cpus", "0", "0");
    drop(child);
    host.assert_clean();
}

/// Poll `f` for up to 5 s; panic if it never yields a value.
fn eventually<T>(mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        if let Some(value) = f() {
            return value;
        }
        assert!(Instant::now() < deadline, "gave up waiting after 5 s");
        std::thread::sleep(Duration::from_millis(20));
    }
}

struct WaitOnDrop(std::process::Child);

impl Drop for WaitOnDrop {
    fn drop(&mut self) {
        let _ = self.0.wait();
    }
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
