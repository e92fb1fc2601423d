//! Running one script in a fresh VM and reading its exit status back.

use crate::qemu::{command, VmOptions, QEMU, SCRIPT_GUEST_PATH};
use crate::util::{cache_root, wait_timeout, Waited};
use anyhow::{Context, Result};
use std::io::{Read, Write};
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

const EXIT_MARKER: &str = "@@mydocker-vm-exit=";

/// The error of a run whose guest was killed for running too long.
#[derive(Debug)]
pub struct TimedOut {
    pub timeout: Duration,
    pub console_tail: String,
}

impl std::fmt::Display for TimedOut {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "the VM did not finish within {:?} and was killed; console tail:\n{}",
            self.timeout, self.console_tail
        )
    }
}

impl std::error::Error for TimedOut {}

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
    // Unique per call: a test harness may boot several VMs at once.
    static RUNS: AtomicU32 = AtomicU32::new(0);
    let n = RUNS.fetch_add(1, Ordering::Relaxed);
    let initrd = dir.join(format!("{}-{n}.cpio", std::process::id()));
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
    // The guest's last console bytes may still sit in its UART buffer when it
    // would exit through isa-debug-exit: so the guest waits after printing
    // the marker, and we stop QEMU once the whole marker has arrived.
    let reported = Arc::new(AtomicBool::new(false));
    let seen = reported.clone();
    let reader = std::thread::spawn(move || {
        let (mut all, mut buf) = (Vec::new(), [0u8; 4096]);
        while let Ok(n @ 1..) = stdout.read(&mut buf) {
            if echo {
                let mut out = std::io::stdout().lock();
                let _ = out.write_all(&buf[..n]).and_then(|_| out.flush());
            }
            all.extend_from_slice(&buf[..n]);
            let recent =
                String::from_utf8_lossy(&all[all.len().saturating_sub(n + 64)..]).into_owned();
            if split_marker(&recent).1.is_some() {
                seen.store(true, Ordering::SeqCst);
            }
        }
        all
    });
    let mut stderr = child.stderr.take().unwrap();
    let err_reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stderr.read_to_string(&mut s);
        s
    });
    let waited = wait_timeout(child, timeout, Some(&reported))?;
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
    let code = match waited {
        Waited::TimedOut => {
            return Err(TimedOut {
                timeout,
                console_tail: tail(),
            }
            .into())
        }
        Waited::Stopped => -1,
        Waited::Exited(code) => code,
    };
    let (output, status) = split_marker(&console);
    let status = match (status, code) {
        (Some(s), _) => s,
        // No marker (console garbled?) but isa-debug-exit spoke: (v << 1) | 1.
        (None, c) if c > 1 && c % 2 == 1 => c >> 1,
        _ => anyhow::bail!(
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

    #[test]
    fn marker_gives_status_and_clean_output() {
        let (out, st) = split_marker("hello\n\n@@mydocker-vm-exit=3@@\n");
        assert_eq!((out.as_str(), st), ("hello\n", Some(3)));
        assert_eq!(split_marker("no marker").1, None);
    }
}
