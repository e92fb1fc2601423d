//! Chapter 03: the command arrives over a pipe once the parent is ready.

use crate::support::{stdout, Host};

#[test]
#[ignore = "needs root: just test-root, or the VM"]
fn the_first_instruction_already_runs_in_the_cgroup() {
    let host = Host::new();
    let (id, out) = host.run_with_id(&["-m", "64m", "cat", "/proc/self/cgroup"]);
    let memory_line = stdout(&out)
        .lines()
        .find(|l| l.contains(":memory:") || l.starts_with("0::"))
        .map(str::to_string)
        .unwrap_or_default();
    assert!(
        memory_line.ends_with(&format!("/mydocker-{id}")),
        "{memory_line:?}"
    );
}

#[test]
#[ignore = "needs root: just test-root, or the VM"]
fn the_handoff_pipes_do_not_leak_into_the_command() {
    let host = Host::new();
    let out = host.run(&[
        "run",
        "sh",
        "-c",
        "for fd in 3 4; do [ -e /proc/$$/fd/$fd ] && echo \"fd $fd leaked\"; done; true",
    ]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(stdout(&out), "");
}
