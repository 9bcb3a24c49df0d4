#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Installs the Debian packages ureg builds and tests with, or, when not root,
# prints the exact apt-get line that would. Quiet when nothing is missing.
set -eu

BUILD="build-essential cmake pkg-config libarchive-dev libsodium-dev
libsqlite3-dev libmicrohttpd-dev libcurl4-openssl-dev libssl-dev
libjansson-dev libcmocka-dev zlib1g-dev"
TEST="curl skopeo minisign sqlite3 python3 qemu-system-x86 clang-format git"
BENCH="nginx-light docker-registry wrk hyperfine"

want="$BUILD $TEST"
case "${1:-}" in
  --bench) want="$want $BENCH" ;;
  "") ;;
  *) echo "usage: scripts/deps.sh [--bench]" >&2; exit 2 ;;
esac

missing=""
for p in $want; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed"; then
    missing="$missing $p"
  fi
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" = 0 ]; then
  echo "deps: installing$missing"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  # shellcheck disable=SC2086
  apt-get install -y -qq --no-install-recommends $missing >/dev/null
else
  echo "deps: missing packages; run:" >&2
  echo "  sudo apt-get install -y$missing" >&2
  exit 1
fi
