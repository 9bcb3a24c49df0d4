#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# `ureg lock` against the real server and real published packages: one
# lock for unix + hvt, per-target dependencies kept apart, a unix-only
# package creeping into hvt explained, byte-identical re-locks, kept
# versions, --update, --check, and a signer change refused until accepted.
. "$(dirname "$0")/../support/harness.sh"

export XDG_CONFIG_HOME=$WORK/config XDG_CACHE_HOME=$WORK/cache UREG_KDF_LIMITS=min
unset UREG_TOKEN UREG_REGISTRY UREG_KEY
start_server
export UREG_REGISTRY=$URL
"$UREG" token create --root "$WORK/root" --scope push:mirage | "$UREG" login "$URL" >/dev/null
"$UREG" keygen --no-passphrase >/dev/null

# publish NAME VERSION TARGETS(json) DEPS(json) TARGET-DEPS(json)
publish() {
  local dir="$WORK/src/$1-$2"
  mkdir -p "$dir"
  echo "$1 $2" >"$dir/README"
  cat >"$dir/ureg.json" <<JSON
{"name": "$1", "version": "$2", "targets": $3, "dependencies": $4,
 "target-dependencies": $5, "registry": "$URL"}
JSON
  "$UREG" publish "$dir" >/dev/null || fail "publish $1 $2"
}
publish mirage/cstruct 1.0.0 '["unix","hvt"]' '{}' '{}'
publish mirage/cstruct 1.1.0 '["unix","hvt"]' '{}' '{}'
publish mirage/unix-net 1.0.0 '["unix"]' '{}' '{}'
publish mirage/tcpip 1.0.0 '["hvt","spt"]' '{"mirage/cstruct":"^1.0"}' '{}'
publish mirage/net 1.0.0 '["unix","hvt"]' '{"mirage/cstruct":"^1.0"}' \
  '{"unix":{"mirage/unix-net":"^1.0"},"hvt":{"mirage/tcpip":"^1.0"}}'
publish mirage/helpers 1.0.0 '["unix","hvt"]' '{"mirage/unix-net":"^1.0"}' '{}'

mkdir -p "$WORK/app"
cat >"$WORK/app/ureg.json" <<JSON
{"name": "acme/app", "version": "0.1.0", "targets": ["unix", "hvt"],
 "dependencies": {"mirage/net": "^1.0", "mirage/cstruct": "~1.0.0"}, "registry": "$URL"}
JSON
"$UREG" lock "$WORK/app" >"$WORK/lock.out" 2>&1 || fail "lock: $(cat "$WORK/lock.out")"
python3 - "$WORK/app/ureg.lock" <<'PY' || fail "lock content: $(cat "$WORK/app/ureg.lock")"
import json, sys
lock = json.load(open(sys.argv[1]))
text = json.dumps(lock)
assert "mirage/cstruct" in text and "1.0.0" in text, "cstruct ~1.0.0 pinned to 1.0.0"
pk = {p["name"]: p for p in lock["packages"]} if isinstance(lock["packages"], list) else lock["packages"]
assert set(pk) == {"mirage/cstruct", "mirage/net", "mirage/tcpip", "mirage/unix-net"}, set(pk)
assert pk["mirage/tcpip"]["targets"] == ["hvt"], pk["mirage/tcpip"]
assert pk["mirage/unix-net"]["targets"] == ["unix"], pk["mirage/unix-net"]
assert pk["mirage/cstruct"]["version"] == "1.0.0"
for p in pk.values():
    assert p["manifest"].startswith("sha256:") and p["tree"].startswith("sha256:")
PY
grep -q "trusting key" "$WORK/lock.out" || fail "first-use trust not shown"
tail -c1 "$WORK/app/ureg.lock" | od -c | grep -q '\\n' || fail "no final newline"

# same ureg.json + same registry = same bytes
cp "$WORK/app/ureg.lock" "$WORK/lock.1"
rm "$WORK/app/ureg.lock"
"$UREG" lock "$WORK/app" >/dev/null 2>&1 || fail "second lock"
cmp "$WORK/lock.1" "$WORK/app/ureg.lock" || fail "lock is not byte-identical"
"$UREG" lock --check "$WORK/app" >/dev/null || fail "--check on a fresh lock"

# a newer version is not taken until --update
sed -i 's/"~1.0.0"/"^1.0"/' "$WORK/app/ureg.json"
if "$UREG" lock --check "$WORK/app" >"$WORK/check.out" 2>&1; then fail "--check missed a changed ureg.json"; fi
grep -q "run ureg lock" "$WORK/check.out" || fail "--check reason: $(cat "$WORK/check.out")"
"$UREG" lock "$WORK/app" >/dev/null 2>&1 || fail "re-lock"
grep -q '"1.0.0"' "$WORK/app/ureg.lock" || fail "re-lock moved cstruct"
"$UREG" lock --update mirage/cstruct "$WORK/app" >"$WORK/upd.out" 2>&1 || fail "lock --update: $(cat "$WORK/upd.out")"
python3 -c '
import json,sys
l=json.load(open(sys.argv[1])); p=l["packages"]
p = {x["name"]: x for x in p} if isinstance(p, list) else p
sys.exit(0 if p["mirage/cstruct"]["version"]=="1.1.0" else 1)' "$WORK/app/ureg.lock" || fail "--update did not move cstruct"

# a unix-only dependency creeping into hvt is named with its chain
cat >"$WORK/app/ureg.json" <<JSON
{"name": "acme/app", "version": "0.1.0", "targets": ["unix", "hvt"],
 "dependencies": {"mirage/helpers": "^1.0"}, "registry": "$URL"}
JSON
if "$UREG" lock "$WORK/app" >"$WORK/creep.out" 2>&1; then fail "unix creep was locked"; fi
grep -q "mirage/unix-net 1.0.0 supports only unix" "$WORK/creep.out" || fail "creep message: $(cat "$WORK/creep.out")"
grep -q "mirage/helpers 1.0.0 needs mirage/unix-net ^1.0 for hvt" "$WORK/creep.out" || fail "creep chain: $(cat "$WORK/creep.out")"

# a missing package is named
cat >"$WORK/app/ureg.json" <<JSON
{"name": "acme/app", "version": "0.1.0", "targets": ["unix"],
 "dependencies": {"mirage/ghost": "^1.0"}, "registry": "$URL"}
JSON
if "$UREG" lock "$WORK/app" >"$WORK/ghost.out" 2>&1; then fail "missing package locked"; fi
grep -q "mirage/ghost" "$WORK/ghost.out" && grep -q "does not exist" "$WORK/ghost.out" || fail "ghost message: $(cat "$WORK/ghost.out")"

# a new signer for a locked package is refused until accepted
cat >"$WORK/app/ureg.json" <<JSON
{"name": "acme/app", "version": "0.1.0", "targets": ["unix"],
 "dependencies": {"mirage/cstruct": "^1.0"}, "registry": "$URL"}
JSON
"$UREG" lock "$WORK/app" >/dev/null 2>&1 || fail "lock cstruct"
ADMIN=$("$UREG" token create --root "$WORK/root" --scope admin:mirage)
"$UREG" keygen --no-passphrase --output "$WORK/second" >/dev/null
UREG_TOKEN=$ADMIN "$UREG" keys add mirage "$WORK/second.pub" >/dev/null || fail "keys add"
mkdir -p "$WORK/src/cstruct-1.2.0"; echo new >"$WORK/src/cstruct-1.2.0/README"
cat >"$WORK/src/cstruct-1.2.0/ureg.json" <<JSON
{"name": "mirage/cstruct", "version": "1.2.0", "targets": ["unix","hvt"], "registry": "$URL"}
JSON
"$UREG" publish --key "$WORK/second.key" "$WORK/src/cstruct-1.2.0" >/dev/null || fail "publish with the second key"
if "$UREG" lock --update "$WORK/app" >"$WORK/signer.out" 2>&1; then fail "signer change accepted silently"; fi
grep -q "accept-signer mirage/cstruct" "$WORK/signer.out" || fail "signer message: $(cat "$WORK/signer.out")"
"$UREG" lock --update --accept-signer mirage/cstruct "$WORK/app" >/dev/null 2>&1 || fail "accepted signer change"
grep -q '"1.2.0"' "$WORK/app/ureg.lock" || fail "1.2.0 not locked"
echo "lock.sh: all checks passed"
