#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# `make run`: starts the registry on its defaults (root $XDG_DATA_HOME/ureg,
# 127.0.0.1:5000) and walks through what a team does with it: make a key,
# publish signed source packages, lock a project for unix and hvt at once,
# fetch the locked sources, push a unikernel image, promote and roll back a
# channel, pull it by channel and boot it; then keeps serving until Ctrl-C.
set -eu
UREG=$(realpath "${1:-build/ureg}")
LISTEN=${UREG_LISTEN:-127.0.0.1:5000}
ROOT=${UREG_ROOT:-${XDG_DATA_HOME:-$HOME/.local/share}/ureg}
LOG=$(mktemp)
WORK=$(mktemp -d)
# the walk-through keeps its keys, tokens and cache out of your own
export XDG_CONFIG_HOME="$WORK/config" XDG_CACHE_HOME="$WORK/cache"
export UREG_REGISTRY="http://$LISTEN" UREG_KDF_LIMITS=min

"$UREG" serve --root "$ROOT" --listen "$LISTEN" >"$LOG" 2>&1 &
PID=$!
trap 'kill $PID 2>/dev/null; wait $PID 2>/dev/null; rm -rf "$WORK" "$LOG"' EXIT INT TERM

i=0
until grep -q '^listening on ' "$LOG"; do
  if ! kill -0 $PID 2>/dev/null; then
    echo "demo: the registry did not start:" >&2; cat "$LOG" >&2; exit 1
  fi
  i=$((i + 1)); [ $i -gt 100 ] && { echo "demo: no listening line" >&2; exit 1; }
  sleep 0.05
done
URL=$(sed -n 's/^listening on //p' "$LOG" | head -1)
step() { printf '\n== %s\n' "$*"; }
step "registry root $ROOT, $(head -1 "$LOG")"

step "ureg token create --scope push:demo ; ureg login $URL"
"$UREG" token create --root "$ROOT" --scope push:demo | "$UREG" login "$URL"
step "ureg keygen --no-passphrase"
"$UREG" keygen --no-passphrase

# Two small packages: a portable one and one that only builds on unix.
mk() { # NAME VERSION DEPS [TARGETS]: no targets means every target
  d="$WORK/src/$(echo "$1" | tr / -)-$2"; mkdir -p "$d/src"
  echo "(* $1 $2 *)" >"$d/src/lib.ml"
  printf '{"name": "%s", "version": "%s", %s"dependencies": %s, "registry": "%s"}\n' \
    "$1" "$2" "${4:+\"targets\": $4, }" "$3" "$URL" >"$d/ureg.json"
  echo "$d"
}
step "ureg publish (signed, content-addressed; re-publishing is a no-op)"
"$UREG" publish "$(mk demo/cstruct 1.0.0 '{}' '["unix", "hvt"]')"
"$UREG" publish "$(mk demo/cstruct 1.1.0 '{}' '["unix", "hvt"]')"
"$UREG" publish "$(mk demo/logs 2.0.0 '{"demo/cstruct": "^1.0"}')"
"$UREG" verify demo/logs@2.0.0

step "ureg lock: one lock for unix and hvt"
APP="$WORK/app"; mkdir -p "$APP"
printf '{"name": "demo/app", "version": "0.1.0", "targets": ["unix", "hvt"], "dependencies": {"demo/logs": "^2.0"}, "registry": "%s"}\n' "$URL" >"$APP/ureg.json"
"$UREG" lock "$APP"
sed 's/^/   /' "$APP/ureg.lock" | head -40

if "$UREG" help 2>/dev/null | grep -q '^  fetch'; then
  step "ureg fetch: verified, cached, extracted into deps/"
  (cd "$APP" && "$UREG" fetch) && find "$APP/deps" -type f | sed "s#$APP/#   #"
fi

step "ureg push-image: a tiny unikernel that knows its target, signed"
SRC=$(cd "$(dirname "$0")/.." && pwd)
bash "$SRC/examples/hello-unikernel/build.sh" "$WORK/kernel" v1 >/dev/null
bash "$SRC/examples/hello-unikernel/build.sh" "$WORK/kernel" v2 >/dev/null
"$UREG" push-image "$WORK/kernel/hello-v1.elf" --target qemu --name demo/hello --version 1.0.0 --lock "$APP/ureg.lock"
"$UREG" push-image "$WORK/kernel/hello-v2.elf" --target qemu --name demo/hello --version 1.1.0 --lock "$APP/ureg.lock"

step "ureg promote / rollback: channels with history"
"$UREG" promote demo/hello@1.0.0 production
"$UREG" promote demo/hello@1.1.0 production
"$UREG" rollback demo/hello production
"$UREG" history demo/hello production
"$UREG" info demo/hello

step "ureg pull demo/hello@production -o hello.elf, then boot it"
"$UREG" pull demo/hello@production -o "$WORK/hello.elf"
if command -v qemu-system-x86_64 >/dev/null; then
  timeout 30 qemu-system-x86_64 -kernel "$WORK/hello.elf" -nographic -no-reboot -m 32 \
    -device isa-debug-exit,iobase=0xf4,iosize=0x04 </dev/null 2>/dev/null | grep hello || true
fi

step "plain OCI works too: the catalog and a tag list"
curl -fsS "$URL/v2/_catalog"; echo
curl -fsS "$URL/v2/demo/logs/tags/list"; echo
"$UREG" fsck --root "$ROOT" 2>&1 | sed 's/^/   fsck: /'
step "the registry keeps running at $URL (open it in a browser; skopeo, oras, crane work against it); Ctrl-C stops it"
wait $PID
