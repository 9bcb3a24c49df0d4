#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# `ureg pull -o FILE` of a layer not in the cache downloads straight into a
# temp file next to FILE and links it into the cache: FILE is complete,
# mode 0755 and replaces an older one; the cache entry (FILE's inode, a
# hard link) serves later pulls, and FILE changed in place later is caught
# there; a layer the registry
# sends with the wrong bytes leaves no FILE, no temp
# file next to it, nothing in the cache; a cache that cannot take the copy
# is a warning, FILE is still written.
. "$(dirname "$0")/../support/harness.sh"

export XDG_CONFIG_HOME=$WORK/config XDG_CACHE_HOME=$WORK/cache UREG_KDF_LIMITS=min
unset UREG_TOKEN UREG_KEY
start_server
export UREG_REGISTRY=$URL
"$UREG" token create --root "$WORK/root" --scope push:acme | "$UREG" login "$URL" >/dev/null
"$UREG" keygen --no-passphrase >/dev/null

# 3 MiB + a bit: large enough for the hashing and syncing helper threads
head -c $((3 << 20)) /dev/urandom >"$WORK/good.bin"
printf 'tail' >>"$WORK/good.bin"
head -c $((3 << 20)) /dev/urandom >"$WORK/bad.bin"
"$UREG" push-image "$WORK/good.bin" --target qemu --name acme/good --version 1.0.0 >"$WORK/push.out" || fail "push good"
"$UREG" push-image "$WORK/bad.bin" --target qemu --name acme/bad --version 1.0.0 >/dev/null || fail "push bad"
D=$(sed -n 's/^release *\(sha256:[0-9a-f]*\).*/\1/p' "$WORK/push.out")
blob_gets() { grep -c "^GET /v2/acme/good/blobs/" "$WORK/server.log" || true; }

mkdir "$WORK/out"
echo old >"$WORK/out/app"
"$UREG" pull acme/good@1.0.0 -o "$WORK/out/app" 2>"$WORK/pull.err" || fail "pull -o: $(cat "$WORK/pull.err")"
cmp -s "$WORK/good.bin" "$WORK/out/app" || fail "pull -o wrote the wrong bytes"
[ "$(stat -c %a "$WORK/out/app")" = 755 ] || fail "pulled file mode $(stat -c %a "$WORK/out/app")"
[ "$(ls -A "$WORK/out")" = app ] || fail "pull -o left files behind: $(ls -A "$WORK/out")"
[ -z "$(ls -A "$XDG_CACHE_HOME/ureg/tmp")" ] || fail "pull -o left cache temp files: $(ls -A "$XDG_CACHE_HOME/ureg/tmp")"
# the cache got its verified, stamped copy: a pull by digest needs no GET
before=$(blob_gets)
P=$("$UREG" pull "acme/good@$D" --print-path) || fail "cached pull by digest"
cmp -s "$WORK/good.bin" "$P" || fail "the cache copy differs"
[ "$(blob_gets)" = "$before" ] || fail "the layer pulled with -o was not cached"
grep -q "^ureg-layer-v1 " "$XDG_CACHE_HOME/ureg/verified/$(basename "$P").layer" || fail "no stamp for the cached layer"
"$UREG" pull "acme/good@$D" -o "$WORK/out/app2" 2>/dev/null || fail "pull -o from the cache"
cmp -s "$WORK/good.bin" "$WORK/out/app2" || fail "pull -o from the cache wrote the wrong bytes"
# outputs never share an inode with each other: that one is a copy
[ "$(stat -c %i "$WORK/out/app2")" != "$(stat -c %i "$P")" ] || fail "pull -o from the cache linked the cache entry"
# on one file system the cache shares FILE's inode (no second copy of the
# bytes); FILE changed in place afterwards is caught when the cache is
# used: the layer is fetched again, FILE keeps the user's change
[ "$(stat -c %i "$WORK/out/app")" = "$(stat -c %i "$P")" ] || fail "FILE and its cache copy are separate copies"
printf 'user' | dd of="$WORK/out/app" bs=1 seek=100 conv=notrunc 2>/dev/null
before=$(blob_gets)
P=$("$UREG" pull "acme/good@$D" --print-path) || fail "cached pull after FILE was changed"
cmp -s "$WORK/good.bin" "$P" || fail "a changed FILE passed as the cached layer"
[ "$(blob_gets)" -gt "$before" ] || fail "the damaged cache copy was not fetched again"
cmp -s "$WORK/good.bin" "$WORK/out/app" && fail "the user's change to FILE was undone"

# the registry serves the wrong bytes for acme/bad's layer (same size)
P=$("$UREG" pull acme/bad@1.0.0 --print-path) || fail "pull bad before damage"
HEX=$(basename "$P")
rm -rf "$XDG_CACHE_HOME"
mkdir -p "$XDG_CACHE_HOME/ureg/tmp"
STORED=$(find "$WORK/root" -type f -name "$HEX" | head -1)
[ -n "$STORED" ] || fail "layer $HEX not found in the server's store"
chmod u+w "$STORED"
printf 'XXXX' | dd of="$STORED" bs=1 seek=$((1 << 20)) conv=notrunc 2>/dev/null
echo old >"$WORK/out/bad"
if "$UREG" pull acme/bad@1.0.0 -o "$WORK/out/bad" >"$WORK/bad.out" 2>&1; then fail "a layer with the wrong digest was installed"; fi
grep -q "digest" "$WORK/bad.out" || fail "no digest error: $(cat "$WORK/bad.out")"
[ "$(wc -l <"$WORK/bad.out")" = 1 ] || fail "error is not one line: $(cat "$WORK/bad.out")"
[ "$(cat "$WORK/out/bad")" = old ] || fail "the old file was replaced by unverified bytes"
[ -z "$(ls -A "$WORK/out" | grep -v '^app$' | grep -v '^app2$' | grep -v '^bad$')" ] || fail "temp files left next to the output: $(ls -A "$WORK/out")"
[ ! -e "$XDG_CACHE_HOME/ureg/blobs/sha256/${HEX:0:2}/$HEX" ] || fail "an unverified layer entered the cache"
[ -z "$(ls -A "$XDG_CACHE_HOME/ureg/tmp")" ] || fail "cache temp files left: $(ls -A "$XDG_CACHE_HOME/ureg/tmp")"
rm "$WORK/out/bad"
if "$UREG" pull acme/bad@1.0.0 -o "$WORK/out/bad" >/dev/null 2>&1; then fail "a layer with the wrong digest was installed (new file)"; fi
[ ! -e "$WORK/out/bad" ] || fail "FILE created from unverified bytes"
[ -z "$(ls -A "$WORK/out" | grep -v '^app$' | grep -v '^app2$')" ] || fail "temp files left next to the output: $(ls -A "$WORK/out")"
# the cache cannot take the layer (its fan-out directory is a file): FILE is
# still written and verified, and the miss is a one-line warning, not a
# failure
GOOD_HEX=$(sha256sum "$WORK/good.bin" | cut -d' ' -f1)
rm -rf "$XDG_CACHE_HOME"
mkdir -p "$XDG_CACHE_HOME/ureg/tmp" "$XDG_CACHE_HOME/ureg/blobs/sha256"
echo blocker >"$XDG_CACHE_HOME/ureg/blobs/sha256/${GOOD_HEX:0:2}"
"$UREG" pull acme/good@1.0.0 -o "$WORK/out/app3" 2>"$WORK/nocache.err" || fail "pull -o failed when only the cache copy did: $(cat "$WORK/nocache.err")"
cmp -s "$WORK/good.bin" "$WORK/out/app3" || fail "pull -o without a cache wrote the wrong bytes"
grep -q "^ureg: pull: warning: not cached: " "$WORK/nocache.err" || fail "no cache warning: $(cat "$WORK/nocache.err")"
[ "$(grep -c warning "$WORK/nocache.err")" = 1 ] || fail "the warning is not one line: $(cat "$WORK/nocache.err")"
[ -z "$(ls -A "$XDG_CACHE_HOME/ureg/tmp")" ] || fail "cache temp files left: $(ls -A "$XDG_CACHE_HOME/ureg/tmp")"
echo "pull_output.sh: all checks passed"
