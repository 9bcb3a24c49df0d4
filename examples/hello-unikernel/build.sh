#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Builds the hello unikernel with the system compiler:
#   build.sh OUTDIR VERSION  ->  OUTDIR/hello-VERSION.elf (path printed)
# The result is a multiboot v1 ELF32 for `qemu-system-x86_64 -kernel`.
set -eu

usage() { echo "usage: build.sh OUTDIR VERSION" >&2; exit 2; }
[ $# -eq 2 ] || usage
out=$1
version=$2
case "$version" in
  "" | *[!A-Za-z0-9._+-]*)
    echo "build.sh: version \"$version\" may hold only A-Z a-z 0-9 . _ + -" >&2
    exit 2 ;;
esac
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$out"
target="$out/hello-$version.elf"

# Freestanding 32-bit code, no libc, no PIE, nothing that varies between
# builds (no build id, no debug info), so a version builds byte-identically.
${CC:-gcc} -m32 -march=i686 -O2 -std=c11 -Wall -Wextra -Werror \
  -ffreestanding -fno-builtin -fno-pic -fno-pie -fno-stack-protector \
  -fno-asynchronous-unwind-tables -fcf-protection=none \
  -nostdlib -static -no-pie \
  -DHELLO_VERSION="\"$version\"" \
  -Wl,-T,"$here/link.ld" -Wl,--build-id=none -Wl,-n \
  "$here/hello.c" -o "$target.tmp"
mv "$target.tmp" "$target"
echo "$target"
