//! Chapter 04: the container gets its own root filesystem.
//!
//! The parent prepares a directory (the image itself at stage 04, an overlay
//! of it from stage 05 on); the init pivots into it and mounts a fresh /proc
//! and a minimal /dev there.

mod dev;
mod pivot;

pub use dev::mount_dev;
pub use pivot::pivot_into;

/// In the init: make `root` the container's `/`. /dev goes in first,
/// while the terminal on stdin (a device of the host's /dev) can still be
/// reached for /dev/console.
pub fn enter(root: &Path, console: bool) -> Result<()> {
    mount_dev(root, console)?;
    pivot_into(root)
}

use std::path::{Path, PathBuf};

use crate::cli::RunArgs;
use crate::error::Result;
use crate::image;
use crate::layout::Layout;

/// The image every container runs until chapter 14 brings named images.
pub const DEFAULT_IMAGE: &str = "busybox";

/// The directory a container pivots into, and what must be undone when the
/// container ends.
pub struct ContainerRoot {
    path: PathBuf,
    #[cfg(feature = "overlay")]
    _layers: crate::overlay::Layers,
}

impl ContainerRoot {
    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// Stage 04: the container's root is the image directory itself, so what
/// it writes lands in the image (chapter 05 fixes that).
#[cfg(not(feature = "overlay"))]
pub fn prepare(layout: &Layout, _id: &str, _args: &RunArgs) -> Result<ContainerRoot> {
    let path = image::ensure(layout, DEFAULT_IMAGE)?;
    Ok(ContainerRoot { path })
}

/// Stage 05: the image is a read-only layer under the container's own.
#[cfg(feature = "overlay")]
pub fn prepare(layout: &Layout, id: &str, args: &RunArgs) -> Result<ContainerRoot> {
    let image_dir = image::ensure(layout, DEFAULT_IMAGE)?;
    let layers = crate::overlay::Layers::mount(layout, id, &image_dir, args.storage_driver)?;
    Ok(ContainerRoot {
        path: layers.merged().to_path_buf(),
        _layers: layers,
    })
}
