//! Chapter 05: a union filesystem between the container and its image.
//!
//! The image stays a read-only lower layer; each container gets its own
//! upper layer (where its writes go), a work directory (overlayfs' scratch
//! space) and the merged view, which becomes its `/`. All three are removed
//! when the container ends. aufs, the book's original driver, is used only
//! where the kernel has it and the user asks for it.

use std::fs;
use std::path::{Path, PathBuf};

use nix::mount::{mount, umount2, MntFlags, MsFlags};

use crate::error::{Context, Error, Result};
use crate::layout::Layout;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Driver {
    Overlay,
    Aufs,
}

impl Driver {
    /// The filesystem's name in /proc/filesystems.
    fn fs_type(self) -> &'static str {
        match self {
            Driver::Overlay => "overlay",
            Driver::Aufs => "aufs",
        }
    }

    fn options(self, lower: &Path, upper: &Path, work: &Path) -> String {
        match self {
            Driver::Overlay => format!(
                "lowerdir={},upperdir={},workdir={}",
                lower.display(),
                upper.display(),
                work.display()
            ),
            // aufs has no work directory: branches are listed top first.
            Driver::Aufs => format!("dirs={}=rw:{}=ro", upper.display(), lower.display()),
        }
    }
}

/// Does the running kernel know this filesystem?
fn kernel_has(fs_type: &str) -> bool {
    fs::read_to_string("/proc/filesystems")
        .map(|list| {
            list.lines()
                .any(|l| l.split_whitespace().last() == Some(fs_type))
        })
        .unwrap_or(false)
}

/// A container's layers, mounted; unmounted and removed when dropped.
pub struct Layers {
    container_dir: PathBuf,
    merged: PathBuf,
    mounted: bool,
}

impl Layers {
    // ANCHOR: mount
    pub fn mount(layout: &Layout, id: &str, image: &Path, driver: Driver) -> Result<Layers> {
        if driver == Driver::Aufs && !kernel_has("aufs") {
            return Err(Error::usage(
                "this kernel has no aufs (it is not in /proc/filesystems): use --storage-driver overlay",
            ));
        }
        if !kernel_has(driver.fs_type()) {
            // overlay may be a module that mount(2) loads on demand: try anyway.
            tracing::debug!("{} is not in /proc/filesystems yet", driver.fs_type());
        }
        let (upper, work, merged) = (
            layout.upper_dir(id),
            layout.work_dir(id),
            layout.merged_dir(id),
        );
        for path in [&upper, &work, &merged, &image.to_path_buf()] {
            // The option string is comma- and colon-separated.
            if path.to_string_lossy().contains([',', ':']) {
                return Err(Error::usage(format!(
                    "{} contains ',' or ':', which {} mount options cannot express: choose another --root",
                    path.display(),
                    driver.fs_type()
                )));
            }
        }
        let mut layers = Layers {
            container_dir: layout.container_dir(id),
            merged: merged.clone(),
            mounted: false,
        };
        for dir in [&upper, &work, &merged] {
            fs::create_dir_all(dir)
                .with_context(|| format!("failed to create {}", dir.display()))?;
        }
        let options = driver.options(image, &upper, &work);
        mount(
            Some(driver.fs_type()),
            &merged,
            Some(driver.fs_type()),
            MsFlags::empty(),
            Some(options.as_str()),
        )
        .map_err(|e| match e {
            nix::errno::Errno::ENODEV => Error::usage(format!(
                "the kernel has no {} filesystem: load it with `modprobe {}`",
                driver.fs_type(),
                driver.fs_type()
            )),
            e => Error::Sys {
                context: format!(
                    "failed to mount {} on {}",
                    driver.fs_type(),
                    merged.display()
                ),
                source: e,
            },
        })?;
        layers.mounted = true;
        tracing::info!(
            "storage driver {}: mounted the layers on {}",
            driver.fs_type(),
            merged.display()
        );
        Ok(layers)
    }
    // ANCHOR_END: mount

    pub fn merged(&self) -> &Path {
        &self.merged
    }
}

impl Drop for Layers {
    fn drop(&mut self) {
        if self.mounted {
            if let Err(e) = umount2(&self.merged, MntFlags::empty()) {
                // Something still holds it (a shell cd'ed into it?): detach
                // it now, the kernel frees it when it is no longer used.
                tracing::warn!(
                    "failed to unmount {}: {e}; detaching it",
                    self.merged.display()
                );
                let _ = umount2(&self.merged, MntFlags::MNT_DETACH);
            }
        }
        if let Err(e) = fs::remove_dir_all(&self.container_dir) {
            tracing::error!("failed to remove {}: {e}", self.container_dir.display());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overlay_options_name_all_three_layers() {
        let opts = Driver::Overlay.options(
            Path::new("/img"),
            Path::new("/c/upper"),
            Path::new("/c/work"),
        );
        assert_eq!(opts, "lowerdir=/img,upperdir=/c/upper,workdir=/c/work");
    }

    #[test]
    fn aufs_options_put_the_writable_branch_first() {
        let opts = Driver::Aufs.options(
            Path::new("/img"),
            Path::new("/c/upper"),
            Path::new("/c/work"),
        );
        assert_eq!(opts, "dirs=/c/upper=rw:/img=ro");
    }
}
