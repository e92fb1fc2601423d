//! `-t`: the container keeps the user's terminal as its controlling
//! terminal, and its first process group becomes the terminal's foreground
//! group (without -t the init starts a new session with no terminal).

use nix::sys::signal::{signal, SigHandler, Signal};
use nix::unistd::{getpgrp, setpgid, setsid, tcsetpgrp, Pid};

use crate::error::{Context, Result};

/// In the init, before exec. A shell remembers the process group it
/// started in and gives the terminal back to it on exit; `mydocker run`'s
/// group is invisible from the new PID namespace, so some shells (dash)
/// would fail there. Giving the container a group of its own avoids that.
pub fn take_foreground() -> Result<()> {
    setpgid(Pid::from_raw(0), Pid::from_raw(0))
        .context("failed to create the container's process group")?;
    // A background group that calls tcsetpgrp gets SIGTTOU: ignore it
    // for the call. Handlers are reset by execve, ignored signals are not,
    // so restore the default afterwards.
    let stdin = std::io::stdin();
    // SAFETY: only switches between the default and ignore dispositions.
    unsafe { signal(Signal::SIGTTOU, SigHandler::SigIgn) }.context("failed to ignore SIGTTOU")?;
    let result = tcsetpgrp(&stdin, getpgrp()).context("failed to give the container the terminal");
    unsafe { signal(Signal::SIGTTOU, SigHandler::SigDfl) }.context("failed to restore SIGTTOU")?;
    result
}

/// Without -t: a new session, so the container has no controlling terminal.
pub fn detach_from_terminal() -> Result<()> {
    setsid().map(drop).context("failed to start a new session")
}
