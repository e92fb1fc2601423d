//! What every privileged test needs: a scratch state root, a way to run
//! mydocker in it, and a check that nothing was left behind.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::{Mutex, MutexGuard};

static SERIAL: Mutex<()> = Mutex::new(());

pub fn binary() -> PathBuf {
    std::env::var_os("MYDOCKER_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_mydocker")))
}

/// One test's world: its own state root, and the lock.
pub struct Host {
    pub root: tempfile::TempDir,
    _serial: MutexGuard<'static, ()>,
}

impl Host {
    pub fn new() -> Host {
        let serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
        assert!(
            nix::unistd::geteuid().is_root(),
            "privileged tests need root: run them with `just test-root` or in the VM"
        );
        Host {
            root: tempfile::Builder::new()
                .prefix("mydocker-test")
                .tempdir()
                .unwrap(),
            _serial: serial,
        }
    }

    pub fn root(&self) -> &Path {
        self.root.path()
    }

    /// `mydocker --root <ours> ARGS…`, stdin closed.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(binary());
        cmd.arg("--root")
            .arg(self.root())
            .args(args)
            .stdin(Stdio::null());
        cmd
    }

    pub fn run(&self, args: &[&str]) -> Output {
        let out = self
            .command(args)
            .output()
            .expect("failed to start mydocker");
        eprintln!(
            "mydocker {args:?} -> {:?}\nstdout: {}\nstderr: {}",
            out.status.code(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        out
    }

    /// Run and return the container's ID (from --cidfile) with the output.
    pub fn run_with_id(&self, args: &[&str]) -> (String, Output) {
        let cidfile = self.root().join("cid");
        let _ = std::fs::remove_file(&cidfile);
        let mut full = vec!["run", "--cidfile", cidfile.to_str().unwrap()];
        full.extend_from_slice(args);
        let out = self.run(&full);
        let id = std::fs::read_to_string(&cidfile).unwrap_or_default();
        (id, out)
    }

    /// Everything a container may leave behind: mounts under the state
    /// root, container directories, cgroups named mydocker-*.
    pub fn leftovers(&self) -> Vec<String> {
        let root = self.root().to_string_lossy().into_owned();
        let mut found: Vec<String> = std::fs::read_to_string("/proc/self/mountinfo")
            .unwrap()
            .lines()
            .filter_map(|l| l.split(' ').nth(4))
            .filter(|mount_point| mount_point.starts_with(&root))
            .map(|m| format!("mount {m}"))
            .collect();
        if let Ok(entries) = std::fs::read_dir(self.root().join("containers")) {
            found.extend(entries.map(|e| format!("container dir {:?}", e.unwrap().file_name())));
        }
        found.extend(
            cgroup_dirs()
                .into_iter()
                .map(|p| format!("cgroup {}", p.display())),
        );
        found
    }

    pub fn assert_clean(&self) {
        assert_eq!(
            self.leftovers(),
            Vec::<String>::new(),
            "something was left behind"
        );
    }
}

/// Every cgroup directory named mydocker-*, in any hierarchy.
pub fn cgroup_dirs() -> Vec<PathBuf> {
    let base = Path::new("/sys/fs/cgroup");
    let mut parents = vec![base.to_path_buf()];
    if let Ok(entries) = std::fs::read_dir(base) {
        parents.extend(entries.flatten().map(|e| e.path()).filter(|p| p.is_dir()));
    }
    parents
        .iter()
        .flat_map(|p| std::fs::read_dir(p).into_iter().flatten().flatten())
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("mydocker-")
        })
        .collect()
}

pub fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}
