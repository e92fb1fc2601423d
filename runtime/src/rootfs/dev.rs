//! A minimal /dev: a tmpfs with the few device nodes programs expect, and
//! a private devpts instance for terminals.

use std::os::unix::fs::symlink;

use nix::mount::{mount, MsFlags};
use nix::sys::stat::{makedev, mknod, Mode, SFlag};

use crate::error::{Context, Result};

/// (name, major, minor) of the character devices every container gets.
const DEVICES: [(&str, u64, u64); 6] = [
    ("null", 1, 3),
    ("zero", 1, 5),
    ("full", 1, 7),
    ("random", 1, 8),
    ("urandom", 1, 9),
    ("tty", 5, 0),
];

const LINKS: [(&str, &str); 5] = [
    ("/proc/self/fd", "/dev/fd"),
    ("/proc/self/fd/0", "/dev/stdin"),
    ("/proc/self/fd/1", "/dev/stdout"),
    ("/proc/self/fd/2", "/dev/stderr"),
    ("pts/ptmx", "/dev/ptmx"),
];

/// Runs in the init, after pivot_root.
pub fn mount_dev() -> Result<()> {
    std::fs::create_dir_all("/dev").context("failed to create /dev")?;
    mount(
        Some("tmpfs"),
        "/dev",
        Some("tmpfs"),
        MsFlags::MS_NOSUID | MsFlags::MS_STRICTATIME,
        Some("mode=755,size=65536k"),
    )
    .context("failed to mount a tmpfs on /dev")?;
    for (name, major, minor) in DEVICES {
        let path = format!("/dev/{name}");
        let mode = Mode::from_bits_truncate(0o666);
        mknod(path.as_str(), SFlag::S_IFCHR, mode, makedev(major, minor))
            .with_context(|| format!("failed to create {path}"))?;
        // mknod is subject to the umask; make the mode exact.
        nix::sys::stat::fchmodat(
            None,
            path.as_str(),
            mode,
            nix::sys::stat::FchmodatFlags::FollowSymlink,
        )
        .with_context(|| format!("failed to chmod {path}"))?;
    }
    for dir in ["/dev/pts", "/dev/shm"] {
        std::fs::create_dir(dir).with_context(|| format!("failed to create {dir}"))?;
    }
    mount(
        Some("devpts"),
        "/dev/pts",
        Some("devpts"),
        MsFlags::MS_NOSUID | MsFlags::MS_NOEXEC,
        Some("newinstance,ptmxmode=0666,mode=0620"),
    )
    .context("failed to mount devpts on /dev/pts")?;
    for (target, link) in LINKS {
        symlink(target, link).with_context(|| format!("failed to link {link} to {target}"))?;
    }
    Ok(())
}
