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
echo "== kickstart-config examples"; bash kickstart-config/ci.sh
echo "== tests";   cargo test --workspace
