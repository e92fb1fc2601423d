//! The runtime's stages (Cargo features of package `runtime`), building the
//! static `mydocker` for one of them, and the busybox image tar.

use crate::util::{cache_root, workspace_root, Digest};
use anyhow::{bail, Context, Result};
use std::path::PathBuf;
use std::sync::Mutex;
use xshell::{cmd, Shell};

/// Stage number (1-based) → Cargo feature, in order; each enables the ones before.
pub const STAGES: [&str; 18] = [
    "run", "cgroups", "pipe", "rootfs", "overlay", "volume", "commit", "detach", "ps", "logs",
    "exec", "stop", "rm", "images", "env", "network", "connect", "ports",
];
/// Where the guest finds the busybox image.
pub const IMAGE_GUEST_PATH: &str = "/var/lib/mydocker/images/busybox.tar";
/// Static binaries need an explicit target: it keeps `+crt-static` off the
/// proc-macros, which are built for the host and must stay dynamic.
const TARGET: &str = "x86_64-unknown-linux-gnu";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stage {
    pub number: u8,
    pub feature: &'static str,
}

impl Stage {
    pub fn from_number(n: u8) -> Result<Stage> {
        match STAGES.get(usize::from(n).wrapping_sub(1)) {
            Some(feature) => Ok(Stage { number: n, feature }),
            None => bail!(
                "no stage {n}: stages are 1..={} ({})",
                STAGES.len(),
                STAGES.join(", ")
            ),
        }
    }

    pub fn from_feature(name: &str) -> Result<Stage> {
        let i = STAGES
            .iter()
            .position(|f| *f == name)
            .with_context(|| format!("no stage named {name}"))?;
        Stage::from_number(i as u8 + 1)
    }
}

/// Every stage builds into the same target dir, where `debug/mydocker` is
/// overwritten by each build: hold this from the build until the copy.
static BUILD_LOCK: Mutex<()> = Mutex::new(());

/// The static build's environment: in its own target dir so the static
/// RUSTFLAGS do not invalidate the normal build; debug profile (builds
/// faster) without debug info (keeps the initramfs small).
fn static_build_env<'a>(sh: &'a Shell) -> (PathBuf, [xshell::PushEnv<'a>; 2], xshell::PushDir<'a>) {
    let root = workspace_root();
    let target_dir = root.join("target").join("vm-build");
    let env = [
        sh.push_env("RUSTFLAGS", "-C target-feature=+crt-static"),
        sh.push_env("CARGO_PROFILE_DEV_DEBUG", "0"),
    ];
    (target_dir, env, sh.push_dir(root))
}

/// Builds `mydocker` statically with the stage's feature and copies it to
/// `target/vm/stage-NN/mydocker`.
pub fn build_runtime(sh: &Shell, stage: Stage) -> Result<PathBuf> {
    let _lock = BUILD_LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let (target_dir, _env, _cd) = static_build_env(sh);
    let feature = stage.feature;
    eprintln!(
        "vm: building mydocker at stage {:02} ({feature})",
        stage.number
    );
    cmd!(
        sh,
        "cargo build -p runtime --features {feature} --target {TARGET} --target-dir {target_dir}"
    )
    .quiet()
    .run()
    .with_context(|| {
        format!(
            "building the runtime at stage {} ({feature}) failed",
            stage.number
        )
    })?;
    let built = target_dir.join(TARGET).join("debug").join("mydocker");
    let dest_dir = cache_root().join(format!("stage-{:02}", stage.number));
    std::fs::create_dir_all(&dest_dir)?;
    let dest = dest_dir.join("mydocker");
    std::fs::copy(&built, &dest)
        .with_context(|| format!("cannot copy {} to {}", built.display(), dest.display()))?;
    Ok(dest)
}

/// Builds the runtime's privileged tests (`runtime/tests/privileged/`)
/// statically at `stage`, to run inside the VM; returns the test binary.
pub fn build_privileged_tests(sh: &Shell, stage: Stage) -> Result<PathBuf> {
    let _lock = BUILD_LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let (target_dir, _env, _cd) = static_build_env(sh);
    let feature = stage.feature;
    eprintln!(
        "vm: building the privileged tests at stage {:02} ({feature})",
        stage.number
    );
    let messages = cmd!(
        sh,
        "cargo test -p runtime --features {feature} --test privileged --no-run
         --target {TARGET} --target-dir {target_dir} --message-format=json"
    )
    .quiet()
    .read()
    .with_context(|| {
        format!(
            "building the privileged tests at stage {} failed",
            stage.number
        )
    })?;
    // The test binary's name carries a hash: cargo reports it as an artifact.
    messages
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter(|m| m["reason"] == "compiler-artifact" && m["target"]["name"] == "privileged")
        .find_map(|m| m["executable"].as_str().map(PathBuf::from))
        .context("cargo did not report the privileged test binary")
}

/// A tar of a minimal busybox root filesystem (the book's busybox image),
/// made from the host's busybox-static and cached by its content.
pub fn busybox_image_tar(sh: &Shell) -> Result<PathBuf> {
    let busybox = std::fs::read("/bin/busybox")
        .context("cannot read /bin/busybox: apt-get install busybox-static")?;
    let dir = cache_root().join("image");
    crate::util::with_lock(&dir.join("lock"), || build_image_tar(sh, &dir, &busybox))
}

fn build_image_tar(sh: &Shell, dir: &std::path::Path, busybox: &[u8]) -> Result<PathBuf> {
    let tar = dir.join(format!(
        "busybox-{}.tar",
        Digest::default().part(b"image-1").part(busybox).hex()
    ));
    if tar.exists() {
        return Ok(tar);
    }
    let rootfs = dir.join("rootfs");
    let _ = std::fs::remove_dir_all(&rootfs);
    for d in [
        "bin", "sbin", "usr/bin", "usr/sbin", "etc", "proc", "sys", "dev", "tmp", "root", "var",
    ] {
        std::fs::create_dir_all(rootfs.join(d))?;
    }
    std::fs::write(rootfs.join("bin/busybox"), busybox)?;
    cmd!(sh, "chmod 0755 {rootfs}/bin/busybox").quiet().run()?;
    cmd!(sh, "chmod 1777 {rootfs}/tmp").quiet().run()?;
    std::fs::write(rootfs.join("etc/passwd"), "root:x:0:0:root:/root:/bin/sh\n")?;
    std::fs::write(rootfs.join("etc/group"), "root:x:0:\n")?;
    let applets = cmd!(sh, "/bin/busybox --list-full").quiet().read()?;
    for applet in applets
        .lines()
        .filter(|a| !a.is_empty() && *a != "bin/busybox")
    {
        std::os::unix::fs::symlink("/bin/busybox", rootfs.join(applet))
            .with_context(|| format!("cannot link {applet} in {}", rootfs.display()))?;
    }
    let tmp = tar.with_extension("tmp");
    cmd!(
        sh,
        "tar --numeric-owner --owner=0 --group=0 -C {rootfs} -cf {tmp} ."
    )
    .quiet()
    .run()
    .context("tar failed")?;
    std::fs::rename(&tmp, &tar)?;
    std::fs::remove_dir_all(&rootfs)?;
    Ok(tar)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stages_by_number_and_name() {
        assert_eq!(Stage::from_number(1).unwrap().feature, "run");
        assert_eq!(Stage::from_number(5).unwrap().feature, "overlay");
        assert_eq!(Stage::from_number(18).unwrap().feature, "ports");
        assert!(Stage::from_number(0).is_err());
        assert!(Stage::from_number(19).is_err());
        assert_eq!(Stage::from_feature("exec").unwrap().number, 11);
    }
}
