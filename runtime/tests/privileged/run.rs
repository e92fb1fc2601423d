//! Chapter 01: namespaces, the init, a fresh /proc.

use std::os::unix::process::CommandExt;

use crate::support::{stderr, stdout, Host};

#[test]
#[ignore = "needs root: just test-root, or the VM"]
fn the_command_is_pid_1_with_the_container_id_as_hostname() {
    let host = Host::new();
    let (id, out) = host.run_with_id(&["sh", "-c", "echo $$; hostname"]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(id.len(), 12, "container ID {id:?}");
    assert_eq!(stdout(&out), format!("1\n{id}\n"));
    assert_ne!(nix::unistd::gethostname().unwrap().to_string_lossy(), id);
    host.assert_clean();
}

#[test]
#[ignore = "needs root: just test-root, or the VM"]
fn the_container_sees_only_its_own_processes() {
    let host = Host::new();
    let out = host.run(&["run", "sh", "-c", "ls /proc | grep -E '^[0-9]+$'"]);
    // sh, ls and grep: nothing from the host.
    let pids: Vec<u32> = stdout(&out).lines().map(|l| l.parse().unwrap()).collect();
    assert!(pids.contains(&1), "{pids:?}");
    assert!(pids.len() <= 4, "host processes visible: {pids:?}");
}

#[test]
#[ignore = "needs root: just test-root, or the VM"]
fn the_exit_status_is_the_commands() {
    let host = Host::new();
    assert_eq!(
        host.run(&["run", "sh", "-c", "exit 3"]).status.code(),
        Some(3)
    );
    host.assert_clean();
}

#[test]
#[ignore = "needs root: just test-root, or the VM"]
fn the_hosts_proc_is_untouched_after_exit() {
    let host = Host::new();
    let proc_mounts = || {
        std::fs::read_to_string("/proc/self/mountinfo")
            .unwrap()
            .lines()
            .filter(|l| l.contains(" - proc "))
            .count()
    };
    let before = proc_mounts();
    assert_eq!(host.run(&["run", "true"]).status.code(), Some(0));
    assert_eq!(proc_mounts(), before, "a proc mount leaked into the host");
    let me = std::fs::read_link("/proc/self").unwrap();
    assert_eq!(
        me.to_string_lossy(),
        std::process::id().to_string(),
        "/proc/self is wrong"
    );
    host.assert_clean();
}

#[test]
#[ignore = "needs root: just test-root, or the VM"]
fn a_missing_command_exits_127_and_leaves_nothing() {
    let host = Host::new();
    let (id, out) = host.run_with_id(&["no-such-command-xyz"]);
    assert_eq!(
        id, "",
        "the ID file of a container that never started is removed"
    );
    assert_eq!(out.status.code(), Some(127));
    assert!(
        stderr(&out).contains("mydocker: executable file not found: no-such-command-xyz"),
        "{}",
        stderr(&out)
    );
    host.assert_clean();
}

#[test]
#[ignore = "needs root: just test-root, or the VM"]
fn a_non_executable_command_exits_126() {
    let host = Host::new();
    let out = host.run(&["run", "/etc/passwd"]);
    assert_eq!(out.status.code(), Some(126));
    assert!(stderr(&out).contains("not executable"), "{}", stderr(&out));
    host.assert_clean();
}

#[test]
#[ignore = "needs root: just test-root, or the VM"]
fn without_i_stdin_is_closed_and_output_flows() {
    use std::io::Write;
    use std::process::Stdio;
    let host = Host::new();
    for (flags, expected) in [(&[][..], ""), (&["-i"][..], "hello\n")] {
        let mut args = vec!["run"];
        args.extend_from_slice(flags);
        args.extend(["sh", "-c", "cat; echo done"]);
        let mut child = host
            .command(&args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stdin = child.stdin.take().unwrap();
        let _ = stdin.write_all(b"hello\n");
        drop(stdin);
        let out = child.wait_with_output().unwrap();
        assert_eq!(stdout(&out), format!("{expected}done\n"), "with {flags:?}");
    }
    host.assert_clean();
}

#[test]
#[ignore = "needs root: just test-root, or the VM"]
fn t_without_a_terminal_is_refused() {
    let host = Host::new();
    let out = host.run(&["run", "-t", "true"]);
    assert_eq!(out.status.code(), Some(125));
    assert!(stderr(&out).contains("not a TTY"), "{}", stderr(&out));
}

#[test]
#[ignore = "needs root: just test-root, or the VM"]
fn a_non_root_user_is_told_what_needs_root() {
    let host = Host::new();
    let out = host
        .command(&["run", "true"])
        .uid(65534)
        .gid(65534)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(125));
    assert!(stderr(&out).contains("needs root"), "{}", stderr(&out));
}
