//! Finding the container's command in its PATH, as a shell would, so that a
//! missing command exits 127 and a non-executable one 126.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// The PATH a container gets, as Docker sets it.
pub const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// Resolve `command` against `path` (a colon-separated list). A name with a
/// slash is taken as it is.
pub fn find_executable(command: &str, path: &str) -> Result<PathBuf> {
    if command.is_empty() {
        return Err(Error::NotFound(String::new()));
    }
    if command.contains('/') {
        let candidate = Path::new(command);
        return match check(candidate) {
            Some(true) => Ok(candidate.to_path_buf()),
            Some(false) => Err(Error::NotExecutable(candidate.to_path_buf())),
            None => Err(Error::NotFound(command.to_string())),
        };
    }
    let mut not_executable = None;
    for dir in path.split(':').filter(|d| !d.is_empty()) {
        let candidate = Path::new(dir).join(command);
        match check(&candidate) {
            Some(true) => return Ok(candidate),
            Some(false) => not_executable = not_executable.or(Some(candidate)),
            None => {}
        }
    }
    match not_executable {
        Some(found) => Err(Error::NotExecutable(found)),
        None => Err(Error::NotFound(command.to_string())),
    }
}

/// None if nothing is there; Some(executable?) if something is.
fn check(candidate: &Path) -> Option<bool> {
    let meta = std::fs::metadata(candidate).ok()?;
    Some(meta.is_file() && meta.permissions().mode() & 0o111 != 0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    fn bin_dir() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("tool"), "#!/bin/sh\n").unwrap();
        fs::set_permissions(dir.path().join("tool"), fs::Permissions::from_mode(0o755)).unwrap();
        fs::write(dir.path().join("notes"), "text").unwrap();
        fs::set_permissions(dir.path().join("notes"), fs::Permissions::from_mode(0o644)).unwrap();
        dir
    }

    #[test]
    fn finds_a_command_in_path() {
        let dir = bin_dir();
        let path = format!("/nonexistent:{}", dir.path().display());
        assert_eq!(
            find_executable("tool", &path).unwrap(),
            dir.path().join("tool")
        );
    }

    #[test]
    fn missing_command_is_not_found() {
        let dir = bin_dir();
        let err = find_executable("xyz", dir.path().to_str().unwrap()).unwrap_err();
        assert_eq!(err.exit_code(), 127);
        assert_eq!(err.to_string(), "executable file not found: xyz");
    }

    #[test]
    fn a_file_without_x_bits_is_not_executable() {
        let dir = bin_dir();
        let err = find_executable("notes", dir.path().to_str().unwrap()).unwrap_err();
        assert_eq!(err.exit_code(), 126);
        let direct = dir.path().join("notes");
        let err = find_executable(direct.to_str().unwrap(), "").unwrap_err();
        assert_eq!(err.exit_code(), 126);
    }

    #[test]
    fn a_directory_is_not_executable() {
        let dir = bin_dir();
        let err = find_executable(dir.path().to_str().unwrap(), "").unwrap_err();
        assert_eq!(err.exit_code(), 126);
    }
}
