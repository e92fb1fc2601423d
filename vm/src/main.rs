//! `vm`: fetch the kernel, build a stage, and boot it in QEMU.

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};
use vm::{qemu, stage, Assets, Cgroup, ExtraFile, VmOptions};

#[derive(Parser)]
#[command(about = "Boots the runtime in a QEMU VM with Debian's kernel and busybox")]
struct Cli {
    /// Kernel image to boot instead of Debian's (no modules are shipped with it).
    #[arg(long, global = true, env = "MYDOCKER_VM_KERNEL")]
    kernel: Option<PathBuf>,
    #[command(subcommand)]
    command: Cmd,
}

#[derive(clap::Args)]
struct Boot {
    /// Stage of the runtime to build and put at /usr/bin/mydocker (1..=18).
    stage: u8,
    #[arg(long, value_enum, default_value_t = Cgroup::V2)]
    cgroup: Cgroup,
    /// Use this binary as /usr/bin/mydocker instead of building the stage.
    #[arg(long)]
    runtime: Option<PathBuf>,
    /// Accelerator; probed by default (KVM if it works, else TCG).
    #[arg(long, value_enum)]
    accel: Option<vm::Accel>,
    #[arg(long, default_value_t = 2)]
    cpus: u32,
}

#[derive(Subcommand)]
enum Cmd {
    /// Fetch and prepare the kernel and its modules; print their paths.
    Kernel {
        /// Ask apt for the current kernel package instead of reusing the cached one.
        #[arg(long)]
        refresh: bool,
    },
    /// Build the runtime at a stage and the initramfs; print their paths.
    Build {
        #[arg(long)]
        stage: u8,
    },
    /// Interactive shell in the VM on this terminal (Ctrl-A x quits QEMU).
    Shell(Boot),
    /// Everything: unit tests, then every chapter session and privileged test in the VM.
    Test,
    /// Replay chapter N's session in the VM and compare it with its snapshot.
    Chapter { number: u8 },
    /// The privileged tests of every stage, on this host, as root.
    TestHost,
    /// Build the book with mdbook.
    Book,
    /// Print the Cargo feature of every stage built so far, one a line.
    Stages,
    /// Run a script file or a command in the VM; its exit status becomes ours.
    Run {
        #[command(flatten)]
        boot: Boot,
        /// Seconds before the VM is killed.
        #[arg(long, default_value_t = 300)]
        timeout: u64,
        /// A host script file, or words joined into one shell command.
        #[arg(last = true, required = true)]
        command: Vec<String>,
    },
}

fn main() {
    if let Err(e) = real_main() {
        eprintln!("vm: error: {e:#}");
        // Like timeout(1): 124 when the guest had to be killed.
        std::process::exit(if e.is::<vm::TimedOut>() { 124 } else { 2 });
    }
}

fn real_main() -> Result<()> {
    let cli = Cli::parse();
    if let Some(k) = &cli.kernel {
        std::env::set_var("MYDOCKER_VM_KERNEL", k);
    }
    let sh = xshell::Shell::new()?;
    match cli.command {
        Cmd::Kernel { refresh } => {
            let k = match &cli.kernel {
                Some(path) => vm::kernel::Kernel::from_path(path)?,
                None => vm::kernel::Kernel::debian(&sh, refresh)?,
            };
            println!("version: {}\nimage: {}", k.version, k.image.display());
            for m in &k.modules {
                println!("module: {} {}", m.name, m.host.display());
            }
        }
        Cmd::Build { stage } => {
            let assets = Assets::for_stage(stage)?;
            println!(
                "kernel: {}\ninitramfs: {}",
                assets.kernel.image.display(),
                assets.initramfs.display()
            );
        }
        Cmd::Shell(boot) => shell(&options(&sh, &boot)?)?,
        Cmd::Test => vm::suite::all(&sh)?,
        Cmd::Chapter { number } => vm::suite::chapter(&sh, number)?,
        Cmd::TestHost => vm::suite::host(&sh)?,
        Cmd::Book => vm::suite::book(&sh)?,
        Cmd::Stages => {
            for stage in vm::suite::built_stages()? {
                println!("{}", stage.feature);
            }
        }
        Cmd::Run {
            boot,
            timeout,
            command,
        } => {
            let script = match command.as_slice() {
                [one] if std::path::Path::new(one).is_file() => std::fs::read_to_string(one)
                    .with_context(|| format!("cannot read script {one}"))?,
                words => words.join(" "),
            };
            let opts = options(&sh, &boot)?;
            let out = vm::run_script(&opts, &script, Duration::from_secs(timeout), true)?;
            eprintln!(
                "vm: guest exited with {} after {:.1?}",
                out.status, out.duration
            );
            std::process::exit(out.status);
        }
    }
    Ok(())
}

fn options(sh: &xshell::Shell, boot: &Boot) -> Result<VmOptions> {
    let runtime = match &boot.runtime {
        Some(path) => path.clone(),
        None => stage::build_runtime(sh, stage::Stage::from_number(boot.stage)?)?,
    };
    let image = stage::busybox_image_tar(sh)?;
    let assets = Assets::with_files(&[
        ExtraFile::new(runtime, "/usr/bin/mydocker", 0o755),
        ExtraFile::new(image, stage::IMAGE_GUEST_PATH, 0o644),
    ])?;
    let mut opts = VmOptions::new(&assets)?;
    if let Some(accel) = boot.accel {
        opts.accel = accel;
        opts.cpu = vm::accel::default_cpu(accel).to_string();
    }
    opts.cgroup = boot.cgroup;
    opts.cpus = boot.cpus;
    eprintln!(
        "vm: booting with {:?}, cgroup {:?}",
        opts.accel, opts.cgroup
    );
    Ok(opts)
}

/// Passes the console through, noting on stderr when the prompt first shows.
fn shell(opts: &VmOptions) -> Result<()> {
    let start = Instant::now();
    let mut child = qemu::command(opts)
        .stdout(Stdio::piped())
        .spawn()
        .context("cannot start qemu-system-x86_64: apt-get install qemu-system-x86")?;
    let mut stdout = child.stdout.take().unwrap();
    let (mut buf, mut seen, mut prompted) = ([0u8; 4096], Vec::new(), false);
    while let Ok(n @ 1..) = stdout.read(&mut buf) {
        let mut out = std::io::stdout().lock();
        out.write_all(&buf[..n])?;
        out.flush()?;
        if !prompted {
            seen.extend_from_slice(&buf[..n]);
            if seen
                .windows(qemu::PROMPT.len())
                .any(|w| w == qemu::PROMPT.as_bytes())
            {
                prompted = true;
                eprint!(
                    "\r\n[vm: prompt after {:.2} s]\r\n",
                    start.elapsed().as_secs_f64()
                );
            }
        }
    }
    let status = child.wait()?;
    std::process::exit(status.code().unwrap_or(1));
}
