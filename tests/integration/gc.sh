#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# `ureg gc` on a real registry root: blobs left behind by blob and manifest
# DELETEs go, everything a tag, manifest, package, image or channel names
# stays (fsck passes, pulls still work); refused while the server runs;
# --dry-run removes nothing.
. "$(dirname "$0")/../support/harness.sh"

export XDG_CONFIG_HOME=$WORK/config XDG_CACHE_HOME=$WORK/cache UREG_KDF_LIMITS=min
unset UREG_TOKEN UREG_KEY
start_server
export UREG_REGISTRY=$URL
TOKEN=$("$UREG" token create --root "$WORK/root" --scope push:acme 2>/dev/null)
echo "$TOKEN" | "$UREG" login "$URL" >/dev/null
"$UREG" keygen --no-passphrase >/dev/null
AUTH="Authorization: Bearer $TOKEN"
OCI=application/vnd.oci.image.manifest.v1+json

blob_file() { echo "$WORK/root/blobs/sha256/${1:7:2}/${1:7}"; }
push_blob() { # FILE -> prints its digest
	local d
	d=sha256:$(sha256sum "$1" | cut -d' ' -f1)
	curl -fsS -o /dev/null -H "$AUTH" -H 'Content-Type: application/octet-stream' \
		--data-binary @"$1" "$URL/v2/acme/app/blobs/uploads/?digest=$d" || fail "push $1"
	echo "$d"
}
manifest() { # CONFIG LAYER ANNOTATION -> the manifest JSON
	printf '{"schemaVersion":2,"mediaType":"%s","artifactType":"application/vnd.acme.test","config":{"mediaType":"application/vnd.oci.empty.v1+json","digest":"%s","size":%s},"layers":[{"mediaType":"application/octet-stream","digest":"%s","size":%s}],"annotations":{"n":"%s"}}' \
		"$OCI" "$1" "$(stat -c %s "$WORK/cfg.json")" "$2" "$(stat -c %s "$WORK/$4")" "$3"
}
put_manifest() { # JSON REF
	curl -fsS -o /dev/null -X PUT -H "$AUTH" -H "Content-Type: $OCI" --data-binary "$1" \
		"$URL/v2/acme/app/manifests/$2" || fail "put manifest $2"
}

printf '{}' >"$WORK/cfg.json"
head -c 100000 /dev/urandom >"$WORK/kept"
head -c 200000 /dev/urandom >"$WORK/orphan"
head -c 300000 /dev/urandom >"$WORK/dropped"
C=$(push_blob "$WORK/cfg.json")
KEPT=$(push_blob "$WORK/kept")
ORPHAN=$(push_blob "$WORK/orphan")
DROPPED=$(push_blob "$WORK/dropped")
M1=$(manifest "$C" "$KEPT" one kept)
put_manifest "$M1" v1
M2=$(manifest "$C" "$DROPPED" two dropped)
put_manifest "$M2" v2
M2D=sha256:$(printf '%s' "$M2" | sha256sum | cut -d' ' -f1)
# what DELETEs leave: an unreferenced blob, a deleted manifest and its layer
curl -fsS -o /dev/null -X DELETE -H "$AUTH" "$URL/v2/acme/app/blobs/$ORPHAN" || fail "delete orphan"
curl -fsS -o /dev/null -X DELETE -H "$AUTH" "$URL/v2/acme/app/manifests/$M2D" || fail "delete manifest 2"
curl -fsS -o /dev/null -X DELETE -H "$AUTH" "$URL/v2/acme/app/blobs/$DROPPED" || fail "delete dropped"
# a published package and an image with a channel share the root
mkdir -p "$WORK/pkg"
echo hello >"$WORK/pkg/README"
printf '{"name":"acme/lib","version":"1.0.0","targets":["unix"],"registry":"%s"}' "$URL" >"$WORK/pkg/ureg.json"
"$UREG" publish "$WORK/pkg" >/dev/null || fail "publish"
head -c 50000 /dev/urandom >"$WORK/image.bin"
"$UREG" push-image "$WORK/image.bin" --target qemu --name acme/img --version 1.0.0 >/dev/null || fail "push-image"
"$UREG" promote acme/img@1.0.0 production >/dev/null || fail "promote"
for d in "$ORPHAN" "$DROPPED" "$M2D" "$KEPT" "$C"; do
	[ -f "$(blob_file "$d")" ] || fail "blob $d missing before gc"
done
total=$(find "$WORK/root/blobs" -type f | wc -l)

# refused while the server holds the root
if "$UREG" gc --root "$WORK/root" >"$WORK/gc.out" 2>"$WORK/gc.err"; then fail "gc ran beside a server"; fi
[ "$(wc -l <"$WORK/gc.err")" = 1 ] && grep -q "server is running" "$WORK/gc.err" || fail "gc with a server: $(cat "$WORK/gc.err")"
[ "$(find "$WORK/root/blobs" -type f | wc -l)" = "$total" ] || fail "a refused gc removed files"
kill "$PID"; wait "$PID" 2>/dev/null || true; PID=

# --dry-run names exactly the three and removes nothing
"$UREG" gc --root "$WORK/root" --dry-run >"$WORK/dry.out" || fail "gc --dry-run: $(cat "$WORK/dry.out")"
grep '^would remove ' "$WORK/dry.out" | awk '{print $3}' | sort >"$WORK/dry.list"
printf '%s\n' "$ORPHAN" "$DROPPED" "$M2D" | sort >"$WORK/want.list"
cmp -s "$WORK/dry.list" "$WORK/want.list" || fail "dry run listed $(cat "$WORK/dry.list"), expected $(cat "$WORK/want.list")"
[ "$(find "$WORK/root/blobs" -type f | wc -l)" = "$total" ] || fail "--dry-run removed files"
tail -1 "$WORK/dry.out" | grep -q "^$total blobs, $((total - 3)) kept, 3 to remove " || fail "dry-run summary: $(tail -1 "$WORK/dry.out")"

"$UREG" gc --root "$WORK/root" >"$WORK/gc.out" || fail "gc: $(cat "$WORK/gc.out")"
for d in "$ORPHAN" "$DROPPED" "$M2D"; do
	[ ! -e "$(blob_file "$d")" ] || fail "garbage $d still there"
done
[ "$(find "$WORK/root/blobs" -type f | wc -l)" = $((total - 3)) ] || fail "gc removed more than the garbage"
"$UREG" gc --root "$WORK/root" | tail -1 | grep -q " 0 removed " || fail "a second gc found more"
"$UREG" fsck --root "$WORK/root" >"$WORK/fsck.out" 2>&1 || fail "fsck after gc: $(cat "$WORK/fsck.out")"

# everything still named is still served
start_server
export UREG_REGISTRY=$URL
curl -fsS "$URL/v2/acme/app/blobs/$KEPT" | cmp -s - "$WORK/kept" || fail "kept layer not served"
[ "$(curl -fsS -H "Accept: $OCI" "$URL/v2/acme/app/manifests/v1")" = "$M1" ] || fail "v1 manifest not served"
rm -rf "$XDG_CACHE_HOME"
"$UREG" pull acme/img@production -o "$WORK/pulled" 2>/dev/null || fail "pull the image after gc"
cmp -s "$WORK/image.bin" "$WORK/pulled" || fail "image differs after gc"
"$UREG" verify acme/lib@1.0.0 >/dev/null || fail "package no longer verifies after gc"
if "$UREG" gc --root "$WORK/nowhere" 2>"$WORK/err"; then fail "gc of a missing root"; fi
grep -q "no registry at" "$WORK/err" || fail "missing root: $(cat "$WORK/err")"
[ ! -e "$WORK/nowhere" ] || fail "gc created a root"
echo "gc.sh: all checks passed"
