#!/usr/bin/env bash
# The test command: set up, check formatting and lints, run every host test,
# the kickstart-config example checks, and the QEMU boot scenarios, then
# print one summary line over all of them.
#
# Boot scenarios need the fixtures in ../shared (or PISTACHIO_DIR, WEDGE_DIR,
# ORIGINAL_DIR). Without them they are skipped, unless REQUIRE_PISTACHIO=1;
# under CI (CI=true) that is the default, and a missing fixture fails.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh

if [ "${CI:-}" = true ]; then
    : "${REQUIRE_PISTACHIO:=1}"
    if [ -z "${PISTACHIO_DIR:-}" ] && [ -d ../shared/pistachio/ia32 ]; then
        PISTACHIO_DIR="$(cd ../shared/pistachio/ia32 && pwd)"
    fi
fi
export REQUIRE_PISTACHIO="${REQUIRE_PISTACHIO:-0}"
[ -n "${PISTACHIO_DIR:-}" ] && export PISTACHIO_DIR
if [ "$REQUIRE_PISTACHIO" = 1 ]; then
    # Say up front which fixture is missing, before anything is built.
    shared=../shared
    missing=()
    for f in "${PISTACHIO_DIR:-$shared/pistachio/ia32}"/bin/{kickstart,ia32-kernel,sigma0} \
             "${PISTACHIO_SMP_DIR:-$shared/pistachio/ia32-smp}"/bin/{kickstart,ia32-kernel,sigma0} \
             "${WEDGE_DIR:-$shared/wedge}"/{afterburn-wedge,afterburn-wedge-varA,afterburn-wedge-pt,tinyguest.elf} \
             "${ORIGINAL_DIR:-$shared/original}"/{resourcemon-debug,resourcemon-perf}; do
        [ -f "$f" ] || missing+=("$f")
    done
    if [ ${#missing[@]} -gt 0 ]; then
        printf 'error: missing test fixture: %s\n' "${missing[@]}" >&2
        echo "error: REQUIRE_PISTACHIO=1: the boot scenarios need these files (README: Tests)" >&2
        exit 1
    fi
fi

log=$(mktemp)
trap 'rm -f "$log"' EXIT
echo "== format";  cargo fmt --all --check
echo "== clippy";  cargo clippy --workspace --all-targets --quiet -- -D warnings
echo "== clippy (ia32 images)"
cargo clippy --target i586-unknown-linux-gnu -p roottask -p l4-sys -p test-guest -p wedge-guest --quiet -- -D warnings
# The bounded fuzz run of the command-line parser needs cargo-fuzz and a
# nightly toolchain; install cargo-fuzz when a nightly is there.
if rustup run nightly rustc --version >/dev/null 2>&1 && ! command -v cargo-fuzz >/dev/null 2>&1; then
    echo "== installing cargo-fuzz"; cargo install cargo-fuzz --locked --quiet >/dev/null 2>&1 || echo "cargo-fuzz not installed; fuzzing will be skipped"
fi
echo "== kickstart-config examples and fuzzing"; FUZZ_SECONDS="${FUZZ_SECONDS:-60}" bash kickstart-config/ci.sh
echo "== fuzzing the monitor (dispatcher, ELF loader, boot info)"; bash scripts/fuzz.sh
echo "== scripts/pistachio.sh (only with PISTACHIO_SOURCE)"; bash tests/pistachio-build.sh
echo "== tests (host tests, then the boot scenarios)"
status=0
cargo test --workspace 2>&1 | tee "$log" || status=$?

# One line over everything: cargo's `test result:` lines and the boot
# scenarios' summary (expected failures count as skipped, never as passed).
awk '
    /^test result: / {
        for (i = 1; i <= NF; i++) {
            if ($(i) ~ /^passed;?$/) p += $(i-1)
            if ($(i) ~ /^failed;?$/) f += $(i-1)
            if ($(i) ~ /^ignored;?$/) s += $(i-1)
        }
    }
    /^boot scenarios: / {
        for (i = 1; i <= NF; i++) {
            if ($(i) ~ /^passed,?$/) p += $(i-1)
            if ($(i) ~ /^failed,?$/) f += $(i-1)
            if ($(i) ~ /^skipped/) s += $(i-1)
        }
        boot = 1
    }
    END {
        if (!boot) { print "error: the boot scenarios did not report (see above)"; f += 1 }
        printf "total: %d passed, %d failed, %d skipped\n", p, f, s
    }' "$log"
if [ "$status" -eq 0 ] && ! grep -q '^boot scenarios: ' "$log"; then
    status=1
fi
exit "$status"
