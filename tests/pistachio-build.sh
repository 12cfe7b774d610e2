#!/usr/bin/env bash
# Test of scripts/pistachio.sh: builds Pistachio from PISTACHIO_SOURCE (a
# checkout path or a git URL) into a temporary prefix, then
#   1. boots its l4test and the reference build's l4test (PISTACHIO_REFERENCE,
#      default ../shared/pistachio/ia32) and requires the same kernel banner
#      form, the same test lines in the same order, every one OK, none FAILED;
#   2. runs the boot scenarios BUILD_SCENARIOS (default one-vm) on the new
#      build (PISTACHIO_DIR=prefix, REQUIRE_PISTACHIO=1).
# Without PISTACHIO_SOURCE it prints why it is skipped and exits 0 (CI has
# no checkout). Exit codes: 0 pass or skip, 1 a check failed, 2 the build
# failed.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ -z "${PISTACHIO_SOURCE:-}" ]; then
    echo "pistachio-build: skipped: PISTACHIO_SOURCE is not set (a Pistachio checkout or git URL to build with scripts/pistachio.sh)"
    exit 0
fi
reference=${PISTACHIO_REFERENCE:-../shared/pistachio/ia32}
[ -f "$reference/bin/l4test" ] || {
    echo "pistachio-build: FAILED: no reference l4test at $reference/bin/l4test (set PISTACHIO_REFERENCE)" >&2
    exit 1
}
out=$(mktemp -d /tmp/pistachio-build-test.XXXXXX)
prefix=$out/prefix
echo "pistachio-build: building $PISTACHIO_SOURCE into $prefix"
PISTACHIO_WORK=$out/work scripts/pistachio.sh "$PISTACHIO_SOURCE" "$prefix" || exit 2
for f in kickstart ia32-kernel sigma0 l4test; do
    [ -x "$prefix/bin/$f" ] || {
        echo "pistachio-build: FAILED: $prefix/bin/$f missing" >&2
        exit 1
    }
done

# Boots l4test of build $1 into log $2; returns once l4test prints its menu
# after the tests (autorun), or after L4TEST_TIMEOUT seconds (default 600).
boot_l4test() {
    local bin=$1/bin log=$2 pid i
    qemu-system-i386 -m 512 -display none -monitor none -serial "file:$log" -no-reboot \
        -icount shift=0,sleep=off -kernel "$bin/kickstart" \
        -initrd "$bin/ia32-kernel,$bin/sigma0,$bin/l4test" </dev/null >"$log.qemu" 2>&1 &
    pid=$!
    for ((i = 0; i < ${L4TEST_TIMEOUT:-600}; i++)); do
        sleep 1
        kill -0 "$pid" 2>/dev/null || break
        # The menu's last item, printed after the autorun's last test.
        # (grep without -q reads all its input: no SIGPIPE under pipefail.)
        tr -d '\r' <"$log" | grep '^8) All tests' >/dev/null && break
    done
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
}
# The test lines ("  name:   OK|FAILED"), colour codes and CRs removed.
results() { tr -d '\r' <"$1" | sed 's/\x1b\[[0-9;]*m//g' | sed -n -E '/:[[:space:]]+(OK|FAILED)[[:space:]]*$/{s/[[:space:]]+/ /g;p}'; }
banner() { tr -d '\r' <"$1" | sed 's/\x1b\[[0-9;]*m//g' | grep '^L4Ka::Pistachio - built on' | sed -n '1s/built on .* using/built on DATE using/p'; }

echo "pistachio-build: booting l4test (built and reference)"
boot_l4test "$prefix" "$out/l4test-built.log"
boot_l4test "$reference" "$out/l4test-reference.log"
fail=0
b_built=$(banner "$out/l4test-built.log")
b_ref=$(banner "$out/l4test-reference.log")
if [ -z "$b_built" ] || [ "$b_built" != "$b_ref" ]; then
    echo "pistachio-build: FAILED: banner \"$b_built\", reference \"$b_ref\"" >&2
    fail=1
fi
results "$out/l4test-built.log" >"$out/built.txt"
results "$out/l4test-reference.log" >"$out/reference.txt"
ok=$(grep -c ' OK$' "$out/built.txt" || true)
bad=$(grep -c ' FAILED$' "$out/built.txt" || true)
ref_ok=$(grep -c ' OK$' "$out/reference.txt" || true)
if [ "$ok" -eq 0 ] || [ "$bad" -ne 0 ] || ! diff -u "$out/reference.txt" "$out/built.txt" >&2; then
    echo "pistachio-build: FAILED: l4test $ok OK, $bad FAILED; reference $ref_ok OK (logs in $out)" >&2
    fail=1
else
    echo "pistachio-build: l4test $ok/$ok OK, the same tests as the reference ($ref_ok OK); banner \"$b_built\""
fi

echo "pistachio-build: boot scenarios ${BUILD_SCENARIOS:-one-vm} on the new build"
if ! PISTACHIO_DIR=$prefix REQUIRE_PISTACHIO=1 BOOT_SCENARIOS=${BUILD_SCENARIOS:-one-vm} \
    cargo test -q -p tests --test boot 2>&1 | tee "$out/scenarios.log" | grep -E '^(scenario |boot scenarios:)'; then
    fail=1
fi
grep -q '^boot scenarios: [1-9][0-9]* passed, 0 failed, 0 skipped' "$out/scenarios.log" || {
    echo "pistachio-build: FAILED: boot scenarios on the new build (log $out/scenarios.log)" >&2
    fail=1
}
if [ "$fail" -eq 0 ]; then
    echo "pistachio-build: ok ($prefix)"
fi
exit "$fail"
