#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Interop with skopeo: push OCI artifacts and images from a hand-built OCI
# layout, list tags, inspect, pull back and compare digests byte for byte.
set -euo pipefail

UREG_BIN=${UREG_BIN:?UREG_BIN must point at the ureg binary}
T0=$SECONDS
tmp=$(mktemp -d "${TMPDIR:-/tmp}/ureg-skopeo.XXXXXX")
srv_pid=""

cleanup() {
	if [ -n "$srv_pid" ]; then
		kill "$srv_pid" 2>/dev/null || true
		wait "$srv_pid" 2>/dev/null || true
	fi
	rm -rf "$tmp"
}
trap cleanup EXIT

fail() {
	echo "FAIL: $*" >&2
	if [ -s "$tmp/server.out" ]; then
		echo "--- server access log (last 40 lines) ---" >&2
		tail -n 40 "$tmp/server.out" >&2
	fi
	if [ -s "$tmp/server.err" ]; then
		echo "--- server stderr ---" >&2
		tail -n 40 "$tmp/server.err" >&2
	fi
	exit 1
}

command -v skopeo >/dev/null || fail "skopeo not installed (scripts/deps.sh)"
command -v sha256sum >/dev/null || fail "sha256sum not installed"

# skopeo must not pick up the host's credentials or registry settings.
export REGISTRY_AUTH_FILE="$tmp/auth.json"
echo '{}' >"$REGISTRY_AUTH_FILE"
export HOME="$tmp/home"
mkdir -p "$HOME"
SKOPEO=(skopeo --insecure-policy)

# --- server -------------------------------------------------------------
root="$tmp/root"
mkdir -p "$root"
token=$("$UREG_BIN" token create --root "$root" --scope push:acme) ||
	fail "ureg token create failed"
[ -n "$token" ] || fail "ureg token create printed nothing"

"$UREG_BIN" serve --root "$root" --listen 127.0.0.1:0 \
	>"$tmp/server.out" 2>"$tmp/server.err" &
srv_pid=$!
url=""
for _ in $(seq 200); do
	# The file may not exist yet: the shell creates it in the child.
	url=$(sed -n '1s/^listening on //p' "$tmp/server.out" 2>/dev/null) ||
		true
	[ -n "$url" ] && break
	kill -0 "$srv_pid" 2>/dev/null || fail "server exited at start"
	sleep 0.05
done
[ -n "$url" ] || fail "server printed no 'listening on' line"
host=${url#http://}

# --- layouts ------------------------------------------------------------
# put_blob DIR FILE: moves FILE into DIR's blobs, prints its digest hex.
put_blob() {
	local hex
	hex=$(sha256sum "$2" | cut -d' ' -f1)
	mkdir -p "$1/blobs/sha256"
	mv "$2" "$1/blobs/sha256/$hex"
	echo "$hex"
}

# make_layout DIR TAG MANIFEST_FILE: writes oci-layout and index.json.
make_layout() {
	local dir=$1 tag=$2 hex size
	size=$(stat -c %s "$3")
	hex=$(put_blob "$dir" "$3")
	echo '{"imageLayoutVersion":"1.0.0"}' >"$dir/oci-layout"
	printf '{"schemaVersion":2,"manifests":[{"mediaType":"%s","digest":"sha256:%s","size":%s,"annotations":{"org.opencontainers.image.ref.name":"%s"}}]}\n' \
		application/vnd.oci.image.manifest.v1+json "$hex" "$size" \
		"$tag" >"$dir/index.json"
	echo "$hex"
}

# Artifact: custom artifactType, empty config, one 5 MiB random layer.
art="$tmp/artifact"
mkdir -p "$art"
printf '{}' >"$tmp/empty"
empty_hex=$(put_blob "$art" "$tmp/empty")
[ "$empty_hex" = 44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a ] ||
	fail "empty config digest is $empty_hex"
head -c $((5 * 1024 * 1024)) /dev/urandom >"$tmp/layer"
art_layer_hex=$(put_blob "$art" "$tmp/layer")
printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","artifactType":"application/vnd.ureg.test.v1","config":{"mediaType":"application/vnd.oci.empty.v1+json","digest":"sha256:%s","size":2},"layers":[{"mediaType":"application/vnd.ureg.test.layer.v1","digest":"sha256:%s","size":%d,"annotations":{"org.opencontainers.image.title":"payload.bin"}}]}' \
	"$empty_hex" "$art_layer_hex" $((5 * 1024 * 1024)) >"$tmp/m"
art_hex=$(make_layout "$art" v1 "$tmp/m")

# Image: a real image config and one gzip'd tar layer.
img="$tmp/image"
mkdir -p "$img/rootfs"
head -c 65536 /dev/urandom >"$img/rootfs/hello.bin"
tar -C "$img/rootfs" --mtime=@0 --owner=0 --group=0 --numeric-owner \
	-cf "$tmp/layer.tar" hello.bin
rm -rf "$img/rootfs"
diff_hex=$(sha256sum "$tmp/layer.tar" | cut -d' ' -f1)
gzip -n -c "$tmp/layer.tar" >"$tmp/layer.tgz"
rm -f "$tmp/layer.tar"
img_layer_size=$(stat -c %s "$tmp/layer.tgz")
img_layer_hex=$(put_blob "$img" "$tmp/layer.tgz")
printf '{"architecture":"amd64","os":"linux","config":{},"rootfs":{"type":"layers","diff_ids":["sha256:%s"]}}' \
	"$diff_hex" >"$tmp/c"
img_cfg_size=$(stat -c %s "$tmp/c")
img_cfg_hex=$(put_blob "$img" "$tmp/c")
printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:%s","size":%d},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"sha256:%s","size":%d}]}' \
	"$img_cfg_hex" "$img_cfg_size" "$img_layer_hex" "$img_layer_size" >"$tmp/m"
img_hex=$(make_layout "$img" v1 "$tmp/m")

# --- push, list, inspect, pull, compare ------------------------------------
# roundtrip NAME LAYOUT MANIFEST_HEX BLOB_HEX...
roundtrip() {
	local name=$1 layout=$2 mhex=$3 ref tags out h
	shift 3
	ref="docker://$host/$name:v1"

	"${SKOPEO[@]}" copy --preserve-digests --dest-tls-verify=false \
		--dest-creds "u:$token" "oci:$layout:v1" "$ref" \
		>"$tmp/copy.log" 2>&1 ||
		{ cat "$tmp/copy.log" >&2; fail "$name: skopeo copy (push) failed"; }

	# A second push of the same content is a no-op that still succeeds.
	"${SKOPEO[@]}" copy --preserve-digests --dest-tls-verify=false \
		--dest-creds "u:$token" "oci:$layout:v1" "$ref" \
		>"$tmp/copy.log" 2>&1 ||
		{ cat "$tmp/copy.log" >&2; fail "$name: skopeo copy (re-push) failed"; }

	tags=$("${SKOPEO[@]}" list-tags --tls-verify=false \
		"docker://$host/$name" 2>"$tmp/err") ||
		{ cat "$tmp/err" >&2; fail "$name: skopeo list-tags failed"; }
	grep -q '"v1"' <<<"$tags" || fail "$name: tag v1 not listed: $tags"

	"${SKOPEO[@]}" inspect --raw --tls-verify=false "$ref" \
		>"$tmp/raw" 2>"$tmp/err" ||
		{ cat "$tmp/err" >&2; fail "$name: skopeo inspect --raw failed"; }
	h=$(sha256sum "$tmp/raw" | cut -d' ' -f1)
	[ "$h" = "$mhex" ] ||
		fail "$name: inspect --raw digest sha256:$h, pushed sha256:$mhex"
	cmp -s "$tmp/raw" "$layout/blobs/sha256/$mhex" ||
		fail "$name: inspect --raw bytes differ from the pushed manifest"

	out="$tmp/pulled-$(tr / - <<<"$name")"
	"${SKOPEO[@]}" copy --preserve-digests --src-tls-verify=false \
		"$ref" "oci:$out:v1" >"$tmp/copy.log" 2>&1 ||
		{ cat "$tmp/copy.log" >&2; fail "$name: skopeo copy (pull) failed"; }
	grep -q "sha256:$mhex" "$out/index.json" ||
		fail "$name: pulled index.json lacks sha256:$mhex: $(cat "$out/index.json")"
	for h in "$mhex" "$@"; do
		[ -f "$out/blobs/sha256/$h" ] || fail "$name: pulled layout lacks $h"
		cmp -s "$layout/blobs/sha256/$h" "$out/blobs/sha256/$h" ||
			fail "$name: pulled blob $h differs from the pushed one"
	done

	# dir: transport too: the manifest comes back byte for byte.
	"${SKOPEO[@]}" copy --preserve-digests --src-tls-verify=false \
		"$ref" "dir:$out.dir" >"$tmp/copy.log" 2>&1 ||
		{ cat "$tmp/copy.log" >&2; fail "$name: skopeo copy (pull to dir:) failed"; }
	cmp -s "$layout/blobs/sha256/$mhex" "$out.dir/manifest.json" ||
		fail "$name: dir: manifest.json differs from the pushed manifest"
	for h in "$@"; do
		cmp -s "$layout/blobs/sha256/$h" "$out.dir/$h" ||
			fail "$name: dir: blob $h differs from the pushed one"
	done
	echo "ok: $name (sha256:$mhex)"
}

roundtrip acme/hello "$art" "$art_hex" "$empty_hex" "$art_layer_hex"
roundtrip acme/image "$img" "$img_hex" "$img_cfg_hex" "$img_layer_hex"

# Registry to registry within the namespace: skopeo may mount the blobs
# from acme/hello; either way the copy keeps the manifest digest.
"${SKOPEO[@]}" copy --preserve-digests --src-tls-verify=false \
	--dest-tls-verify=false --dest-creds "u:$token" \
	"docker://$host/acme/hello:v1" "docker://$host/acme/copy:v2" \
	>"$tmp/copy.log" 2>&1 ||
	{ cat "$tmp/copy.log" >&2; fail "acme/copy: registry to registry copy failed"; }
"${SKOPEO[@]}" inspect --raw --tls-verify=false "docker://$host/acme/copy:v2" \
	>"$tmp/raw" 2>"$tmp/err" ||
	{ cat "$tmp/err" >&2; fail "acme/copy: skopeo inspect --raw failed"; }
cmp -s "$tmp/raw" "$art/blobs/sha256/$art_hex" ||
	fail "acme/copy: manifest differs from the one pushed to acme/hello"
grep -q '^POST /v2/acme/copy/blobs/uploads/ 201 ' "$tmp/server.out" ||
	fail "acme/copy: skopeo's cross-repository mount was not answered 201"
echo "ok: acme/copy (registry to registry, blob mounted)"

# Without the token, a push must be refused.
if "${SKOPEO[@]}" copy --dest-tls-verify=false "oci:$img:v1" \
	"docker://$host/acme/denied:v1" >"$tmp/copy.log" 2>&1; then
	fail "push without a token succeeded"
fi
if "${SKOPEO[@]}" copy --dest-tls-verify=false --dest-creds u:wrongtoken \
	"oci:$img:v1" "docker://$host/acme/denied:v1" >"$tmp/copy.log" 2>&1; then
	fail "push with a wrong token succeeded"
fi

kill "$srv_pid"
wait "$srv_pid" || fail "server exited non-zero on SIGTERM"
srv_pid=""
"$UREG_BIN" fsck --root "$root" >/dev/null 2>"$tmp/fsck.err" ||
	{ cat "$tmp/fsck.err" >&2; fail "fsck after the skopeo run found faults"; }
echo "skopeo: all checks passed in $((SECONDS - T0)) s"
