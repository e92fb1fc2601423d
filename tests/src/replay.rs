//! Replaying a session in the VM with rexpect: type a line, wait for the
//! next prompt, keep what was printed in between.

use std::time::{Duration, Instant};

use anyhow::{anyhow, Context, Result};
use rexpect::ReadUntil;

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
    // Wait for whichever prompt comes next, not only the expected one: if
    // the runtime misbehaves (a container that does not start, say), the
    // session goes on and the snapshot diff shows where it went wrong.
    let mut prompts: Vec<&str> = steps.iter().map(|s| s.prompt.as_str()).collect();
    prompts.push(VM_PROMPT);
    prompts.sort();
    prompts.dedup();
    let any_prompt = || {
        prompts
            .iter()
            .map(|p| ReadUntil::String(p.to_string()))
            .collect()
    };
    // The transcript shows each command behind the prompt it was really
    // typed at, so a diff shows where the session left the script.
    let mut at_prompt = VM_PROMPT.to_string();
    let mut vm_exited = false;
    for (i, step) in steps.iter().enumerate() {
        transcript.push_str(&at_prompt);
        transcript.push_str(&step.command);
        transcript.push('\n');
        console
            .send_line(&step.command)
            .map_err(|e| fail(&transcript, format!("failed to type {:?}", step.command), e))?;
        match console.exp_any(any_prompt()) {
            Ok((raw, prompt)) => {
                transcript.push_str(&output_of_command(&raw));
                at_prompt = prompt;
            }
            // The VM powered off early (an `exit` typed at the wrong shell):
            // keep what we have, the snapshot comparison says the rest.
            Err(rexpect::error::Error::EOF { got, .. }) => {
                transcript.push_str(&output_of_command(&got));
                transcript.push_str("[the VM exited]\n");
                vm_exited = true;
                break;
            }
            Err(e) => {
                let what = format!(
                    "no prompt {:?} after {:?}",
                    next_prompt(steps, i),
                    step.command
                );
                return Err(fail(&transcript, what, e));
            }
        }
    }
    let session = started.elapsed();
    // Leaving the VM's shell powers the VM off; rexpect kills QEMU if not.
    if !vm_exited {
        let _ = console.send_line("exit");
        let _ = console.exp_eof();
    }
    Ok(Replay {
        transcript,
        boot,
        session,
    })
}
