//! The command line. Each stage plugs its flags in here, behind its feature.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

use crate::layout::DEFAULT_ROOT;

#[derive(Debug, Parser)]
#[command(
    name = "mydocker",
    version = crate::stage::version(),
    about = "A container runtime you build one chapter at a time"
)]
pub struct Cli {
    /// Where images and containers are kept.
    #[arg(long, global = true, env = "MYDOCKER_ROOT", default_value = DEFAULT_ROOT)]
    pub root: PathBuf,

    /// How much to say on stderr: error, warn, info, debug or trace.
    #[arg(long, global = true, env = "MYDOCKER_LOG", default_value = "warn")]
    pub log_level: String,

    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run a command in a new container.
    #[cfg(feature = "run")]
    Run(RunArgs),

    /// Internal: the container's first process, started by `run`.
    #[command(hide = true)]
    Init {
        /// The init message, when it travels on the command line (before chapter 03).
        #[arg(hide = true)]
        message: Option<String>,
    },
}

#[cfg(feature = "run")]
#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// Keep stdin open and attached to the container.
    #[arg(short, long)]
    pub interactive: bool,

    /// Give the container the terminal (stdin must be one).
    #[arg(short, long)]
    pub tty: bool,

    /// Write the container's ID to this file.
    #[arg(long, value_name = "FILE")]
    pub cidfile: Option<PathBuf>,

    #[cfg(feature = "cgroups")]
    #[command(flatten)]
    pub resources: crate::cgroups::Resources,

    #[cfg(feature = "overlay")]
    #[arg(long, env = "MYDOCKER_STORAGE_DRIVER", default_value = "overlay")]
    pub storage_driver: crate::overlay::Driver,

    /// The command to run, and its arguments.
    #[arg(required = true, trailing_var_arg = true, value_name = "COMMAND")]
    pub command: Vec<String>,
}

#[cfg(all(test, feature = "run"))]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
        Cli::try_parse_from(std::iter::once("mydocker").chain(args.iter().copied()))
    }

    fn run_args(args: &[&str]) -> RunArgs {
        match parse(args).unwrap().command {
            Some(Command::Run(run)) => run,
            other => panic!("expected run, got {other:?}"),
        }
    }

    #[test]
    fn ti_bundles_and_command_keeps_its_own_flags() {
        let run = run_args(&["run", "-ti", "sh", "-c", "echo -n hi"]);
        assert!(run.tty && run.interactive);
        assert_eq!(run.command, ["sh", "-c", "echo -n hi"]);
    }

    #[test]
    fn a_command_is_required() {
        assert!(parse(&["run", "-ti"]).is_err());
    }

    #[test]
    fn root_comes_from_the_flag() {
        let cli = parse(&["--root", "/tmp/x", "run", "true"]).unwrap();
        assert_eq!(cli.root, PathBuf::from("/tmp/x"));
    }

    #[test]
    fn later_stage_flags_are_rejected_by_clap() {
        let err = parse(&["run", "-v", "/a:/b", "sh"]).unwrap_err();
        assert_eq!(err.kind(), clap::error::ErrorKind::UnknownArgument);
    }

    #[cfg(feature = "cgroups")]
    #[test]
    fn memory_flag_takes_a_size() {
        let run = run_args(&["run", "-m", "64m", "--cpus", "0.5", "true"]);
        assert_eq!(run.resources.memory, Some(64 << 20));
        assert_eq!(run.resources.cpus, Some(0.5));
        assert!(parse(&["run", "-m", "lots", "true"]).is_err());
    }
}
