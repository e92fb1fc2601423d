//! The QEMU command line, the KVM probe, and running one guest script.
//!
//! Default `pc` machine with the ELF kernel booted through PVH (`-M microvm`
//! hung with this kernel), no NIC, no display, the console on stdio.

use crate::util::{cache_root, ensure_program};
use anyhow::{bail, Context, Result};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const QEMU: &str = "qemu-system-x86_64";
/// The prompt of the guest's console shell.
pub const PROMPT: &str = "vm# ";
/// Where a run's script is put in the guest.
pub const SCRIPT_GUEST_PATH: &str = "/etc/vm/run.sh";
const EXIT_MARKER: &str = "@@mydocker-vm-exit=";

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

/// The QEMU command, with the guest console on the child's stdin/stdout:
/// hand it to `rexpect::session::spawn_command`, or spawn it yourself.
pub fn command(opts: &VmOptions) -> Command {
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

/// The accelerator and CPU model to use: KVM if it really boots `kernel`,
/// else TCG. `MYDOCKER_VM_ACCEL=kvm|tcg` overrides. Cached per host boot:
/// nested KVM that hangs costs the whole probe timeout.
pub fn probe_accel(kernel: &Path) -> Result<(Accel, String)> {
    match std::env::var("MYDOCKER_VM_ACCEL").as_deref() {
        Ok("kvm") => return Ok((Accel::Kvm, default_cpu(Accel::Kvm).into())),
        Ok("tcg") => return Ok((Accel::Tcg, default_cpu(Accel::Tcg).into())),
        Ok(other) => bail!("MYDOCKER_VM_ACCEL={other}: expected kvm or tcg"),
        Err(_) => {}
    }
    ensure_program(&xshell::Shell::new()?, QEMU, "qemu-system-x86")?;
    if std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/kvm")
        .is_err()
    {
        return Ok((Accel::Tcg, default_cpu(Accel::Tcg).into()));
    }
    let boot_id = std::fs::read_to_string("/proc/sys/kernel/random/boot_id").unwrap_or_default();
    let cache = cache_root().join("kvm-probe");
    if let Ok(text) = std::fs::read_to_string(&cache) {
        let words: Vec<&str> = text.split_whitespace().collect();
        if let [id, accel, cpu] = words[..] {
            if id == boot_id.trim() {
                return Ok((
                    if accel == "kvm" {
                        Accel::Kvm
                    } else {
                        Accel::Tcg
                    },
                    cpu.to_string(),
                ));
            }
        }
    }
    eprintln!("vm: probing KVM (once per host boot)");
    let mut found = (Accel::Tcg, default_cpu(Accel::Tcg).to_string());
    // `host` is best but fails at once on some nested setups (MSR 0x10a);
    // the default model is the fallback, and where KVM hangs we time out.
    for cpu in ["host", "qemu64"] {
        if probe_kvm(kernel, cpu, Duration::from_secs(5))? {
            found = (Accel::Kvm, cpu.to_string());
            break;
        }
    }
    eprintln!("vm: KVM probe: {:?} with -cpu {}", found.0, found.1);
    let name = if found.0 == Accel::Kvm { "kvm" } else { "tcg" };
    std::fs::create_dir_all(cache_root())?;
    std::fs::write(&cache, format!("{} {name} {}\n", boot_id.trim(), found.1))?;
    Ok(found)
}

/// `-cpu host` under KVM; under TCG the plain `qemu64`, which booted 0.4 s
/// faster than `max` (3.3 s vs 3.7 s for a whole `vm run`).
pub fn default_cpu(accel: Accel) -> &'static str {
    match accel {
        Accel::Kvm => "host",
        Accel::Tcg => "qemu64",
    }
}

/// Boots `kernel` without an initramfs under KVM: it panics for want of a
/// root filesystem, and `panic=-1` with `-no-reboot` makes QEMU exit 0. A
/// KVM that cannot run the kernel fails or hangs instead.
pub fn probe_kvm(kernel: &Path, cpu: &str, timeout: Duration) -> Result<bool> {
    let mut c = Command::new(QEMU);
    c.args([
        "-nodefaults",
        "-no-user-config",
        "-no-reboot",
        "-display",
        "none",
        "-nic",
        "none",
        "-m",
        "256",
    ]);
    c.args(["-accel", "kvm", "-cpu", cpu, "-kernel"])
        .arg(kernel);
    c.args(["-append", "loglevel=0 panic=-1"]);
    let child = c
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()?;
    Ok(wait_timeout(child, timeout)? == Some(0))
}

/// Waits for `child`, killing it after `timeout` (then `None`).
fn wait_timeout(mut child: Child, timeout: Duration) -> Result<Option<i32>> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(status) = child.try_wait()? {
            return Ok(Some(status.code().unwrap_or(-1)));
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            return Ok(None);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// What a non-interactive run produced.
#[derive(Debug, Clone)]
pub struct RunOutput {
    /// Exit status of the guest script.
    pub status: i32,
    /// The console, `\r\n` turned into `\n`, the exit marker removed.
    pub output: String,
    pub duration: Duration,
}

/// Boots the VM, runs `script` (sh syntax) as the only job, returns its exit
/// status and console. `echo` copies the console to our stdout as it comes.
/// A guest still running after `timeout` is killed and reported as an error.
pub fn run_script(
    opts: &VmOptions,
    script: &str,
    timeout: Duration,
    echo: bool,
) -> Result<RunOutput> {
    let dir = cache_root().join("run");
    std::fs::create_dir_all(&dir)?;
    let initrd = dir.join(format!("{}.cpio", std::process::id()));
    crate::initramfs::with_script(&opts.initrd, script, SCRIPT_GUEST_PATH, &initrd)?;
    let mut opts = opts.clone();
    opts.initrd = initrd.clone();
    opts.run = Some(SCRIPT_GUEST_PATH.to_string());
    let result = run_booted(&opts, timeout, echo);
    let _ = std::fs::remove_file(&initrd);
    result
}

fn run_booted(opts: &VmOptions, timeout: Duration, echo: bool) -> Result<RunOutput> {
    let start = Instant::now();
    let mut child = command(opts)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| format!("cannot start {QEMU}: apt-get install qemu-system-x86"))?;
    let mut stdout = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        let (mut all, mut buf) = (Vec::new(), [0u8; 4096]);
        while let Ok(n @ 1..) = stdout.read(&mut buf) {
            if echo {
                let mut out = std::io::stdout().lock();
                let _ = out.write_all(&buf[..n]).and_then(|_| out.flush());
            }
            all.extend_from_slice(&buf[..n]);
        }
        all
    });
    let mut stderr = child.stderr.take().unwrap();
    let err_reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stderr.read_to_string(&mut s);
        s
    });
    let code = wait_timeout(child, timeout)?;
    let console = String::from_utf8_lossy(&reader.join().unwrap_or_default()).replace("\r\n", "\n");
    let qemu_err = err_reader.join().unwrap_or_default();
    let tail = || {
        console
            .lines()
            .rev()
            .take(20)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect::<Vec<_>>()
            .join("\n")
    };
    let Some(code) = code else {
        bail!(
            "the VM did not finish within {timeout:?} and was killed; console tail:\n{}",
            tail()
        );
    };
    let (output, status) = split_marker(&console);
    let status = match (status, code) {
        (Some(s), _) => s,
        // No marker (console garbled?) but isa-debug-exit spoke: (v << 1) | 1.
        (None, c) if c > 1 && c % 2 == 1 => c >> 1,
        _ => bail!(
            "{QEMU} exited with {code} and the guest reported no status{}; console tail:\n{}",
            if qemu_err.is_empty() {
                String::new()
            } else {
                format!(" ({})", qemu_err.trim())
            },
            tail()
        ),
    };
    Ok(RunOutput {
        status,
        output,
        duration: start.elapsed(),
    })
}

/// Splits the console at the exit marker: (output before it, status).
pub fn split_marker(console: &str) -> (String, Option<i32>) {
    let Some(at) = console.rfind(EXIT_MARKER) else {
        return (console.to_string(), None);
    };
    let rest = &console[at + EXIT_MARKER.len()..];
    let status = rest.split("@@").next().and_then(|s| s.trim().parse().ok());
    // The guest prints an empty line before the marker so it starts a line.
    let before = &console[..at];
    let before = before.strip_suffix('\n').unwrap_or(before);
    (before.to_string(), status)
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

    #[test]
    fn marker_gives_status_and_clean_output() {
        let (out, st) = split_marker("hello\n\n@@mydocker-vm-exit=3@@\n");
        assert_eq!((out.as_str(), st), ("hello\n", Some(3)));
        assert_eq!(split_marker("no marker").1, None);
    }
}
