#!/usr/bin/env bash
# The main job: set up, build the root task, and boot it on Pistachio in QEMU.
# Arguments go to resourcemon-qemu (e.g. --module "FILE ARGS", --memory 512,
# --config kickstart-config/examples/one-vm.toml); see --help.
# Needs a Pistachio ia32 build: PISTACHIO_DIR, or /opt/pistachio (README).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
exec cargo run --quiet -p qemu --bin resourcemon-qemu -- "$@"
