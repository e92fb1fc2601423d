//! `mydocker run`: the parent's side. This is where the stages meet: each
//! one adds a step, and every step that creates something returns a guard
//! that undoes it, so that an error at any point leaves nothing behind.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use crate::cli::RunArgs;
use crate::error::{Context, Error, Result};
use crate::handoff::{Handoff, InitMessage, StatusPipe, STATUS_FD};
use crate::layout::Layout;
use crate::namespaces::{self, InitSpawn};
use crate::process::Container;

// The layout is only needed once chapter 04 brings images.
// ANCHOR: run
#[cfg_attr(not(feature = "rootfs"), allow(unused_variables))]
pub fn run(layout: &Layout, args: RunArgs) -> Result<i32> {
    if !nix::unistd::geteuid().is_root() {
        return Err(Error::NeedsRoot {
            what: "mydocker run (it creates namespaces, mounts and cgroups)",
        });
    }
    if args.tty && !std::io::stdin().is_terminal() {
        return Err(Error::usage(
            "the input device is not a TTY: drop -t, or run mydocker from a terminal",
        ));
    }
    let id = new_container_id()?;
    tracing::info!(container = %id, "creating container");
    let cidfile = args
        .cidfile
        .as_deref()
        .map(|path| CidFile::write(path, &id))
        .transpose()?;

    #[cfg(feature = "rootfs")]
    let rootfs = crate::rootfs::prepare(layout, &id, &args)?;
    #[cfg(feature = "cgroups")]
    let cgroup = crate::cgroups::ContainerCgroup::create(&id, &args.resources)?;

    let message = InitMessage {
        command: args.command,
        hostname: id.clone(),
        tty: args.tty,
        #[cfg(feature = "rootfs")]
        rootfs: rootfs.path().to_path_buf(),
    };
    let handoff = Handoff::prepare(&message)?;
    let status = StatusPipe::new()?;
    let mut fds = handoff.child_fds();
    fds.push((status.child_fd(), STATUS_FD));
    let pid = namespaces::spawn_init(InitSpawn {
        args: handoff.init_args(),
        fds,
        interactive: args.interactive,
    })?;
    let container = Container::started(pid);
    tracing::debug!(container = %id, %pid, "init started");

    #[cfg(feature = "cgroups")]
    cgroup.add(pid)?;
    handoff.send()?;
    status.wait_for_exec()?;
    // The container exists: from here on its ID file stays, as Docker's does.
    if let Some(cidfile) = cidfile {
        cidfile.keep();
    }

    let code = container.wait()?;
    #[cfg(feature = "cgroups")]
    cgroup.report_oom(code);
    Ok(code)
}
// ANCHOR_END: run

/// 12 hex digits, like Docker's short IDs; also the container's hostname.
fn new_container_id() -> Result<String> {
    let mut bytes = [0u8; 6];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut bytes))
        .context("failed to read /dev/urandom for a container ID")?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// `--cidfile`: removed again if the container never starts.
struct CidFile {
    path: Option<PathBuf>,
}

impl CidFile {
    fn write(path: &Path, id: &str) -> Result<CidFile> {
        use std::io::Write;
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(path)
            .map_err(|e| match e.kind() {
                std::io::ErrorKind::AlreadyExists => Error::usage(format!(
                    "container ID file {} already exists: delete it, or choose another --cidfile",
                    path.display()
                )),
                _ => Error::Io {
                    context: format!("failed to create the container ID file {}", path.display()),
                    source: e,
                },
            })?;
        let cidfile = CidFile {
            path: Some(path.to_path_buf()),
        };
        file.write_all(id.as_bytes())
            .with_context(|| format!("failed to write {}", path.display()))?;
        Ok(cidfile)
    }

    fn keep(mut self) {
        self.path = None;
    }
}

impl Drop for CidFile {
    fn drop(&mut self) {
        if let Some(path) = &self.path {
            let _ = std::fs::remove_file(path);
        }
    }
}
