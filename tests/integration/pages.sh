#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# The HTML pages: / lists the repositories with links, /-/NAME shows a
# source package (versions, signer, a yank) or an image (versions, each
# channel and its history); text from the index comes out escaped; an
# unknown name is 404, an invalid one 400, POST 405; with --private a
# request without a token gets 401 like any other read.
. "$(dirname "$0")/../support/harness.sh"
fail() { echo "FAIL: $*" >&2; [ -f "$WORK/server.log" ] && tail -20 "$WORK/server.log" >&2; exit 1; }

export XDG_CONFIG_HOME=$WORK/config XDG_CACHE_HOME=$WORK/cache UREG_KDF_LIMITS=min
unset UREG_TOKEN UREG_KEY
start_server
export UREG_REGISTRY=$URL
"$UREG" token create --root "$WORK/root" --scope push:acme | "$UREG" login "$URL" >/dev/null
"$UREG" keygen --no-passphrase >/dev/null || fail "keygen"
KEYID=$(sed -n 's/.*minisign public key \([0-9A-F]*\).*/\1/p' "$XDG_CONFIG_HOME/ureg/ureg.pub")
[ -n "$KEYID" ] || fail "no key id in ureg.pub"

# a source package, 0.1.0 yanked, whose description holds markup
mkdir -p "$WORK/pkg/src"
echo 'let () = print_endline "hi"' >"$WORK/pkg/src/main.ml"
"$UREG" init --name acme/lib "$WORK/pkg" >/dev/null || fail "init"
python3 - "$WORK/pkg/ureg.json" <<'PY' || fail "edit ureg.json"
import json, sys
doc = json.load(open(sys.argv[1]))
doc["description"] = "<script>alert(\"x\")</script> & 'q'"
doc["targets"] = ["hvt", "unix"]
json.dump(doc, open(sys.argv[1], "w"))
PY
"$UREG" publish "$WORK/pkg" >/dev/null || fail "publish 0.1.0"
sed -i 's/"version": *"0.1.0"/"version": "0.2.0"/' "$WORK/pkg/ureg.json"
"$UREG" publish "$WORK/pkg" >/dev/null || fail "publish 0.2.0"
"$UREG" yank acme/lib@0.1.0 >/dev/null || fail "yank"

# an image whose production channel moved twice
head -c 4096 /dev/urandom >"$WORK/app1"
head -c 4096 /dev/urandom >"$WORK/app2"
"$UREG" push-image "$WORK/app1" --target qemu --name acme/app --version 1.0.0 >"$WORK/push1" || fail "push 1.0.0"
"$UREG" push-image "$WORK/app2" --target qemu --name acme/app --version 1.1.0 >"$WORK/push2" || fail "push 1.1.0"
D1=$(sed -n 's/^release *\(sha256:[0-9a-f]*\).*/\1/p' "$WORK/push1")
D2=$(sed -n 's/^release *\(sha256:[0-9a-f]*\).*/\1/p' "$WORK/push2")
[ -n "$D1" ] && [ -n "$D2" ] || fail "no release digests"
"$UREG" promote acme/app@1.0.0 production >/dev/null || fail "promote 1.0.0"
"$UREG" promote acme/app@1.1.0 production >/dev/null || fail "promote 1.1.0"

# get PATH [CURL ARGS...]: the status; headers in $WORK/head, body in $WORK/body
get() { local p=$1; shift; curl -s -o "$WORK/body" -D "$WORK/head" -w '%{http_code}' "$@" "$URL$p"; }
# head PATH: "STATUS BODY-BYTES" of a HEAD request; headers in $WORK/head
head_() { curl -s -I -o /dev/null -D "$WORK/head" -w '%{http_code} %{size_download}' "$URL$1"; }
html() { grep -qi '^content-type: text/html; charset=utf-8' "$WORK/head" || fail "$1: not HTML: $(cat "$WORK/head")"; }
has() { grep -qF -- "$2" "$WORK/body" || fail "$1: no '$2' in: $(cat "$WORK/body")"; }
has_re() { grep -Eq -- "$2" "$WORK/body" || fail "$1: nothing matches '$2' in: $(cat "$WORK/body")"; }
TIME='[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z'

# the front page: version, how to use it, both repositories with links
[ "$(get /)" = 200 ] || fail "GET /: $(cat "$WORK/body")"
html /
grep -qi '^cache-control: no-cache' "$WORK/head" || fail "/: no Cache-Control: no-cache"
has / '<a href="/">ureg</a> 0.1.0'
has / '<code>ureg pull NAME@CHANNEL</code>'
has / '<code>/v2/</code>'
has / '<tr><td><a href="/-/acme/lib">acme/lib</a></td><td>source package</td><td>2</td></tr>'
has / '<tr><td><a href="/-/acme/app">acme/app</a></td><td>image</td><td>2</td></tr>'
grep -qi '<script' "$WORK/body" && fail "/: a script tag"
[ "$(head_ /)" = "200 0" ] || fail "HEAD /: $(head_ /)"
html "HEAD /"
grep -qi '^content-length: [1-9]' "$WORK/head" || fail "HEAD /: $(cat "$WORK/head")"

# the package page: versions, signer, the yank; the description escaped
[ "$(get /-/acme/lib)" = 200 ] || fail "GET /-/acme/lib: $(cat "$WORK/body")"
html /-/acme/lib
has package '<h1>acme/lib</h1>'
has_re package "<tr><td>0\.2\.0</td><td>$TIME</td><td>hvt, unix</td><td>0</td><td><code>$KEYID</code></td><td></td></tr>"
has_re package "<tr><td>0\.1\.0</td><td>$TIME</td>.*<code>$KEYID</code></td><td class=\"yanked\">yanked</td></tr>"
has package '&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#39;q&#39;'
grep -qi '<script' "$WORK/body" && fail "package: the description came out as markup"
has package '<a href="/ureg/v1/index/acme/lib">'

# the image page: the channel, where it points, its history; the versions
[ "$(get /-/acme/app)" = 200 ] || fail "GET /-/acme/app: $(cat "$WORK/body")"
html /-/acme/app
has image '<h3>production</h3>'
has image "at <strong>1.1.0</strong> <code title=\"$D2\">$D2</code>"
has_re image "<tr><td>$TIME</td><td>token [0-9a-f]{12}</td><td>promote</td><td><code title=\"$D1\">${D1:0:19}</code></td><td><code title=\"$D2\">${D2:0:19}</code></td><td>1\.1\.0</td></tr>"
has_re image "<tr><td>$TIME</td><td>token [0-9a-f]{12}</td><td>promote</td><td></td><td><code title=\"$D1\">${D1:0:19}</code></td><td>1\.0\.0</td></tr>"
has_re image "<tr><td>1\.1\.0</td><td>$TIME</td><td>qemu</td><td><code title=\"$D2\">$D2</code></td><td><code>$KEYID</code></td></tr>"
has_re image "<tr><td>1\.0\.0</td><td>$TIME</td><td>qemu</td><td><code title=\"$D1\">$D1</code></td>"
[ "$(head_ /-/acme/app)" = "200 0" ] || fail "HEAD /-/acme/app: $(head_ /-/acme/app)"

# refusals, as HTML
[ "$(get /-/acme/nothing)" = 404 ] || fail "unknown repository: $(cat "$WORK/body")"
html 404
has 404 '&quot;acme/nothing&quot;'
[ "$(get '/-/Acme%3Cb%3E')" = 400 ] || fail "invalid name: $(cat "$WORK/body")"
html 400
has 400 '&quot;Acme&lt;b&gt;&quot;'
[ "$(get / -X POST)" = 405 ] || fail "POST /"
grep -qi '^allow: GET, HEAD' "$WORK/head" || fail "405 without Allow: $(cat "$WORK/head")"
[ "$(get /-/acme/lib -X DELETE)" = 405 ] || fail "DELETE /-/acme/lib"

# --private: no token, 401; a token that may pull the repository, 200;
# the front page lists only what the token may pull
kill "$PID"; wait "$PID" 2>/dev/null || true; PID=
start_server --private
PUSH=$("$UREG" token create --root "$WORK/root" --scope push:acme)
ALL=$("$UREG" token create --root "$WORK/root" --scope 'pull:*')
[ "$(get /)" = 401 ] || fail "private /: $(cat "$WORK/body")"
[ "$(get /-/acme/lib)" = 401 ] || fail "private /-/acme/lib"
[ "$(get /-/acme/nothing)" = 401 ] || fail "private unknown repository"
[ "$(get /-/acme/lib -H "Authorization: Bearer $PUSH")" = 200 ] || fail "private with a token: $(cat "$WORK/body")"
has "private package" '<h1>acme/lib</h1>'
OTHER=$("$UREG" token create --root "$WORK/root" --scope pull:other)
[ "$(get / -H "Authorization: Bearer $PUSH")" = 200 ] || fail "private / with push:acme: $(cat "$WORK/body")"
has "private / for acme" 'href="/-/acme/lib"'
[ "$(get / -H "Authorization: Bearer $OTHER")" = 200 ] || fail "private / with pull:other: $(cat "$WORK/body")"
has "private / for other" 'None this token may read.'
grep -q 'acme/' "$WORK/body" && fail "private / shows acme to a pull:other token: $(cat "$WORK/body")"
[ "$(get / -H "Authorization: Bearer ureg_$(printf '0%.0s' $(seq 64))")" = 401 ] || fail "private / with an unknown token"
[ "$(get / -u "any:$ALL")" = 200 ] || fail "private / with pull:*: $(cat "$WORK/body")"
has "private /" 'href="/-/acme/app"'
echo "pages.sh: all checks passed"
