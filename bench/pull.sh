#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Pull benchmark, side by side in one run on loopback:
#  - `ureg pull NAME@sha256:...` of a cached image: wall time and the number
#    of requests the server saw (target: <= 20 ms and 0 requests);
#  - cold `ureg pull` of a 10 MiB image (empty cache each run) against
#    `skopeo copy` of the same image to a directory (target: <= 0.25x), and
#    `curl -o` of the layer blob alone as the floor of any HTTP download.
# usage: bench/pull.sh [path/to/ureg]
set -euo pipefail
UREG=$(realpath "${1:-build/ureg}")
WORK=$(mktemp -d)
PID=
cleanup() { [ -n "$PID" ] && kill "$PID" 2>/dev/null; wait 2>/dev/null || true; rm -rf "$WORK"; }
trap cleanup EXIT
for tool in hyperfine skopeo; do
  command -v $tool >/dev/null || { echo "bench: $tool missing (scripts/deps.sh --bench)" >&2; exit 1; }
done
export XDG_CONFIG_HOME=$WORK/config XDG_CACHE_HOME=$WORK/cache UREG_KDF_LIMITS=min
"$UREG" serve --root "$WORK/root" --listen 127.0.0.1:0 >"$WORK/server.log" 2>&1 &
PID=$!
for _ in $(seq 100); do grep -q '^listening on ' "$WORK/server.log" 2>/dev/null && break; sleep 0.05; done
URL=$(sed -n 's/^listening on //p' "$WORK/server.log")
export UREG_REGISTRY=$URL
"$UREG" token create --root "$WORK/root" --scope push:bench | "$UREG" login "$URL" >/dev/null
"$UREG" keygen --no-passphrase >/dev/null
head -c $((10 << 20)) /dev/urandom >"$WORK/image.bin"
"$UREG" push-image "$WORK/image.bin" --target qemu --name bench/img --version 1.0.0 >"$WORK/push.out"
DIGEST=$(sed -n 's/^release *\(sha256:[0-9a-f]*\).*/\1/p' "$WORK/push.out")

echo "== cached pull by digest"
"$UREG" pull "bench/img@$DIGEST" --print-path >/dev/null
before=$(wc -l <"$WORK/server.log")
hyperfine -N --warmup 3 --runs 50 --export-json "$WORK/cached.json" \
  "$UREG pull bench/img@$DIGEST --print-path" >/dev/null
after=$(wc -l <"$WORK/server.log")
cached_ms=$(python3 -c 'import json,sys; print("%.2f" % (json.load(open(sys.argv[1]))["results"][0]["median"]*1000))' "$WORK/cached.json")
echo "cached pull by digest: median ${cached_ms} ms over 50 runs, $((after - before)) requests to the server"

# The layer's blob URL, for the floor: one `curl -o` of the 10 MiB layer
# (one request, no signature, no manifest, no fsync, no cache) in the same
# run.
LAYER=sha256:$(sha256sum "$WORK/image.bin" | cut -d' ' -f1)

echo "== cold pull of a 10 MiB image"
hyperfine --warmup 1 --runs 10 --export-json "$WORK/cold.json" \
  --prepare "rm -rf $WORK/cache $WORK/skopeo-out $WORK/out.bin $WORK/curl.bin" \
  "$UREG pull bench/img@1.0.0 -o $WORK/out.bin" \
  "skopeo copy --quiet --src-tls-verify=false docker://${URL#http://}/bench/img:1.0.0 dir:$WORK/skopeo-out" \
  "curl -fsS -o $WORK/curl.bin $URL/v2/bench/img/blobs/$LAYER" >/dev/null
python3 - "$WORK/cold.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))["results"]
u, s, c = r[0]["median"], r[1]["median"], r[2]["median"]
print("cold ureg pull: %.1f ms, skopeo copy: %.1f ms, ratio %.3f (target <= 0.25)" % (u * 1e3, s * 1e3, u / s))
print("floor: curl -o of the layer alone: %.1f ms, %.3f of skopeo's time; ureg pull is %.2fx curl" % (c * 1e3, c / s, u / c))
PY
