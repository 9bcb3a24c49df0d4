#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Crash safety: concurrent monolithic and chunked uploads while the server is
# killed with SIGKILL at random moments; after every restart fsck is clean
# and every blob that was answered 201 reads back with the exact bytes.
set -euo pipefail

UREG_BIN=${UREG_BIN:?UREG_BIN must point at the ureg binary}
ROUNDS=${UREG_CRASH_ROUNDS:-5}
CLIENTS=${UREG_CRASH_CLIENTS:-4}
T0=$SECONDS
tmp=$(mktemp -d "${TMPDIR:-/tmp}/ureg-crash.XXXXXX")
srv_pid=""
starts=0
client_pids=()

cleanup() {
	touch "$tmp/stop" 2>/dev/null || true
	if [ -n "$srv_pid" ]; then
		kill -9 "$srv_pid" 2>/dev/null || true
		wait "$srv_pid" 2>/dev/null || true
	fi
	for p in "${client_pids[@]}"; do
		kill "$p" 2>/dev/null || true
		wait "$p" 2>/dev/null || true
	done
	rm -rf "$tmp"
}
trap cleanup EXIT

fail() {
	echo "FAIL: $*" >&2
	if [ -s "$tmp/server.$starts.out" ]; then
		echo "--- server access log (start $starts, last 30 lines) ---" >&2
		tail -n 30 "$tmp/server.$starts.out" >&2
	fi
	if [ -s "$tmp/server.$starts.err" ]; then
		echo "--- server stderr (start $starts, last 30 lines) ---" >&2
		tail -n 30 "$tmp/server.$starts.err" >&2
	fi
	exit 1
}

command -v curl >/dev/null || fail "curl not installed (scripts/deps.sh)"

root="$tmp/root"
mkdir -p "$root"
token=$("$UREG_BIN" token create --root "$root" --scope push:acme) ||
	fail "ureg token create failed"
auth="Authorization: Bearer $token"

# Starts the server on a free port and writes its URL to $tmp/url.
start_server() {
	local url=""
	starts=$((starts + 1))
	"$UREG_BIN" serve --root "$root" --listen 127.0.0.1:0 \
		>"$tmp/server.$starts.out" 2>"$tmp/server.$starts.err" &
	srv_pid=$!
	for _ in $(seq 200); do
		# The file may not exist yet: the shell creates it in the child.
		url=$(sed -n '1s/^listening on //p' "$tmp/server.$starts.out" \
			2>/dev/null) || true
		[ -n "$url" ] && break
		kill -0 "$srv_pid" 2>/dev/null || fail "server exited at start"
		sleep 0.05
	done
	[ -n "$url" ] || fail "server printed no 'listening on' line"
	echo "$url" >"$tmp/url.new"
	mv "$tmp/url.new" "$tmp/url"
}

# Process start-up is the clients' main cost on a small loaded machine, so
# they fork little: shell built-ins where they can, one curl per upload
# (two for a chunked one), results in globals rather than $(...).

# upload_mono FILE HEX: sets code to the HTTP status.
upload_mono() {
	local url
	read -r url <"$tmp/url"
	code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 20 \
		-H "$auth" -H 'Content-Type: application/octet-stream' \
		--data-binary "@$1" \
		"$url/v2/acme/crash/blobs/uploads/?digest=sha256:$2") || true
}

# upload_chunked FILE HEX SIZE DIR: POST, then 1-4 PATCHes with
# Content-Range and the closing PUT in one curl; sets code to the status of
# the PUT, or of the first request that was not answered as expected.
upload_chunked() {
	local file=$1 hex=$2 size=$3 dir=$4 url loc="" line n per i off=0 len
	local args=() codes=()
	read -r url <"$tmp/url"
	code=$(curl -s -o /dev/null -D "$dir/h" -w '%{http_code}' \
		--max-time 10 -H "$auth" -X POST \
		"$url/v2/acme/crash/blobs/uploads/") || true
	[ "$code" = 202 ] || return 0
	while IFS= read -r line; do
		line=${line%$'\r'}
		case "$line" in
		[Ll]ocation:*) loc=${line#*:} && loc=${loc# } ;;
		esac
	done <"$dir/h"
	[ -n "$loc" ] || { code=no-location; return 0; }
	case "$loc" in
	http*) ;;
	*) loc="$url$loc" ;;
	esac
	# split -n gives n-1 chunks of size/n bytes and the rest to the last.
	n=$((1 + RANDOM % 4))
	per=$((size / n))
	rm -f "$dir"/chunk.*
	split -n "$n" -d -a 1 "$file" "$dir/chunk."
	for i in $(seq 0 $((n - 1))); do
		len=$((i == n - 1 ? size - off : per))
		[ "$i" = 0 ] || args+=(--next)
		args+=(-s -o /dev/null -w '%{http_code}\n' --max-time 20 -H "$auth"
			-X PATCH -H 'Content-Type: application/octet-stream'
			-H "Content-Range: $off-$((off + len - 1))"
			--data-binary "@$dir/chunk.$i" "$loc")
		off=$((off + len))
	done
	case "$loc" in
	*\?*) loc="$loc&digest=sha256:$hex" ;;
	*) loc="$loc?digest=sha256:$hex" ;;
	esac
	args+=(--next -s -o /dev/null -w '%{http_code}\n' --max-time 20
		-H "$auth" -X PUT "$loc")
	mapfile -t codes < <(curl "${args[@]}" || true)
	for i in $(seq 0 "$n"); do
		code=${codes[$i]:-000}
		if [ "$i" -lt "$n" ] && [ "$code" != 202 ]; then
			return 0
		fi
	done
}

# client ID: uploads random blobs (64 KiB to 8 MiB, most of them small)
# until $tmp/stop exists; appends the digest of every blob answered 201 to
# $tmp/ok.ID.
client() {
	local id=$1 dir="$tmp/client$1" size hex code kind _
	mkdir -p "$dir"
	while [ ! -e "$tmp/stop" ]; do
		size=$((65536 << (RANDOM % 8)))
		size=$((65536 + (RANDOM * 32768 + RANDOM) % (size - 65536 + 1)))
		head -c "$size" /dev/urandom >"$dir/blob"
		read -r hex _ < <(sha256sum "$dir/blob")
		if [ $((RANDOM % 3)) = 0 ]; then
			kind=chunked
			upload_chunked "$dir/blob" "$hex" "$size" "$dir"
		else
			kind=mono
			upload_mono "$dir/blob" "$hex"
		fi
		echo "$kind $code" >>"$tmp/codes.$id"
		case "$code" in
		201) echo "sha256:$hex $size $kind" >>"$tmp/ok.$id" ;;
		# No answer, or cut off after "100 Continue": the server is down,
		# wait for the round to end.
		000 | 100) sleep 0.05 ;;
		esac
	done
}

# Every blob answered 201 so far reads back with the exact bytes: one curl
# fetches them all, sha256sum -c compares; prints how many were checked.
verify_blobs() {
	local url digest size kind n=0
	url=$(cat "$tmp/url")
	cat "$tmp"/ok.* 2>/dev/null | sort -u >"$tmp/all" || true
	rm -rf "$tmp/rb"
	mkdir "$tmp/rb"
	: >"$tmp/rb.cfg"
	: >"$tmp/rb.sums"
	while read -r digest size kind; do
		printf 'url = "%s/v2/acme/crash/blobs/%s"\noutput = "%s"\n' \
			"$url" "$digest" "$tmp/rb/${digest#sha256:}" >>"$tmp/rb.cfg"
		printf '%s  %s\n' "${digest#sha256:}" "$tmp/rb/${digest#sha256:}" \
			>>"$tmp/rb.sums"
		n=$((n + 1))
	done <"$tmp/all"
	if [ "$n" -gt 0 ]; then
		curl -s --fail --max-time 60 -K "$tmp/rb.cfg" >/dev/null 2>&1 ||
			true
		sha256sum -c --quiet "$tmp/rb.sums" >"$tmp/rb.out" 2>&1 || {
			cat "$tmp/rb.out" >&2
			fail "round $1: blobs answered 201 are missing or differ" \
				"(listed above; FAILED open = missing)"
		}
	fi
	rm -rf "$tmp/rb"
	echo "$n"
}

run_fsck() {
	"$UREG_BIN" fsck --root "$root" >"$tmp/fsck.out" 2>"$tmp/fsck.err" || {
		cat "$tmp/fsck.out" "$tmp/fsck.err" >&2
		fail "round $1: fsck $2 found faults"
	}
}

now_ms() { date +%s%3N; }

start_server
for round in $(seq "$ROUNDS"); do
	rm -f "$tmp/stop"
	client_pids=()
	for id in $(seq "$CLIENTS"); do
		client "$id" &
		client_pids+=($!)
	done
	# Let the uploads run for 1.0-3.9 s, then kill the server mid-flight.
	sleep "$((1 + RANDOM % 3)).$((RANDOM % 10))"
	if ! kill -9 "$srv_pid" 2>/dev/null; then
		rc=0
		wait "$srv_pid" || rc=$?
		fail "round $round: the server died by itself (exit $rc)"
	fi
	wait "$srv_pid" 2>/dev/null || true
	srv_pid=""
	t=$(now_ms)
	touch "$tmp/stop"
	for p in "${client_pids[@]}"; do
		wait "$p" || fail "round $round: client exited with an error"
	done
	client_pids=()
	t_clients=$(($(now_ms) - t))
	# Every other round also checks the crashed root before any restart
	# recovery runs.
	t=$(now_ms)
	if [ $((round % 2)) = 1 ]; then
		run_fsck "$round" "on the crashed root"
	fi
	start_server
	run_fsck "$round" "after restart"
	t_fsck=$(($(now_ms) - t))
	t=$(now_ms)
	n=$(verify_blobs "$round")
	t_verify=$(($(now_ms) - t))
	echo "round $round: $n blobs answered 201 so far, all intact; fsck" \
		"clean (clients stopped in ${t_clients} ms, restart+fsck" \
		"${t_fsck} ms, read-back ${t_verify} ms)"
done

[ "$n" -gt 0 ] || fail "no upload was ever answered 201"
chunked=$(grep -c ' chunked$' "$tmp/all" || true)
echo "uploads answered 201: $((n - chunked)) monolithic, $chunked chunked;" \
	"attempts by kind and status:" \
	"$(cat "$tmp"/codes.* | sort | uniq -c | tr -s ' \n' ' ')"
# A live server answers every upload 201; only the kill may cut one off.
if cat "$tmp"/codes.* | grep -v -E ' (201|000|100)$' >"$tmp/bad"; then
	fail "uploads answered other than 201: $(sort "$tmp/bad" | uniq -c)"
fi
# A third of the uploads are chunked: with 30 or more, none is no accident.
[ "$n" -lt 30 ] || [ "$chunked" -gt 0 ] ||
	fail "no chunked upload was answered 201 out of $n"
# A chunk answered 202 survives a kill: after the restart the session
# reports it in Range and the upload completes.
dir="$tmp/resume"
mkdir -p "$dir"
head -c 3000000 /dev/urandom >"$dir/blob"
read -r hex _ < <(sha256sum "$dir/blob")
split -n 2 -d -a 1 "$dir/blob" "$dir/chunk."
read -r url <"$tmp/url"
curl -s -o /dev/null -D "$dir/h" -H "$auth" -X POST \
	"$url/v2/acme/crash/blobs/uploads/" || true
loc=$(tr -d '\r' <"$dir/h" | sed -n 's/^[Ll]ocation: *//p')
[ -n "$loc" ] || fail "resume: POST gave no Location"
case "$loc" in
http*) loc=/${loc#http*://*/} ;; # keep the path: the port changes
esac
code=$(curl -s -o /dev/null -w '%{http_code}' -H "$auth" -X PATCH \
	-H 'Content-Type: application/octet-stream' \
	-H 'Content-Range: 0-1499999' --data-binary "@$dir/chunk.0" \
	"$url$loc") || true
[ "$code" = 202 ] || fail "resume: first PATCH answered $code"
kill -9 "$srv_pid"
wait "$srv_pid" 2>/dev/null || true
start_server
read -r url <"$tmp/url"
range=$(curl -s -o /dev/null -D - "$url$loc" | tr -d '\r' |
	sed -n 's/^[Rr]ange: *//p') || true
[ "$range" = 0-1499999 ] ||
	fail "resume: after the kill the session's Range is '$range', not 0-1499999"
code=$(curl -s -o /dev/null -w '%{http_code}' -H "$auth" -X PATCH \
	-H 'Content-Type: application/octet-stream' \
	-H 'Content-Range: 1500000-2999999' --data-binary "@$dir/chunk.1" \
	"$url$loc") || true
[ "$code" = 202 ] || fail "resume: second PATCH answered $code"
code=$(curl -s -o /dev/null -w '%{http_code}' -H "$auth" -X PUT \
	"$url$loc?digest=sha256:$hex") || true
[ "$code" = 201 ] || fail "resume: closing PUT answered $code"
echo "sha256:$hex 3000000 chunked" >>"$tmp/ok.resume"
run_fsck resume "after the resumed upload"
n=$(verify_blobs resume)
echo "resume: an upload session survived a kill and completed"

kill "$srv_pid"
wait "$srv_pid" || fail "server exited non-zero on SIGTERM"
srv_pid=""
run_fsck end "after a clean stop"
echo "crash: all checks passed in $((SECONDS - T0)) s"
