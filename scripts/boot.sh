#!/usr/bin/env bash
# The main job: set up, build the root task, and boot it on Pistachio in QEMU.
# Arguments go to resourcemon-qemu (e.g. --module "FILE ARGS", --memory 512,
# --config kickstart-config/examples/one-vm.toml); see --help. Without
# arguments it boots one VM of the project's test guest and waits for its
# report.
# Needs a Pistachio ia32 build: PISTACHIO_DIR, else ../shared/pistachio/ia32
# (beside the repository), else /opt/pistachio (README: Pistachio).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
if [ -z "${PISTACHIO_DIR:-}" ] && [ -d ../shared/pistachio/ia32 ]; then
    PISTACHIO_DIR="$(cd ../shared/pistachio/ia32 && pwd)"
    export PISTACHIO_DIR
fi
if [ $# -eq 0 ]; then
    guest=target/ia32/i586-unknown-linux-gnu/release/test-guest
    set -- --module "$guest vmstart vmsize=32M wedgeinstall=16M name=demo touch=64 request=16" \
           --expect "GUEST_PASS demo"
fi
exec cargo run --quiet -p qemu --bin resourcemon-qemu -- "$@"
