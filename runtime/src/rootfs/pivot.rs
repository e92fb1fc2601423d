//! `pivot_root(2)`: make a directory the container's `/` and let go of the
//! host's root entirely (unlike chroot, which a root process can escape).

use std::path::Path;

use nix::mount::{mount, umount2, MntFlags, MsFlags};

use crate::error::{Context, Result};

// ANCHOR: pivot
/// Runs in the init, after the mounts were made private.
pub fn pivot_into(new_root: &Path) -> Result<()> {
    let shown = new_root.display();
    // pivot_root needs the new root to be a mount point: bind it onto itself.
    mount(
        Some(new_root),
        new_root,
        None::<&str>,
        MsFlags::MS_BIND | MsFlags::MS_REC,
        None::<&str>,
    )
    .with_context(|| format!("failed to bind-mount {shown} onto itself"))?;
    nix::unistd::chdir(new_root).with_context(|| format!("failed to enter {shown}"))?;
    // pivot_root(".", ".") stacks the old root on top of the new one, at the
    // same place: no directory needs to exist in the image for it.
    nix::unistd::pivot_root(".", ".")
        .with_context(|| format!("failed to pivot_root into {shown}"))?;
    umount2(".", MntFlags::MNT_DETACH)
        .context("failed to detach the host's root after pivot_root")?;
    nix::unistd::chdir("/").context("failed to change to the new /")
}
// ANCHOR_END: pivot
