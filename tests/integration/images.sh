#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Unikernel images end to end with the real CLI, server and qemu: push a
# freestanding kernel as a signed `qemu` image, promote it to production,
# pull it by channel and boot it; promote a second version, roll back, pull
# again and boot the first. Plus multi-target releases, cached pulls by
# digest with no server, skopeo on a channel tag, and refusals.
. "$(dirname "$0")/../support/harness.sh"
SRC=${UREG_SOURCE_DIR:?UREG_SOURCE_DIR not set}
command -v qemu-system-x86_64 >/dev/null || fail "qemu-system-x86_64 missing (scripts/deps.sh installs it)"

export XDG_CONFIG_HOME=$WORK/config XDG_CACHE_HOME=$WORK/cache UREG_KDF_LIMITS=min
unset UREG_TOKEN UREG_KEY
start() {
  start_server
  export UREG_REGISTRY=$URL
}
start
"$UREG" token create --root "$WORK/root" --scope push:acme | "$UREG" login "$URL" >/dev/null
"$UREG" keygen --no-passphrase >/dev/null

bash "$SRC/examples/hello-unikernel/build.sh" "$WORK/v1" v1 >/dev/null || fail "build hello v1"
bash "$SRC/examples/hello-unikernel/build.sh" "$WORK/v2" v2 >/dev/null || fail "build hello v2"
K1=$(ls "$WORK"/v1/*.elf "$WORK"/v1/hello* 2>/dev/null | head -1)
K2=$(ls "$WORK"/v2/*.elf "$WORK"/v2/hello* 2>/dev/null | head -1)
[ -f "$K1" ] && [ -f "$K2" ] || fail "no kernels built"

boot() { # FILE -> serial output
  timeout 60 qemu-system-x86_64 -kernel "$1" -nographic -no-reboot -m 32 \
    -device isa-debug-exit,iobase=0xf4,iosize=0x04 -monitor none -serial stdio \
    2>&1 </dev/null || true
}

"$UREG" push-image "$K1" --name acme/hello --version 1.0.0 --target qemu >"$WORK/push1.out" || fail "push v1: $(cat "$WORK/push1.out")"
"$UREG" push-image "$K2" --name acme/hello --version 1.1.0 --target qemu >/dev/null || fail "push v2"
"$UREG" push-image "$K1" --name acme/hello --version 1.0.0 --target qemu | grep -q "already published" || fail "re-push not a no-op"
if "$UREG" push-image "$K2" --name acme/hello --version 1.0.0 --target qemu >"$WORK/imm.out" 2>&1; then fail "version overwritten"; fi
grep -q immutable "$WORK/imm.out" || fail "immutability message: $(cat "$WORK/imm.out")"

"$UREG" promote acme/hello@1.0.0 production >/dev/null || fail "promote 1.0.0"
"$UREG" pull acme/hello@production -o "$WORK/boot1" 2>/dev/null || fail "pull production"
[ "$(stat -c %a "$WORK/boot1")" = 755 ] || fail "pulled file mode"
boot "$WORK/boot1" | grep -q "v1" || fail "production did not boot v1: $(boot "$WORK/boot1" | head -5)"

D1=$(sed -n 's/^release *\(sha256:[0-9a-f]*\).*/\1/p' "$WORK/push1.out")
if "$UREG" promote acme/hello@1.1.0 production --expect sha256:0000000000000000000000000000000000000000000000000000000000000000 >"$WORK/stale.out" 2>&1; then
  fail "stale --expect accepted"; fi
"$UREG" promote acme/hello@1.1.0 production --expect "$D1" >/dev/null || fail "promote 1.1.0 with the right --expect"
"$UREG" pull acme/hello@production -o "$WORK/boot2" 2>/dev/null || fail "pull production (v2)"
boot "$WORK/boot2" | grep -q "v2" || fail "production did not boot v2"

"$UREG" rollback acme/hello production >/dev/null || fail "rollback"
"$UREG" pull acme/hello@production -o "$WORK/boot3" 2>/dev/null || fail "pull after rollback"
boot "$WORK/boot3" | grep -q "v1" || fail "rollback did not bring v1 back"
"$UREG" history acme/hello production >"$WORK/history.out" || fail "history"
[ "$(grep -c sha256 "$WORK/history.out")" -ge 3 ] || fail "history: $(cat "$WORK/history.out")"
# times are RFC 3339 UTC, the same in history, info and token list
TIME='[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z'
[ "$(grep -Ec "^$TIME +token [0-9a-f]{12} " "$WORK/history.out")" -ge 3 ] || fail "history times: $(cat "$WORK/history.out")"

# any OCI client can read a channel
skopeo inspect --raw --tls-verify=false "docker://${URL#http://}/acme/hello:production" >"$WORK/raw.json" || fail "skopeo inspect"
grep -q application/vnd.ureg.image.v1 "$WORK/raw.json" || fail "skopeo got something else"

# refusals that change nothing
if "$UREG" rollback acme/hello staging >/dev/null 2>&1; then fail "rollback of an unknown channel"; fi
"$UREG" promote acme/hello@1.0.0 staging >/dev/null || fail "promote staging"
if "$UREG" rollback acme/hello staging >"$WORK/rb.out" 2>&1; then fail "rollback without history"; fi
# ureg info: both versions, each channel with where it points
"$UREG" info acme/hello >"$WORK/info.out" || fail "info: $(cat "$WORK/info.out")"
grep -qx "  1.0.0" "$WORK/info.out" && grep -qx "  1.1.0" "$WORK/info.out" || fail "info versions: $(cat "$WORK/info.out")"
grep -Eq "^  production +-> 1\.0\.0 +${D1:0:19}  moved $TIME by token [0-9a-f]{12}$" "$WORK/info.out" || fail "info production: $(cat "$WORK/info.out")"
grep -Eq "^  staging +-> 1\.0\.0 " "$WORK/info.out" || fail "info staging: $(cat "$WORK/info.out")"
if "$UREG" promote acme/hello@9.9.9 staging >/dev/null 2>&1; then fail "promote of a missing version"; fi
if "$UREG" history acme/hello nosuchchannel >/dev/null 2>&1; then fail "history of an unknown channel"; fi
if "$UREG" push-image "$K1" --name acme/hello --version 3.0.0 --target hvt >"$WORK/mismatch.out" 2>&1; then fail "hvt accepted for a non-Solo5 kernel"; fi
head -c 100 "$K1" >"$WORK/truncated"
if "$UREG" push-image "$WORK/truncated" --name acme/hello --version 3.0.1 --target hvt >/dev/null 2>&1; then fail "truncated ELF accepted"; fi

# a multi-target release: a qemu kernel and a unix program
"$UREG" push-image "$K1" /bin/true --target qemu --target unix --name acme/hello --version 2.0.0 >/dev/null || fail "multi-target push"
"$UREG" pull acme/hello@2.0.0 --target unix -o "$WORK/true" 2>/dev/null || fail "pull unix"
cmp -s /bin/true "$WORK/true" || fail "unix image differs"
if "$UREG" pull acme/hello@2.0.0 --target hvt >"$WORK/nohvt.out" 2>&1; then fail "pulled a missing target"; fi
grep -q "qemu" "$WORK/nohvt.out" && grep -q "unix" "$WORK/nohvt.out" || fail "missing-target message: $(cat "$WORK/nohvt.out")"

# ureg.json pins an image by channel: lock resolves it to a digest, fetch
# pulls it (verified) into deps/images/ALIAS
mkdir -p "$WORK/app"
cat >"$WORK/app/ureg.json" <<JSON
{"name": "acme/app", "version": "0.1.0", "targets": ["qemu"], "registry": "$URL",
 "images": {"web": {"ref": "acme/hello@production", "target": "qemu"}}}
JSON
"$UREG" lock "$WORK/app" >"$WORK/lock.out" 2>&1 || fail "lock with an image pin: $(cat "$WORK/lock.out")"
grep -qx "  image web: acme/hello@production (qemu) -> $D1" "$WORK/lock.out" || fail "lock does not show the image pin: $(cat "$WORK/lock.out")"
grep -q "\"digest\": \"$D1\"" "$WORK/app/ureg.lock" || fail "image pin not resolved to production's digest: $(cat "$WORK/app/ureg.lock")"
(cd "$WORK/app" && "$UREG" fetch >/dev/null 2>&1) || fail "fetch with an image pin"
cmp -s "$K1" "$WORK/app/deps/images/web" || fail "fetched image differs from v1"
# nothing changed: no request; the image removed or edited: put back
requests() { wc -l <"$WORK/server.log"; }
before=$(requests)
(cd "$WORK/app" && "$UREG" fetch --json) >"$WORK/noop.json" || fail "no-op fetch with an image pin"
[ "$(requests)" = "$before" ] || fail "a no-op fetch with an image pin sent requests"
rm "$WORK/app/deps/images/web"
(cd "$WORK/app" && "$UREG" fetch --json) >"$WORK/repair.json" || fail "fetch after the image was removed"
cmp -s "$K1" "$WORK/app/deps/images/web" || fail "a removed pinned image was not put back"
grep -q '"images_installed":1' "$WORK/repair.json" || fail "fetch --json: $(cat "$WORK/repair.json")"
printf 'X' >>"$WORK/app/deps/images/web"
(cd "$WORK/app" && "$UREG" fetch >/dev/null 2>&1) || fail "fetch after the image was edited"
cmp -s "$K1" "$WORK/app/deps/images/web" || fail "an edited pinned image was not replaced"
# --offline: from the cache, no request; what the cache lacks is named
rm "$WORK/app/deps/images/web"
before=$(requests)
(cd "$WORK/app" && "$UREG" fetch --offline >/dev/null 2>&1) || fail "offline fetch of a cached image"
[ "$(requests)" = "$before" ] || fail "an offline fetch sent requests"
cmp -s "$K1" "$WORK/app/deps/images/web" || fail "offline fetch installed the wrong image"
rm "$WORK/app/deps/images/web"
if (cd "$WORK/app" && XDG_CACHE_HOME=$WORK/empty-cache "$UREG" fetch --offline) >"$WORK/off.out" 2>&1; then fail "offline fetch with an empty cache"; fi
grep -q "image web: offline: the cache lacks" "$WORK/off.out" || fail "offline fetch error: $(cat "$WORK/off.out")"
[ ! -e "$WORK/app/deps/images/web" ] || fail "offline fetch wrote an image it could not verify"
if XDG_CACHE_HOME=$WORK/empty-cache "$UREG" pull "acme/hello@$D1" --offline --print-path >"$WORK/off.out" 2>&1; then fail "offline pull with an empty cache"; fi
grep -q "offline: the cache lacks" "$WORK/off.out" || fail "offline pull error: $(cat "$WORK/off.out")"
[ "$(requests)" = "$before" ] || fail "an offline pull or fetch sent requests"
(cd "$WORK/app" && "$UREG" fetch >/dev/null 2>&1) || fail "fetch to restore the image"

# pinned by digest and cached: no request at all, even with the server gone
"$UREG" pull "acme/hello@$D1" --print-path >/dev/null || fail "pull by digest"
# the cache is written without fsync and checked on use: a cached layer is
# trusted without re-hashing only while its stamp (inode, size, mtime,
# ctime, boot id) matches; a damaged one is dropped and fetched again
P=$("$UREG" pull "acme/hello@$D1" --print-path) || fail "cached pull by digest"
STAMP=$XDG_CACHE_HOME/ureg/verified/$(basename "$P").layer
grep -q "^ureg-layer-v1 $(cat /proc/sys/kernel/random/boot_id) " "$STAMP" || fail "no stamp for the cached layer"
blob_gets() { grep -c "^GET /v2/acme/hello/blobs/" "$WORK/server.log" || true; }
damage() { # same size, mtime put back: only the ctime tells
  touch -r "$1" "$WORK/mtime"
  printf 'XXXX' | dd of="$1" bs=1 seek=64 conv=notrunc 2>/dev/null
  touch -r "$WORK/mtime" "$1"
}
damage "$P"
before=$(blob_gets)
"$UREG" pull "acme/hello@$D1" -o "$WORK/repaired" 2>/dev/null || fail "pull over a damaged cache"
cmp -s "$K1" "$WORK/repaired" || fail "a damaged cached layer was served"
cmp -s "$K1" "$P" || fail "the damaged cached layer was not replaced"
[ "$(blob_gets)" -gt "$before" ] || fail "the damaged layer was not fetched again"
# as after a crash and reboot: a stamp of another boot is not trusted, even
# when it matches the damaged file
damage "$P"
printf 'ureg-layer-v1 00000000-0000-0000-0000-000000000000 %s %s %s %s %s\n' \
  "$(stat -c %d "$P")" "$(stat -c %i "$P")" "$(stat -c %s "$P")" \
  "$(stat -c %.9Y "$P")" "$(stat -c %.9Z "$P")" >"$STAMP"
"$UREG" pull "acme/hello@$D1" -o "$WORK/repaired2" 2>/dev/null || fail "pull after a reboot"
cmp -s "$K1" "$WORK/repaired2" || fail "a stamp of another boot was trusted"
# -o where nothing can be written: one line naming the path, no temp file
mkdir "$WORK/ro" && chmod 0555 "$WORK/ro"
if [ "$(id -u)" != 0 ]; then
  if "$UREG" pull "acme/hello@$D1" -o "$WORK/ro/boot" >"$WORK/ro.out" 2>&1; then fail "pull -o into a read-only directory"; fi
  grep -q "cannot write \"$WORK/ro/boot\"" "$WORK/ro.out" || fail "pull -o error: $(cat "$WORK/ro.out")"
fi
if "$UREG" pull "acme/hello@$D1" -o "$WORK/missing/boot" >"$WORK/ro.out" 2>&1; then fail "pull -o into a missing directory"; fi
grep -q "cannot write \"$WORK/missing/boot\"" "$WORK/ro.out" || fail "pull -o error: $(cat "$WORK/ro.out")"
[ -z "$(ls -A "$WORK/ro")" ] || fail "pull -o left files behind"
kill "$PID"; wait "$PID" 2>/dev/null || true; PID=
P=$("$UREG" pull "acme/hello@$D1" --print-path) || fail "cached pull by digest needed the server"
boot "$P" | grep -q v1 || fail "cached image does not boot"
# damaged with no server to repair it from: an error, never the bad bytes
damage "$P"
if "$UREG" pull "acme/hello@$D1" -o "$WORK/bad" >"$WORK/bad.out" 2>&1; then fail "a damaged cached layer was served offline"; fi
[ ! -e "$WORK/bad" ] || fail "damaged bytes written to -o"
[ ! -e "$P" ] || fail "the damaged cached layer was kept"
echo "images.sh: all checks passed"
