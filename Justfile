# Everyday commands. Each one is also a cargo alias (see .cargo/config.toml),
# so `cargo vm-test` works where just is not installed.

# Everything: unit tests, then every chapter session and privileged test in the VM.
vm-test:
    cargo vm-test

# Replay chapter N's session in the VM, print it, compare it with its snapshot.
chapter N:
    cargo chapter {{N}}

# An interactive shell in the VM with stage N's mydocker (Ctrl-A x quits).
vm-shell N:
    cargo vm-shell {{N}}

# The privileged tests of every stage on this machine (needs root).
test-root:
    cargo test-host

# Unit tests only: no root, no VM.
test:
    cargo test --workspace --features runtime/full

# Build the book; `mdbook serve book` to read it.
book:
    cargo book

# Accept changed transcripts after reviewing them.
review:
    command -v cargo-insta >/dev/null || cargo install cargo-insta --locked
    cargo insta review
