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
dir="${PISTACHIO_DIR:-/opt/pistachio}"
if ! [ -f "$dir/bin/kickstart" ] && ! [ -f "$dir/kickstart" ]; then
    echo "boot: no Pistachio build in ${dir} (PISTACHIO_DIR, ../shared/pistachio/ia32, /opt/pistachio); build one with: scripts/pistachio.sh SOURCE [PREFIX] (SOURCE: a Pistachio checkout or git URL; then PISTACHIO_DIR=PREFIX)" >&2
    exit 77
fi
if [ $# -eq 0 ]; then
    guest=target/ia32/i586-unknown-linux-gnu/release/test-guest
    set -- --module "$guest vmstart vmsize=32M wedgeinstall=16M name=demo touch=64 request=16" \
           --expect "GUEST_PASS demo"
fi
exec cargo run --quiet -p qemu --bin resourcemon-qemu -- "$@"
