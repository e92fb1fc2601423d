//! The QEMU command line, the KVM probe, and running one guest script.
//!
//! Default `pc` machine with the ELF kernel booted through PVH (`-M microvm`
//! hung with this kernel), no NIC, no display, the console on stdio.

use crate::accel::probe_accel;
use anyhow::Result;
use std::path::PathBuf;
use std::process::Command;

pub const QEMU: &str = "qemu-system-x86_64";
/// The prompt of the guest's console shell.
pub const PROMPT: &str = "vm# ";
/// Where a run's script is put in the guest.
pub const SCRIPT_GUEST_PATH: &str = "/etc/vm/run.sh";

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Accel {
    Kvm,
    Tcg,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Cgroup {
    V1,
    #[default]
    V2,
    /// v1 controllers plus an empty cgroup2 at /sys/fs/cgroup/unified (systemd's hybrid).
    Hybrid,
}

impl Cgroup {
    fn as_str(self) -> &'static str {
        match self {
            Cgroup::V1 => "v1",
            Cgroup::V2 => "v2",
            Cgroup::Hybrid => "hybrid",
        }
    }
}

/// Everything that shapes one boot.
#[derive(Debug, Clone)]
pub struct VmOptions {
    pub kernel: PathBuf,
    pub initrd: PathBuf,
    pub memory_mib: u32,
    pub cpus: u32,
    pub accel: Accel,
    /// `-cpu` model, e.g. `host` or `max`.
    pub cpu: String,
    pub cgroup: Cgroup,
    /// Guest path of a script to run instead of the interactive shell.
    pub run: Option<String>,
    /// More kernel parameters.
    pub append: Vec<String>,
}

impl VmOptions {
    /// Defaults for `assets`, with the accelerator and CPU from [`probe_accel`].
    pub fn new(assets: &crate::Assets) -> Result<VmOptions> {
        let (accel, mut cpu) = probe_accel(&assets.kernel.image)?;
        if let Ok(model) = std::env::var("MYDOCKER_VM_CPU") {
            cpu = model;
        }
        Ok(VmOptions {
            kernel: assets.kernel.image.clone(),
            initrd: assets.initramfs.clone(),
            memory_mib: 1024,
            cpus: 2,
            accel,
            cpu,
            cgroup: Cgroup::V2,
            run: None,
            append: Vec::new(),
        })
    }
}

/// The kernel command line. `quiet loglevel=1` keeps kernel messages off the
/// shell; `panic=-1` with `-no-reboot` turns a panic into QEMU exiting.
pub fn kernel_cmdline(opts: &VmOptions) -> String {
    let mut words = vec!["console=ttyS0", "quiet", "loglevel=1", "panic=-1"]
        .into_iter()
        .map(String::from)
        .collect::<Vec<_>>();
    words.push(format!("mydocker.cgroup={}", opts.cgroup.as_str()));
    if let Some(run) = &opts.run {
        words.push(format!("mydocker.run={run}"));
    }
    words.extend(opts.append.iter().cloned());
    words.join(" ")
}

/// QEMU with nothing attached: no default devices, no network, no display,
/// and a guest reboot (or panic) ends QEMU.
pub(crate) fn bare_command() -> Command {
    let mut c = Command::new(QEMU);
    c.args([
        "-nodefaults",
        "-no-user-config",
        "-no-reboot",
        "-display",
        "none",
        "-nic",
        "none",
    ]);
    c
}

/// The QEMU command, with the guest console on the child's stdin/stdout:
/// hand it to `rexpect::session::spawn_command`, or spawn it yourself.
pub fn command(opts: &VmOptions) -> Command {
    let mut c = bare_command();
    let accel = if opts.accel == Accel::Kvm {
        "kvm"
    } else {
        "tcg"
    };
    c.args(["-accel", accel, "-cpu", &opts.cpu]);
    c.args([
        "-m",
        &opts.memory_mib.to_string(),
        "-smp",
        &opts.cpus.to_string(),
    ]);
    // signal=off: Ctrl-C goes to the guest. mux=on: Ctrl-A x quits QEMU.
    c.args([
        "-chardev",
        "stdio,id=console,signal=off,mux=on",
        "-serial",
        "chardev:console",
    ]);
    c.args(["-device", "isa-debug-exit,iobase=0xf4,iosize=0x04"]);
    c.arg("-kernel")
        .arg(&opts.kernel)
        .arg("-initrd")
        .arg(&opts.initrd);
    c.arg("-append").arg(kernel_cmdline(opts));
    c
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts() -> VmOptions {
        VmOptions {
            kernel: "/k".into(),
            initrd: "/i".into(),
            memory_mib: 1024,
            cpus: 2,
            accel: Accel::Tcg,
            cpu: "max".into(),
            cgroup: Cgroup::V1,
            run: Some("/etc/vm/run.sh".into()),
            append: vec!["foo=bar".into()],
        }
    }

    #[test]
    fn cmdline_carries_console_cgroup_and_run() {
        assert_eq!(
            kernel_cmdline(&opts()),
            "console=ttyS0 quiet loglevel=1 panic=-1 mydocker.cgroup=v1 mydocker.run=/etc/vm/run.sh foo=bar"
        );
        let o = VmOptions {
            run: None,
            cgroup: Cgroup::V2,
            append: vec![],
            ..opts()
        };
        assert_eq!(
            kernel_cmdline(&o),
            "console=ttyS0 quiet loglevel=1 panic=-1 mydocker.cgroup=v2"
        );
    }

    #[test]
    fn command_has_no_network_and_debug_exit() {
        let c = command(&opts());
        let args: Vec<String> = c
            .get_args()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        let joined = args.join(" ");
        assert!(joined.contains("-nodefaults -no-user-config"));
        assert!(joined.contains("-nic none"));
        assert!(!joined.contains("netdev"));
        assert!(joined.contains("isa-debug-exit,iobase=0xf4,iosize=0x04"));
        assert!(joined.contains("-kernel /k -initrd /i"));
    }
}
