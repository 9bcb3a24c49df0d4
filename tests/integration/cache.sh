#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# `ureg cache` counts what a pull left in the client cache; `ureg cache
# clean` removes it all without following a link out of it, after which
# an offline pull has nothing and a normal pull downloads again.
. "$(dirname "$0")/../support/harness.sh"

export XDG_CONFIG_HOME=$WORK/config XDG_CACHE_HOME=$WORK/cache UREG_KDF_LIMITS=min
unset UREG_TOKEN UREG_KEY
C=$XDG_CACHE_HOME/ureg

out=$("$UREG" cache) || fail "cache with no cache: $out"
[ "$out" = "$C: empty (no cache yet)" ] || fail "no cache: $out"
out=$("$UREG" cache clean) || fail "clean with no cache: $out"

start_server
export UREG_REGISTRY=$URL
"$UREG" token create --root "$WORK/root" --scope push:acme 2>/dev/null | "$UREG" login "$URL" >/dev/null
"$UREG" keygen --no-passphrase >/dev/null
head -c $((1 << 20)) /dev/urandom >"$WORK/app.bin"
"$UREG" push-image "$WORK/app.bin" --target qemu --name acme/app --version 1.0.0 >/dev/null || fail "push"
"$UREG" pull acme/app@1.0.0 --print-path >/dev/null || fail "pull"

# manifest, config, layer, signature manifest and signature blob (or so):
# at least the layer's MiB in a few blobs
out=$("$UREG" cache)
echo "$out" | grep -Eq "^$C: [3-9] blobs, [0-9]+ files, 1\.0 MiB$" || fail "cache: $out"

# a link out of the cache is removed, never followed
mkdir "$WORK/outside"
echo keep >"$WORK/outside/file"
ln -s "$WORK/outside" "$C/blobs/link"
ln -s "$WORK/outside/file" "$C/filelink"
out=$("$UREG" cache clean) || fail "clean: $out"
echo "$out" | grep -Eq "^$C: removed [0-9]+ files, 1\.0 MiB$" || fail "clean said: $out"
[ ! -e "$C" ] || fail "clean left $(find "$C")"
[ "$(cat "$WORK/outside/file")" = keep ] || fail "clean followed a link"
[ "$("$UREG" cache)" = "$C: empty (no cache yet)" ] || fail "cache after clean"

# offline: nothing to use; online: downloaded again, same bytes
if "$UREG" pull acme/app@1.0.0 --offline --print-path >/dev/null 2>"$WORK/off.err"; then fail "offline pull after clean"; fi
[ "$(wc -l <"$WORK/off.err")" = 1 ] || fail "offline error: $(cat "$WORK/off.err")"
gets=$(grep -c '^GET /v2/acme/app/blobs/' "$WORK/server.log")
P=$("$UREG" pull acme/app@1.0.0 --print-path) || fail "pull after clean"
cmp -s "$P" "$WORK/app.bin" || fail "pull after clean: other bytes"
[ "$(grep -c '^GET /v2/acme/app/blobs/' "$WORK/server.log")" -gt "$gets" ] || fail "pull after clean did not download"

# usage errors
if "$UREG" cache purge 2>"$WORK/err"; then fail "cache purge accepted"; fi
head -1 "$WORK/err" | grep -q '^ureg: cache: unexpected "purge"$' || fail "cache purge: $(cat "$WORK/err")"
echo "cache: ok"
