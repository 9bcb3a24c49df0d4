#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# `ureg token create | list | revoke` against a running server: a revoked
# token, named by its id or by itself, is refused from the next request on
# while other tokens keep working; the access log names tokens by id;
# unknown or malformed ids are one-line
# errors that change nothing; list and revoke never create a registry.
. "$(dirname "$0")/../support/harness.sh"

ROOT=$WORK/root
start_server

A=$("$UREG" token create --root "$ROOT" --scope push:acme 2>"$WORK/a.err")
B=$("$UREG" token create --root "$ROOT" --scope push:acme --scope pull:other 2>"$WORK/b.err")
[[ $A =~ ^ureg_[0-9a-f]{64}$ ]] || fail "token A looks wrong: $A"
A_ID=$(printf '%s' "$A" | sha256sum | cut -c1-12)
B_ID=$(printf '%s' "$B" | sha256sum | cut -c1-12)
[ "$(cat "$WORK/a.err")" = "ureg: token $A_ID created" ] || fail "create's stderr: $(cat "$WORK/a.err")"

"$UREG" token list --root "$ROOT" >"$WORK/list"
[ "$(wc -l <"$WORK/list")" = 3 ] || fail "list: $(cat "$WORK/list")"
head -1 "$WORK/list" | grep -q '^ID  *CREATED  *SCOPES$' || fail "list header: $(head -1 "$WORK/list")"
grep -Eq "^$A_ID  [0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}Z  push:acme$" "$WORK/list" || fail "A not listed: $(cat "$WORK/list")"
grep -q "^$B_ID .* pull:other,push:acme$" "$WORK/list" || fail "B not listed: $(cat "$WORK/list")"
grep -q "ureg_" "$WORK/list" && fail "list shows a secret"

start_upload() { # TOKEN -> HTTP status of POST /v2/acme/app/blobs/uploads/
	curl -s -o /dev/null -w '%{http_code}' -X POST -H "Authorization: Bearer $1" \
		"$URL/v2/acme/app/blobs/uploads/"
}
[ "$(start_upload "$A")" = 202 ] || fail "token A refused before revoke"
[ "$(start_upload "$B")" = 202 ] || fail "token B refused before revoke"
# the access log names the token by its id (lines go out as connections close)
for _ in $(seq 50); do grep -q " token $B_ID\$" "$WORK/server.log" && break; sleep 0.05; done
grep -Eq "^POST /v2/acme/app/blobs/uploads/ 202 [0-9]+ [0-9]+ [0-9.]+ms token $A_ID\$" "$WORK/server.log" ||
	fail "access log without token A's id: $(grep uploads "$WORK/server.log")"
grep -q "ureg_" "$WORK/server.log" && fail "the access log shows a secret"

# by id, while the server runs
[ "$("$UREG" token revoke --root "$ROOT" "$A_ID")" = "revoked token $A_ID" ] || fail "revoke A"
[ "$(start_upload "$A")" = 401 ] || fail "revoked token A still accepted"
for _ in $(seq 50); do grep -q "^POST /v2/acme/app/blobs/uploads/ 401 " "$WORK/server.log" && break; sleep 0.05; done
grep -Eq "^POST /v2/acme/app/blobs/uploads/ 401 [0-9]+ [0-9]+ [0-9.]+ms\$" "$WORK/server.log" ||
	fail "a refused token is named in the access log: $(grep ' 401 ' "$WORK/server.log")"
[ "$(start_upload "$B")" = 202 ] || fail "token B refused after A was revoked"
# Basic auth with the token as password (what skopeo sends) is refused too
[ "$(curl -s -o /dev/null -w '%{http_code}' -X POST -u "x:$A" "$URL/v2/acme/app/blobs/uploads/")" = 401 ] ||
	fail "revoked token A accepted through Basic auth"

# again, unknown, malformed: one line naming the value, nothing removed
if "$UREG" token revoke --root "$ROOT" "$A_ID" 2>"$WORK/err"; then fail "revoked A twice"; fi
[ "$(wc -l <"$WORK/err")" = 1 ] && grep -q "$A_ID" "$WORK/err" || fail "second revoke: $(cat "$WORK/err")"
if "$UREG" token revoke --root "$ROOT" 'not-a-token' 2>"$WORK/err"; then fail "revoked a malformed id"; fi
[ "$(wc -l <"$WORK/err")" = 1 ] && grep -q '"not-a-token"' "$WORK/err" || fail "malformed id: $(cat "$WORK/err")"
[ "$("$UREG" token list --root "$ROOT" | wc -l)" = 2 ] || fail "a failed revoke removed a token"

# by the token itself
[ "$("$UREG" token revoke --root "$ROOT" "$B")" = "revoked token $B_ID" ] || fail "revoke B by the token"
[ "$(start_upload "$B")" = 401 ] || fail "revoked token B still accepted"
[ "$("$UREG" token list --root "$ROOT" | wc -l)" = 1 ] || fail "list after revoking both"

# list and revoke on a root that is not a registry create nothing
if "$UREG" token list --root "$WORK/none" 2>"$WORK/err"; then fail "list on a missing root"; fi
grep -q "no registry at" "$WORK/err" || fail "missing root: $(cat "$WORK/err")"
if "$UREG" token revoke --root "$WORK/none" "$A_ID" 2>/dev/null; then fail "revoke on a missing root"; fi
[ ! -e "$WORK/none" ] || fail "list or revoke created a registry root"
echo "token.sh: all checks passed"
