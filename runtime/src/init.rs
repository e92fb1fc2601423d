//! The container's first process: `mydocker init`, running as PID 1 in the
//! new namespaces. It sets the container up, then replaces itself with the
//! user's command, which becomes PID 1 in turn.

use std::convert::Infallible;
use std::ffi::CString;

use crate::error::{Context, Error, Result};
use crate::handoff::{self, InitMessage};
use crate::lookup::{self, DEFAULT_PATH};
use crate::namespaces;
use crate::terminal;

/// Entry point of `mydocker init`. Returns only if the command could not be
/// started: the failure has then been reported to the parent, and this is
/// the exit status to end with.
pub fn main(arg: Option<String>) -> i32 {
    if nix::unistd::getpid().as_raw() != 1 {
        eprintln!("mydocker: `mydocker init` is internal: `mydocker run` starts it inside a new container");
        return crate::error::EXIT_RUNTIME;
    }
    let error = match handoff::close_status_on_exec().and_then(|()| setup_and_exec(arg)) {
        Ok(never) => match never {},
        Err(error) => error,
    };
    handoff::report_failure(&error);
    error.exit_code()
}

// ANCHOR: init
fn setup_and_exec(arg: Option<String>) -> Result<Infallible> {
    let message = handoff::receive(arg)?;
    tracing::debug!(?message, "init received its message");

    namespaces::make_mounts_private()?;
    #[cfg(feature = "rootfs")]
    crate::rootfs::enter(&message.rootfs, message.tty)?;
    namespaces::mount_proc()?;
    std::env::set_current_dir("/").context("failed to change to the container's /")?;
    nix::unistd::sethostname(&message.hostname).context("failed to set the hostname")?;
    if message.tty {
        terminal::take_foreground()?;
    } else {
        terminal::detach_from_terminal()?;
    }

    let program = message
        .command
        .first()
        .ok_or_else(|| Error::usage("no command to run"))?;
    let path = lookup::find_executable(program, DEFAULT_PATH)?;
    let argv = cstrings(&message.command)?;
    let env = cstrings(&environment(&message))?;
    let path_c = CString::new(path.as_os_str().as_encoded_bytes())
        .map_err(|_| Error::usage("command path contains a NUL byte"))?;
    let errno = nix::unistd::execve(&path_c, &argv, &env).unwrap_err();
    Err(match errno {
        nix::errno::Errno::ENOENT => Error::NotFound(program.clone()),
        nix::errno::Errno::EACCES | nix::errno::Errno::ENOEXEC => Error::Container {
            message: format!("cannot execute {}: {errno}", path.display()),
            code: crate::error::EXIT_NOT_EXECUTABLE,
        },
        _ => Error::Sys {
            context: format!("failed to execute {}", path.display()),
            source: errno,
        },
    })
}
// ANCHOR_END: init

/// A clean environment, as Docker gives: not the host's.
fn environment(message: &InitMessage) -> Vec<String> {
    let mut env = vec![
        format!("PATH={DEFAULT_PATH}"),
        format!("HOSTNAME={}", message.hostname),
        "HOME=/root".to_string(),
    ];
    if message.tty {
        let term = std::env::var("TERM").unwrap_or_else(|_| "xterm".into());
        env.push(format!("TERM={term}"));
    }
    env
}

fn cstrings(strings: &[String]) -> Result<Vec<CString>> {
    strings
        .iter()
        .map(|s| {
            CString::new(s.as_str()).map_err(|_| Error::usage(format!("{s:?} contains a NUL byte")))
        })
        .collect()
}
