#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# `ureg fetch` beside curl, same server, same blobs, same run:
#  1. 2,000 packages of 4 KiB from an empty cache, against
#     `curl --parallel --parallel-max 8` of the same URLs (every request
#     fetch makes: manifest, referrers, signature manifest, signature,
#     config, layer), written to files; target ureg <= 2x curl's time.
#  2. one 1 GiB layer (`ureg fetch --cache-only`: download, hash, verify,
#     into the cache) against `curl -o` of the blob, both writing to tmpfs
#     when there is one; target >= 0.8x curl's rate.
#  3. a no-op fetch of a 500-package lock already in place: target
#     <= 20 ms and not one request (the server's access log is counted).
# Usage: bench/fetch.sh [path/to/ureg]   (about 3-4 minutes on 2 cores)
#
# Packages are not made with `ureg publish` (2,000 publishes take minutes):
# tests/support/ureg_push.py builds each tarball, config, manifest and
# minisign signature in the documented formats and pushes them by digest
# through the OCI API; the generated ureg.json lists the signing key, so
# fetch trusts it. The server's root is on /dev/shm when there is one (its
# fsyncs are not what is measured); the client's cache, deps and curl's
# output are on disk under $TMPDIR.
#
# Knobs: BENCH_FETCH_PACKAGES (2000), BENCH_FETCH_SIZE (4096),
# BENCH_FETCH_NOOP (500), BENCH_FETCH_BIG_MIB (1023: the archive caps file
# contents at 1 GiB), BENCH_FETCH_ROUNDS (3, medians reported),
# BENCH_FETCH_BIG_ROUNDS (5), BENCH_FETCH_JOBS (8).
set -euo pipefail

UREG=${1:-build/ureg}
N=${BENCH_FETCH_PACKAGES:-2000}
SIZE=${BENCH_FETCH_SIZE:-4096}
NOOP=${BENCH_FETCH_NOOP:-500}
BIG_MIB=${BENCH_FETCH_BIG_MIB:-1023}
ROUNDS=${BENCH_FETCH_ROUNDS:-3}
BIG_ROUNDS=${BENCH_FETCH_BIG_ROUNDS:-5}
JOBS=${BENCH_FETCH_JOBS:-8}
HERE=$(cd "$(dirname "$0")" && pwd)
PY=$(python3 -c 'import sys; print(sys.executable)')
PUSH="$PY $HERE/../tests/support/ureg_push.py"
ACCEPT="Accept: application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json"

die() { echo "bench: $*" >&2; exit 1; }
note() { echo "== $*" >&2; }
[ -x "$UREG" ] || die "no ureg binary at \"$UREG\""
UREG=$(cd "$(dirname "$UREG")" && pwd)/$(basename "$UREG")
command -v curl >/dev/null || die "curl is needed"
[ "$NOOP" -le "$N" ] || die "BENCH_FETCH_NOOP must not exceed BENCH_FETCH_PACKAGES"

WORK=$(mktemp -d)
if [ -d /dev/shm ] && [ -w /dev/shm ]; then SRVROOT=$(mktemp -d /dev/shm/ureg-bench-XXXXXX); else SRVROOT=$WORK/root; fi
PID=
cleanup() { [ -n "$PID" ] && kill "$PID" 2>/dev/null; wait 2>/dev/null || true; rm -rf "$WORK" "$SRVROOT" "$SRVROOT-client"; }
trap cleanup EXIT
export XDG_CONFIG_HOME=$WORK/config XDG_CACHE_HOME=$WORK/cache UREG_KDF_LIMITS=min
unset UREG_TOKEN UREG_REGISTRY UREG_KEY

now() { date +%s.%N; }
since() { echo "$(now) $1" | awk '{printf "%.3f", $1 - $2}'; }
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
requests() { grep -c '^[A-Z]* /' "$WORK/access.log" || true; }

"$UREG" serve --root "$SRVROOT" --listen 127.0.0.1:0 --threads 4 >"$WORK/access.log" 2>"$WORK/server.err" &
PID=$!
for _ in $(seq 100); do grep -q '^listening on ' "$WORK/access.log" && break; sleep 0.05; done
URL=$(sed -n 's/^listening on //p' "$WORK/access.log")
[ -n "$URL" ] || die "server did not start: $(cat "$WORK/server.err")"
TOKEN=$("$UREG" token create --root "$SRVROOT" --scope 'push:*')
"$UREG" keygen --no-passphrase >/dev/null
KEY=$XDG_CONFIG_HOME/ureg/ureg.key

# --- 1. many small packages ------------------------------------------------
note "pushing $N packages of $SIZE bytes"
t0=$(now)
$PUSH universe --registry "$URL" --token "$TOKEN" --key "$KEY" --count "$N" \
  --size "$SIZE" --prefix bench --dir "$WORK/many" --urls "$WORK/many.urls"
note "pushed in $(since "$t0") s"
NURLS=$(wc -l <"$WORK/many.urls")
awk -v d="$WORK/curl-out" '{printf "url = \"%s\"\noutput = \"%s/%06d\"\n", $0, d, NR}' \
  "$WORK/many.urls" >"$WORK/curl.cfg"

ureg_many=() curl_many=()
for r in $(seq "$ROUNDS"); do
  rm -rf "$XDG_CACHE_HOME" "$WORK/many/deps" "$WORK/curl-out"
  mkdir -p "$WORK/curl-out"
  sync
  t0=$(now)
  curl -sS --no-progress-meter --fail --parallel --parallel-max "$JOBS" -H "$ACCEPT" -K "$WORK/curl.cfg" || die "curl failed"
  curl_many+=("$(since "$t0")")
  [ "$(ls "$WORK/curl-out" | wc -l)" = "$NURLS" ] || die "curl fetched $(ls "$WORK/curl-out" | wc -l) of $NURLS"
  sync
  before=$(requests)
  t0=$(now)
  (cd "$WORK/many" && "$UREG" fetch --jobs "$JOBS" --json >"$WORK/many.json") || die "ureg fetch failed"
  ureg_many+=("$(since "$t0")")
  [ "$(($(requests) - before))" = "$NURLS" ] || die "fetch sent $(($(requests) - before)) requests, expected $NURLS"
  grep -q "\"extracted\":$N," "$WORK/many.json" || die "fetch: $(cat "$WORK/many.json")"
  note "round $r: $N packages: curl ${curl_many[-1]} s, ureg fetch ${ureg_many[-1]} s"
done
CURL_MANY=$(median "${curl_many[@]}")
UREG_MANY=$(median "${ureg_many[@]}")

# --- 3. no-op fetch of NOOP packages in place (the cache is warm) ------------
"$PY" - "$WORK/many" "$WORK/noop" "$NOOP" <<'PY'
import json, os, shutil, sys
src, dst, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
os.makedirs(dst, exist_ok=True)
shutil.copy(os.path.join(src, "ureg.json"), dst)
lock = json.load(open(os.path.join(src, "ureg.lock")))
keep = sorted(lock["packages"])[:n]
lock["packages"] = {k: lock["packages"][k] for k in keep}
lock["roots"] = {"unix": keep}
with open(os.path.join(dst, "ureg.lock"), "w") as f:
    json.dump(lock, f, indent=2, sort_keys=True)
    f.write("\n")
PY
(cd "$WORK/noop" && "$UREG" fetch --json >"$WORK/noop.json") || die "populating the no-op lock"
# Process start-up (48 shared libraries, libcurl's among them) is timed
# beside it: `ureg version` does nothing else.
before=$(requests)
noop_ms=() start_ms=() curlv_ms=()
# Timed with bash's $EPOCHREALTIME, not `date`: forking `date` (and awk)
# inside the timed interval added 15-20 ms to every run on a busy machine.
ms_between() { awk -v a="${1/,/.}" -v b="${2/,/.}" 'BEGIN {printf "%.1f", (b - a) * 1000}'; }
cd "$WORK/noop"
for _ in $(seq 21); do
  t0=$EPOCHREALTIME
  "$UREG" version >/dev/null
  t1=$EPOCHREALTIME
  start_ms+=("$(ms_between "$t0" "$t1")")
  t0=$EPOCHREALTIME
  curl --version >/dev/null
  t1=$EPOCHREALTIME
  curlv_ms+=("$(ms_between "$t0" "$t1")")
  t0=$EPOCHREALTIME
  "$UREG" fetch --json >"$WORK/noop.json" || die "no-op fetch failed"
  t1=$EPOCHREALTIME
  noop_ms+=("$(ms_between "$t0" "$t1")")
done
cd - >/dev/null
NOOP_REQUESTS=$(($(requests) - before))
grep -Eq "\"up_to_date\":$NOOP[,}]" "$WORK/noop.json" || die "no-op: $(cat "$WORK/noop.json")"
NOOP_MS=$(median "${noop_ms[@]}")
NOOP_MAX=$(printf '%s\n' "${noop_ms[@]}" | sort -g | tail -1)
START_MS=$(median "${start_ms[@]}")
NOOP_MIN=$(printf '%s\n' "${noop_ms[@]}" | sort -g | head -1)
START_MIN=$(printf '%s\n' "${start_ms[@]}" | sort -g | head -1)
CURLV_MS=$(median "${curlv_ms[@]}")
note "no-op fetch of $NOOP packages: median $NOOP_MS ms (ureg version: $START_MS ms), max $NOOP_MAX ms, $NOOP_REQUESTS requests in 21 runs"

# --- 2. one big layer --------------------------------------------------------
note "making and pushing a $BIG_MIB MiB layer"
TREE=$("$PY" - "$WORK/big.tgz" "$BIG_MIB" <<'PY'
import hashlib, os, sys, tarfile, zlib
out, mib = sys.argv[1], int(sys.argv[2])
size = mib << 20
info = tarfile.TarInfo("big.bin"); info.size = size
content = hashlib.sha256()
z = zlib.compressobj(0, zlib.DEFLATED, 31)  # stored: random data does not shrink
with open(out, "wb") as f:
    f.write(z.compress(info.tobuf(format=tarfile.USTAR_FORMAT)))
    for _ in range(mib):
        chunk = os.urandom(1 << 20)
        content.update(chunk)
        f.write(z.compress(chunk))
    pad = (512 - size % 512) % 512
    f.write(z.compress(bytes(pad + 1024)))
    f.write(z.flush())
tree = hashlib.sha256(b"ureg-tree-v1\n")
tree.update(b"F 0644 %d big.bin\n" % size)
tree.update(content.digest())
print("sha256:" + tree.hexdigest())
PY
)
mkdir -p "$WORK/big"
$PUSH package --registry "$URL" --token "$TOKEN" --key "$KEY" --name bench/big \
  --layer "$WORK/big.tgz" --tree "$TREE" --lock "$WORK/big/ureg.lock" >"$WORK/big.entry"
cp "$WORK/many/ureg.json" "$WORK/big/ureg.json"
BIG_BYTES=$(stat -c %s "$WORK/big.tgz")
BIG_URL="$URL/v2/bench/big/blobs/$("$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["layer"])' "$WORK/big.entry")"
rm -f "$WORK/big.tgz"
# Both write the 1 GiB where the server reads it from (tmpfs when there is
# one): on disk, the writeback and discard of the previous round's
# gigabyte made single rounds vary by 2x.
BIGDIR=$(dirname "$SRVROOT")/$(basename "$SRVROOT")-client
mkdir -p "$BIGDIR"
ureg_big=() curl_big=()
for r in $(seq "$BIG_ROUNDS"); do
  rm -rf "$BIGDIR/cache" "$BIGDIR/big.out"
  t0=$(now)
  curl -s --fail -o "$BIGDIR/big.out" "$BIG_URL" || die "curl of the big blob failed"
  curl_big+=("$(since "$t0")")
  rm -f "$BIGDIR/big.out"
  t0=$(now)
  (cd "$WORK/big" && XDG_CACHE_HOME=$BIGDIR/cache "$UREG" fetch --cache-only --json >"$WORK/big.json") ||
    die "ureg fetch of the big layer failed"
  ureg_big+=("$(since "$t0")")
  note "round $r: $BIG_BYTES bytes: curl ${curl_big[-1]} s, ureg fetch --cache-only ${ureg_big[-1]} s"
done
CURL_BIG=$(median "${curl_big[@]}")
UREG_BIG=$(median "${ureg_big[@]}")
# once more with extraction, for the record (not a target)
t0=$(now)
(cd "$WORK/big" && XDG_CACHE_HOME=$BIGDIR/cache "$UREG" fetch --json >"$WORK/big.json") ||
  die "ureg fetch with extraction of the big layer failed"
EXTRACT_BIG=$(since "$t0")
rm -rf "$BIGDIR"

# --- report --------------------------------------------------------------------
awk -v n="$N" -v size="$SIZE" -v nurls="$NURLS" -v jobs="$JOBS" -v rounds="$ROUNDS" \
    -v cm="$CURL_MANY" -v um="$UREG_MANY" -v bb="$BIG_BYTES" -v cb="$CURL_BIG" -v ub="$UREG_BIG" \
    -v eb="$EXTRACT_BIG" -v nn="$NOOP" -v nm="$NOOP_MS" -v nx="$NOOP_MAX" -v nr="$NOOP_REQUESTS" -v ns="$START_MS" -v nmin="$NOOP_MIN" -v smin="$START_MIN" -v cv="$CURLV_MS" \
    -v cpus="$(nproc)" -v date="$(date -u +%Y-%m-%d)" -v br="$BIG_ROUNDS" 'BEGIN {
  mib = bb / 1048576
  rc = mib / cb; ru = mib / ub
  printf "\n## ureg fetch (bench/fetch.sh, %s, %d cores)\n\n", date, cpus
  printf "`bench/fetch.sh build/ureg` (Release build; medians of %d interleaved rounds, %d for the big layer; server root on tmpfs; client cache and outputs on disk, except for the big layer: tmpfs)\n\n", rounds, br
  printf "| case | curl | ureg fetch | ratio | target |\n|---|---|---|---|---|\n"
  printf "| %d packages x %d B, empty cache (%d GETs, %d parallel) | %.2f s | %.2f s | %.2fx curl time | <= 2x %s |\n", n, size, nurls, jobs, cm, um, um / cm, (um / cm <= 2 ? "ok" : "MISSED")
  printf "| one %.0f MiB layer, `--cache-only` | %.0f MiB/s | %.0f MiB/s | %.2fx curl rate | >= 0.8x %s |\n", mib, rc, ru, ru / rc, (ru / rc >= 0.8 ? "ok" : "MISSED")
  printf "| no-op fetch, %d packages in place (21 runs) | `ureg version`: %.1f ms median, %.1f ms min | %.1f ms median, %.1f ms min, %.1f ms max; %d requests | %.1f ms past start-up (medians) | <= 20 ms, 0 requests: %s |\n", nn, ns, smin, nm, nmin, nx, nr, nm - ns, (nm <= 20 && nr == 0 ? "ok" : (nm - ns <= 20 && nr == 0 ? "ok past start-up only" : "MISSED"))
  printf "\nProcess start-up alone, same runs: `ureg version` %.1f ms, `curl --version` %.1f ms (medians).\n", ns, cv
  printf "The same %.0f MiB layer fetched and extracted (tree digest checked, one syncfs): %.2f s.\n", mib, eb
}'
