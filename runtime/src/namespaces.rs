//! Chapter 01: new namespaces, and the re-exec trick.
//!
//! `clone(2)` with `CLONE_NEW*` flags starts a child in fresh UTS, PID,
//! mount, IPC and network namespaces. The child immediately re-executes
//! `/proc/self/exe init`, so that the container's first process is mydocker
//! itself, which sets the container up and then `execve`s the user's command.

use std::ffi::CString;
use std::os::fd::RawFd;

use nix::mount::{mount, MsFlags};
use nix::sched::{clone, CloneFlags};
use nix::sys::signal::Signal;
use nix::unistd::Pid;

use crate::error::{Context, Error, Result};

// ANCHOR: clone
/// The namespaces every container gets.
pub fn clone_flags() -> CloneFlags {
    CloneFlags::CLONE_NEWUTS
        | CloneFlags::CLONE_NEWPID
        | CloneFlags::CLONE_NEWNS
        | CloneFlags::CLONE_NEWIPC
        | CloneFlags::CLONE_NEWNET
}
// ANCHOR_END: clone

/// How the child is wired up before it re-executes itself as init.
pub struct InitSpawn {
    /// Extra arguments after `mydocker init`.
    pub args: Vec<CString>,
    /// (fd in the parent, fd it must have in the child).
    pub fds: Vec<(RawFd, RawFd)>,
    /// Keep the parent's stdin; otherwise the child reads /dev/null.
    pub interactive: bool,
}

/// Start the container's init in new namespaces; returns its PID as seen
/// from the host.
pub fn spawn_init(spawn: InitSpawn) -> Result<Pid> {
    let exe = CString::new("/proc/self/exe").expect("no NUL");
    let mut argv = vec![
        CString::new("mydocker").unwrap(),
        CString::new("init").unwrap(),
    ];
    argv.extend(spawn.args);
    let dev_null = std::fs::File::open("/dev/null").context("failed to open /dev/null")?;
    let stdin = (!spawn.interactive).then(|| std::os::fd::AsRawFd::as_raw_fd(&dev_null));

    // The child runs on its own stack, in a copy of our memory. We are
    // single-threaded, so it may use anything we prepared above.
    let mut stack = vec![0u8; 1 << 20];
    let child = Box::new(|| -> isize {
        let wired = wire_fds(stdin, &spawn.fds).and_then(|()| {
            // A foreground container must not outlive `mydocker run`.
            nix::sys::prctl::set_pdeathsig(Signal::SIGKILL)
        });
        let error = match wired {
            Ok(()) => nix::unistd::execv(&exe, &argv).unwrap_err(),
            Err(e) => e,
        };
        // No init yet to report for us: report through the same pipe.
        crate::handoff::report_failure(&Error::Sys {
            context: "failed to start the container's init".into(),
            source: error,
        });
        crate::error::EXIT_RUNTIME as isize
    });
    // SAFETY: the callback only rearranges fds, calls execv, and on failure
    // writes to the status pipe.
    let pid = unsafe { clone(child, &mut stack, clone_flags(), Some(libc::SIGCHLD)) }
        .context("failed to clone the container's init into new namespaces")?;
    Ok(pid)
}

/// Move each fd to the number the init expects. Going through high fds
/// first means a source that happens to sit on a target number is not
/// overwritten before it is moved.
fn wire_fds(stdin: Option<RawFd>, fds: &[(RawFd, RawFd)]) -> nix::Result<()> {
    use nix::fcntl::{fcntl, FcntlArg};
    if let Some(fd) = stdin {
        nix::unistd::dup2(fd, 0)?;
    }
    let mut high = Vec::with_capacity(fds.len());
    for &(source, target) in fds {
        high.push((fcntl(source, FcntlArg::F_DUPFD(100))?, target));
    }
    for (source, target) in high {
        nix::unistd::dup2(source, target)?;
        nix::unistd::close(source)?;
    }
    Ok(())
}

// ANCHOR: private
/// In the child, first thing: stop our mounts from propagating back to the
/// host. On a host whose `/` is shared (systemd's default) the new /proc
/// would otherwise replace the host's.
pub fn make_mounts_private() -> Result<()> {
    mount(
        None::<&str>,
        "/",
        None::<&str>,
        MsFlags::MS_REC | MsFlags::MS_PRIVATE,
        None::<&str>,
    )
    .context("failed to make the container's mounts private (mount --make-rprivate /)")
}
// ANCHOR_END: private

/// A fresh /proc that shows only the container's processes.
pub fn mount_proc() -> Result<()> {
    std::fs::create_dir_all("/proc").context("failed to create /proc")?;
    let flags = MsFlags::MS_NOSUID | MsFlags::MS_NOEXEC | MsFlags::MS_NODEV;
    mount(Some("proc"), "/proc", Some("proc"), flags, None::<&str>)
        .context("failed to mount a new /proc")
}
