#!/usr/bin/env bash
# Builds L4Ka::Pistachio for ia32 (the kernel, sigma0, kickstart and the
# l4test suite) from a checkout you supply, on a current Debian toolchain,
# and installs it in the layout PISTACHIO_DIR expects:
#
#   PREFIX/bin/{kickstart,ia32-kernel,sigma0,l4test}  PREFIX/include/l4/*.h
#
# Usage: scripts/pistachio.sh SOURCE [PREFIX]
#   SOURCE  a Pistachio checkout (a folder with kernel/ and user/), or a git
#           URL, which is cloned
#   PREFIX  where to install (default /opt/pistachio, where the project
#           looks when PISTACHIO_DIR is unset)
#
# The build works on a copy (PISTACHIO_WORK, default a fresh temporary
# folder); your checkout is never changed. This project ships none of
# Pistachio's files: the script is written from the facts in README.md's
# "Pistachio" section.
#
# Kernel configuration (the project's "known to work" one, README.md):
# ia32 (x86-x32), CPU i686, PC99, one CPU, round-robin scheduler, no IPC
# fast path, kernel debugger with its console on COM1 (0x3f8, 115200), ESC
# break-in (no break-signal break-in), no debugger stop at start-up, and the
# experimental "pager ExchangeRegisters" feature (l4test's "Sender abort" IPC
# test hangs without it). With these choices every kernel function has the
# size it has in the project's reference build (../shared/pistachio/ia32). Pistachio's configurator (CML2)
# needs Python 2, which Debian 12 no longer has; the script writes the
# configurator's three outputs itself (config/config.out, config/config.h,
# config/.config) and the Makeconf.local lines the configurator rewrites.
#
# Fixes for gcc 12 / binutils 2.40 (README.md): the kernel is compiled with
# -fno-pie -fno-stack-protector -std=gnu++98 and linked with
# -z noseparate-code (otherwise a segment lands at 0xff000, in the BIOS
# area); user code with -ffreestanding -fno-pie -fno-stack-protector
# -fno-tree-loop-distribute-patterns (and C++ with -std=gnu++98);
# two declarations in tcb.h and one comparison in kip.h (and the same
# comparison in l4test.h) are fixed by sed below, each checked to have
# applied.
set -euo pipefail

usage() {
    sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'
    exit "${1:-2}"
}
[ $# -ge 1 ] && [ $# -le 2 ] || usage 2
case "$1" in -h | --help) usage 0 ;; esac
SOURCE=$1
PREFIX=${2:-/opt/pistachio}
JOBS=${JOBS:-$(nproc 2>/dev/null || echo 2)}

say() { echo "pistachio: $*"; }
die() {
    echo "pistachio: error: $*" >&2
    exit 1
}

for tool in gcc g++ make ld autoconf autoheader awk ed git; do
    command -v "$tool" >/dev/null ||
        die "$tool not found (apt-get install build-essential gcc-multilib autoconf ed git)"
done
echo 'int main(void){return 0;}' | gcc -m32 -x c - -o /dev/null 2>/dev/null ||
    die "gcc -m32 cannot link (apt-get install gcc-multilib)"

work=${PISTACHIO_WORK:-$(mktemp -d /tmp/pistachio-build.XXXXXX)}
mkdir -p "$work"
work=$(cd "$work" && pwd)
src=$work/src
log=$work/build.log
: >"$log"
say "work folder $work (sources, build folders, build.log)"
# Runs a step with its output in the log; on failure shows the log's end.
step() {
    local what=$1
    shift
    say "$what"
    if ! "$@" >>"$log" 2>&1; then
        tail -n 40 "$log" >&2
        die "$what failed (whole log: $log)"
    fi
}

# 1. The copy of the sources.
rm -rf "$src"
if [ -d "$SOURCE" ]; then
    [ -f "$SOURCE/kernel/Makefile" ] && [ -f "$SOURCE/user/configure.in" ] ||
        die "$SOURCE is not a Pistachio checkout (no kernel/Makefile and user/configure.in)"
    step "copying $SOURCE" cp -a "$SOURCE" "$src"
else
    step "cloning $SOURCE" git clone --depth 1 "$SOURCE" "$src"
    [ -f "$src/kernel/Makefile" ] || die "$SOURCE is not a Pistachio repository"
fi
rev=$(git -C "$src" rev-parse --short HEAD 2>/dev/null || echo unknown)

# 2. Source fixes for gcc 12: each sed must change its file, or the
# checkout differs from the one these facts are about.
fix() { # file sed-expression description
    local file=$src/$1 before
    before=$(md5sum "$file")
    sed -i -e "$2" "$file"
    [ "$(md5sum "$file")" != "$before" ] ||
        die "fix \"$3\" did not apply to $1 (a different Pistachio version? known to work: 8be66aa9)"
}
fix kernel/src/api/v4/tcb.h 's/^\(\s*\)extern tcb_t \*__idle_tcb;/\1extern const tcb_t *__idle_tcb;/' \
    "tcb.h: __idle_tcb is defined const in schedule.cc"
fix kernel/src/api/v4/tcb.h 's/^\(\s*\)extern tcb_t \*__dummy_tcb;/\1extern const tcb_t *__dummy_tcb;/' \
    "tcb.h: __dummy_tcb is defined const in thread.cc"
fix user/include/l4/kip.h "s/(name = L4_Feature(kip,i)) != '\\\\0'/(name = L4_Feature(kip,i)) != (char *) 0/" \
    "kip.h: L4_HasFeature compares a pointer with '\\0'"
# The same comparison in l4test's own copy of that loop (l4test only).
fix user/apps/l4test/l4test.h "s/(name = L4_Feature(kip,i)) != '\\\\0'/(name = L4_Feature(kip,i)) != (char *) 0/" \
    "l4test.h: l4_has_feature compares a pointer with '\\0'"

# 3. The kernel.
kbuild=$work/kernel
rm -rf "$kbuild"
step "creating the kernel build folder" make -C "$src/kernel" BUILDDIR="$kbuild"
cfg=$kbuild/config
mkdir -p "$cfg"
# The configurator's choices and what it derives from them (rules.cml,
# x86.cml), as CML2 writes them: NAME=y|n|value.
cat >"$cfg/config.out" <<'EOF'
CONFIG_ARCH_X86=y
CONFIG_ARCH_POWERPC=n
CONFIG_ARCH_POWERPC64=n
CONFIG_SUBARCH_X32=y
CONFIG_SUBARCH_X64=n
CONFIG_CPU_X86_I486=n
CONFIG_CPU_X86_I586=n
CONFIG_CPU_X86_I686=y
CONFIG_CPU_X86_P4=n
CONFIG_CPU_X86_K8=n
CONFIG_CPU_X86_C3=n
CONFIG_CPU_X86_SIMICS=n
CONFIG_PLAT_PC99=y
CONFIG_SMP=n
CONFIG_IOAPIC=n
CONFIG_EXPERIMENTAL=y
CONFIG_X_PAGER_EXREGS=y
CONFIG_X_CTRLXFER_MSG=n
CONFIG_X_X86_HVM=n
CONFIG_X_EVT_LOGGING=n
CONFIG_SCHED_RR=y
CONFIG_X_SCHED_HS=n
CONFIG_IPC_FASTPATH=n
CONFIG_DEBUG=y
CONFIG_DEBUG_SYMBOLS=n
CONFIG_PERFMON=n
CONFIG_SPIN_WHEELS=y
CONFIG_NEW_MDB=n
CONFIG_STATIC_TCBS=n
CONFIG_X86_SMALL_SPACES=n
CONFIG_X86_KEEP_LAST_BRANCHES=n
CONFIG_KDB_CONS_COM=y
CONFIG_KDB_COMPORT=0x0
CONFIG_KDB_COMSPEED=115200
CONFIG_KDB_CONS_KBD=n
CONFIG_KDB_BOOT_CONS=0
CONFIG_KDB_DISAS=y
CONFIG_KDB_ON_STARTUP=n
CONFIG_KDB_BREAKIN=y
CONFIG_KDB_BREAKIN_BREAK=n
CONFIG_KDB_BREAKIN_ESCAPE=y
CONFIG_KDB_INPUT_HLT=n
CONFIG_KDB_NO_ASSERTS=n
CONFIG_VERBOSE_INIT=n
CONFIG_TRACEPOINTS=n
CONFIG_KMEM_TRACE=n
CONFIG_TRACEBUFFER=n
CONFIG_IS_32BIT=y
CONFIG_IS_64BIT=n
CONFIG_BIGENDIAN=n
CONFIG_HAVE_MEMORY_CONTROL=n
CONFIG_X86_SYSENTER=y
CONFIG_X86_FXSR=y
CONFIG_X86_PGE=y
CONFIG_X86_HTT=n
CONFIG_X86_SMALL_SPACES_GLOBAL=n
CONFIG_X86_PSE=y
CONFIG_X86_TSC=y
CONFIG_X86_PAT=y
CONFIG_X86_EM64T=n
CONFIG_MULTI_ARCHITECTURE=n
CONFIG_X86_HVM=n
EOF
# config.h and .config, translated the way the configurator's configtrans
# step does: y -> "#define X 1", n -> "#undef X" / "# X is not set".
awk -F= '
    $2 == "y" { print "#define " $1 " 1"; next }
    $2 == "n" { print "#undef  " $1; next }
    { print "#define " $1 " " $2 }
    END { print "#define AUTOCONF_INCLUDED" }' "$cfg/config.out" >"$cfg/config.h"
awk -F= '$2 == "n" { print "# " $1 " is not set"; next } { print }' "$cfg/config.out" >"$cfg/.config"
# Makeconf.local: the values the configurator's awk rewrites, and the
# gcc 12 / binutils 2.40 flags.
sed -i -e 's/^ARCH *=.*/ARCH=x86/' -e 's/^SUBARCH *=.*/SUBARCH=x32/' -e 's/^CPU *=.*/CPU=i686/' \
    -e 's/^PLATFORM *=.*/PLATFORM=pc99/' -e 's/^SCHED *=.*/SCHED=rr/' "$kbuild/Makeconf.local"
cat >>"$kbuild/Makeconf.local" <<'EOF'
# scripts/pistachio.sh: gcc 12 / binutils 2.40
CCFLAGS += -fno-pie -fno-stack-protector -std=gnu++98 -Wno-conversion
KLDFLAGS += -z noseparate-code
EOF
touch -d yesterday "$kbuild/Makeconf.local"
step "building the kernel (x86-x32, i686, pc99; log: $log)" make -C "$kbuild" -j"$JOBS"
[ -f "$kbuild/x86-kernel" ] || die "the kernel build made no x86-kernel"

# 4. User level: sigma0, kickstart, l4test and the headers.
step "generating user/configure" sh -c "cd '$src/user' && autoheader && autoconf"
ubuild=$work/user
# -ffreestanding: these programs have no C library (without it l4test's
# "Sender abort" IPC test hangs). -fno-tree-loop-distribute-patterns: gcc 12
# turns the I/O library's own strlen loop (lib/io) into a call to strlen,
# which nobody provides. L4TEST_AUTORUN: l4test runs all its tests at boot
# (then waits at its menu).
user_flags="-ffreestanding -fno-pie -fno-stack-protector -fno-tree-loop-distribute-patterns -DL4TEST_AUTORUN"
rm -rf "$ubuild" "$work/install"
mkdir -p "$ubuild"
step "configuring user level" sh -c "cd '$ubuild' && '$src/user/configure' --host=i686-pc-linux-gnu \
    CC='gcc -m32 $user_flags' --with-kerneldir='$kbuild' --prefix='$work/install'"
# The user build compiles C++ as `$(CC) -x c++` with CXXFLAGS from config.mk.
grep -q '^CXXFLAGS=' "$ubuild/config.mk" || die "user/config.mk has no CXXFLAGS line"
sed -i 's/^\(CXXFLAGS=.*\)$/\1 -std=gnu++98/' "$ubuild/config.mk"
step "building sigma0, kickstart, l4test" make -C "$ubuild" -j"$JOBS"
step "installing into a staging folder" make -C "$ubuild" install

# 5. The layout the project reads (qemu/src/pistachio.rs, README.md).
find_one() { find "$ubuild" "$work/install" -type f -name "$1" -perm -u+x 2>/dev/null | head -n 1; }
mkdir -p "$PREFIX/bin" "$PREFIX/include"
install -m 0755 "$kbuild/x86-kernel" "$PREFIX/bin/ia32-kernel"
for f in kickstart sigma0 l4test; do
    p=$(find_one "$f")
    [ -n "$p" ] || die "the user build made no $f"
    install -m 0755 "$p" "$PREFIX/bin/$f"
done
if [ -d "$work/install/include/l4" ]; then
    rm -rf "$PREFIX/include/l4"
    cp -r "$work/install/include/l4" "$PREFIX/include/"
    [ -f "$work/install/include/l4io.h" ] && cp "$work/install/include/l4io.h" "$PREFIX/include/"
fi
say "installed Pistachio $rev into $PREFIX (bin/kickstart, bin/ia32-kernel, bin/sigma0, bin/l4test, include/)"
say "use it with: PISTACHIO_DIR=$PREFIX scripts/boot.sh"
