//! The one normalizer: raw console bytes in, a stable transcript out.
//! Terminal noise goes (`\r`, escape sequences such as busybox's cursor
//! query `ESC[6n`); values that change every run become placeholders.

use std::sync::LazyLock;

use regex::Regex;

static ESCAPES: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"\x1b(\[[0-9;?]*[A-Za-z]|\][^\x07]*\x07|[()][A-Z0-9]|[=>78])").unwrap()
});
/// Container IDs: 12 hex digits standing alone.
static CONTAINER_ID: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"\b[0-9a-f]{12}\b").unwrap());
/// `ls -l` style dates.
static DATE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"\b(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) [ 0-9]\d [ 0-9]\d:\d\d\b")
        .unwrap()
});

/// Clean up terminal output.
pub fn normalize(raw: &str) -> String {
    let text = ESCAPES.replace_all(raw, "");
    let text = text.replace("\r\n", "\n").replace('\r', "");
    let text = CONTAINER_ID.replace_all(&text, "[CID]");
    let text = DATE.replace_all(&text, "[DATE]");
    // Drop any other control characters (BEL, backspace…), keep tabs.
    text.chars()
        .filter(|c| !c.is_control() || *c == '\n' || *c == '\t')
        .collect()
}

/// What a command printed: the console text between typing it and the
/// next prompt, without the shell's echo of the command line itself.
pub fn output_of_command(raw: &str) -> String {
    let text = normalize(raw);
    match text.split_once('\n') {
        Some((_echo, output)) => output.to_string(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strips_terminal_noise() {
        assert_eq!(normalize("\x1b[6necho hi\r\r\nhi\r\n"), "echo hi\nhi\n");
        assert_eq!(normalize("\x1b[1;32mgreen\x1b[0m\x07"), "green");
    }

    #[test]
    fn replaces_ids_and_dates() {
        assert_eq!(normalize("host 0c4aabaaa250 up"), "host [CID] up");
        assert_eq!(normalize("/x/0c4aabaaa250/upper"), "/x/[CID]/upper");
        assert_eq!(
            normalize("crw-rw-rw- 1 root root 1, 3 Nov 25 12:27 null"),
            "crw-rw-rw- 1 root root 1, 3 [DATE] null"
        );
        // Longer hex strings are not container IDs.
        assert_eq!(normalize("0c4aabaaa2501234"), "0c4aabaaa2501234");
    }

    #[test]
    fn the_echo_is_not_output() {
        assert_eq!(output_of_command("\x1b[6necho $$\r\r\n1\r\n"), "1\n");
        assert_eq!(output_of_command("true\r\n"), "");
    }
}
