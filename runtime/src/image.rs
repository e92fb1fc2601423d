//! The busybox image: unpacked once into `images/busybox/`, either from a
//! tar like the one `docker export` writes, or built from the host's static
//! busybox binary (Debian's `busybox-static`).
//!
//! The image is assembled in a scratch directory and renamed into place, so
//! an interrupted import never leaves a half-made image behind.

use std::fs;
use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::{Component, Path, PathBuf};

use crate::error::{Context, Error, Result};
use crate::layout::Layout;

/// Return the unpacked image directory, importing the image first if needed.
pub fn ensure(layout: &Layout, name: &str) -> Result<PathBuf> {
    let dir = layout.image_dir(name);
    if dir.is_dir() {
        return Ok(dir);
    }
    let images = layout.images();
    fs::create_dir_all(&images)
        .with_context(|| format!("failed to create {}", images.display()))?;
    let scratch = Scratch::new(images.join(format!(".{name}.partial-{}", std::process::id())))?;

    let tar = layout.image_tar(name);
    if tar.is_file() {
        tracing::info!(tar = %tar.display(), "importing image {name}");
        unpack(&tar, scratch.path())?;
    } else if let Some(busybox) = find_static_busybox() {
        tracing::info!(busybox = %busybox.display(), "building image {name} from the host's busybox");
        build_from_busybox(&busybox, scratch.path())?;
    } else {
        return Err(Error::usage(format!(
            "there is no image {name:?} yet and nothing to make it from: install a static busybox \
             (apt-get install busybox-static), or put a `docker export` tar at {}",
            tar.display()
        )));
    }
    scratch.rename_to(&dir)?;
    Ok(dir)
}

// ANCHOR: unpack
/// Unpack an image tar into `dest`, refusing entries that would land
/// outside it.
pub fn unpack(tar: &Path, dest: &Path) -> Result<()> {
    let open = || fs::File::open(tar).with_context(|| format!("failed to open {}", tar.display()));
    // First pass: look at every name before writing anything.
    let mut archive = tar::Archive::new(open()?);
    let entries = archive
        .entries()
        .with_context(|| format!("failed to read {}", tar.display()))?;
    for entry in entries {
        let entry = entry.with_context(|| format!("failed to read {}", tar.display()))?;
        let path = entry
            .path()
            .with_context(|| format!("bad entry name in {}", tar.display()))?;
        check_contained(&path, tar)?;
        if entry.header().entry_type().is_hard_link() {
            if let Some(target) = entry.link_name().ok().flatten() {
                check_contained(&target, tar)?;
            }
        }
    }
    // Second pass: unpack. tar-rs also refuses to write through a symlink
    // that points outside `dest` (a `link -> /etc` then `link/passwd`).
    let mut archive = tar::Archive::new(open()?);
    archive.set_preserve_permissions(true);
    archive.set_preserve_ownerships(true);
    archive.set_unpack_xattrs(false);
    archive
        .unpack(dest)
        .with_context(|| format!("failed to unpack {} into {}", tar.display(), dest.display()))
}
// ANCHOR_END: unpack

fn check_contained(path: &Path, tar: &Path) -> Result<()> {
    let escapes = path.components().any(|c| {
        matches!(
            c,
            Component::ParentDir | Component::RootDir | Component::Prefix(_)
        )
    });
    if escapes {
        return Err(Error::usage(format!(
            "refusing to import {}: entry {} would land outside the image",
            tar.display(),
            path.display()
        )));
    }
    Ok(())
}

/// busybox-static installs /bin/busybox; anything dynamically linked would
/// not run inside the image, which has no libc.
fn find_static_busybox() -> Option<PathBuf> {
    let path = std::env::var("PATH").unwrap_or_default();
    let found = ["/bin", "/usr/bin", "/sbin", "/usr/sbin"]
        .into_iter()
        .chain(path.split(':'))
        .map(|dir| Path::new(dir).join("busybox"))
        .find(|p| is_static_elf(p).unwrap_or(false));
    found
}

/// An ELF executable is static if it has no PT_INTERP program header (no
/// dynamic loader). Only 64-bit little-endian ELF is recognised.
pub fn is_static_elf(path: &Path) -> std::io::Result<bool> {
    let bytes = fs::read(path)?;
    let u16_at = |o: usize| {
        bytes
            .get(o..o + 2)
            .map(|b| u16::from_le_bytes([b[0], b[1]]) as usize)
    };
    let u32_at = |o: usize| {
        bytes
            .get(o..o + 4)
            .map(|b| u32::from_le_bytes(b.try_into().unwrap()))
    };
    let u64_at = |o: usize| {
        bytes
            .get(o..o + 8)
            .map(|b| u64::from_le_bytes(b.try_into().unwrap()) as usize)
    };
    if bytes.get(..6) != Some(b"\x7fELF\x02\x01") {
        return Ok(false);
    }
    let (Some(phoff), Some(phentsize), Some(phnum)) = (u64_at(0x20), u16_at(0x36), u16_at(0x38))
    else {
        return Ok(false);
    };
    const PT_INTERP: u32 = 3;
    Ok((0..phnum).all(|i| u32_at(phoff + i * phentsize) != Some(PT_INTERP)))
}

/// A root filesystem made of one static binary and its applet links.
fn build_from_busybox(busybox: &Path, dest: &Path) -> Result<()> {
    for dir in [
        "bin", "sbin", "usr/bin", "usr/sbin", "etc", "proc", "sys", "dev", "root", "tmp", "var/tmp",
    ] {
        let path = dest.join(dir);
        fs::create_dir_all(&path)
            .with_context(|| format!("failed to create {}", path.display()))?;
    }
    for tmp in ["tmp", "var/tmp"] {
        fs::set_permissions(dest.join(tmp), fs::Permissions::from_mode(0o1777))
            .with_context(|| format!("failed to make {tmp} world-writable"))?;
    }
    let target = dest.join("bin/busybox");
    fs::copy(busybox, &target).with_context(|| format!("failed to copy {}", busybox.display()))?;
    fs::set_permissions(&target, fs::Permissions::from_mode(0o755))
        .with_context(|| format!("failed to chmod {}", target.display()))?;

    let output = std::process::Command::new(busybox)
        .arg("--list-full")
        .output()
        .with_context(|| format!("failed to run {} --list-full", busybox.display()))?;
    for applet in String::from_utf8_lossy(&output.stdout).lines() {
        let link = dest.join(applet);
        if applet.is_empty() || applet == "bin/busybox" || link.exists() {
            continue;
        }
        if let Some(parent) = link.parent() {
            fs::create_dir_all(parent)
                .with_context(|| format!("failed to create {}", parent.display()))?;
        }
        symlink("/bin/busybox", &link)
            .with_context(|| format!("failed to link {}", link.display()))?;
    }
    let files = [
        (
            "etc/passwd",
            "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n",
        ),
        ("etc/group", "root:x:0:\nnogroup:x:65534:\n"),
    ];
    for (path, text) in files {
        fs::write(dest.join(path), text).with_context(|| format!("failed to write {path}"))?;
    }
    Ok(())
}

/// A directory that is removed unless it is renamed into place.
struct Scratch {
    path: PathBuf,
    kept: bool,
}

impl Scratch {
    fn new(path: PathBuf) -> Result<Scratch> {
        let _ = fs::remove_dir_all(&path);
        fs::create_dir(&path).with_context(|| format!("failed to create {}", path.display()))?;
        Ok(Scratch { path, kept: false })
    }

    fn path(&self) -> &Path {
        &self.path
    }

    fn rename_to(mut self, dest: &Path) -> Result<()> {
        match fs::rename(&self.path, dest) {
            Ok(()) => {
                self.kept = true;
                Ok(())
            }
            // Another container imported the same image meanwhile: use theirs.
            Err(_) if dest.is_dir() => Ok(()),
            Err(e) => {
                Err(e).with_context(|| format!("failed to move the image into {}", dest.display()))
            }
        }
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        if !self.kept {
            let _ = fs::remove_dir_all(&self.path);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Build a tar by hand, since tar-rs' builder refuses the very names we
    /// want to test.
    fn tar_with(entries: &[(&str, tar::EntryType, &str)]) -> tempfile::NamedTempFile {
        let file = tempfile::NamedTempFile::new().unwrap();
        let mut builder = tar::Builder::new(file.reopen().unwrap());
        for (name, kind, content_or_target) in entries {
            let mut header = tar::Header::new_gnu();
            header.set_entry_type(*kind);
            header.set_mode(if kind.is_dir() { 0o755 } else { 0o644 });
            header.set_uid(0);
            header.set_gid(0);
            header.set_mtime(0);
            // Write the raw name so that `..` and `/` survive.
            let raw = &mut header.as_old_mut().name;
            raw[..name.len()].copy_from_slice(name.as_bytes());
            if kind.is_symlink() {
                header.set_link_name(content_or_target).unwrap();
                header.set_size(0);
                header.set_cksum();
                builder.append(&header, std::io::empty()).unwrap();
            } else {
                header.set_size(content_or_target.len() as u64);
                header.set_cksum();
                builder
                    .append(&header, content_or_target.as_bytes())
                    .unwrap();
            }
        }
        builder.finish().unwrap();
        file
    }

    #[test]
    fn a_plain_tar_unpacks() {
        let tar = tar_with(&[
            ("etc/", tar::EntryType::Directory, ""),
            ("etc/hostname", tar::EntryType::Regular, "box\n"),
            ("bin/sh", tar::EntryType::Symlink, "/bin/busybox"),
        ]);
        let dest = tempfile::tempdir().unwrap();
        unpack(tar.path(), dest.path()).unwrap();
        assert_eq!(
            fs::read_to_string(dest.path().join("etc/hostname")).unwrap(),
            "box\n"
        );
        // An absolute symlink is kept: it resolves inside the container.
        assert_eq!(
            fs::read_link(dest.path().join("bin/sh")).unwrap(),
            Path::new("/bin/busybox")
        );
    }

    #[test]
    fn parent_dir_entries_are_refused() {
        let outer = tempfile::tempdir().unwrap();
        let dest = outer.path().join("layer");
        fs::create_dir(&dest).unwrap();
        let tar = tar_with(&[("../escaped", tar::EntryType::Regular, "pwned")]);
        let err = unpack(tar.path(), &dest).unwrap_err();
        assert!(
            err.to_string().contains("would land outside the image"),
            "{err}"
        );
        assert!(!outer.path().join("escaped").exists());
    }

    #[test]
    fn absolute_entries_are_refused() {
        let dest = tempfile::tempdir().unwrap();
        let tar = tar_with(&[("/tmp/mydocker-absolute-entry", tar::EntryType::Regular, "x")]);
        assert!(unpack(tar.path(), dest.path()).is_err());
        assert!(!Path::new("/tmp/mydocker-absolute-entry").exists());
    }

    #[test]
    fn writing_through_an_escaping_symlink_is_contained() {
        let outer = tempfile::tempdir().unwrap();
        let victim = outer.path().join("victim");
        fs::create_dir(&victim).unwrap();
        let dest = outer.path().join("layer");
        fs::create_dir(&dest).unwrap();
        let tar = tar_with(&[
            ("link", tar::EntryType::Symlink, victim.to_str().unwrap()),
            ("link/file", tar::EntryType::Regular, "pwned"),
        ]);
        let _ = unpack(tar.path(), &dest);
        assert!(
            !victim.join("file").exists(),
            "the tar wrote outside the layer"
        );
    }

    #[test]
    fn static_elf_detection() {
        let dir = tempfile::tempdir().unwrap();
        let text = dir.path().join("script");
        fs::write(&text, "#!/bin/sh\n").unwrap();
        assert!(!is_static_elf(&text).unwrap());
        // This test binary is dynamically linked (unless built with crt-static).
        let me = std::env::current_exe().unwrap();
        let dynamic = !cfg!(target_feature = "crt-static");
        assert_eq!(is_static_elf(&me).unwrap(), !dynamic);
    }
}
