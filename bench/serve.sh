#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# `make bench`: ureg's serving speed beside nginx (same files, sendfile) and
# Debian's docker-registry (distribution 2.8), all on 127.0.0.1, plus push
# speed (beside docker-registry, and nginx's PUT as the floor of receiving
# a body into a file) and peak RSS while streaming 2 GiB. Usage: bench/serve.sh [ureg].
#
# Knobs (environment): BENCH_DURATION (wrk seconds per run, default 3),
# BENCH_ROUNDS (interleaved wrk rounds, median taken, default 3),
# BENCH_WRK_THREADS (default 2), BENCH_PUSH_RUNS (256 MiB pushes per server,
# default 3), BENCH_BIG_MIB (RSS stream size, default 2048), BENCH_UREG_ARGS
# (extra `ureg serve` options, for experiments; default none), BENCH_PERF=1
# (also profile ureg's GET cases with perf). Whole run on the defaults:
# about 3.5 minutes on 2 cores.
set -euo pipefail

UREG=${1:-build/ureg}
DURATION=${BENCH_DURATION:-3}
ROUNDS=${BENCH_ROUNDS:-3}
WRK_THREADS=${BENCH_WRK_THREADS:-2}
PUSH_RUNS=${BENCH_PUSH_RUNS:-3}
BIG_MIB=${BENCH_BIG_MIB:-2048}
read -ra UREG_ARGS <<<"${BENCH_UREG_ARGS:-}"
PUSH_MIB=256
REPO=bench/app
OCI_MANIFEST=application/vnd.oci.image.manifest.v1+json

die() { echo "bench: $*" >&2; exit 1; }
note() { echo "== $*"; }

[ -x "$UREG" ] || die "no ureg binary at \"$UREG\" (build it, or pass its path)"
UREG=$(cd "$(dirname "$UREG")" && pwd)/$(basename "$UREG")
for tool in curl wrk nginx docker-registry python3 awk; do
	command -v "$tool" >/dev/null 2>&1 ||
		die "\"$tool\" is missing: run scripts/deps.sh --bench"
done

T=$(mktemp -d "${TMPDIR:-/tmp}/ureg-bench.XXXXXX")
PIDS=()
cleanup() {
	local p
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
	for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
	rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# The whole run is bounded: a watchdog ends it after 5 minutes.
(
	trap 'kill $s 2>/dev/null; exit 0' TERM
	sleep 300 &
	s=$!
	wait $s
	echo "bench: over 5 minutes, giving up" >&2
	kill -TERM $$
) &
PIDS+=($!)

free_port() {
	python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# "sha256:<hex>" of a file; openssl is several times faster on big files.
dgst() {
	if command -v openssl >/dev/null 2>&1; then
		echo "sha256:$(openssl dgst -sha256 -r "$1" | cut -d' ' -f1)"
	else
		echo "sha256:$(sha256sum "$1" | cut -d' ' -f1)"
	fi
}

wait_http() { # URL PID NAME
	local i=0
	until curl -s -o /dev/null "$1"; do
		kill -0 "$2" 2>/dev/null || die "$3 exited at start (logs in $T)"
		i=$((i + 1))
		[ $i -gt 200 ] && die "$3 does not answer at $1"
		sleep 0.05
	done
}

cpu=$(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo)
note "machine: $(nproc) cores, ${cpu:-unknown CPU}, $(awk '/^MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(uname -sr)"
note "ureg $UREG; $(nginx -v 2>&1 | sed 's/^nginx version: //'); docker-registry $(docker-registry --version | awk '{print $NF}'); $(wrk --version 2>&1 | head -1 | awk '{print "wrk", $2}')"
note "date $(date -u +%Y-%m-%dT%H:%M:%SZ), load average $(cut -d' ' -f1-3 /proc/loadavg), storage under $T ($(df -PT "$T" | awk 'NR == 2 {print $2}'))"

# Two cores shared with anything else running make every ratio noisy.
if awk '{exit !($1 > 1.0)}' /proc/loadavg; then
	echo "bench: warning: load average $(cut -d' ' -f1 /proc/loadavg) before starting; other work on the machine skews these figures" >&2
fi

# --- payloads ----------------------------------------------------------------
mkdir -p "$T/data"
head -c 4096 /dev/urandom >"$T/data/small"
head -c $((5 * 1048576)) /dev/urandom >"$T/data/medium"
printf '{"architecture":"amd64","os":"linux"}' >"$T/data/config"
SMALL=$(dgst "$T/data/small")
MEDIUM=$(dgst "$T/data/medium")
CONFIG=$(dgst "$T/data/config")
printf '{"schemaVersion":2,"mediaType":"%s","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"%s","size":%d},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"%s","size":4096},{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"%s","size":%d}]}' \
	"$OCI_MANIFEST" "$CONFIG" "$(wc -c <"$T/data/config")" "$SMALL" "$MEDIUM" \
	$((5 * 1048576)) >"$T/data/manifest"

# --- ureg --------------------------------------------------------------------
UROOT="$T/ureg-root"
"$UREG" serve --root "$UROOT" --listen 127.0.0.1:0 \
	--max-blob-size 4G "${UREG_ARGS[@]}" >"$T/ureg.log" 2>"$T/ureg.err" &
UPID=$!
PIDS+=("$UPID")
i=0
until grep -q '^listening on ' "$T/ureg.log" 2>/dev/null; do
	kill -0 "$UPID" 2>/dev/null || { cat "$T/ureg.err" >&2; die "ureg exited at start"; }
	i=$((i + 1)); [ $i -gt 200 ] && die "ureg printed no listening line"
	sleep 0.05
done
U=$(sed -n 's/^listening on //p' "$T/ureg.log" | head -1)
TOKEN=$("$UREG" token create --root "$UROOT" --scope push:bench)
AUTH="Authorization: Bearer $TOKEN"
note "ureg at $U (pid $UPID, access log to a file${UREG_ARGS[*]:+, extra options: ${UREG_ARGS[*]}})"

# Monolithic push: POST /v2/NAME/blobs/uploads/?digest=, body streamed from
# FILE. curl -T would add the file name to a URL ending in "/", so the
# request target is given exactly. Extra curl arguments may follow.
ureg_post() { # FILE DIGEST [CURL_ARGS...]
	local f=$1 d=$2
	shift 2
	curl -fsS -o /dev/null -H "$AUTH" -H 'Expect:' \
		-H 'Content-Type: application/octet-stream' -X POST -T "$f" \
		--request-target "/v2/$REPO/blobs/uploads/?digest=$d" "$@" "$U/"
}
ureg_push_blob() { ureg_post "$1" "$2"; }
ureg_push_blob "$T/data/config" "$CONFIG"
ureg_push_blob "$T/data/small" "$SMALL"
ureg_push_blob "$T/data/medium" "$MEDIUM"
curl -fsS -o /dev/null -X PUT -H "$AUTH" -H "Content-Type: $OCI_MANIFEST" \
	--data-binary @"$T/data/manifest" "$U/v2/$REPO/manifests/v1"

blob_path() { local h=${1#sha256:}; echo "blobs/sha256/${h:0:2}/$h"; }
for d in "$SMALL" "$MEDIUM"; do
	[ -f "$UROOT/$(blob_path "$d")" ] ||
		die "ureg does not keep $d at ROOT/$(blob_path "$d")"
done

# --- nginx, serving the same blob files from ureg's root -------------------
NPORT=$(free_port)
N="http://127.0.0.1:$NPORT"
mkdir -p "$T/nginx/tmp" "$T/nginx/static" "$T/nginx/put"
cp "$T/data/manifest" "$T/nginx/static/manifest"
nginx_user=""
[ "$(id -u)" = 0 ] && nginx_user="user root root;"
cat >"$T/nginx/nginx.conf" <<EOF
$nginx_user
worker_processes auto;
daemon off;
pid $T/nginx/nginx.pid;
error_log $T/nginx/error.log error;
events { worker_connections 4096; }
http {
    access_log $T/nginx/access.log;
    sendfile on;
    tcp_nopush on;
    keepalive_timeout 65;
    keepalive_requests 1000000;
    client_body_temp_path $T/nginx/tmp/body;
    proxy_temp_path $T/nginx/tmp/proxy;
    fastcgi_temp_path $T/nginx/tmp/fastcgi;
    uwsgi_temp_path $T/nginx/tmp/uwsgi;
    scgi_temp_path $T/nginx/tmp/scgi;
    default_type application/octet-stream;
    server {
        listen 127.0.0.1:$NPORT;
        root $UROOT;
        location = /manifest {
            root $T/nginx/static;
            default_type $OCI_MANIFEST;
        }
        # the upload reference: body to a temp file, renamed into
        # $T/nginx/put; no hashing, no fsync
        location /put/ {
            root $T/nginx;
            dav_methods PUT;
            client_max_body_size 0;
        }
    }
}
EOF
nginx -e "$T/nginx/error.log" -p "$T/nginx" -c "$T/nginx/nginx.conf" &
NGPID=$!
PIDS+=("$NGPID")
wait_http "$N/manifest" "$NGPID" nginx
curl -fsS -o "$T/data/check" "$N/$(blob_path "$SMALL")"
cmp -s "$T/data/check" "$T/data/small" || die "nginx serves a different 4 KiB blob"
note "nginx at $N (pid $NGPID, sendfile, keep-alive, access log to a file)"

# --- docker-registry (CNCF distribution) ------------------------------------
DPORT=$(free_port)
D="http://127.0.0.1:$DPORT"
mkdir -p "$T/dreg/storage"
cat >"$T/dreg/config.yml" <<EOF
version: 0.1
log:
  level: error
storage:
  filesystem:
    rootdirectory: $T/dreg/storage
  cache:
    blobdescriptor: inmemory
  delete:
    enabled: true
http:
  addr: 127.0.0.1:$DPORT
EOF
docker-registry serve "$T/dreg/config.yml" >"$T/dreg/access.log" 2>"$T/dreg/error.log" &
DPID=$!
PIDS+=("$DPID")
wait_http "$D/v2/" "$DPID" docker-registry
note "docker-registry at $D (pid $DPID, filesystem storage, access log to a file)"

# POST + PUT ?digest=; prints the seconds both took.
dreg_push_blob() { # FILE DIGEST
	local loc t1 t2
	t1=$(curl -fsS -D "$T/dreg/h" -o /dev/null -X POST -w '%{time_total}' \
		"$D/v2/$REPO/blobs/uploads/")
	loc=$(awk 'tolower($1) == "location:" {print $2}' "$T/dreg/h" | tr -d '\r')
	[ -n "$loc" ] || die "docker-registry gave no upload location"
	case "$loc" in http*) ;; *) loc="$D$loc" ;; esac
	case "$loc" in *\?*) loc="$loc&digest=$2" ;; *) loc="$loc?digest=$2" ;; esac
	t2=$(curl -fsS -o /dev/null -H 'Expect:' -H 'Content-Type: application/octet-stream' \
		-T "$1" -w '%{time_total}' "$loc")
	awk -v a="$t1" -v b="$t2" 'BEGIN {printf "%.6f\n", a + b}'
}
dreg_push_blob "$T/data/config" "$CONFIG" >/dev/null
dreg_push_blob "$T/data/small" "$SMALL" >/dev/null
dreg_push_blob "$T/data/medium" "$MEDIUM" >/dev/null
curl -fsS -o /dev/null -X PUT -H "Content-Type: $OCI_MANIFEST" \
	--data-binary @"$T/data/manifest" "$D/v2/$REPO/manifests/v1"

# Every server answers every URL with the right bytes before we time it.
for url in "$U/v2/$REPO/blobs/$SMALL" "$N/$(blob_path "$SMALL")" "$D/v2/$REPO/blobs/$SMALL"; do
	curl -fsS -o "$T/data/check" "$url"
	cmp -s "$T/data/check" "$T/data/small" || die "$url: wrong bytes"
done
for url in "$U/v2/$REPO/manifests/v1" "$N/manifest" "$D/v2/$REPO/manifests/v1"; do
	curl -fsS -H "Accept: $OCI_MANIFEST" -o "$T/data/check" "$url"
	cmp -s "$T/data/check" "$T/data/manifest" || die "$url: wrong manifest bytes"
done

# --- GET throughput (wrk) ----------------------------------------------------
# Cases run in ROUNDS rounds, each round going through every case once, so
# that a burst of load from elsewhere on the machine hits all servers alike;
# each figure is the median over the rounds. The first round warms each case
# up for 1 s before timing it.
declare -A RPS SAMPLES
CASES=()
add_case() { # NAME CONNECTIONS URL [HEADER]
	CASES+=("$1")
	CASE_CONNS[$1]=$2
	CASE_URL[$1]=$3
	CASE_HDR[$1]=${4:-}
}
declare -A CASE_CONNS CASE_URL CASE_HDR
for c in 16 128; do
	add_case "small-c$c-ureg" $c "$U/v2/$REPO/blobs/$SMALL"
	add_case "small-c$c-nginx" $c "$N/$(blob_path "$SMALL")"
	add_case "small-c$c-dreg" $c "$D/v2/$REPO/blobs/$SMALL"
done
add_case medium-c16-ureg 16 "$U/v2/$REPO/blobs/$MEDIUM"
add_case medium-c16-nginx 16 "$N/$(blob_path "$MEDIUM")"
add_case manifest-c16-ureg 16 "$U/v2/$REPO/manifests/v1" "Accept: $OCI_MANIFEST"
add_case manifest-c16-nginx 16 "$N/manifest" "Accept: $OCI_MANIFEST"
add_case manifest-c16-dreg 16 "$D/v2/$REPO/manifests/v1" "Accept: $OCI_MANIFEST"

# CPU time (user + system, ms) used so far by the given processes, from
# /proc/PID/stat: it shows the work each server does per request, which
# other load on the machine disturbs less than req/s.
HZ=$(getconf CLK_TCK)
cpu_ms() { # PID...
	local p
	for p in "$@"; do cat "/proc/$p/stat"; done |
		awk -v hz="$HZ" '{t += $14 + $15} END {printf "%.0f", t * 1000 / hz}'
}
# nginx's work happens in its worker processes.
NG_PIDS="$NGPID $(cat /proc/"$NGPID"/task/*/children)"
server_pids() { # CASE_NAME
	case $1 in
	*-ureg) echo "$UPID" ;;
	*-nginx) echo "$NG_PIDS" ;;
	*-dreg) echo "$DPID" ;;
	esac
}
declare -A CPU_SAMPLES CPUREQ

run_case() { # NAME ROUND
	local name=$1 out rps n c0 c1
	local pids
	read -ra pids <<<"$(server_pids "$name")"
	local args=(-t "$WRK_THREADS" -c "${CASE_CONNS[$name]}")
	[ -n "${CASE_HDR[$name]}" ] && args+=(-H "${CASE_HDR[$name]}")
	[ "$2" = 1 ] && wrk "${args[@]}" -d 1s "${CASE_URL[$name]}" >/dev/null
	c0=$(cpu_ms "${pids[@]}")
	out=$(wrk "${args[@]}" -d "${DURATION}s" "${CASE_URL[$name]}")
	c1=$(cpu_ms "${pids[@]}")
	if grep -q 'Non-2xx' <<<"$out"; then
		echo "$out" >&2
		die "$name: error responses during the run (above)"
	fi
	grep 'Socket errors' <<<"$out" | sed "s/^ */   warning: $name: /" >&2 || true
	rps=$(awk '/^Requests\/sec:/ {print $2}' <<<"$out")
	[ -n "$rps" ] || die "$name: wrk printed no Requests/sec"
	n=$(awk '/ requests in / {print $1}' <<<"$out")
	SAMPLES[$name]="${SAMPLES[$name]:-} $rps"
	CPU_SAMPLES[$name]="${CPU_SAMPLES[$name]:-} $(awk -v c=$((c1 - c0)) -v n="$n" 'BEGIN {printf "%.1f", c * 1000 / n}')"
}
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR] = $1} END {print a[int((NR + 1) / 2)]}'; }

note "GET, keep-alive, wrk -t$WRK_THREADS -d${DURATION}s, $ROUNDS interleaved rounds (median), 1 s warm-up in round 1"
for r in $(seq 1 "$ROUNDS"); do
	for name in "${CASES[@]}"; do run_case "$name" "$r"; done
done
for name in "${CASES[@]}"; do
	read -ra samples <<<"${SAMPLES[$name]}"
	read -ra cpus <<<"${CPU_SAMPLES[$name]}"
	RPS[$name]=$(median "${samples[@]}")
	CPUREQ[$name]=$(median "${cpus[@]}")
	printf '   %-20s %8.0f req/s (rounds:%s)  %6.1f us server CPU/req (rounds:%s)\n' \
		"$name" "${RPS[$name]}" "$(printf ' %.0f' "${samples[@]}")" \
		"${CPUREQ[$name]}" "$(printf ' %s' "${cpus[@]}")"
done

# With BENCH_PERF=1, one more (untimed) pass per ureg GET case under
# `perf record`, to show where ureg's time goes.
if [ -n "${BENCH_PERF:-}" ]; then
	command -v perf >/dev/null 2>&1 || die "BENCH_PERF needs perf (linux-perf)"
	for name in small-c16-ureg small-c128-ureg manifest-c16-ureg; do
		args=(-t "$WRK_THREADS" -c "${CASE_CONNS[$name]}")
		[ -n "${CASE_HDR[$name]}" ] && args+=(-H "${CASE_HDR[$name]}")
		perf record -q -F 999 --call-graph dwarf,16384 -p "$UPID" \
			-o "$T/perf.data" 2>/dev/null &
		perf_pid=$!
		sleep 0.3
		wrk "${args[@]}" -d 2s "${CASE_URL[$name]}" >/dev/null
		kill -INT "$perf_pid"
		wait "$perf_pid" || true
		note "perf, $name: share of ureg's CPU samples (children included), top entries"
		perf report -i "$T/perf.data" --children --sort sym --call-graph=none \
			>"$T/perf.txt" 2>/dev/null || true
		grep '%' "$T/perf.txt" | grep -v '^#' | grep -v ' 0x0000' | awk 'NR <= 45' | sed 's/^/   /'
		note "perf, $name: by library"
		perf report -i "$T/perf.data" --no-children --sort dso --call-graph=none \
			>"$T/perf.txt" 2>/dev/null || true
		grep '%' "$T/perf.txt" | grep -v '^#' | awk 'NR <= 8' | sed 's/^/   /'
	done
fi

# --- 256 MiB monolithic push --------------------------------------------------
# Wall time from curl, and the CPU time the server process spent (user +
# system, from /proc/PID/stat), which does not depend on the disk. Dirty
# pages are flushed before each push so that neither server pays for the
# other's writeback (ext4 commits other files' data on fsync). nginx's
# WebDAV PUT of the same file is the reference for receiving a body into a
# file at all: it neither hashes nor fsyncs, ureg does both.
note "monolithic push of $PUSH_MIB MiB, $PUSH_RUNS runs each, fresh content every run, sync before each"
head -c $((PUSH_MIB * 1048576)) /dev/urandom >"$T/data/push"
U_PUSH=() D_PUSH=() N_PUSH=() U_CPU=() D_CPU=() N_CPU=()
for r in $(seq 1 "$PUSH_RUNS"); do
	# A new first block gives a new digest, so no run finds the blob there.
	head -c 64 /dev/urandom | dd of="$T/data/push" conv=notrunc status=none
	d=$(dgst "$T/data/push")
	sync
	c0=$(cpu_ms "$UPID")
	t=$(ureg_post "$T/data/push" "$d" -w '%{time_total}')
	U_CPU+=($(($(cpu_ms "$UPID") - c0)))
	U_PUSH+=("$t")
	head -c 64 /dev/urandom | dd of="$T/data/push" conv=notrunc status=none
	d=$(dgst "$T/data/push")
	sync
	c0=$(cpu_ms "$DPID")
	t2=$(dreg_push_blob "$T/data/push" "$d")
	D_CPU+=($(($(cpu_ms "$DPID") - c0)))
	D_PUSH+=("$t2")
	sync
	c0=$(cpu_ms $NG_PIDS)
	t3=$(curl -fsS -o /dev/null -H 'Expect:' -T "$T/data/push" -w '%{time_total}' "$N/put/$r")
	N_CPU+=($(($(cpu_ms $NG_PIDS) - c0)))
	N_PUSH+=("$t3")
	rm -f "$T/nginx/put/$r"
	printf '   run %d: ureg %.3f s (%d ms CPU), docker-registry %.3f s (%d ms CPU), nginx PUT %.3f s (%d ms CPU)\n' \
		"$r" "$t" "${U_CPU[-1]}" "$t2" "${D_CPU[-1]}" "$t3" "${N_CPU[-1]}"
done
U_PUSH_S=$(median "${U_PUSH[@]}")
D_PUSH_S=$(median "${D_PUSH[@]}")
N_PUSH_S=$(median "${N_PUSH[@]}")
U_CPU_MS=$(median "${U_CPU[@]}")
D_CPU_MS=$(median "${D_CPU[@]}")
N_CPU_MS=$(median "${N_CPU[@]}")
rm -f "$T/data/push"

# --- RSS ---------------------------------------------------------------------
kib() { awk "/^$1:/ {print \$2}" "/proc/$UPID/status"; }
mib() { awk -v k="$1" 'BEGIN {printf "%.1f", k / 1024}'; }
# Many idle keep-alive connections cost memory too: peak after 250 of them
# (under the default 256 per client address).
wrk -t "$WRK_THREADS" -c 250 -d 2s "$U/v2/$REPO/blobs/$SMALL" >"$T/wrk250.txt"
grep -q 'Non-2xx' "$T/wrk250.txt" && die "errors with 250 connections: $(cat "$T/wrk250.txt")"
HWM_CONNS=$(kib VmHWM)
note "ureg VmHWM after the GET runs and 250 keep-alive connections: $(mib "$HWM_CONNS") MiB"

# Samples VmRSS every 20 ms while PID lives; prints the largest, in KiB.
sample_rss() { # WATCHED_PID
	local peak=0 v
	while kill -0 "$1" 2>/dev/null; do
		v=$(kib VmRSS 2>/dev/null || echo 0)
		[ "${v:-0}" -gt "$peak" ] && peak=$v
		sleep 0.02
	done
	echo "$peak"
}
note "RSS of ureg while streaming $BIG_MIB MiB up, then down"
truncate -s "${BIG_MIB}M" "$T/data/big"
BIG=$(dgst "$T/data/big")
RSS_BEFORE=$(kib VmRSS)
# "5" resets VmHWM (Linux 4.0+), so that VmHWM below covers the streams only.
HWM_RESET=0
echo 5 2>/dev/null >"/proc/$UPID/clear_refs" && HWM_RESET=1
ureg_post "$T/data/big" "$BIG" -w '%{speed_upload}\n' >"$T/up.speed" &
CPID=$!
RSS_UP=$(sample_rss $CPID)
wait $CPID || die "the $BIG_MIB MiB upload to ureg failed"
curl -fsS -o /dev/null -w '%{speed_download} %{size_download}\n' \
	"$U/v2/$REPO/blobs/$BIG" >"$T/down.speed" &
CPID=$!
RSS_DOWN=$(sample_rss $CPID)
wait $CPID || die "the $BIG_MIB MiB download from ureg failed"
read -r _ got <"$T/down.speed"
[ "$got" = $((BIG_MIB * 1048576)) ] || die "downloaded $got bytes, expected $((BIG_MIB * 1048576))"
PEAK_STREAM=$RSS_UP
[ "$RSS_DOWN" -gt "$PEAK_STREAM" ] && PEAK_STREAM=$RSS_DOWN
if [ "$HWM_RESET" = 1 ]; then
	h=$(kib VmHWM)
	[ "$h" -gt "$PEAK_STREAM" ] && PEAK_STREAM=$h
fi
printf '   upload %.0f MiB/s, peak sampled VmRSS %s MiB (%s MiB before)\n' \
	"$(awk '{print $1 / 1048576}' "$T/up.speed")" "$(mib "$RSS_UP")" "$(mib "$RSS_BEFORE")"
printf '   download %.0f MiB/s, peak sampled VmRSS %s MiB\n' \
	"$(awk '{print $1 / 1048576}' "$T/down.speed")" "$(mib "$RSS_DOWN")"
printf '   peak over both streams: %s MiB (%s)\n' "$(mib "$PEAK_STREAM")" \
	"$([ "$HWM_RESET" = 1 ] && echo "VmHWM, reset before the upload" || echo "sampled VmRSS only")"
rm -f "$T/data/big"

# --- summary -----------------------------------------------------------------
# One markdown row per target: what was measured, ureg's figure, the other
# server's, the ratio against the target, and the server CPU per request
# (or per push) of both, which other load on the machine disturbs less.
MISSES=0
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", a / b}'; }
rps() { awk -v r="$1" 'BEGIN {printf "%.0f", r}'; }
mibs() { awk -v r="$1" -v b="$2" 'BEGIN {printf "%.0f", r * b / 1048576}'; }
row() { # WHAT UREG OTHER RATIO OP TARGET CPU_TEXT
	local verdict=ok
	if [ "$5" != - ] &&
		! awk -v r="$4" -v t="$6" -v op="$5" 'BEGIN {exit !(op == ">=" ? r >= t : r < t)}'; then
		verdict=MISS
		MISSES=$((MISSES + 1))
	fi
	local target="$4 $5 $6"
	if [ "$5" = - ]; then
		verdict="(no target)"
		target=$4
	fi
	printf '| %s | %s | %s | %s | %s | %s |\n' "$1" "$2" "$3" "$target" "$verdict" "$7"
}
get_row() { # WHAT UREG_CASE OTHER_CASE OTHER_LABEL OP TARGET [BYTES]
	local u=${RPS[$2]} o=${RPS[$3]} ut ot
	ut=$(rps "$u")
	ot="$4 $(rps "$o")"
	if [ -n "${7:-}" ]; then
		ut="$ut ($(mibs "$u" "$7") MiB/s)"
		ot="$ot ($(mibs "$o" "$7") MiB/s)"
	fi
	row "$1" "$ut" "$ot" "$(ratio "$u" "$o")" "$5" "$6" "${CPUREQ[$2]} vs ${CPUREQ[$3]} us"
}

echo
note "summary"
echo "| measurement | ureg | compared with | ratio vs target | verdict | server CPU per request, ureg vs other |"
echo "| --- | --- | --- | --- | --- | --- |"
for c in 16 128; do
	get_row "4 KiB blob GET, c$c, req/s" "small-c$c-ureg" "small-c$c-nginx" nginx ">=" 0.8
	get_row "4 KiB blob GET, c$c, req/s" "small-c$c-ureg" "small-c$c-dreg" docker-registry ">=" 30
done
get_row "5 MiB blob GET, c16, req/s" medium-c16-ureg medium-c16-nginx nginx ">=" 0.9 5242880
get_row "manifest GET by tag, c16, req/s" manifest-c16-ureg manifest-c16-nginx "nginx (small file)" ">=" 0.5
get_row "manifest GET by tag, c16, req/s" manifest-c16-ureg manifest-c16-dreg docker-registry - -
up=$(awk -v s="$U_PUSH_S" -v m=$PUSH_MIB 'BEGIN {printf "%.0f", m / s}')
dp=$(awk -v s="$D_PUSH_S" -v m=$PUSH_MIB 'BEGIN {printf "%.0f", m / s}')
row "$PUSH_MIB MiB monolithic push, MiB/s (median of $PUSH_RUNS)" "$up" "docker-registry $dp" \
	"$(ratio "$D_PUSH_S" "$U_PUSH_S")" ">=" 5 "$U_CPU_MS vs $D_CPU_MS ms per push"
np=$(awk -v s="$N_PUSH_S" -v m=$PUSH_MIB 'BEGIN {printf "%.0f", m / s}')
row "$PUSH_MIB MiB upload, MiB/s (median of $PUSH_RUNS)" "$up" "nginx PUT (no hash, no fsync) $np" \
	"$(ratio "$N_PUSH_S" "$U_PUSH_S")" - - "$U_CPU_MS vs $N_CPU_MS ms per push"
row "ureg peak RSS while streaming $BIG_MIB MiB up then down, MiB" "$(mib "$PEAK_STREAM")" "-" \
	"$(mib "$PEAK_STREAM")" "<" 64 "-"
row "ureg VmHWM after GET runs + 250 keep-alive connections, MiB" "$(mib "$HWM_CONNS")" "-" \
	"$(mib "$HWM_CONNS")" - - "-"
echo
note "load average at the end $(cut -d' ' -f1-3 /proc/loadavg)"
if [ "$MISSES" -eq 0 ]; then
	note "all targets met"
else
	note "$MISSES target(s) missed"
fi
