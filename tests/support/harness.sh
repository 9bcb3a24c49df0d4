# SPDX-License-Identifier: Apache-2.0
# Sourced by the shell integration tests. Gives UREG (the binary under
# test), WORK (a temp directory, removed on exit after the server is
# stopped), fail MESSAGE, and start_server [SERVE_OPTIONS...]: `ureg serve
# --root $WORK/root` on 127.0.0.1 with an ephemeral port, logging to
# $WORK/server.log; sets PID and URL. A test may redefine fail.
set -euo pipefail
UREG=${UREG_BIN:?UREG_BIN not set}
WORK=$(mktemp -d)
PID=
cleanup() { [ -n "$PID" ] && kill "$PID" 2>/dev/null; wait 2>/dev/null || true; rm -rf "$WORK"; }
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

start_server() {
	"$UREG" serve --root "$WORK/root" --listen 127.0.0.1:0 "$@" >"$WORK/server.log" 2>&1 &
	PID=$!
	for _ in $(seq 100); do
		grep -q '^listening on ' "$WORK/server.log" 2>/dev/null && break
		sleep 0.05
	done
	URL=$(sed -n 's/^listening on //p' "$WORK/server.log" 2>/dev/null || true)
	[ -n "$URL" ] || fail "server did not start: $(head -5 "$WORK/server.log")"
}
