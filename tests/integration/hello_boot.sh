#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# examples/hello-unikernel: builds two versions with the system compiler
# (byte-identical when rebuilt), boots each under qemu-system-x86_64 (TCG)
# and checks its serial output names its own version and that qemu exits
# by itself, with isa-debug-exit (status 33) and without (ACPI power-off).
set -euo pipefail
SRC=${UREG_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
BUILD=$SRC/examples/hello-unikernel/build.sh
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

command -v qemu-system-x86_64 >/dev/null ||
  fail "qemu-system-x86_64 not found (scripts/deps.sh installs qemu-system-x86)"

v1=$("$BUILD" "$WORK/out" 1.0.0) || fail "build 1.0.0"
v2=$("$BUILD" "$WORK/out" 2.0.0-rc.1) || fail "build 2.0.0-rc.1"
[ "$v1" = "$WORK/out/hello-1.0.0.elf" ] || fail "build printed '$v1'"
{ [ -f "$v1" ] && [ -f "$v2" ]; } || fail "build outputs missing"
cmp -s "$v1" "$v2" && fail "two versions built the same bytes"
again=$("$BUILD" "$WORK/again" 1.0.0) || fail "rebuild 1.0.0"
cmp "$v1" "$again" || fail "rebuilding 1.0.0 gave different bytes"
# what qemu's multiboot loader needs: ELF32 i386, header in the first 8 KiB
[ "$(head -c 5 "$v1" | od -An -tx1 | tr -d ' ')" = 7f454c4601 ] ||
  fail "$v1 is not an ELF32 file"
head -c 8192 "$v1" | od -An -tx4 -v | grep -qw 1badb002 ||
  fail "$v1 has no multiboot header in its first 8 KiB"
if "$BUILD" "$WORK/out" 'bad version' 2>"$WORK/bad.err"; then
  fail "build accepted a version with a space"
fi
grep -q 'may hold only' "$WORK/bad.err" || fail "bad version message: $(cat "$WORK/bad.err")"

# boot FILE LOG [qemu args...]: prints qemu's exit status
boot() {
  local file=$1 log=$2 rc=0
  shift 2
  timeout 60 qemu-system-x86_64 -accel tcg -m 32 -nographic -no-reboot \
    -kernel "$file" "$@" </dev/null >"$log" 2>&1 || rc=$?
  echo "$rc"
}
EXIT_DEV=(-device "isa-debug-exit,iobase=0xf4,iosize=0x04")

rc=$(boot "$v1" "$WORK/v1.log" "${EXIT_DEV[@]}")
[ "$rc" = 33 ] || fail "1.0.0: qemu exit status $rc, want 33: $(tail -c 300 "$WORK/v1.log")"
grep -q 'hello from ureg unikernel 1.0.0$' "$WORK/v1.log" ||
  fail "1.0.0: no greeting: $(tail -c 300 "$WORK/v1.log")"
grep -q 'not started by a multiboot loader' "$WORK/v1.log" &&
  fail "1.0.0: not booted through multiboot"

rc=$(boot "$v2" "$WORK/v2.log" "${EXIT_DEV[@]}")
[ "$rc" = 33 ] || fail "2.0.0-rc.1: qemu exit status $rc, want 33"
grep -q 'hello from ureg unikernel 2.0.0-rc.1$' "$WORK/v2.log" ||
  fail "2.0.0-rc.1: no greeting: $(tail -c 300 "$WORK/v2.log")"
grep -q 'unikernel 1.0.0' "$WORK/v2.log" && fail "2.0.0-rc.1 printed 1.0.0"

# without the exit device the kernel powers off through ACPI: qemu exits 0
rc=$(boot "$v1" "$WORK/plain.log")
[ "$rc" = 0 ] || fail "plain boot: qemu exit status $rc, want 0"
grep -q 'hello from ureg unikernel 1.0.0$' "$WORK/plain.log" ||
  fail "plain boot: no greeting"
echo "ok: hello-unikernel 1.0.0 and 2.0.0-rc.1 boot under qemu"
