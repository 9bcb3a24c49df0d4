#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Resolver benchmark (issue 4, Performance): builds bench_resolve if needed
# (RelWithDebInfo when the build directory is new) and runs it; further
# arguments go to the program (--roots N, --seed S, --only ROOT, --verbose).
# usage: bench/resolve.sh [build-dir] [bench_resolve options]
set -euo pipefail
SRC=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${1:-$SRC/build}
[ $# -gt 0 ] && shift
if [ ! -f "$BUILD/CMakeCache.txt" ]; then
  cmake -S "$SRC" -B "$BUILD" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
fi
cmake --build "$BUILD" -j"$(nproc)" --target bench_resolve >/dev/null
type=$(sed -n 's/^CMAKE_BUILD_TYPE:[A-Z]*=//p' "$BUILD/CMakeCache.txt")
sanitize=$(sed -n 's/^UREG_SANITIZE:[A-Z]*=//p' "$BUILD/CMakeCache.txt")
echo "machine: $(nproc) cores, $(sed -n 's/^model name[^:]*: //p' /proc/cpuinfo | head -1), load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "build: $BUILD (${type:-no build type}, sanitizers ${sanitize:-OFF})"
exec "$BUILD/bench/bench_resolve" "$@"
