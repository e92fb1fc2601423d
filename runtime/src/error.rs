//! One error type for the runtime, each variant carrying enough context to
//! say what failed, where, and (when we know) what to do about it.
//!
//! Exit codes follow Docker's: 125 when the runtime itself fails, 126 when
//! the command cannot be executed, 127 when it cannot be found.

use std::path::PathBuf;

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Exit status when mydocker itself fails.
pub const EXIT_RUNTIME: i32 = 125;
/// Exit status when the container's command is not executable.
pub const EXIT_NOT_EXECUTABLE: i32 = 126;
/// Exit status when the container's command is not found.
pub const EXIT_NOT_FOUND: i32 = 127;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A system call failed: `context` says what we were doing.
    #[error("{context}: {source}")]
    Sys { context: String, source: nix::Error },

    /// A file operation failed: `context` says what we were doing.
    #[error("{context}: {source}")]
    Io {
        context: String,
        source: std::io::Error,
    },

    /// The user asked for something that cannot work; the message says why
    /// and what to do instead.
    #[error("{0}")]
    Usage(String),

    #[error("{what} needs root: run it with sudo -E (or as root)")]
    NeedsRoot { what: &'static str },

    #[error("executable file not found: {0}")]
    NotFound(String),

    #[error("permission denied: {} is not executable", .0.display())]
    NotExecutable(PathBuf),

    /// The container's init failed before it could start the command, and
    /// told us why over the status pipe.
    #[error("{message}")]
    Container { message: String, code: i32 },

    #[cfg(feature = "cgroups")]
    #[error("{context}: {}", innermost(source))]
    Cgroup {
        context: String,
        source: cgroups_rs::fs::error::Error,
    },
}

/// cgroups-rs' own messages embed their cause's Debug form; the kernel's
/// answer at the bottom of the chain is what a user needs.
#[cfg(feature = "cgroups")]
fn innermost(error: &(dyn std::error::Error + 'static)) -> String {
    let mut current = error;
    while let Some(next) = current.source() {
        current = next;
    }
    current.to_string()
}

impl Error {
    pub fn usage(message: impl Into<String>) -> Self {
        Error::Usage(message.into())
    }

    /// The exit status mydocker ends with when this error stops it.
    pub fn exit_code(&self) -> i32 {
        match self {
            Error::NotFound(_) => EXIT_NOT_FOUND,
            Error::NotExecutable(_) => EXIT_NOT_EXECUTABLE,
            Error::Container { code, .. } => *code,
            _ => EXIT_RUNTIME,
        }
    }
}

/// `.context("failed to …")` for the results of system and file calls, so
/// that every error says what was being attempted.
pub trait Context<T> {
    fn context(self, context: impl Into<String>) -> Result<T>;
    fn with_context<S: Into<String>>(self, f: impl FnOnce() -> S) -> Result<T>;
}

/// An error that can be given the context it happened in.
pub trait InContext {
    fn in_context(self, context: String) -> Error;
}

impl InContext for nix::Error {
    fn in_context(self, context: String) -> Error {
        Error::Sys {
            context,
            source: self,
        }
    }
}

impl InContext for std::io::Error {
    fn in_context(self, context: String) -> Error {
        Error::Io {
            context,
            source: self,
        }
    }
}

#[cfg(feature = "cgroups")]
impl InContext for cgroups_rs::fs::error::Error {
    fn in_context(self, context: String) -> Error {
        Error::Cgroup {
            context,
            source: self,
        }
    }
}

impl<T, E: InContext> Context<T> for std::result::Result<T, E> {
    fn context(self, context: impl Into<String>) -> Result<T> {
        self.map_err(|e| e.in_context(context.into()))
    }
    fn with_context<S: Into<String>>(self, f: impl FnOnce() -> S) -> Result<T> {
        self.map_err(|e| e.in_context(f().into()))
    }
}
