//! A session file is what a student would type, one command a line, each
//! behind the prompt it is typed at:
//!
//! ```text
//! # Lines starting with '#' are comments.
//! vm# mydocker run -ti sh
//! / # echo $$
//! / # exit
//! vm# mount | grep -c mydocker
//! ```
//!
//! The harness types a line, then waits for the prompt of the next line
//! (after the last one, the VM's prompt) — never for a fixed time.

use anyhow::{bail, Result};

/// The VM shell's prompt, set by the guest's init.
pub const VM_PROMPT: &str = vm::qemu::PROMPT;

/// busybox's line editor assumes 80 columns on a serial console.
const TERMINAL_WIDTH: usize = 80;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    /// The prompt the command is typed at, e.g. `vm# ` or `/ # `.
    pub prompt: String,
    pub command: String,
}

/// Parse a session file. A prompt ends with `# ` (busybox's root prompt).
pub fn parse(text: &str) -> Result<Vec<Step>> {
    let mut steps = Vec::new();
    for (n, line) in text.lines().enumerate() {
        if line.trim().is_empty() || line.starts_with('#') {
            continue;
        }
        let Some(end) = line.find("# ") else {
            bail!(
                "line {}: no prompt (a prompt ends with \"# \"): {line:?}",
                n + 1
            );
        };
        let (prompt, command) = line.split_at(end + 2);
        if line.len() >= TERMINAL_WIDTH {
            // The guest's line editor wraps longer lines, which garbles the echo.
            bail!(
                "line {}: prompt and command must fit in {} characters",
                n + 1,
                TERMINAL_WIDTH - 1
            );
        }
        steps.push(Step {
            prompt: prompt.to_string(),
            command: command.to_string(),
        });
    }
    match steps.first() {
        None => bail!("the session has no commands"),
        Some(first) if first.prompt != VM_PROMPT => {
            bail!("a session starts at the VM's prompt {VM_PROMPT:?}")
        }
        Some(_) => Ok(steps),
    }
}

/// The prompt to wait for after step `i`.
pub fn next_prompt(steps: &[Step], i: usize) -> &str {
    steps.get(i + 1).map_or(VM_PROMPT, |s| s.prompt.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_prompts_and_commands() {
        let steps =
            parse("# comment\nvm# mydocker run -ti sh\n\n/ # echo $$\n/tmp # exit\n").unwrap();
        assert_eq!(steps.len(), 3);
        assert_eq!(steps[0].prompt, "vm# ");
        assert_eq!(steps[0].command, "mydocker run -ti sh");
        assert_eq!(steps[2].prompt, "/tmp # ");
        assert_eq!(next_prompt(&steps, 0), "/ # ");
        assert_eq!(next_prompt(&steps, 2), "vm# ");
    }

    #[test]
    fn rejects_lines_without_a_prompt_and_foreign_starts() {
        assert!(parse("vm# ls\nls\n").is_err());
        assert!(parse("/ # ls\n").is_err());
        assert!(parse("# only comments\n").is_err());
        assert!(parse(&format!("vm# echo {}\n", "x".repeat(80))).is_err());
    }
}
