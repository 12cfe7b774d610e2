#!/usr/bin/env bash
# CI for kickstart-config: check and generate every example, build the no_std
# core for the root task's target, and run a bounded fuzz run when possible.
set -euo pipefail
cd "$(dirname "$0")/.."

run() { cargo run -q -p kickstart-config -- "$@"; }

for f in kickstart-config/examples/*.toml; do
    run check "$f"
    run menu-lst "$f" > /dev/null
    run grub-cfg "$f" > /dev/null
    run qemu-args "$f" > /dev/null
    # The generated menus must check clean too (one source of truth).
    tmp=$(mktemp -d)
    run menu-lst "$f" > "$tmp/menu.lst"
    run grub-cfg "$f" > "$tmp/grub.cfg"
    run check "$tmp/menu.lst" > /dev/null
    run check "$tmp/grub.cfg" > /dev/null
    rm -rf "$tmp"
done

# The broken fixture must be refused.
if run check kickstart-config/tests/menus/bad.menu.lst > /dev/null 2>&1; then
    echo "error: check accepted tests/menus/bad.menu.lst" >&2
    exit 1
fi

# How the root task uses the crate.
cargo build -q -p kickstart-config --no-default-features --target i586-unknown-linux-gnu

# Bounded fuzz run: only with cargo-fuzz and a nightly toolchain.
if ! command -v cargo-fuzz > /dev/null 2>&1; then
    echo "skipped: fuzzing (cargo-fuzz not installed; the stable proptests in tests/props.rs cover never-panic)"
elif ! rustup run nightly rustc --version > /dev/null 2>&1; then
    echo "skipped: fuzzing (no nightly toolchain)"
else
    # Quiet: the verdict, not libFuzzer's log (kept in target/ for a look).
    # FUZZ_SECONDS is shared by the two targets: the parser and planner,
    # and the menu/description checkers.
    mkdir -p target
    half=$(( ${FUZZ_SECONDS:-60} / 2 > 0 ? ${FUZZ_SECONDS:-60} / 2 : 1 ))
    for target in parse check; do
        log="$PWD/target/fuzz-$target.log"
        if (cd kickstart-config/fuzz && cargo +nightly fuzz run "$target" -- -max_total_time="$half") > "$log" 2>&1; then
            runs=$(grep -o 'Done [0-9]* runs' "$log" | tail -n1 || true)
            echo "fuzzing $target: ok (${runs:-done} in $half s, no crash; log $log)"
        else
            echo "fuzzing $target: FAILED (crash or build error); last lines of $log:" >&2
            tail -n 40 "$log" >&2
            exit 1
        fi
    done
fi
echo "kickstart-config: ci ok"
