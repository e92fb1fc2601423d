//! Small helpers shared by the modules: where things live, and making sure a
//! host command exists (installing its Debian package when we are root).

use anyhow::{bail, Context, Result};
use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;
use std::process::Child;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};
use xshell::{cmd, Shell};

/// The Cargo workspace root. `MYDOCKER_WORKSPACE` overrides the path baked in
/// at compile time, for a `vm` binary copied elsewhere.
pub fn workspace_root() -> PathBuf {
    if let Some(dir) = std::env::var_os("MYDOCKER_WORKSPACE") {
        return PathBuf::from(dir);
    }
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    manifest.parent().map(PathBuf::from).unwrap_or(manifest)
}

/// `<workspace>/target/vm`: every cached artefact of this crate.
pub fn cache_root() -> PathBuf {
    workspace_root().join("target").join("vm")
}

/// Run `f` holding an exclusive lock on `lock_file`: tests boot VMs from
/// several threads and processes, and the first of them fills the cache.
pub fn with_lock<T>(lock_file: &std::path::Path, f: impl FnOnce() -> Result<T>) -> Result<T> {
    if let Some(dir) = lock_file.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let file = std::fs::File::create(lock_file)
        .with_context(|| format!("cannot create {}", lock_file.display()))?;
    file.lock()
        .with_context(|| format!("cannot lock {}", lock_file.display()))?;
    let result = f();
    let _ = file.unlock();
    result
}

/// Whether we run as root (the owner of /proc/self is our effective uid).
pub fn is_root() -> bool {
    std::fs::metadata("/proc/self")
        .map(|m| m.uid() == 0)
        .unwrap_or(false)
}

/// Whether `program` is on PATH.
pub fn have(program: &str) -> bool {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path).any(|dir| dir.join(program).is_file())
}

/// Makes sure `program` exists; as root, installs `package` with apt-get.
pub fn ensure_program(sh: &Shell, program: &str, package: &str) -> Result<()> {
    if have(program) {
        return Ok(());
    }
    if !is_root() {
        bail!("{program} not found: run `apt-get install {package}` as root");
    }
    eprintln!("vm: {program} not found, installing Debian package {package}");
    if cmd!(sh, "apt-get install -y -q {package}")
        .quiet()
        .ignore_stdout()
        .run()
        .is_err()
    {
        // A fresh machine may have no package lists yet.
        cmd!(sh, "apt-get update -q")
            .quiet()
            .ignore_stdout()
            .run()
            .context("apt-get update failed")?;
        cmd!(sh, "apt-get install -y -q {package}")
            .quiet()
            .ignore_stdout()
            .run()
            .with_context(|| {
                format!("{program} not found and `apt-get install {package}` failed")
            })?;
    }
    if !have(program) {
        bail!("{program} still not found after installing {package}");
    }
    Ok(())
}

/// A stable 64-bit digest of several byte strings, for cache keys. Each part
/// is length-prefixed so ("ab","c") and ("a","bc") differ. SipHash with fixed
/// keys: should Rust ever change it, the only cost is one cache miss.
#[derive(Default)]
pub struct Digest(std::hash::DefaultHasher);

impl Digest {
    pub fn part(&mut self, bytes: &[u8]) -> &mut Self {
        use std::hash::Hasher;
        self.0.write_u64(bytes.len() as u64);
        self.0.write(bytes);
        self
    }

    pub fn hex(&self) -> String {
        use std::hash::Hasher;
        format!("{:016x}", self.0.finish())
    }
}

/// How [`wait_timeout`] ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Waited {
    Exited(i32),
    /// `stop` was set and the child was killed.
    Stopped,
    /// The timeout passed and the child was killed.
    TimedOut,
}

/// Waits for `child`, killing it when `timeout` passes or `stop` is set.
pub(crate) fn wait_timeout(
    mut child: Child,
    timeout: Duration,
    stop: Option<&AtomicBool>,
) -> std::io::Result<Waited> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(status) = child.try_wait()? {
            return Ok(Waited::Exited(status.code().unwrap_or(-1)));
        }
        let stopped = stop.is_some_and(|s| s.load(Ordering::SeqCst));
        if stopped || Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            return Ok(if stopped {
                Waited::Stopped
            } else {
                Waited::TimedOut
            });
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}
