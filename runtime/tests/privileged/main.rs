//! Privileged tests: they run the real `mydocker` binary as root and check
//! what it did to the system. They are ignored by a plain `cargo test`; run
//! them with `just test-root` here, or in the VM (`just vm-test`).
//!
//! Each test gets its own state root, and they take a lock so that "no
//! cgroup named mydocker-* is left" means this test left none.
//!
//! `MYDOCKER_BIN` points them at another binary (the VM's static build).

#[cfg(feature = "run")]
mod support;

#[cfg(feature = "run")]
mod run;

#[cfg(feature = "cgroups")]
mod cgroups;

#[cfg(feature = "pipe")]
mod pipe;

#[cfg(feature = "rootfs")]
mod rootfs;

#[cfg(feature = "overlay")]
mod overlay;
