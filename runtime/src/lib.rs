//! mydocker, the runtime of 《自己动手写Docker》 rebuilt in Rust one chapter at
//! a time. Each chapter is a Cargo feature; the modules below are marked
//! with the chapter that brings them.

pub mod cli;
pub mod error;
pub mod layout;
pub mod stage;

// 01 run
#[cfg(feature = "run")]
pub mod handoff;
#[cfg(feature = "run")]
pub mod init;
#[cfg(feature = "run")]
pub mod lookup;
#[cfg(feature = "run")]
pub mod namespaces;
#[cfg(feature = "run")]
pub mod process;
#[cfg(feature = "run")]
pub mod run;
#[cfg(feature = "run")]
pub mod terminal;

// 02 cgroups
#[cfg(feature = "cgroups")]
pub mod cgroups;

// 04 rootfs
#[cfg(feature = "rootfs")]
pub mod image;
#[cfg(feature = "rootfs")]
pub mod rootfs;

// 05 overlay
#[cfg(feature = "overlay")]
pub mod overlay;

use cli::{Cli, Command};
use error::{Error, Result};

/// Run one parsed command line; the exit status to end with.
pub fn dispatch(cli: Cli) -> Result<i32> {
    match cli.command {
        None => Err(Error::usage("no command given: try `mydocker --help`")),
        #[cfg(feature = "run")]
        Some(Command::Run(args)) => run::run(&layout::Layout::new(&cli.root), args),
        #[cfg(feature = "run")]
        Some(Command::Init { message }) => Ok(init::main(message)),
        #[cfg(not(feature = "run"))]
        Some(Command::Init { .. }) => Err(Error::usage(
            stage::later_stage_hint("run").expect("run is stage 01"),
        )),
    }
}
