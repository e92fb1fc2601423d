//! Boots the VM for real: slow (a few seconds under TCG), so ignored by
//! default. Run with `cargo test -p vm -- --ignored`.

use std::time::Duration;
use vm::{Assets, Cgroup, ExtraFile, VmOptions};

fn options(cgroup: Cgroup) -> VmOptions {
    // busybox stands in for the runtime: this tests the VM, not mydocker.
    let assets =
        Assets::with_files(&[ExtraFile::new("/bin/busybox", "/usr/bin/mydocker", 0o755)]).unwrap();
    let mut opts = VmOptions::new(&assets).unwrap();
    opts.cgroup = cgroup;
    opts
}

#[test]
#[ignore = "boots a VM: run via the vm suite"]
fn status_output_modules_and_cgroups() {
    let script = "grep -w overlay /proc/filesystems; grep -o '^veth ' /proc/modules; \
                  grep -c shared: /proc/self/mountinfo >/dev/null && echo shared; \
                  stat -fc magic=%t /sys/fs/cgroup; exit 3";
    let out = vm::run_script(
        &options(Cgroup::V2),
        script,
        Duration::from_secs(120),
        false,
    )
    .unwrap();
    assert_eq!(out.status, 3, "{}", out.output);
    for expected in ["overlay", "veth", "shared", "magic=63677270"] {
        assert!(
            out.output.contains(expected),
            "no {expected} in:\n{}",
            out.output
        );
    }
    let v1 = vm::run_script(
        &options(Cgroup::V1),
        "stat -fc %t /sys/fs/cgroup/memory",
        Duration::from_secs(120),
        false,
    );
    let v1 = v1.unwrap();
    assert_eq!((v1.status, v1.output.trim()), (0, "27e0eb"));
}

#[test]
#[ignore = "boots a VM: run via the vm suite"]
fn a_hanging_guest_is_killed() {
    let err = vm::run_script(
        &options(Cgroup::V2),
        "sleep 1000",
        Duration::from_secs(10),
        false,
    )
    .unwrap_err();
    assert!(err.is::<vm::TimedOut>(), "{err:#}");
}
