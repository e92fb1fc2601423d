//! A minimal /dev: a tmpfs with the few device nodes programs expect, and
//! a private devpts instance for terminals.

use std::os::unix::fs::symlink;
use std::path::Path;

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

/// (target, link in /dev): the targets resolve inside the container.
const LINKS: [(&str, &str); 5] = [
    ("/proc/self/fd", "fd"),
    ("/proc/self/fd/0", "stdin"),
    ("/proc/self/fd/1", "stdout"),
    ("/proc/self/fd/2", "stderr"),
    ("pts/ptmx", "ptmx"),
];

/// Runs in the init, before pivot_root: with `-t`, the user's terminal
/// (a device in the host's /dev) is still reachable and appears in the
/// container as /dev/console.
pub fn mount_dev(root: &Path, console: bool) -> Result<()> {
    let dev = root.join("dev");
    std::fs::create_dir_all(&dev).context("failed to create /dev")?;
    mount(
        Some("tmpfs"),
        &dev,
        Some("tmpfs"),
        MsFlags::MS_NOSUID | MsFlags::MS_STRICTATIME,
        Some("mode=755,size=65536k"),
    )
    .context("failed to mount a tmpfs on /dev")?;
    for (name, major, minor) in DEVICES {
        let path = dev.join(name);
        let shown = path.display();
        let mode = Mode::from_bits_truncate(0o666);
        mknod(&path, SFlag::S_IFCHR, mode, makedev(major, minor))
            .with_context(|| format!("failed to create {shown}"))?;
        // mknod is subject to the umask; make the mode exact.
        nix::sys::stat::fchmodat(
            None,
            &path,
            mode,
            nix::sys::stat::FchmodatFlags::FollowSymlink,
        )
        .with_context(|| format!("failed to chmod {shown}"))?;
    }
    for dir in ["pts", "shm"] {
        std::fs::create_dir(dev.join(dir))
            .with_context(|| format!("failed to create /dev/{dir}"))?;
    }
    mount(
        Some("devpts"),
        &dev.join("pts"),
        Some("devpts"),
        MsFlags::MS_NOSUID | MsFlags::MS_NOEXEC,
        Some("newinstance,ptmxmode=0666,mode=0620"),
    )
    .context("failed to mount devpts on /dev/pts")?;
    for (target, link) in LINKS {
        symlink(target, dev.join(link))
            .with_context(|| format!("failed to link /dev/{link} to {target}"))?;
    }
    if console {
        mount_console(&dev.join("console"))?;
    }
    Ok(())
}

/// The terminal on stdin is a device of the host's /dev, which the
/// container cannot see. Bind it to /dev/console (as runc does), so that
/// `tty` and friends find it by its device number.
fn mount_console(console: &Path) -> Result<()> {
    // By path, not through the fd: the fd belongs to the host's mount
    // namespace, and mount(2) only binds from our own copy of it.
    let terminal =
        std::fs::read_link("/proc/self/fd/0").context("failed to find the terminal on stdin")?;
    std::fs::write(console, "").context("failed to create /dev/console")?;
    mount(
        Some(&terminal),
        console,
        None::<&str>,
        MsFlags::MS_BIND,
        None::<&str>,
    )
    .with_context(|| {
        format!(
            "failed to bind the terminal {} to /dev/console",
            terminal.display()
        )
    })
}
