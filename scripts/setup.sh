#!/usr/bin/env bash
# Installs what the project needs on a fresh Debian machine (root, or sudo).
# Safe to run again: it only installs what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

sudo_if_needed() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

need=()
command -v qemu-system-i386 >/dev/null || need+=(qemu-system-x86)
# bindgen (l4-sys) loads libclang at build time.
ls /usr/lib/llvm-*/lib/libclang.so* >/dev/null 2>&1 || need+=(libclang-dev)
# The ia32 images are linked through `cc -m32`.
[ -d /usr/lib/gcc/x86_64-linux-gnu/12/32 ] || dpkg -s gcc-multilib >/dev/null 2>&1 || need+=(gcc-multilib)
# Bootable images (kickstart-config image; boot scenarios grub2-iso and
# grub-legacy-disk): GRUB 2's grub-mkrescue with its BIOS modules, xorriso
# and mtools; GRUB legacy 0.97's shell and stage files, and mke2fs.
command -v grub-mkrescue >/dev/null || need+=(grub-common)
[ -f /usr/lib/grub/i386-pc/multiboot.mod ] || need+=(grub-pc-bin)
command -v xorriso >/dev/null || need+=(xorriso)
command -v mformat >/dev/null || need+=(mtools)
[ -x /usr/sbin/grub ] || [ -n "${GRUB_LEGACY_ROOT:-}" ] || need+=(grub-legacy)
[ -x /usr/sbin/mke2fs ] || command -v mke2fs >/dev/null || need+=(e2fsprogs)
if [ ${#need[@]} -gt 0 ]; then
    echo "setup: installing ${need[*]} (waiting up to 10 minutes if another apt or dpkg holds the package lock)"
    # apt's progress goes to a log; shown only if the install fails. A held
    # dpkg/apt lock (unattended-upgrades on a fresh machine) is waited for,
    # not a failure.
    log=$(mktemp)
    # apt-get install waits for the dpkg lock itself; apt-get update does not
    # wait for the lists lock (apt 2.6), so it is retried while that is held.
    wait_lock=(-o DPkg::Lock::Timeout=600)
    apt_update() {
        local waited=0
        while ! sudo_if_needed apt-get "${wait_lock[@]}" update -qq > "$log.update" 2>&1; do
            cat "$log.update"
            if ! grep -q "Could not get lock" "$log.update" || [ "$waited" -ge 600 ]; then
                return 1
            fi
            sleep 5
            waited=$((waited + 5))
        done
        rm -f "$log.update"
    }
    if ! { apt_update && sudo_if_needed env DEBIAN_FRONTEND=noninteractive apt-get "${wait_lock[@]}" install -y -qq "${need[@]}"; } > "$log" 2>&1; then
        cat "$log" >&2
        echo "setup: installing ${need[*]} failed" >&2
        exit 1
    fi
    rm -f "$log"
fi

# rust-toolchain.toml pins the toolchain and lists the ia32 target; make sure
# both are present even with an older rustup that does not install targets.
rustup show active-toolchain >/dev/null
rustup target add i586-unknown-linux-gnu >/dev/null 2>&1 || true
echo "setup: ok ($(rustc --version), $(qemu-system-i386 --version | head -n1))"
