//! The container's process as the parent sees it: waited for, with the
//! user's signals passed on, and killed if `run` fails half-way.

use std::sync::atomic::{AtomicI32, Ordering};

use nix::sys::signal::{self, SaFlags, SigAction, SigHandler, SigSet, Signal};
use nix::sys::wait::{waitpid, WaitStatus};
use nix::unistd::Pid;

use crate::error::{Context, Result};

/// The container's init, from `clone` until it has been reaped.
pub struct Container {
    pid: Pid,
    reaped: bool,
}

/// Signals that `mydocker run` passes on to the container instead of dying
/// (which would skip the clean-up of mounts and cgroups).
const FORWARDED: [Signal; 4] = [
    Signal::SIGINT,
    Signal::SIGTERM,
    Signal::SIGHUP,
    Signal::SIGQUIT,
];

static FORWARD_TO: AtomicI32 = AtomicI32::new(0);

extern "C" fn forward(signal: libc::c_int) {
    let pid = FORWARD_TO.load(Ordering::Relaxed);
    if pid > 0 {
        // SAFETY: kill(2) is async-signal-safe.
        unsafe { libc::kill(pid, signal) };
    }
}

impl Container {
    pub fn started(pid: Pid) -> Container {
        Container { pid, reaped: false }
    }

    /// Wait for the container to end; its exit status, or 128 + the signal
    /// that killed it, as a shell reports it.
    pub fn wait(mut self) -> Result<i32> {
        FORWARD_TO.store(self.pid.as_raw(), Ordering::Relaxed);
        let action = SigAction::new(
            SigHandler::Handler(forward),
            SaFlags::SA_RESTART,
            SigSet::empty(),
        );
        for sig in FORWARDED {
            // SAFETY: the handler only calls kill(2).
            unsafe { signal::sigaction(sig, &action) }
                .context("failed to install a signal handler")?;
        }
        let code = loop {
            match waitpid(self.pid, None) {
                Ok(WaitStatus::Exited(_, code)) => break code,
                Ok(WaitStatus::Signaled(_, sig, _)) => break 128 + sig as i32,
                Ok(_) => continue,
                Err(nix::errno::Errno::EINTR) => continue,
                Err(e) => return Err(e).context("failed to wait for the container"),
            }
        };
        self.reaped = true;
        FORWARD_TO.store(0, Ordering::Relaxed);
        tracing::debug!(pid = %self.pid, "container exited");
        tracing::info!("container exited with status {code}");
        Ok(code)
    }
}

impl Drop for Container {
    fn drop(&mut self) {
        if !self.reaped {
            let _ = signal::kill(self.pid, Signal::SIGKILL);
            let _ = waitpid(self.pid, None);
        }
    }
}
