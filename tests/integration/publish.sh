#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# `ureg publish` against the real server: publish, re-publish (no-op),
# conflicting publish (refused), no token (refused), foreign key into an
# owned namespace (refused), dry run, and the signature checked with stock
# minisign after fetching it through the referrers API.
. "$(dirname "$0")/../support/harness.sh"
fail() { echo "FAIL: $*" >&2; [ -f "$WORK/server.log" ] && tail -20 "$WORK/server.log" >&2; exit 1; }

export XDG_CONFIG_HOME=$WORK/config UREG_KDF_LIMITS=min
unset UREG_TOKEN UREG_REGISTRY UREG_KEY
start_server

TOKEN=$("$UREG" token create --root "$WORK/root" --scope push:acme)
"$UREG" keygen --no-passphrase >/dev/null || fail "keygen"
"$UREG" keygen --no-passphrase --output "$WORK/other" >/dev/null || fail "keygen other"

mkdir -p "$WORK/pkg/src"
echo 'let () = print_endline "hello"' >"$WORK/pkg/src/main.ml"
# init writes the registry this client would use: --registry, else
# $UREG_REGISTRY, else the default
mkdir "$WORK/init1" "$WORK/init2" "$WORK/init3"
"$UREG" init --name acme/one "$WORK/init1" >/dev/null || fail "init with defaults"
grep -q '"registry": "http://127.0.0.1:5000",' "$WORK/init1/ureg.json" || fail "init default registry: $(cat "$WORK/init1/ureg.json")"
UREG_REGISTRY=http://reg.example:5000 "$UREG" init --name acme/two "$WORK/init2" >/dev/null || fail "init with UREG_REGISTRY"
grep -q '"registry": "http://reg.example:5000",' "$WORK/init2/ureg.json" || fail "init ignored UREG_REGISTRY: $(cat "$WORK/init2/ureg.json")"
if "$UREG" init --name acme/three --registry 'ftp://x' "$WORK/init3" 2>"$WORK/init.err"; then fail "init took a bad registry"; fi
grep -q 'does not start with http:// or https://' "$WORK/init.err" || fail "init bad registry: $(cat "$WORK/init.err")"
"$UREG" init --name acme/hello --registry "$URL" "$WORK/pkg" >/dev/null || fail "init"
grep -q "\"registry\": \"$URL\"," "$WORK/pkg/ureg.json" || fail "init --registry: $(cat "$WORK/pkg/ureg.json")"

# dry run: digests, nothing pushed
"$UREG" publish --dry-run "$WORK/pkg" >"$WORK/dry.out" || fail "dry run"
grep -q '^manifest   sha256:' "$WORK/dry.out" || fail "dry run prints no manifest digest"
code=$(curl -s -o /dev/null -w '%{http_code}' "$URL/v2/acme/hello/tags/list")
[ "$code" = 404 ] || fail "dry run pushed something ($code)"
# dry run lists what the package holds, as packed: no VCS directory, no
# .uregignore match
cp -r "$WORK/pkg" "$WORK/listing"
mkdir "$WORK/listing/.git"
echo x >"$WORK/listing/.git/config"
echo TOKEN=1 >"$WORK/listing/secret.env"
echo "*.env" >"$WORK/listing/.uregignore"
printf '#!/bin/sh\n' >"$WORK/listing/src/run.sh"
chmod +x "$WORK/listing/src/run.sh"
"$UREG" publish --dry-run "$WORK/listing" >"$WORK/listing.out" || fail "dry run listing"
grep -qx 'files      4 files, 1 directory, [0-9]* bytes' "$WORK/listing.out" || fail "listing summary: $(cat "$WORK/listing.out")"
grep -qx '  src/' "$WORK/listing.out" || fail "listing: no src/: $(cat "$WORK/listing.out")"
grep -qx '  src/run.sh  10 bytes, executable' "$WORK/listing.out" || fail "listing: run.sh: $(cat "$WORK/listing.out")"
grep -qx '  src/main.ml  [0-9]* bytes' "$WORK/listing.out" || fail "listing: main.ml: $(cat "$WORK/listing.out")"
grep -q 'secret.env\|\.git' "$WORK/listing.out" && fail "listing shows a left-out file: $(cat "$WORK/listing.out")"

# no token: a plain refusal that says what to do
if "$UREG" publish "$WORK/pkg" >"$WORK/notoken.out" 2>&1; then fail "publish without a token succeeded"; fi
grep -q "ureg login" "$WORK/notoken.out" || fail "no-token message: $(cat "$WORK/notoken.out")"

echo "$TOKEN" | "$UREG" login "$URL" >/dev/null || fail "login"
[ "$(stat -c %a "$XDG_CONFIG_HOME"/ureg/tokens/*)" = 600 ] || fail "token file mode"

"$UREG" publish --json "$WORK/pkg" >"$WORK/pub.json" || fail "publish"
MANIFEST=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["manifest"])' "$WORK/pub.json")
grep -q "\"manifest\":\"$MANIFEST\"" "$WORK/dry.out" 2>/dev/null || \
  grep -q "$MANIFEST" "$WORK/dry.out" || fail "dry run and publish disagree on the manifest digest"
curl -sf "$URL/v2/acme/hello/tags/list" | grep -q '"0.1.0"' || fail "version tag missing"

# identical content again: a no-op success
"$UREG" publish "$WORK/pkg" >"$WORK/again.out" || fail "re-publish"
grep -q "already published" "$WORK/again.out" || fail "re-publish not a no-op: $(cat "$WORK/again.out")"

# the signature, fetched as a referrer, verifies with stock minisign
curl -sf "$URL/v2/acme/hello/referrers/$MANIFEST?artifactType=application/vnd.ureg.signature.v1" >"$WORK/ref.json"
SIGMAN=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["manifests"][0]["digest"])' "$WORK/ref.json")
curl -sf -H 'Accept: application/vnd.oci.image.manifest.v1+json' "$URL/v2/acme/hello/manifests/$SIGMAN" >"$WORK/sigman.json"
SIGBLOB=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["layers"][0]["digest"])' "$WORK/sigman.json")
PUB=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["annotations"]["dev.ureg.public-key"])' "$WORK/sigman.json")
curl -sf "$URL/v2/acme/hello/blobs/$SIGBLOB" >"$WORK/manifest.minisig"
curl -sf -H 'Accept: application/vnd.oci.image.manifest.v1+json' "$URL/v2/acme/hello/manifests/$MANIFEST" >"$WORK/manifest.json"
minisign -V -P "$PUB" -m "$WORK/manifest.json" -x "$WORK/manifest.minisig" >"$WORK/minisign.out" || fail "minisign rejects the signature"
grep -q "ureg acme/hello 0.1.0 $MANIFEST" "$WORK/minisign.out" || fail "trusted comment: $(cat "$WORK/minisign.out")"

# different content under the same version: refused, plainly
echo changed >>"$WORK/pkg/src/main.ml"
if "$UREG" publish "$WORK/pkg" >"$WORK/conflict.out" 2>&1; then fail "conflicting publish succeeded"; fi
grep -q "immutable" "$WORK/conflict.out" || fail "conflict message: $(cat "$WORK/conflict.out")"

# a foreign key into the owned namespace: refused by the server
sed -i 's/"version": *"0.1.0"/"version": "0.2.0"/' "$WORK/pkg/ureg.json"
if "$UREG" publish --key "$WORK/other.key" "$WORK/pkg" >"$WORK/foreign.out" 2>&1; then fail "foreign key accepted"; fi
grep -qi "key" "$WORK/foreign.out" || fail "foreign key message: $(cat "$WORK/foreign.out")"
code=$(curl -s -o /dev/null -w '%{http_code}' -H 'Accept: application/vnd.oci.image.manifest.v1+json' "$URL/v2/acme/hello/manifests/0.2.0")
[ "$code" = 404 ] || fail "refused version is visible ($code)"

# the right key publishes 0.2.0
"$UREG" publish "$WORK/pkg" >/dev/null || fail "publish 0.2.0"
curl -sf "$URL/ureg/v1/index/acme/hello" | grep -q '"0.2.0"' || fail "index lacks 0.2.0"
"$UREG" fsck --root "$WORK/root" >/dev/null || fail "fsck after publishing"

# ureg verify: by the namespace's registered key, by a given key, by file
"$UREG" verify --registry "$URL" acme/hello@0.1.0 >"$WORK/verify.out" || fail "verify: $(cat "$WORK/verify.out")"
grep -q "acme/hello@0.1.0 ok" "$WORK/verify.out" || fail "verify output"
if "$UREG" verify --registry "$URL" --key "$WORK/other.pub" acme/hello@0.1.0 >"$WORK/verify2.out" 2>&1; then
  fail "verify accepted another key"; fi
"$UREG" verify --file "$WORK/manifest.json" --sig "$WORK/manifest.minisig" --key "$XDG_CONFIG_HOME/ureg/ureg.pub" >/dev/null || fail "verify --file"
echo " " >>"$WORK/manifest.json"
if "$UREG" verify --file "$WORK/manifest.json" --sig "$WORK/manifest.minisig" --key "$XDG_CONFIG_HOME/ureg/ureg.pub" >/dev/null 2>&1; then
  fail "verify --file accepted a tampered file"; fi
if "$UREG" verify --registry "$URL" acme/hello@9.9.9 >/dev/null 2>&1; then fail "verify of a missing version"; fi

# yank and undo, seen in the index
"$UREG" yank --registry "$URL" acme/hello@0.1.0 >/dev/null || fail "yank"
curl -sf "$URL/ureg/v1/index/acme/hello" | python3 -c '
import json,sys
v={x["version"]: x["yanked"] for x in json.load(sys.stdin)["versions"]}
sys.exit(0 if v["0.1.0"] is True and v["0.2.0"] is False else 1)' || fail "yank not in the index"
# ureg info shows both versions, their signer, and the yank
KEYID=$(sed -n 's/.*minisign public key \([0-9A-F]*\).*/\1/p' "$XDG_CONFIG_HOME/ureg/ureg.pub")
[ -n "$KEYID" ] || fail "no key id in ureg.pub"
"$UREG" info --registry "$URL" acme/hello >"$WORK/info.out" || fail "info: $(cat "$WORK/info.out")"
head -1 "$WORK/info.out" | grep -q "^acme/hello: source package, 2 versions$" || fail "info header: $(cat "$WORK/info.out")"
grep -Eq "^0\.1\.0 .* $KEYID +yanked$" "$WORK/info.out" || fail "info: 0.1.0 not shown yanked: $(cat "$WORK/info.out")"
grep -Eq "^0\.2\.0 .* $KEYID$" "$WORK/info.out" || fail "info: 0.2.0: $(cat "$WORK/info.out")"
if "$UREG" info --registry "$URL" acme/nothing >/dev/null 2>"$WORK/info.err"; then fail "info of an unknown name"; fi
[ "$(wc -l <"$WORK/info.err")" = 1 ] && grep -q '"acme/nothing"' "$WORK/info.err" || fail "info unknown: $(cat "$WORK/info.err")"
"$UREG" yank --undo --registry "$URL" acme/hello@0.1.0 >/dev/null || fail "yank --undo"
curl -sf "$URL/ureg/v1/index/acme/hello" | grep -q '"yanked":true' && fail "undo did not clear yanked"

# keys: listing is open, adding needs admin:acme (push:acme is refused)
TIME='[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z'
"$UREG" keys list --registry "$URL" acme >"$WORK/keys.out" || fail "keys list"
head -1 "$WORK/keys.out" | grep -Eq '^ID +ADDED +REVOKED +PUBLIC KEY$' || fail "keys list header: $(cat "$WORK/keys.out")"
grep -Eq "^$KEYID +$TIME +- +RW[A-Za-z0-9+/=]{54}$" "$WORK/keys.out" || fail "keys list: $(cat "$WORK/keys.out")"
if "$UREG" keys add --registry "$URL" acme "$WORK/other.pub" >/dev/null 2>&1; then fail "keys add with a push token"; fi
ADMIN=$("$UREG" token create --root "$WORK/root" --scope admin:acme 2>/dev/null)
OTHER=$(sed -n 's/.*minisign public key \([0-9A-F]*\).*/\1/p' "$WORK/other.pub")
UREG_TOKEN=$ADMIN "$UREG" keys add --registry "$URL" acme "$WORK/other.pub" >/dev/null || fail "keys add"
UREG_TOKEN=$ADMIN "$UREG" keys revoke --registry "$URL" acme "$OTHER" >/dev/null || fail "keys revoke"
"$UREG" keys list --registry "$URL" acme >"$WORK/keys.out" || fail "keys list after revoke"
grep -Eq "^$OTHER +$TIME +$TIME +RW" "$WORK/keys.out" || fail "revoked key: $(cat "$WORK/keys.out")"
[ "$(wc -l <"$WORK/keys.out")" = 3 ] || fail "keys list: $(cat "$WORK/keys.out")"
echo "publish.sh: all checks passed"
