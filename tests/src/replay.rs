//! Replaying a session in the VM with rexpect: type a line, wait for the
//! next prompt, keep what was printed in between.

use std::time::{Duration, Instant};

use anyhow::{anyhow, Context, Result};

use crate::session::{next_prompt, Step, VM_PROMPT};
use crate::transcript::{normalize, output_of_command};

/// How long any one step (booting included) may take before the session
/// fails with its transcript so far. Generous: TCG is slow on a busy host.
pub const STEP_TIMEOUT: Duration = Duration::from_secs(120);

/// A replayed session.
#[derive(Debug)]
pub struct Replay {
    pub transcript: String,
    /// From launching QEMU to the VM's first prompt.
    pub boot: Duration,
    /// From the first prompt to the end of the session.
    pub session: Duration,
}

/// Boot a VM with the runtime at `stage` and replay `steps` in it.
pub fn replay(stage: u8, cgroup: vm::Cgroup, steps: &[Step]) -> Result<Replay> {
    let assets =
        vm::Assets::for_stage(stage).context("failed to build the VM's kernel and initramfs")?;
    let mut opts = vm::VmOptions::new(&assets)?;
    opts.cgroup = cgroup;
    let launched = Instant::now();
    let mut console = rexpect::session::spawn_command(
        vm::qemu::command(&opts),
        Some(STEP_TIMEOUT.as_millis() as u64),
    )
    .context("failed to start QEMU")?;
    let mut transcript = String::new();
    let fail = |transcript: &str, what: String, err: rexpect::error::Error| {
        let got = match &err {
            rexpect::error::Error::Timeout { got, .. } => normalize(got),
            _ => String::new(),
        };
        anyhow!("{what}: {err}\n--- transcript so far ---\n{transcript}{got}\n--- end ---")
    };

    console
        .exp_string(VM_PROMPT)
        .map_err(|e| fail("", "the VM did not reach its prompt".into(), e))?;
    let boot = launched.elapsed();
    let started = Instant::now();
    for (i, step) in steps.iter().enumerate() {
        console
            .send_line(&step.command)
            .map_err(|e| fail(&transcript, format!("failed to type {:?}", step.command), e))?;
        let waited_for = next_prompt(steps, i);
        let raw = console.exp_string(waited_for).map_err(|e| {
            let what = format!("no prompt {waited_for:?} after {:?}", step.command);
            fail(
                &format!("{transcript}{}{}\n", step.prompt, step.command),
                what,
                e,
            )
        })?;
        transcript.push_str(&step.prompt);
        transcript.push_str(&step.command);
        transcript.push('\n');
        transcript.push_str(&output_of_command(&raw));
    }
    let session = started.elapsed();
    // Leaving the VM's shell powers the VM off; rexpect kills QEMU if not.
    let _ = console.send_line("exit");
    let _ = console.exp_eof();
    Ok(Replay {
        transcript,
        boot,
        session,
    })
}
