//! Debian's kernel, fetched with apt and cached under `target/vm/kernel/`.
//!
//! We boot the uncompressed ELF `vmlinux` through PVH: under TCG this skips
//! the 3.4 s that the bzImage spends decompressing itself (measured 5.6 s →
//! 2.4 s to a shell). The ELF is the xz stream embedded in `vmlinuz`.

use crate::modules::{self, Module};
use crate::util::{cache_root, ensure_program, is_root};
use anyhow::{bail, Context, Result};
use std::path::{Path, PathBuf};
use xshell::{cmd, Shell};

/// The meta-package whose dependency names the current kernel package.
const META_PACKAGE: &str = "linux-image-amd64";
/// Start of an xz stream: 0xFD '7' 'z' 'X' 'Z' 0x00.
pub const XZ_MAGIC: [u8; 6] = [0xFD, 0x37, 0x7A, 0x58, 0x5A, 0x00];

#[derive(Debug, Clone)]
pub struct Kernel {
    /// Release string, e.g. `6.1.0-56-amd64` (empty for an override kernel).
    pub version: String,
    /// The image given to `qemu -kernel`.
    pub image: PathBuf,
    /// Modules to ship in the initramfs, in load order.
    pub modules: Vec<Module>,
}

impl Kernel {
    /// The kernel named by `MYDOCKER_VM_KERNEL`, else Debian's (cached).
    pub fn get(sh: &Shell) -> Result<Kernel> {
        match std::env::var_os("MYDOCKER_VM_KERNEL") {
            Some(path) => Kernel::from_path(Path::new(&path)),
            None => Kernel::debian(sh, false),
        }
    }

    /// A kernel image chosen by the user. No modules come with it: it must
    /// have overlay, bridge, veth and netfilter built in.
    pub fn from_path(path: &Path) -> Result<Kernel> {
        let image = path
            .canonicalize()
            .with_context(|| format!("kernel {} not found", path.display()))?;
        eprintln!("vm: using kernel {} (no modules shipped)", image.display());
        Ok(Kernel {
            version: String::new(),
            image,
            modules: Vec::new(),
        })
    }

    /// Debian's kernel: downloaded, unpacked and prepared once, then reused
    /// without asking apt (0.7 s per call) so boots stay fast and repeatable.
    /// `refresh` asks apt which kernel is current and prepares it if new.
    pub fn debian(sh: &Shell, refresh: bool) -> Result<Kernel> {
        let base = cache_root().join("kernel");
        crate::util::with_lock(&base.join("lock"), || {
            Kernel::debian_locked(sh, &base, refresh)
        })
    }

    fn debian_locked(sh: &Shell, base: &Path, refresh: bool) -> Result<Kernel> {
        let package = match newest_prepared(base) {
            Some(p) if !refresh => p,
            _ => resolve_package(sh)?,
        };
        let dir = base.join(&package);
        let done = dir.join("prepared");
        if !done.exists() {
            prepare(sh, &package, &dir)?;
            std::fs::write(&done, "")?;
        }
        let version = std::fs::read_to_string(dir.join("version"))?
            .trim()
            .to_string();
        let modules = modules::load_prepared(&dir.join("modules"))?;
        Ok(Kernel {
            version,
            image: dir.join("vmlinux"),
            modules,
        })
    }
}

/// `linux-image-amd64` → `linux-image-6.1.0-56-amd64`, from apt's lists.
fn resolve_package(sh: &Shell) -> Result<String> {
    let parse = |out: &str| {
        out.lines()
            .filter_map(|l| l.trim().strip_prefix("Depends:"))
            .map(|d| d.trim().to_string())
            .find(|d| d.starts_with("linux-image-"))
    };
    let depends = |sh: &Shell| {
        cmd!(sh, "apt-cache depends {META_PACKAGE}")
            .quiet()
            .ignore_stderr()
            .read()
    };
    if let Some(p) = depends(sh).ok().as_deref().and_then(parse) {
        return Ok(p);
    }
    if !is_root() {
        bail!("cannot resolve {META_PACKAGE}: run `apt-get update` as root, or set MYDOCKER_VM_KERNEL=/path/to/vmlinux");
    }
    eprintln!("vm: apt knows no {META_PACKAGE}, running apt-get update");
    cmd!(sh, "apt-get update -q")
        .quiet()
        .ignore_stdout()
        .run()
        .context("apt-get update failed")?;
    let out = depends(sh).with_context(|| format!("apt-cache depends {META_PACKAGE} failed"))?;
    parse(&out)
        .with_context(|| format!("{META_PACKAGE} depends on no linux-image-* package:\n{out}"))
}

fn newest_prepared(base: &Path) -> Option<String> {
    let mut names: Vec<String> = std::fs::read_dir(base)
        .ok()?
        .filter_map(|e| e.ok())
        .filter(|e| e.path().join("prepared").exists())
        .filter_map(|e| e.file_name().into_string().ok())
        .collect();
    names.sort();
    names.pop()
}

/// Download, unpack, extract vmlinux, select modules. Idempotent steps, so an
/// interrupted run resumes.
fn prepare(sh: &Shell, package: &str, dir: &Path) -> Result<()> {
    ensure_program(sh, "xz", "xz-utils")?;
    ensure_program(sh, "depmod", "kmod")?;
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let _cd = sh.push_dir(dir);
    let root = dir.join("root");
    if !root.exists() {
        let debs = || -> Vec<PathBuf> {
            let entries = std::fs::read_dir(dir)
                .map(|r| r.filter_map(|e| e.ok()).map(|e| e.path()).collect());
            let entries: Vec<PathBuf> = entries.unwrap_or_default();
            entries
                .into_iter()
                .filter(|p| p.extension().is_some_and(|x| x == "deb"))
                .collect()
        };
        if debs().is_empty() {
            eprintln!("vm: downloading {package}");
            // Sandbox=root: apt's _apt user cannot write into our cache dir.
            cmd!(
                sh,
                "apt-get download -q -o APT::Sandbox::User=root {package}"
            )
            .quiet()
            .ignore_stdout()
            .run()
            .with_context(|| format!("apt-get download {package} failed (try `apt-get update`)"))?;
        }
        let deb = debs()
            .pop()
            .with_context(|| format!("no .deb in {} after download", dir.display()))?;
        let tmp = dir.join("root.tmp");
        let _ = std::fs::remove_dir_all(&tmp);
        cmd!(sh, "dpkg-deb -x {deb} {tmp}")
            .quiet()
            .run()
            .context("dpkg-deb -x failed")?;
        std::fs::rename(&tmp, &root)?;
        std::fs::remove_file(&deb)?;
    }
    let version = package.trim_start_matches("linux-image-").to_string();
    let vmlinuz = root.join("boot").join(format!("vmlinuz-{version}"));
    let bzimage =
        std::fs::read(&vmlinuz).with_context(|| format!("cannot read {}", vmlinuz.display()))?;
    let elf = extract_vmlinux(sh, &bzimage)
        .with_context(|| format!("extracting vmlinux from {}", vmlinuz.display()))?;
    std::fs::write(dir.join("vmlinux"), elf)?;
    modules::prepare(sh, &root, &version, &dir.join("modules"))?;
    std::fs::write(dir.join("version"), &version)?;
    Ok(())
}

/// Offset of the first xz stream in `data`.
pub fn find_xz_stream(data: &[u8]) -> Option<usize> {
    data.windows(XZ_MAGIC.len()).position(|w| w == XZ_MAGIC)
}

/// The ELF kernel inside a bzImage whose payload is xz-compressed.
pub fn extract_vmlinux(sh: &Shell, bzimage: &[u8]) -> Result<Vec<u8>> {
    let start = find_xz_stream(bzimage)
        .context("no xz stream in the bzImage (kernel not built with CONFIG_KERNEL_XZ?)")?;
    // Through a file: xz stops reading at the end of the stream, which would
    // break a pipe. --single-stream: ignore the bzImage's bytes after it.
    let payload = std::env::temp_dir().join(format!("vm-payload-{}.xz", std::process::id()));
    std::fs::write(&payload, &bzimage[start..])?;
    let out = cmd!(sh, "xz -dc --single-stream {payload}")
        .quiet()
        .ignore_stderr()
        .output();
    let _ = std::fs::remove_file(&payload);
    let out = out.context("xz -dc failed")?;
    if !out.stdout.starts_with(b"\x7fELF") {
        bail!("the xz stream at offset {start} does not decompress to an ELF file");
    }
    Ok(out.stdout)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_xz_magic_after_other_bytes() {
        let mut data = vec![0u8; 100];
        data.extend_from_slice(&[0xFD, 0x37, 0x7A, 0x58]); // truncated: no match
        data.extend_from_slice(&XZ_MAGIC);
        data.extend_from_slice(b"rest");
        assert_eq!(find_xz_stream(&data), Some(104));
        assert_eq!(find_xz_stream(b"no magic here"), None);
        assert_eq!(find_xz_stream(&XZ_MAGIC), Some(0));
    }

    #[test]
    fn extracts_an_elf_from_an_xz_payload() {
        if !crate::util::have("xz") {
            return; // the pure part is tested above
        }
        let sh = Shell::new().unwrap();
        let elf = b"\x7fELF fake kernel".to_vec();
        let xz = cmd!(sh, "xz -c")
            .stdin(&elf)
            .quiet()
            .output()
            .unwrap()
            .stdout;
        let mut bz = b"MZ setup code".to_vec();
        bz.extend_from_slice(&xz);
        bz.extend_from_slice(b"trailing decompressor bytes");
        assert_eq!(extract_vmlinux(&sh, &bz).unwrap(), elf);
    }
}
