//! Chapter sessions: read one, replay it in the VM, normalize what it
//! printed into a transcript that can be snapshotted and shown in the book.

pub mod replay;
pub mod session;
pub mod transcript;

use std::path::PathBuf;

/// `chapters/` at the workspace root.
pub fn chapters_dir() -> PathBuf {
    vm::workspace_root().join("chapters")
}

/// The folder of chapter `number`, e.g. `chapters/05-overlay`.
pub fn chapter_dir(number: u8) -> anyhow::Result<PathBuf> {
    let prefix = format!("{number:02}-");
    std::fs::read_dir(chapters_dir())?
        .flatten()
        .map(|e| e.path())
        .find(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with(&prefix))
        })
        .ok_or_else(|| anyhow::anyhow!("no chapters/{prefix}* folder"))
}
