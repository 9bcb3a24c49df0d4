#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# `ureg fetch` against the real server: publish a small universe, lock,
# fetch (trees equal the sources), fetch again (no request), --locked;
# tampered blobs in the server's store refused by package; a tampered cache
# detected and repaired; a moved version tag ignored (the lock pins
# digests); hostile tarballs pushed by hand and signed refused with nothing
# written outside --dest; finally offline fetches with the server gone.
. "$(dirname "$0")/../support/harness.sh"
SRC=${UREG_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
# the interpreter itself, not a version-manager shim (those take a second)
PY=$(python3 -c 'import sys; print(sys.executable)')
PUSH="$PY $SRC/tests/support/ureg_push.py"
jget() { "$PY" -c 'import json,sys; d=json.load(open(sys.argv[1]))
for k in sys.argv[2].split("."): d=d[k]
print(d)' "$1" "$2"; }
blob_path() { echo "$1/blobs/sha256/${2:7:2}/${2:7}"; }
requests() { grep -c '^[A-Z]* /' "$WORK/server.log" || true; }

export XDG_CONFIG_HOME=$WORK/config XDG_CACHE_HOME=$WORK/cache UREG_KDF_LIMITS=min
unset UREG_TOKEN UREG_REGISTRY UREG_KEY
start_server
export UREG_REGISTRY=$URL
TOKEN=$("$UREG" token create --root "$WORK/root" --scope push:acme)
echo "$TOKEN" | "$UREG" login "$URL" >/dev/null
"$UREG" keygen --no-passphrase >/dev/null
KEYID=$(sed -n 's/.*minisign public key \([0-9A-F]*\).*/\1/p' "$XDG_CONFIG_HOME/ureg/ureg.pub")
$PUSH tree-selftest >/dev/null || fail "ureg_push.py tree digests"

# publish NAME VERSION TARGETS DEPS TARGET-DEPS [BIG-FILE-BYTES]
publish() {
  local dir="$WORK/src/$1-$2"
  mkdir -p "$dir/src/sub"
  echo "$1 $2" >"$dir/README"
  echo "let v = \"$2\"" >"$dir/src/main.ml"
  head -c 3000 /dev/urandom >"$dir/src/sub/blob.bin"
  printf '#!/bin/sh\necho %s\n' "$1" >"$dir/run.sh"; chmod +x "$dir/run.sh"
  [ -z "${6:-}" ] || head -c "$6" /dev/urandom >"$dir/src/big.bin"
  cat >"$dir/ureg.json" <<JSON
{"name": "$1", "version": "$2", "targets": $3, "dependencies": $4,
 "target-dependencies": $5, "registry": "$URL"}
JSON
  "$UREG" publish "$dir" >/dev/null || fail "publish $1 $2"
}
publish acme/base 1.0.0 '["unix","hvt"]' '{}' '{}'
publish acme/net 1.0.0 '["unix","hvt"]' '{"acme/base":"^1.0"}' '{}'
publish acme/web 1.0.0 '["unix","hvt"]' '{"acme/net":"^1.0"}' '{}'
# over 8 MiB: hashed by a thread of its own while it downloads
publish acme/unixy 1.0.0 '["unix"]' '{}' '{}' $((9 << 20))
APP=$WORK/app
mkdir -p "$APP"
cat >"$APP/ureg.json" <<JSON
{"name": "acme/app", "version": "0.1.0", "targets": ["unix", "hvt"],
 "dependencies": {"acme/web": "^1.0"},
 "target-dependencies": {"unix": {"acme/unixy": "^1.0"}}, "registry": "$URL"}
JSON
"$UREG" lock "$APP" >/dev/null 2>&1 || fail "ureg lock"
LOCK=$APP/ureg.lock
PKGS="acme/base acme/net acme/web acme/unixy"
same_trees() { # DEST: every package tree equals its source
  for p in $PKGS; do
    diff -r "$WORK/src/${p}-1.0.0" "$1/$p" >/dev/null || fail "$1/$p differs from its source"
    [ -x "$1/$p/run.sh" ] || fail "$1/$p/run.sh lost its execute bit"
  done
}

# --- first fetch: everything downloaded, verified, extracted ----------------
(cd "$APP" && "$UREG" fetch --json >"$WORK/f1.json" 2>"$WORK/f1.err") || fail "fetch: $(cat "$WORK/f1.err")"
[ "$(jget "$WORK/f1.json" downloaded)" = 4 ] || fail "first fetch: $(cat "$WORK/f1.json")"
[ "$(jget "$WORK/f1.json" extracted)" = 4 ] || fail "first fetch: $(cat "$WORK/f1.json")"
[ "$(jget "$WORK/f1.json" keys_learned)" = 1 ] || fail "first fetch learned no key"
grep -q "^$KEYID " "$XDG_CONFIG_HOME/ureg/known_keys" || fail "known_keys lacks $KEYID"
grep -q "first use" "$WORK/f1.err" || fail "first-use trust not shown"
same_trees "$APP/deps"
[ -z "$(find "$APP/deps" -name '.*.tmp-*' -o -name '.*.old-*')" ] || fail "temp dirs left in deps"

# --- again: nothing to do, not one request ----------------------------------
before=$(requests)
(cd "$APP" && "$UREG" fetch --json >"$WORK/f2.json") || fail "second fetch"
[ "$(jget "$WORK/f2.json" up_to_date)" = 4 ] || fail "second fetch: $(cat "$WORK/f2.json")"
[ "$(requests)" = "$before" ] || fail "a no-op fetch sent requests"
# one tree removed: it alone comes back, from the cache, still no request
rm -rf "$APP/deps/acme/net"
(cd "$APP" && "$UREG" fetch --json >"$WORK/f3.json") || fail "refetch of one tree"
[ "$(jget "$WORK/f3.json" from_cache)" = 1 ] || fail "one tree: $(cat "$WORK/f3.json")"
[ "$(requests)" = "$before" ] || fail "a fetch from the cache sent requests"
same_trees "$APP/deps"
# a crash while a tree was being replaced leaves no state line for it (and
# no "lock" line): the tree is replaced
sed -i '/^lock /d; / acme\/web$/d' "$APP/deps/.ureg/state"; echo junk >"$APP/deps/acme/web/README"
(cd "$APP" && "$UREG" fetch >/dev/null) || fail "fetch over a changed tree"
same_trees "$APP/deps"
# the no-op proof is each tree directory's stamp (inode, mtime, ctime) in
# the state: a tree changed at its top level or replaced by a copy is
# noticed by the next fetch (the state and lock untouched) and repaired
# from the cache without a request
before=$(requests)
echo extra >"$APP/deps/acme/net/EXTRA"
(cd "$APP" && "$UREG" fetch --json >"$WORK/f5.json") || fail "fetch over a tree with an extra file"
[ "$(jget "$WORK/f5.json" extracted)" = 1 ] || fail "extra file not noticed: $(cat "$WORK/f5.json")"
[ ! -e "$APP/deps/acme/net/EXTRA" ] || fail "extra file survived the repair"
rm "$APP/deps/acme/base/README"
(cd "$APP" && "$UREG" fetch --json >"$WORK/f6.json") || fail "fetch over a tree with a missing file"
[ "$(jget "$WORK/f6.json" extracted)" = 1 ] || fail "missing file not noticed: $(cat "$WORK/f6.json")"
cp -a "$APP/deps/acme/web" "$WORK/web-copy"; echo junk >"$WORK/web-copy/README"
rm -rf "$APP/deps/acme/web"; mv "$WORK/web-copy" "$APP/deps/acme/web"
(cd "$APP" && "$UREG" fetch --json >"$WORK/f7.json") || fail "fetch over a replaced tree"
[ "$(jget "$WORK/f7.json" extracted)" = 1 ] || fail "replaced tree not noticed: $(cat "$WORK/f7.json")"
same_trees "$APP/deps"
[ "$(requests)" = "$before" ] || fail "repairs from the cache sent requests"
(cd "$APP" && "$UREG" fetch --json >"$WORK/f8.json") || fail "no-op after repairs"
[ "$(jget "$WORK/f8.json" up_to_date)" = 4 ] || fail "no-op after repairs: $(cat "$WORK/f8.json")"
# a file edited in place keeps the tree's stamp: a plain fetch trusts the
# tree (as cargo's .cargo-ok does); --verify re-hashes every tree and
# extracts the edited one again, from the cache
echo edited >>"$APP/deps/acme/base/README"
(cd "$APP" && "$UREG" fetch --json >"$WORK/f9.json") || fail "fetch over an edited file"
[ "$(jget "$WORK/f9.json" up_to_date)" = 4 ] || fail "plain fetch after an edit: $(cat "$WORK/f9.json")"
(cd "$APP" && "$UREG" fetch --verify --json >"$WORK/f10.json") || fail "fetch --verify"
[ "$(jget "$WORK/f10.json" extracted)" = 1 ] || fail "--verify missed the edit: $(cat "$WORK/f10.json")"
[ "$(jget "$WORK/f10.json" up_to_date)" = 3 ] || fail "--verify: $(cat "$WORK/f10.json")"
grep -q edited "$APP/deps/acme/base/README" && fail "--verify left the edit"
same_trees "$APP/deps"
(cd "$APP" && "$UREG" fetch --verify --json >"$WORK/f11.json") || fail "fetch --verify again"
[ "$(jget "$WORK/f11.json" up_to_date)" = 4 ] || fail "--verify of intact trees: $(cat "$WORK/f11.json")"
[ "$(requests)" = "$before" ] || fail "--verify sent requests"

# --- --locked ----------------------------------------------------------------
(cd "$APP" && "$UREG" fetch --locked >/dev/null) || fail "--locked on a fresh lock"
cp "$APP/ureg.json" "$WORK/ureg.json.orig"
sed -i 's/"0.1.0"/"0.1.1"/' "$APP/ureg.json"
if (cd "$APP" && "$UREG" fetch --locked >/dev/null 2>"$WORK/locked.err"); then fail "--locked ran with a changed ureg.json"; fi
grep -q "changed" "$WORK/locked.err" || fail "--locked message: $(cat "$WORK/locked.err")"
(cd "$APP" && "$UREG" fetch >/dev/null) || fail "fetch without --locked"
cp "$WORK/ureg.json.orig" "$APP/ureg.json"

# --- the server's store tampered with: refused, naming package and digests --
WEB_LAYER=$(jget "$LOCK" 'packages.acme/web.layer')
WEB_CONFIG=$(jget "$LOCK" 'packages.acme/web.config')
WEB_MANIFEST=$(jget "$LOCK" 'packages.acme/web.manifest')
curl -sf "$URL/v2/acme/web/referrers/$WEB_MANIFEST" >"$WORK/refs.json"
curl -sf -H 'Accept: application/vnd.oci.image.manifest.v1+json' \
  "$URL/v2/acme/web/manifests/$("$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["manifests"][0]["digest"])' "$WORK/refs.json")" >"$WORK/sigman.json"
WEB_SIG=$(jget "$WORK/sigman.json" layers.0.digest 2>/dev/null || "$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["layers"][0]["digest"])' "$WORK/sigman.json")
for kind in layer config manifest signature; do
  case $kind in
    layer) d=$WEB_LAYER ;; config) d=$WEB_CONFIG ;;
    manifest) d=$WEB_MANIFEST ;; signature) d=$WEB_SIG ;;
  esac
  f=$(blob_path "$WORK/root" "$d")
  [ -f "$f" ] || fail "no $kind blob at $f"
  cp "$f" "$WORK/saved"
  # same size, one byte changed
  "$PY" -c 'import sys; p=sys.argv[1]; b=bytearray(open(p,"rb").read()); i=len(b)//2
b[i]=(b[i]+1)%256
if sys.argv[2]=="signature": b=bytes(b).replace(b"trusted comment: ureg", b"trusted comment: UREG")
open(p,"wb").write(b)' "$f" "$kind"
  export XDG_CACHE_HOME=$WORK/cache-tamper-$kind
  if (cd "$APP" && "$UREG" fetch --dest "$WORK/dest-tamper-$kind" >/dev/null 2>"$WORK/tamper.err"); then
    fail "fetch accepted a tampered $kind"
  fi
  grep -q "acme/web 1.0.0" "$WORK/tamper.err" || fail "$kind tamper message names no package: $(cat "$WORK/tamper.err")"
  if [ "$kind" != signature ]; then
    grep -q "expected $d, received sha256:" "$WORK/tamper.err" || fail "$kind tamper message lacks the digests: $(cat "$WORK/tamper.err")"
  else
    grep -qi "signature" "$WORK/tamper.err" || fail "signature tamper message: $(cat "$WORK/tamper.err")"
  fi
  [ ! -e "$WORK/dest-tamper-$kind/acme/web" ] || fail "tampered $kind: acme/web extracted"
  for x in "$WEB_LAYER" "$WEB_CONFIG" "$WEB_MANIFEST"; do
    [ ! -e "$(blob_path "$XDG_CACHE_HOME/ureg" "$x")" ] || fail "tampered $kind: acme/web blob $x entered the cache"
  done
  [ ! -e "$XDG_CACHE_HOME/ureg/signatures/${WEB_MANIFEST:7}.minisig" ] || fail "tampered $kind: signature cached"
  [ -z "$(ls -A "$XDG_CACHE_HOME/ureg/tmp")" ] || fail "tampered $kind: temp files left in the cache"
  cp "$WORK/saved" "$f"
  export XDG_CACHE_HOME=$WORK/cache
done

# --- the cache tampered with: detected, fetched again ------------------------
NET_LAYER=$(jget "$LOCK" 'packages.acme/net.layer')
BASE_CONFIG=$(jget "$LOCK" 'packages.acme/base.config')
UNIXY_MANIFEST=$(jget "$LOCK" 'packages.acme/unixy.manifest')
"$PY" -c 'import sys; p=sys.argv[1]; b=bytearray(open(p,"rb").read()); b[len(b)//2]^=0x55; open(p,"wb").write(b)' \
  "$(blob_path "$XDG_CACHE_HOME/ureg" "$NET_LAYER")"
truncate -s 10 "$(blob_path "$XDG_CACHE_HOME/ureg" "$BASE_CONFIG")"
echo garbage >"$XDG_CACHE_HOME/ureg/signatures/${UNIXY_MANIFEST:7}.minisig"
rm -rf "$APP/deps"
(cd "$APP" && "$UREG" fetch --json >"$WORK/f4.json" 2>"$WORK/f4.err") || fail "fetch over a damaged cache: $(cat "$WORK/f4.err")"
[ "$(jget "$WORK/f4.json" repaired)" = 3 ] || fail "damaged cache: $(cat "$WORK/f4.json")"
[ "$(jget "$WORK/f4.json" downloaded)" = 3 ] || fail "damaged cache: $(cat "$WORK/f4.json")"
same_trees "$APP/deps"
[ "$(sha256sum <"$(blob_path "$XDG_CACHE_HOME/ureg" "$NET_LAYER")" | cut -c1-64)" = "${NET_LAYER:7}" ] || fail "cached layer not repaired"

# --- a version tag moved on the server: the lock's digests win --------------
# The API refuses to move a published version's tag; a compromised registry
# could still do it in its database.
publish acme/web 1.1.0 '["unix","hvt"]' '{"acme/net":"^1.0"}' '{}'
NEW=$(curl -sf -o /dev/null -D - -H 'Accept: application/vnd.oci.image.manifest.v1+json' \
  "$URL/v2/acme/web/manifests/1.1.0" | sed -n 's/^[Dd]ocker-[Cc]ontent-[Dd]igest: *\([^[:space:]]*\).*/\1/p')
[ -n "$NEW" ] || fail "no digest for acme/web 1.1.0"
sqlite3 "$WORK/root/index.db" "UPDATE tags SET digest='$NEW' WHERE name='1.0.0' AND repo_id=(SELECT id FROM repositories WHERE name='acme/web')"
MOVED=$(curl -sf -o /dev/null -D - -H 'Accept: application/vnd.oci.image.manifest.v1+json' \
  "$URL/v2/acme/web/manifests/1.0.0" | sed -n 's/^[Dd]ocker-[Cc]ontent-[Dd]igest: *\([^[:space:]]*\).*/\1/p')
[ "$MOVED" = "$NEW" ] || fail "the tag did not move ($MOVED)"
export XDG_CACHE_HOME=$WORK/cache-moved
(cd "$APP" && "$UREG" fetch --dest "$WORK/dest-moved" >/dev/null 2>"$WORK/moved.err") || fail "fetch after the tag moved: $(cat "$WORK/moved.err")"
same_trees "$WORK/dest-moved"
grep -q '"1.0.0"' "$WORK/dest-moved/acme/web/src/main.ml" || fail "moved tag: got other content"
sqlite3 "$WORK/root/index.db" "UPDATE tags SET digest='$WEB_MANIFEST' WHERE name='1.0.0' AND repo_id=(SELECT id FROM repositories WHERE name='acme/web')"
# --registry wins over the registry the lock names (here one that is down)
mkdir -p "$WORK/elsewhere"
sed "s#\"registry\": \"$URL\"#\"registry\": \"http://127.0.0.1:9\"#" "$LOCK" >"$WORK/elsewhere/ureg.lock"
grep -q '127.0.0.1:9"' "$WORK/elsewhere/ureg.lock" || fail "lock registry not rewritten"
export XDG_CACHE_HOME=$WORK/cache-elsewhere
"$UREG" fetch --lock "$WORK/elsewhere/ureg.lock" --registry "$URL" >/dev/null 2>"$WORK/elsewhere.err" || fail "--registry: $(cat "$WORK/elsewhere.err")"
same_trees "$WORK/elsewhere/deps"
export XDG_CACHE_HOME=$WORK/cache

# --- hostile tarballs, signed, pushed by digest: the archive policy refuses --
EVIL_ABS=/tmp/ureg-fetch-evil-$$
"$PY" - "$WORK/evil" "$EVIL_ABS" <<'PY'
import io, os, struct, sys, tarfile, zlib
out, evil_abs = sys.argv[1], sys.argv[2]
os.makedirs(out, exist_ok=True)
def tgz(name, members):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as t:
        for info, data in members:
            t.addfile(info, io.BytesIO(data) if data is not None else None)
    open(os.path.join(out, name), "wb").write(buf.getvalue())
def f(name, data=b"x\n"):
    i = tarfile.TarInfo(name); i.size = len(data); return i, data
def special(name, kind, target=""):
    i = tarfile.TarInfo(name); i.type = kind; i.linkname = target
    if kind == tarfile.CHRTYPE: i.devmajor, i.devminor = 1, 3
    return i, None
tgz("traversal", [f("ok.txt"), f("../escaped.txt")])
tgz("deep-traversal", [f("a/b/../../../escaped.txt")])
tgz("absolute", [f(evil_abs + "/abs.txt")])
tgz("symlink", [special("link", tarfile.SYMTYPE, "../.."), f("link/escaped.txt")])
tgz("hardlink", [f("a.txt"), special("h", tarfile.LNKTYPE, "../../etc/passwd")])
tgz("device", [special("null", tarfile.CHRTYPE)])
tgz("fifo", [special("pipe", tarfile.FIFOTYPE)])
tgz("duplicate", [f("a.txt", b"one\n"), f("./a.txt", b"two\n")])
# gzip bomb: a 3 GiB file of zeros in 3 MiB (1000:1). After a full flush
# deflate restarts, so each 1 MiB of zeros compresses to the same bytes:
# compress one, repeat it, and write the trailer (crc, size) by hand.
with open(os.path.join(out, "gzip-bomb"), "wb") as o:
    i = tarfile.TarInfo("zeros"); i.size = 3 << 30
    hdr, chunk = i.tobuf(format=tarfile.GNU_FORMAT), bytes(1 << 20)
    z = zlib.compressobj(9, zlib.DEFLATED, 31)
    o.write(z.compress(hdr) + z.flush(zlib.Z_FULL_FLUSH))
    block = z.compress(chunk) + z.flush(zlib.Z_FULL_FLUSH)
    assert block == z.compress(chunk) + z.flush(zlib.Z_FULL_FLUSH)
    crc = zlib.crc32(hdr)
    for _ in range(3 << 10):
        o.write(block)
        crc = zlib.crc32(chunk, crc)
    end = z.compress(bytes(1024)) + z.flush()
    crc = zlib.crc32(bytes(1024), crc)
    o.write(end[:-8] + struct.pack("<II", crc, (len(hdr) + (3 << 30) + 1024) & 0xffffffff))
# a million entries: ustar headers written by hand (tarfile is slow)
with open(os.path.join(out, "million"), "wb") as o:
    z = zlib.compressobj(1, zlib.DEFLATED, 31)
    base = tarfile.TarInfo("f0000000"); base.size = 0
    tmpl = bytearray(base.tobuf(format=tarfile.USTAR_FORMAT))
    tmpl[148:156] = b"        "
    rest = sum(tmpl) - sum(tmpl[0:8])  # the checksum without the name
    parts = []
    for n in range(1000000):
        name = b"f%07d" % n
        h = bytearray(tmpl)
        h[0:8] = name
        h[148:156] = b"%06o\0 " % (rest + sum(name))
        parts.append(bytes(h))
        if len(parts) == 4096:
            o.write(z.compress(b"".join(parts))); parts = []
    o.write(z.compress(b"".join(parts) + bytes(1024)))
    o.write(z.flush())
PY
[ -s "$WORK/evil/million" ] || fail "hostile tarballs not generated"
EMPTY_TREE=sha256:ac23629907655f76e60088121aeb43eccdfc9bb5d07564f39393dc2c600af7a1
for evil in traversal deep-traversal absolute symlink hardlink device fifo duplicate gzip-bomb million; do
  H=$WORK/h-$evil
  mkdir -p "$H"
  $PUSH package --registry "$URL" --token "$TOKEN" --key "$XDG_CONFIG_HOME/ureg/ureg.key" \
    --name "acme/evil-$evil" --layer "$WORK/evil/$evil" --tree "$EMPTY_TREE" --lock "$H/ureg.lock" >/dev/null \
    || fail "push of hostile $evil"
  if "$UREG" fetch --lock "$H/ureg.lock" --dest "$H/dest" >/dev/null 2>"$H/err"; then
    fail "hostile $evil was extracted"
  fi
  grep -q "acme/evil-$evil 1.0.0" "$H/err" || fail "hostile $evil: message names no package: $(cat "$H/err")"
  grep -qi "symlink\|hard link\|\.\.\|absolute\|special\|device\|fifo\|twice\|duplicate\|entries\|limit\|larger\|too\|bytes" "$H/err" \
    || fail "hostile $evil: message gives no reason: $(cat "$H/err")"
  # nothing outside --dest, and nothing left inside it but empty directories
  [ -z "$(find "$H" -mindepth 1 -maxdepth 1 ! -name dest ! -name ureg.lock ! -name err)" ] || fail "hostile $evil wrote outside --dest: $(ls -A "$H")"
  [ -z "$(find "$H/dest" ! -type d)" ] || fail "hostile $evil left files in --dest: $(find "$H/dest" ! -type d)"
  [ ! -e "$H/dest/acme/evil-$evil" ] || fail "hostile $evil: tree in place"
  [ ! -e "$WORK/escaped.txt" ] && [ ! -e "$EVIL_ABS" ] && [ ! -e "$WORK/h-escaped.txt" ] || fail "hostile $evil escaped"
  rm -rf "$H/dest"
done
# again, now that the (verified) hostile layer is in the cache: re-hashed,
# found intact, and the archive's refusal stands
if "$UREG" fetch --lock "$WORK/h-traversal/ureg.lock" --dest "$WORK/h-traversal/dest" --json >"$WORK/h2.json" 2>"$WORK/h2.err"; then
  fail "cached hostile layer extracted"
fi
grep -q 'acme/evil-traversal 1.0.0: archive entry "../escaped.txt"' "$WORK/h2.err" || fail "cached hostile: $(cat "$WORK/h2.err")"
[ ! -e "$WORK/escaped.txt" ] || fail "cached hostile escaped"
# --- signatures that do not hold: another key, another trusted comment -----
"$UREG" keygen --no-passphrase --output "$WORK/other" >/dev/null
TREE=$("$PY" -c 'import sys; sys.path.insert(0, sys.argv[1]); import ureg_push as u
files = {"a.txt": (b"hi\n", False)}
open(sys.argv[2], "wb").write(u.tar_gz(files)); print(u.tree_digest(files))' "$SRC/tests/support" "$WORK/benign.tgz")
for sig in good other-key comment; do
  H=$WORK/s-$sig
  mkdir -p "$H"
  extra=()
  [ $sig = other-key ] && extra=(--sign-key "$WORK/other.key")
  [ $sig = comment ] && extra=(--comment "ureg acme/sig-$sig 9.9.9 sha256:0000")
  $PUSH package --registry "$URL" --token "$TOKEN" --key "$XDG_CONFIG_HOME/ureg/ureg.key" \
    --name "acme/sig-$sig" --layer "$WORK/benign.tgz" --tree "$TREE" --lock "$H/ureg.lock" "${extra[@]}" >/dev/null \
    || fail "push of acme/sig-$sig"
  if "$UREG" fetch --lock "$H/ureg.lock" --dest "$H/dest" >/dev/null 2>"$H/err"; then
    [ $sig = good ] || fail "a bad signature ($sig) was accepted"
    [ "$(cat "$H/dest/acme/sig-good/a.txt")" = hi ] || fail "signed control package content"
  else
    [ $sig != good ] || fail "the control package was refused: $(cat "$H/err")"
    grep -q "acme/sig-$sig 1.0.0: .*signature" "$H/err" || fail "$sig: message: $(cat "$H/err")"
    [ ! -e "$H/dest/acme/sig-$sig" ] || fail "$sig: extracted anyway"
  fi
done
grep -q "is for \"ureg acme/sig-comment 9.9.9" "$WORK/s-comment/err" || fail "comment message: $(cat "$WORK/s-comment/err")"

# --- the server gone: offline from the cache ----------------------------------
kill "$PID"; wait "$PID" 2>/dev/null || true; PID=
rm -rf "$APP/deps"
(cd "$APP" && "$UREG" fetch --offline --json >"$WORK/f5.json" 2>"$WORK/f5.err") || fail "offline fetch: $(cat "$WORK/f5.err")"
[ "$(jget "$WORK/f5.json" from_cache)" = 4 ] || fail "offline: $(cat "$WORK/f5.json")"
[ "$(jget "$WORK/f5.json" requests)" = 0 ] || fail "offline: $(cat "$WORK/f5.json")"
same_trees "$APP/deps"
# not even --offline needs the network when the cache has it all
rm -rf "$APP/deps"
(cd "$APP" && "$UREG" fetch >/dev/null 2>&1) || fail "fetch from the cache with the server down"
same_trees "$APP/deps"
# an empty cache offline: the message names what is missing
if (cd "$APP" && XDG_CACHE_HOME=$WORK/empty-cache "$UREG" fetch --offline --dest "$WORK/dest-empty" >/dev/null 2>"$WORK/off.err"); then
  fail "offline fetch with an empty cache succeeded"
fi
grep -q "offline" "$WORK/off.err" && grep -q "acme/base 1.0.0" "$WORK/off.err" || fail "offline message: $(cat "$WORK/off.err")"
# online with the server down: a plain error naming the registry
if (cd "$APP" && XDG_CACHE_HOME=$WORK/empty-cache "$UREG" fetch --dest "$WORK/dest-empty" >/dev/null 2>"$WORK/down.err"); then
  fail "fetch with the server down and an empty cache succeeded"
fi
grep -q "127.0.0.1" "$WORK/down.err" || fail "server-down message: $(cat "$WORK/down.err")"
echo "fetch.sh: all checks passed"
