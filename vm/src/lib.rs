//! Boots a QEMU microVM with Debian's kernel and a busybox initramfs, so the
//! runtime's privileged tests see the same kernel, cgroup layout and mount
//! propagation everywhere.
//!
//! Typical use from a test harness:
//! ```no_run
//! let assets = vm::Assets::for_stage(5)?;
//! let opts = vm::VmOptions::new(&assets)?; // probes KVM once per host boot
//! let cmd = vm::qemu::command(&opts);        // hand to rexpect::session::spawn_command
//! let out = vm::run_script(&opts, "mydocker run -ti sh -c 'exit 3'", std::time::Duration::from_secs(120), false)?;
//! assert_eq!(out.status, 3);
//! # anyhow::Ok(())
//! ```

pub mod accel;
pub mod cpio;
pub mod initramfs;
pub mod kernel;
pub mod modules;
pub mod qemu;
pub mod run;
pub mod stage;
pub mod suite;
mod util;

pub use initramfs::ExtraFile;
pub use qemu::{Accel, Cgroup, VmOptions};
pub use run::{run_script, RunOutput, TimedOut};
pub use util::{cache_root, workspace_root};

use anyhow::Result;
use std::path::PathBuf;

/// Everything a boot needs on the host: the kernel ELF and the initramfs.
#[derive(Debug, Clone)]
pub struct Assets {
    pub kernel: kernel::Kernel,
    pub initramfs: PathBuf,
}

impl Assets {
    /// Kernel + initramfs with the runtime built at `stage` (1..=18), the
    /// busybox image tar, and nothing else.
    pub fn for_stage(stage: u8) -> Result<Assets> {
        let sh = xshell::Shell::new()?;
        let stage = stage::Stage::from_number(stage)?;
        let runtime = stage::build_runtime(&sh, stage)?;
        let image = stage::busybox_image_tar(&sh)?;
        Assets::with_files(&[
            ExtraFile::new(runtime, "/usr/bin/mydocker", 0o755),
            ExtraFile::new(image, stage::IMAGE_GUEST_PATH, 0o644),
        ])
    }

    /// Kernel + initramfs with the caller's files added (host path → guest path).
    pub fn with_files(extra: &[ExtraFile]) -> Result<Assets> {
        let sh = xshell::Shell::new()?;
        let kernel = kernel::Kernel::get(&sh)?;
        let initramfs = initramfs::build(&sh, &kernel, extra)?;
        Ok(Assets { kernel, initramfs })
    }
}
