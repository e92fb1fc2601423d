//! The guest's root filesystem: busybox, the init script, the kernel's
//! modules and the caller's files, as one uncompressed newc cpio archive.
//!
//! Uncompressed because the guest may run under TCG, where decompressing is
//! slow and the host's page cache makes reading a bigger file free.
//! Archives are cached by a digest of all their inputs.

use crate::cpio::CpioWriter;
use crate::kernel::Kernel;
use crate::util::{cache_root, ensure_program, Digest};
use anyhow::{Context, Result};
use std::collections::BTreeSet;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use xshell::{cmd, Shell};

/// The guest's /init, run by busybox's sh.
pub const INIT_SCRIPT: &str = include_str!("init.sh");
/// Bump when the archive's layout changes without its inputs changing.
const FORMAT: &str = "vm-initramfs-1";
/// How many built archives to keep in the cache.
const KEEP: usize = 8;

/// A host file to copy into the guest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExtraFile {
    pub host: PathBuf,
    /// Absolute path in the guest, e.g. `/usr/bin/mydocker`.
    pub guest: String,
    pub mode: u32,
}

impl ExtraFile {
    pub fn new(host: impl Into<PathBuf>, guest: impl Into<String>, mode: u32) -> ExtraFile {
        ExtraFile {
            host: host.into(),
            guest: guest.into(),
            mode,
        }
    }
}

const ETC_FILES: &[(&str, &str)] = &[
    (
        "/etc/passwd",
        "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n",
    ),
    ("/etc/group", "root:x:0:\ntty:x:5:\nnogroup:x:65534:\n"),
    ("/etc/hostname", "vm\n"),
    ("/etc/hosts", "127.0.0.1 localhost vm\n::1 localhost\n"),
];

/// Builds (or reuses) the initramfs and returns its path.
pub fn build(sh: &Shell, kernel: &Kernel, extra: &[ExtraFile]) -> Result<PathBuf> {
    let busybox = PathBuf::from("/bin/busybox");
    if !busybox.exists() {
        ensure_program(sh, "busybox", "busybox-static")?;
    }
    let busybox_bytes = read(&busybox)?;
    // The dynamic `busybox` package would not run in a guest without libc.
    if busybox_bytes.windows(8).any(|w| w == b"/lib64/l") {
        anyhow::bail!(
            "{} is dynamically linked: apt-get install busybox-static",
            busybox.display()
        );
    }
    // Read everything once: the same bytes feed the digest and the archive.
    let mut files: Vec<(String, u32, Vec<u8>)> = Vec::new();
    for m in &kernel.modules {
        let guest = format!("/lib/modules/{}/{}", kernel.version, m.rel);
        files.push((guest, 0o644, read(&m.host)?));
    }
    if let Some(first) = kernel.modules.first() {
        // modules.load and modules.dep sit beside the module tree.
        let dir = first
            .host
            .to_string_lossy()
            .trim_end_matches(&first.rel)
            .to_string();
        for name in ["modules.load", "modules.dep"] {
            let guest = format!("/lib/modules/{}/{name}", kernel.version);
            files.push((guest, 0o644, read(&Path::new(&dir).join(name))?));
        }
    }
    for e in extra {
        anyhow::ensure!(
            e.guest.starts_with('/'),
            "guest path {} must be absolute",
            e.guest
        );
        files.push((e.guest.clone(), e.mode, read(&e.host)?));
    }

    let mut digest = Digest::default();
    digest
        .part(FORMAT.as_bytes())
        .part(INIT_SCRIPT.as_bytes())
        .part(&busybox_bytes);
    for (guest, mode, data) in &files {
        digest
            .part(guest.as_bytes())
            .part(&mode.to_le_bytes())
            .part(data);
    }
    let dir = cache_root().join("initramfs");
    let out = dir.join(format!("{}.cpio", digest.hex()));
    if out.exists() {
        return Ok(out);
    }
    std::fs::create_dir_all(&dir)?;
    let applets = cmd!(sh, "{busybox} --list-full")
        .quiet()
        .read()
        .context("busybox --list-full failed")?;
    // Unique: several test threads may build the same archive at once.
    let tmp = out.with_extension(format!(
        "{}-{:?}.tmp",
        std::process::id(),
        std::thread::current().id()
    ));
    write_archive(&tmp, &busybox_bytes, &applets, &files)
        .with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, &out)?;
    prune(&dir, KEEP);
    Ok(out)
}

fn read(path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))
}

fn write_archive(
    out: &Path,
    busybox: &[u8],
    applets: &str,
    files: &[(String, u32, Vec<u8>)],
) -> Result<()> {
    let file = std::fs::File::create(out)?;
    let mut w = Cpio {
        inner: CpioWriter::new(BufWriter::new(file)),
        dirs: BTreeSet::new(),
    };
    for d in [
        "/",
        "/bin",
        "/sbin",
        "/usr/bin",
        "/usr/sbin",
        "/etc",
        "/proc",
        "/sys",
        "/dev",
        "/run",
        "/root",
    ] {
        w.dir(d, 0o755)?;
    }
    w.dir("/tmp", 0o1777)?;
    w.dir("/var/lib/mydocker", 0o755)?;
    w.inner.char_dev("/dev/console", 0o600, 5, 1)?;
    w.inner.char_dev("/dev/null", 0o666, 1, 3)?;
    w.inner.file("/bin/busybox", 0o755, busybox)?;
    w.inner.file("/init", 0o755, INIT_SCRIPT.as_bytes())?;
    for (path, text) in ETC_FILES {
        w.inner.file(path, 0o644, text.as_bytes())?;
    }
    // Applet links: absolute guest paths such as /usr/bin/awk → /bin/busybox.
    for applet in applets.lines().map(str::trim).filter(|l| !l.is_empty()) {
        let path = format!("/{applet}");
        if path != "/bin/busybox" {
            w.parents(&path)?;
            w.inner.symlink(&path, "/bin/busybox")?;
        }
    }
    for (path, mode, data) in files {
        w.parents(path)?;
        w.inner.file(path, *mode, data)?;
    }
    w.inner.finish()?.flush()?;
    Ok(())
}

/// A cpio writer that creates each parent directory once, before its children.
struct Cpio<W: Write> {
    inner: CpioWriter<W>,
    dirs: BTreeSet<String>,
}

impl<W: Write> Cpio<W> {
    fn dir(&mut self, path: &str, mode: u32) -> std::io::Result<()> {
        self.parents(path)?;
        if self.dirs.insert(path.to_string()) {
            self.inner.dir(path, mode)?;
        }
        Ok(())
    }

    fn parents(&mut self, path: &str) -> std::io::Result<()> {
        if let Some((parent, _)) = path.rsplit_once('/') {
            if !parent.is_empty() && !self.dirs.contains(parent) {
                self.dir(parent, 0o755)?;
            }
        }
        Ok(())
    }
}

/// Appends a small archive holding `script` at `guest` to a copy of `base`:
/// the kernel unpacks concatenated archives in order, so the base archive
/// stays cached and each run adds only its own script.
pub fn with_script(base: &Path, script: &str, guest: &str, out: &Path) -> Result<()> {
    std::fs::copy(base, out)
        .with_context(|| format!("cannot copy {} to {}", base.display(), out.display()))?;
    let file = std::fs::OpenOptions::new().append(true).open(out)?;
    let mut w = Cpio {
        inner: CpioWriter::new(BufWriter::new(file)),
        dirs: BTreeSet::new(),
    };
    // The kernel creates no missing parents; existing ones are left alone.
    w.parents(guest)?;
    w.inner.file(guest, 0o755, script.as_bytes())?;
    w.inner.finish()?.flush()?;
    Ok(())
}

/// Deletes all but the `keep` newest archives.
fn prune(dir: &Path, keep: usize) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut archives: Vec<(std::time::SystemTime, PathBuf)> = entries
        .filter_map(|e| e.ok())
        .filter(|e| e.path().extension().is_some_and(|x| x == "cpio"))
        .filter_map(|e| Some((e.metadata().ok()?.modified().ok()?, e.path())))
        .collect();
    archives.sort();
    let excess = archives.len().saturating_sub(keep);
    for (_, path) in archives.into_iter().take(excess) {
        let _ = std::fs::remove_file(path);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parents_are_created_once_and_first() {
        let mut w = Cpio {
            inner: CpioWriter::new(Vec::new()),
            dirs: BTreeSet::new(),
        };
        w.dir("/", 0o755).unwrap();
        w.parents("/var/lib/mydocker/images/busybox.tar").unwrap();
        w.parents("/var/lib/mydocker/x").unwrap();
        let bytes = w.inner.finish().unwrap();
        let text = String::from_utf8_lossy(&bytes);
        let pos = |name: &str| text.find(&format!("{name}\0")).unwrap();
        assert!(pos("var") < pos("var/lib") && pos("var/lib") < pos("var/lib/mydocker/images"));
        assert_eq!(text.matches("var/lib/mydocker\0").count(), 1);
    }

    #[test]
    fn init_script_is_embedded() {
        assert!(INIT_SCRIPT.starts_with("#!/bin/busybox sh"));
        assert!(INIT_SCRIPT.contains("switch_root"));
    }
}
