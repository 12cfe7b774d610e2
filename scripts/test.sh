#!/usr/bin/env bash
# The test command: set up, check formatting and lints, run every host test,
# the kickstart-config example checks, and the QEMU boot scenarios (which say
# "skipped: no Pistachio build" when there is none).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
echo "== format";  cargo fmt --all --check
echo "== clippy";  cargo clippy --workspace --all-targets --quiet -- -D warnings
echo "== clippy (ia32 images)"
cargo clippy --target i586-unknown-linux-gnu -p roottask -p l4-sys -p test-guest --quiet -- -D warnings
# The bounded fuzz run of the command-line parser needs cargo-fuzz and a
# nightly toolchain; install cargo-fuzz when a nightly is there.
if rustup run nightly rustc --version >/dev/null 2>&1 && ! command -v cargo-fuzz >/dev/null 2>&1; then
    echo "== installing cargo-fuzz"; cargo install cargo-fuzz --locked --quiet || echo "cargo-fuzz not installed; fuzzing will be skipped"
fi
echo "== kickstart-config examples and fuzzing"; FUZZ_SECONDS="${FUZZ_SECONDS:-60}" bash kickstart-config/ci.sh
echo "== tests";   cargo test --workspace
