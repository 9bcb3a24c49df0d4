#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# `make run`: starts the registry on its defaults (root $XDG_DATA_HOME/ureg,
# 127.0.0.1:5000), shows it working with plain HTTP (push a blob and a
# manifest, list, pull back and verify), then keeps serving until Ctrl-C.
set -eu
UREG=${1:-build/ureg}
LISTEN=${UREG_LISTEN:-127.0.0.1:5000}
ROOT=${UREG_ROOT:-${XDG_DATA_HOME:-$HOME/.local/share}/ureg}
LOG=$(mktemp)
WORK=$(mktemp -d)

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
echo "== registry root $ROOT, $(head -1 "$LOG")"

TOKEN=$("$UREG" token create --root "$ROOT" --scope push:demo)
AUTH="Authorization: Bearer $TOKEN"
echo "== token created with scope push:demo"

printf 'hello from a unikernel\n' >"$WORK/layer"
printf '{}' >"$WORK/config"
dgst() { echo "sha256:$(sha256sum "$1" | cut -d' ' -f1)"; }
LAYER=$(dgst "$WORK/layer"); CONFIG=$(dgst "$WORK/config")
for f in layer config; do
  curl -fsS -o /dev/null -H "$AUTH" --data-binary @"$WORK/$f" \
    -H 'Content-Type: application/octet-stream' \
    "$URL/v2/demo/hello/blobs/uploads/?digest=$(dgst "$WORK/$f")"
done
echo "== pushed blobs $LAYER and $CONFIG"

cat >"$WORK/manifest" <<JSON
{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","artifactType":"application/vnd.ureg.demo.v1","config":{"mediaType":"application/vnd.oci.empty.v1+json","digest":"$CONFIG","size":2},"layers":[{"mediaType":"application/octet-stream","digest":"$LAYER","size":$(wc -c <"$WORK/layer")}]}
JSON
curl -fsS -o /dev/null -X PUT -H "$AUTH" \
  -H 'Content-Type: application/vnd.oci.image.manifest.v1+json' \
  --data-binary @"$WORK/manifest" "$URL/v2/demo/hello/manifests/v1"
MANIFEST=$(dgst "$WORK/manifest")
echo "== pushed manifest $MANIFEST as demo/hello:v1"

echo "== catalog: $(curl -fsS "$URL/v2/_catalog")"
echo "== tags:    $(curl -fsS "$URL/v2/demo/hello/tags/list")"
curl -fsS -o "$WORK/pulled" "$URL/v2/demo/hello/blobs/$LAYER"
[ "$(dgst "$WORK/pulled")" = "$LAYER" ] || { echo "demo: pulled blob differs" >&2; exit 1; }
echo "== pulled the layer back by digest, sha256 verified: $(cat "$WORK/pulled")"
"$UREG" fsck --root "$ROOT" 2>&1 | sed 's/^/== fsck: /'
echo "== the registry keeps running at $URL (skopeo/oras/crane work against it); Ctrl-C stops it"
wait $PID
