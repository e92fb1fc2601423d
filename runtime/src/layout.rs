//! The one place that knows how the state directory is laid out.
//!
//! ```text
//! /var/lib/mydocker/                  (--root, MYDOCKER_ROOT)
//! ├── images/
//! │   ├── busybox.tar                 optional: a `docker export` to import
//! │   └── busybox/                    the unpacked, read-only image layer
//! └── containers/
//!     └── <id>/                       one per running container (stage 05)
//!         ├── upper/                  its writes
//!         ├── work/                   overlayfs' scratch space
//!         └── merged/                 the union, which becomes its /
//! ```

use std::path::{Path, PathBuf};

pub const DEFAULT_ROOT: &str = "/var/lib/mydocker";

#[derive(Debug, Clone)]
pub struct Layout {
    root: PathBuf,
}

impl Layout {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Layout { root: root.into() }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn images(&self) -> PathBuf {
        self.root.join("images")
    }

    /// A tar (as `docker export` writes it) that the image is imported from.
    pub fn image_tar(&self, image: &str) -> PathBuf {
        self.images().join(format!("{image}.tar"))
    }

    /// The unpacked image: the container's root at stage 04, the read-only
    /// lower layer from stage 05 on.
    pub fn image_dir(&self, image: &str) -> PathBuf {
        self.images().join(image)
    }

    pub fn containers(&self) -> PathBuf {
        self.root.join("containers")
    }

    pub fn container_dir(&self, id: &str) -> PathBuf {
        self.containers().join(id)
    }

    pub fn upper_dir(&self, id: &str) -> PathBuf {
        self.container_dir(id).join("upper")
    }

    pub fn work_dir(&self, id: &str) -> PathBuf {
        self.container_dir(id).join("work")
    }

    pub fn merged_dir(&self, id: &str) -> PathBuf {
        self.container_dir(id).join("merged")
    }
}
