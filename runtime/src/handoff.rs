//! The two channels between `mydocker run` (the parent) and the container's
//! init (the child):
//!
//! * the **init message**, parent → child: what to run and how. Before
//!   chapter 03 it travels on the child's command line; from chapter 03 on it
//!   travels over a pipe on fd 3, written only once the parent has put the
//!   child in its cgroup, so limits hold from the first instruction.
//! * the **status pipe**, child → parent, on fd 4, close-on-exec: if the init
//!   fails before `execve`, it writes why; if `execve` succeeds, the kernel
//!   closes the pipe and the parent reads end-of-file.

use std::ffi::CString;
use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

use serde::{Deserialize, Serialize};

use crate::error::{Context, Error, Result};

/// The fd on which the init reads its message (chapter 03 on).
pub const MESSAGE_FD: RawFd = 3;
/// The fd on which the init reports a failure before `execve`.
pub const STATUS_FD: RawFd = 4;

/// Everything the init needs to know to set the container up.
#[derive(Debug, Serialize, Deserialize)]
pub struct InitMessage {
    pub command: Vec<String>,
    pub hostname: String,
    /// Keep the terminal as the controlling terminal (`-t`).
    pub tty: bool,
    /// The directory to pivot into.
    #[cfg(feature = "rootfs")]
    pub rootfs: std::path::PathBuf,
}

impl InitMessage {
    fn to_json(&self) -> String {
        serde_json::to_string(self).expect("init message serializes")
    }

    fn from_json(json: &str) -> Result<InitMessage> {
        serde_json::from_str(json).map_err(|e| Error::usage(format!("bad init message: {e}")))
    }
}

#[cfg(not(feature = "pipe"))]
mod transport {
    //! Chapters 01–02: the message is an argument of `mydocker init`.
    use super::*;

    pub struct Handoff {
        json: String,
    }

    impl Handoff {
        pub fn prepare(message: &InitMessage) -> Result<Handoff> {
            Ok(Handoff {
                json: message.to_json(),
            })
        }

        pub fn init_args(&self) -> Vec<CString> {
            vec![CString::new(self.json.as_str()).expect("JSON has no NUL")]
        }

        pub fn child_fds(&self) -> Vec<(RawFd, RawFd)> {
            Vec::new()
        }

        /// Nothing to do: the child already has its message.
        pub fn send(self) -> Result<()> {
            Ok(())
        }
    }

    pub fn receive(arg: Option<String>) -> Result<InitMessage> {
        let json = arg.ok_or_else(|| Error::usage("mydocker init: no init message"))?;
        InitMessage::from_json(&json)
    }
}

// ANCHOR: pipe
#[cfg(feature = "pipe")]
mod transport {
    //! Chapter 03 on: the message travels over a pipe, sent when the parent
    //! is ready. Until then the child blocks in `read`.
    use super::*;

    pub struct Handoff {
        json: String,
        read: OwnedFd,
        write: OwnedFd,
    }

    impl Handoff {
        pub fn prepare(message: &InitMessage) -> Result<Handoff> {
            let (read, write) = cloexec_pipe("the init message")?;
            Ok(Handoff {
                json: message.to_json(),
                read,
                write,
            })
        }

        pub fn init_args(&self) -> Vec<CString> {
            Vec::new()
        }

        pub fn child_fds(&self) -> Vec<(RawFd, RawFd)> {
            vec![(self.read.as_raw_fd(), MESSAGE_FD)]
        }

        /// Write the message and close the pipe: the child reads to end-of-file.
        pub fn send(self) -> Result<()> {
            drop(self.read);
            File::from(self.write)
                .write_all(self.json.as_bytes())
                .context("failed to send the init message to the container")
        }
    }

    pub fn receive(_arg: Option<String>) -> Result<InitMessage> {
        // SAFETY: `run` placed the read end of the message pipe on this fd.
        let mut pipe = unsafe { File::from_raw_fd(MESSAGE_FD) };
        let mut json = String::new();
        pipe.read_to_string(&mut json)
            .context("failed to read the init message from fd 3")?;
        InitMessage::from_json(&json)
    }
}
// ANCHOR_END: pipe

pub use transport::{receive, Handoff};

/// A pipe whose two ends are closed on `execve`; the child's copies are
/// moved to fixed fds (which clears the flag) before it re-executes itself.
fn cloexec_pipe(what: &str) -> Result<(OwnedFd, OwnedFd)> {
    nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)
        .with_context(|| format!("failed to create the pipe for {what}"))
}

/// What the init reports when it fails before `execve`.
#[derive(Debug, Serialize, Deserialize)]
struct Failure {
    code: i32,
    message: String,
}

/// The parent's end of the status pipe, and the child's end until it is spawned.
pub struct StatusPipe {
    read: File,
    write: Option<OwnedFd>,
}

impl StatusPipe {
    pub fn new() -> Result<StatusPipe> {
        let (read, write) = cloexec_pipe("the init's status")?;
        Ok(StatusPipe {
            read: File::from(read),
            write: Some(write),
        })
    }

    /// The child's end, to be placed on [`STATUS_FD`].
    pub fn child_fd(&self) -> RawFd {
        self.write
            .as_ref()
            .expect("status pipe still open")
            .as_raw_fd()
    }

    /// Close our copy of the child's end (it has its own by now), so that
    /// end-of-file means the child's `execve` succeeded (or it died).
    fn close_child_end(&mut self) {
        self.write = None;
    }

    /// Block until the container's command has started, or return why it
    /// could not.
    pub fn wait_for_exec(mut self) -> Result<()> {
        self.close_child_end();
        let mut report = String::new();
        self.read
            .read_to_string(&mut report)
            .context("failed to read the container's status")?;
        if report.is_empty() {
            return Ok(());
        }
        let failure: Failure = serde_json::from_str(&report).unwrap_or(Failure {
            code: crate::error::EXIT_RUNTIME,
            message: report,
        });
        Err(Error::Container {
            message: failure.message,
            code: failure.code,
        })
    }
}

/// In the child: report `error` to the parent over [`STATUS_FD`].
pub fn report_failure(error: &Error) {
    let failure = Failure {
        code: error.exit_code(),
        message: error.to_string(),
    };
    let json = serde_json::to_string(&failure).expect("failure serializes");
    // SAFETY: `run` placed the write end of the status pipe on this fd. If
    // the parent is gone there is no one to tell, so errors are ignored.
    let mut pipe = unsafe { File::from_raw_fd(STATUS_FD) };
    let _ = pipe.write_all(json.as_bytes());
}

/// In the child: make sure the status pipe does not leak into the command,
/// so that a successful `execve` closes it.
pub fn close_status_on_exec() -> Result<()> {
    use nix::fcntl::{fcntl, FcntlArg, FdFlag};
    fcntl(STATUS_FD, FcntlArg::F_SETFD(FdFlag::FD_CLOEXEC))
        .map(drop)
        .context("the status pipe (fd 4) is missing: mydocker init is started by mydocker run")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_closed_status_pipe_means_the_command_started() {
        let mut status = StatusPipe::new().unwrap();
        status.close_child_end();
        assert!(status.wait_for_exec().is_ok());
    }

    #[test]
    fn a_reported_failure_keeps_its_exit_code() {
        let status = StatusPipe::new().unwrap();
        let json = serde_json::to_string(&Failure {
            code: 127,
            message: "executable file not found: xyz".into(),
        })
        .unwrap();
        let fd = status.write.as_ref().unwrap().try_clone().unwrap();
        File::from(fd).write_all(json.as_bytes()).unwrap();
        let err = status.wait_for_exec().unwrap_err();
        assert_eq!(err.exit_code(), 127);
        assert_eq!(err.to_string(), "executable file not found: xyz");
    }
}
