//! The everyday commands that run test suites: each is a cargo (or mdbook)
//! invocation, so that `cargo vm-test` and `just vm-test` do the same thing.

use std::time::Instant;

use anyhow::{Context, Result};
use xshell::{cmd, Shell};

use crate::stage::{Stage, STAGES};
use crate::util::workspace_root;

/// The stages built so far: the runtime's features that exist.
pub fn built_stages() -> Result<Vec<Stage>> {
    let manifest = std::fs::read_to_string(workspace_root().join("runtime/Cargo.toml"))
        .context("cannot read runtime/Cargo.toml")?;
    let declared = |name: &str| {
        manifest
            .lines()
            .any(|l| l.starts_with(&format!("{name} = ")))
    };
    STAGES
        .iter()
        .take_while(|name| declared(name))
        .map(|name| Stage::from_feature(name))
        .collect()
}

/// Everything: unit tests (with every stage built), then in the VM every
/// chapter's session and every stage's privileged tests.
pub fn all(sh: &Shell) -> Result<()> {
    let _cd = sh.push_dir(workspace_root());
    let started = Instant::now();
    timed("unit tests", || {
        cmd!(sh, "cargo test --workspace --features runtime/full").run()?;
        Ok(())
    })?;
    timed("VM tests (chapter sessions, privileged tests)", || {
        // --nocapture: each VM test prints how long it took.
        cmd!(
            sh,
            "cargo test -p vm -p vm-tests -- --include-ignored --nocapture"
        )
        .run()?;
        Ok(())
    })?;
    eprintln!(
        "vm: the whole suite passed in {:.0} s",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// Replay chapter `number` in the VM, print its transcript, compare it
/// with the snapshot.
pub fn chapter(sh: &Shell, number: u8) -> Result<()> {
    let stage = Stage::from_number(number)?;
    let _cd = sh.push_dir(workspace_root());
    let _print = sh.push_env("MYDOCKER_PRINT_TRANSCRIPT", "1");
    let test = format!("chapter_{:02}", stage.number);
    cmd!(
        sh,
        "cargo test -q -p vm-tests --test chapters -- --include-ignored --exact {test} --nocapture"
    )
    .run()
    .with_context(|| {
        format!(
            "chapter {:02} ({}) does not match its snapshot",
            stage.number, stage.feature
        )
    })?;
    eprintln!(
        "vm: chapter {:02} ({}) matches its snapshot",
        stage.number, stage.feature
    );
    Ok(())
}

/// The privileged tests of every built stage, on this host (as root):
/// the quick loop while developing, before the VM suite.
pub fn host(sh: &Shell) -> Result<()> {
    let _cd = sh.push_dir(workspace_root());
    for stage in built_stages()? {
        let feature = stage.feature;
        timed(
            &format!(
                "privileged tests at stage {:02} ({feature}) on this host",
                stage.number
            ),
            || {
                cmd!(sh, "cargo test -q -p runtime --features {feature} --test privileged -- --include-ignored")
                .run()?;
                Ok(())
            },
        )?;
    }
    Ok(())
}

/// Build the book (installing mdbook with cargo if it is missing).
pub fn book(sh: &Shell) -> Result<()> {
    let _cd = sh.push_dir(workspace_root());
    if !crate::util::have("mdbook") {
        eprintln!("vm: mdbook not found, installing it with cargo (a few minutes, once)");
        cmd!(sh, "cargo install mdbook --locked --version ^0.5").run()?;
    }
    cmd!(sh, "mdbook build book").run()?;
    eprintln!("vm: the book is in book/book/index.html (`mdbook serve book` to read it)");
    Ok(())
}

fn timed(what: &str, f: impl FnOnce() -> Result<()>) -> Result<()> {
    eprintln!("vm: {what}…");
    let started = Instant::now();
    let result = f().with_context(|| format!("{what} failed"));
    eprintln!("vm: {what}: {:.1} s", started.elapsed().as_secs_f64());
    result
}
