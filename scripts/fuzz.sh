#!/usr/bin/env bash
# Bounded, quiet fuzz runs of the monitor's host-side parsers and server
# (roottask/fuzz: the IPC dispatcher, the ELF loader decisions, the boot-info
# and multiboot readers). Needs a nightly toolchain and cargo-fuzz; without
# them it says "skipped". Prints one verdict line per target; a crash prints
# the end of its log and fails. FUZZ_SECONDS_EACH sets the time per target.
set -euo pipefail
cd "$(dirname "$0")/.."
secs="${FUZZ_SECONDS_EACH:-20}"
if ! command -v cargo-fuzz > /dev/null 2>&1; then
    echo "skipped: monitor fuzzing (cargo-fuzz not installed)"
    exit 0
fi
if ! rustup run nightly rustc --version > /dev/null 2>&1; then
    echo "skipped: monitor fuzzing (no nightly toolchain)"
    exit 0
fi
mkdir -p target
for t in dispatch elf bootinfo; do
    log="$PWD/target/fuzz-$t.log"
    if (cd roottask/fuzz && cargo +nightly fuzz run "$t" -- -max_total_time="$secs") > "$log" 2>&1; then
        runs=$(grep -o 'Done [0-9]* runs' "$log" | tail -n1 || true)
        echo "fuzzing $t: ok (${runs:-done} in $secs s, no crash; log $log)"
    else
        echo "fuzzing $t: FAILED (crash or build error); last lines of $log:" >&2
        tail -n 40 "$log" >&2
        exit 1
    fi
done
