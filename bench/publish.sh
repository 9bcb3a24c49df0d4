#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Publish speed: `ureg publish --dry-run` (pack + sign) of a generated
# 10,000-file, 100 MiB tree beside `tar --sort=name ... | gzip -n` of the
# same tree in the same run (target: ratio <= 1.2), then the full publish
# (pack, sign, upload) to `ureg serve` on 127.0.0.1 and a no-op re-publish.
# Usage: bench/publish.sh [ureg].
#
# Knobs (environment): BENCH_RUNS (interleaved rounds, median taken,
# default 5), BENCH_TREE (where the generated tree is kept and reused by
# later runs; default ${TMPDIR:-/tmp}/ureg-bench-publish-tree-v1; the
# generator is seeded, so every run sees the same bytes; delete it to get
# the 100 MiB back), BENCH_PERF=1 (also profile one dry run with perf).
# Whole run on the defaults: about 2.5-3 minutes on 2 cores (plus about 20 s
# the first time, to generate the tree).
set -euo pipefail

UREG=${1:-build/ureg}
RUNS=${BENCH_RUNS:-5}
TREE=${BENCH_TREE:-${TMPDIR:-/tmp}/ureg-bench-publish-tree-v1}
PKG=bench/pkg
FILES=10000
CONTENT_BYTES=$((100 * 1024 * 1024))

die() { echo "bench: $*" >&2; exit 1; }
note() { echo "== $*"; }

[ -x "$UREG" ] || die "no ureg binary at \"$UREG\" (build it, or pass its path)"
UREG=$(cd "$(dirname "$UREG")" && pwd)/$(basename "$UREG")
for tool in python3 tar gzip; do
	command -v "$tool" >/dev/null 2>&1 || die "\"$tool\" is missing"
done
case $RUNS in '' | *[!0-9]*) die "BENCH_RUNS \"$RUNS\" is not a number" ;; esac
[ "$RUNS" -ge 1 ] || die "BENCH_RUNS must be at least 1"

T=$(mktemp -d "${TMPDIR:-/tmp}/ureg-bench-publish.XXXXXX")
PIDS=()
SERVER=
cleanup() {
	local p
	if [ -n "$SERVER" ]; then
		kill "$SERVER" 2>/dev/null || true
		wait "$SERVER" 2>/dev/null || true
	fi
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
	for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
	rm -rf "$T" "$TREE.tmp.$$"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# The whole run is bounded: a watchdog ends it after 5 minutes.
(
	trap 'kill $s 2>/dev/null; exit 0' TERM
	sleep 300 &
	s=$!
	wait $s
	echo "bench: over 5 minutes, giving up" >&2
	kill -TERM $$
) &
PIDS+=($!)

# ureg's temp tarball goes to $T too, so that nothing outlives the run.
export TMPDIR=$T
export LC_ALL=C
unset SOURCE_DATE_EPOCH UREG_TOKEN UREG_REGISTRY

# --- the tree ----------------------------------------------------------------
# 9,999 generated files + ureg.json = 10,000 files, in 510 directories up to
# 3 levels deep. Sizes log-normal (median about 3 KiB, capped at 4 MiB),
# scaled to exactly 100 MiB in all; about two thirds of the files are text
# (slices of a pool of C-like lines, gzip -6 gets them to about a third) and
# a third are random bytes (incompressible, like object files).
gen_tree() { # DEST
	python3 - "$1" "$((FILES - 1))" "$CONTENT_BYTES" <<'EOF'
import os, random, sys

dest, nfiles, total = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
rng = random.Random(20240601)

# directories: root, 10 at level 1, 100 at level 2, 400 at level 3
dirs = [[""], [], [], []]
for a in range(10):
    da = "src%02d" % a
    dirs[1].append(da)
    for b in range(10):
        db = "%s/mod%02d" % (da, b)
        dirs[2].append(db)
        for c in range(4):
            dirs[3].append("%s/part%d" % (db, c))
for level in dirs:
    for d in level:
        os.makedirs(os.path.join(dest, d), exist_ok=True)

# sizes: log-normal, capped, scaled to the total
raw = [min(rng.lognormvariate(8.0, 1.6), 4 << 20) for _ in range(nfiles)]
scale = total / sum(raw)
sizes = [max(1, int(s * scale)) for s in raw]
sizes[-1] += total - sum(sizes)
assert sizes[-1] > 0 and sum(sizes) == total

# the text pool: lines of C-like tokens from a Zipf-ish vocabulary
letters = "abcdefghijklmnopqrstuvwxyz_"
vocab = ["".join(rng.choice(letters) for _ in range(rng.randint(2, 12)))
         for _ in range(3000)]
weights = [1.0 / (i + 1) for i in range(len(vocab))]
punct = [" ", " ", " ", "(", ")", ", ", "; ", " = ", "->", " + ", "[", "]"]
lines, size = [], 0
while size < (4 << 20):
    words = rng.choices(vocab, weights, k=rng.randint(2, 12))
    line = "\t" * rng.randint(0, 3) + "".join(
        w + rng.choice(punct) for w in words) + "\n"
    lines.append(line)
    size += len(line)
pool = "".join(lines).encode()

text_ext = [".c", ".h", ".txt", ".md", ".json"]
bin_ext = [".o", ".bin", ".img"]
for i, n in enumerate(sizes):
    r = rng.random()
    level = 0 if r < 0.01 else 1 if r < 0.05 else 2 if r < 0.30 else 3
    d = rng.choice(dirs[level])
    if rng.random() < 0.65:
        off = rng.randrange(len(pool))
        data = (pool[off:] + pool * (n // len(pool) + 1))[:n]
        name = "f%05d%s" % (i, rng.choice(text_ext))
    else:
        data = rng.randbytes(n)
        name = "f%05d%s" % (i, rng.choice(bin_ext))
    path = os.path.join(dest, d, name)
    with open(path, "wb") as f:
        f.write(data)
    os.chmod(path, 0o755 if rng.random() < 0.02 else 0o644)
for level in dirs:
    for d in level:
        os.chmod(os.path.join(dest, d), 0o755)
EOF
}

tree_ok() { # files and bytes as generated (ureg.json not counted)
	[ -d "$TREE" ] || return 1
	local got
	got=$(find "$TREE" -type f ! -path "$TREE/ureg.json" -printf '%s\n' |
		awk '{n++; s += $1} END {print n + 0, s + 0}')
	[ "$got" = "$((FILES - 1)) $CONTENT_BYTES" ]
}

if ! tree_ok; then
	note "generating the tree in $TREE (seeded; kept for later runs)"
	rm -rf "$TREE" "$TREE.tmp.$$"
	gen_tree "$TREE.tmp.$$"
	mv "$TREE.tmp.$$" "$TREE"
	tree_ok || die "the generated tree in \"$TREE\" is not as expected"
fi
# ureg.json is written afresh each run (its format follows ureg's)
rm -f "$TREE/ureg.json"
"$UREG" init --name "$PKG" "$TREE" >/dev/null
NFILES=$(find "$TREE" -type f | wc -l)
NDIRS=$(find "$TREE" -mindepth 1 -type d | wc -l)
BYTES=$(find "$TREE" -type f -printf '%s\n' | awk '{s += $1} END {print s}')
[ "$NFILES" -eq "$FILES" ] || die "the tree holds $NFILES files, not $FILES"

# A tree with ureg.json alone: what a dry run costs beyond packing
# (process start, project and key loading, signing).
mkdir "$T/empty"
"$UREG" init --name "$PKG" "$T/empty" >/dev/null

"$UREG" keygen --no-passphrase --output "$T/key" >/dev/null
KEY=$T/key.key
[ -f "$KEY" ] || die "ureg keygen wrote no \"$KEY\""

# --- timing --------------------------------------------------------------------
# timeit NAME CMD...: runs CMD (stdout to $T/out), appends "wall user+sys"
# in seconds to $T/times/NAME. CPU time is the command's and its children's
# (both sides of the tar | gzip pipe).
mkdir "$T/times"
cat >"$T/timeit.py" <<'EOF'
import os, subprocess, sys, time
name, outfile, argv = sys.argv[1], sys.argv[2], sys.argv[3:]
with open(outfile, "wb") as out:
    t0 = time.perf_counter()
    p = subprocess.Popen(argv, stdout=out)
    _, status, ru = os.wait4(p.pid, 0)
    wall = time.perf_counter() - t0
code = os.waitstatus_to_exitcode(status)
if code != 0:
    sys.exit("bench: %s exited with %d" % (name, code))
with open(name, "a") as f:
    f.write("%.6f %.6f\n" % (wall, ru.ru_utime + ru.ru_stime))
EOF
timeit() { # NAME CMD...
	local name=$1
	shift
	python3 "$T/timeit.py" "$T/times/$name" "$T/out" "$@"
}

TARGZ="tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -c -C \"\$0\" . | gzip -n"
tar_gzip() { timeit "$1" bash -c "$TARGZ >\"\$1\"" "$TREE" "$2"; }
dry_run() { timeit "$1" "$UREG" publish --dry-run --json --key "$KEY" "$2"; }

note "machine: $(nproc) cores, $(lscpu | sed -n 's/^Model name: *//p' | head -1), $(awk '/MemTotal/ {printf "%.0f GiB RAM", $2 / 1048576}' /proc/meminfo); $(uname -sr)"
note "ureg $UREG ($("$UREG" version 2>/dev/null | head -1)); $(tar --version | head -1); $(gzip --version | head -1)"
note "load average at start: $(cut -d' ' -f1-3 /proc/loadavg) (other work on the machine skews wall times; CPU times less so)"
note "tree: $NFILES files, $NDIRS directories, $BYTES bytes ($TREE)"

# Sizes, once: both sides compress the same tar stream at level 6.
"$UREG" publish --dry-run --json --key "$KEY" "$TREE" >"$T/dry.json"
UREG_GZ=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["layer_size"])' "$T/dry.json")
bash -c "$TARGZ" "$TREE" >"$T/tar.tgz"
TAR_GZ=$(stat -c %s "$T/tar.tgz")
rm -f "$T/tar.tgz"
note "compressed: ureg $UREG_GZ bytes, tar | gzip -n $TAR_GZ bytes"

# Rounds interleave the cases, so that load from elsewhere on the machine
# hits them alike; the pass before them (above) warmed the page cache.
note "pack: $RUNS interleaved rounds"
for i in $(seq "$RUNS"); do
	tar_gzip tar-gzip /dev/null
	dry_run dry-run "$TREE"
	tar_gzip tar-gzip-file "$T/tar.tgz"
	dry_run dry-run-empty "$T/empty"
	rm -f "$T/tar.tgz"
	printf '   round %d/%d done\n' "$i" "$RUNS"
done

# --- publish to a local server ---------------------------------------------------
start_server() { # ROOT
	local i=0
	"$UREG" serve --root "$1" --listen 127.0.0.1:0 --quiet \
		>"$T/serve.log" 2>"$T/serve.err" &
	SERVER=$!
	until grep -q '^listening on ' "$T/serve.log" 2>/dev/null; do
		kill -0 "$SERVER" 2>/dev/null ||
			{ cat "$T/serve.err" >&2; die "ureg serve exited at start"; }
		i=$((i + 1))
		[ $i -gt 200 ] && die "ureg serve printed no listening line"
		sleep 0.05
	done
	URL=$(sed -n 's/^listening on //p' "$T/serve.log" | head -1)
}
# CPU seconds (user + sys) the server has used so far.
server_cpu() {
	awk -v hz="$(getconf CLK_TCK)" '{printf "%.3f\n", ($14 + $15) / hz}' \
		"/proc/$SERVER/stat"
}
stop_server() {
	kill "$SERVER" 2>/dev/null || true
	wait "$SERVER" 2>/dev/null || true
	SERVER=
}

note "publish to ureg serve on 127.0.0.1: $RUNS rounds, a fresh root each"
for i in $(seq "$RUNS"); do
	root=$T/root-$i
	start_server "$root"
	UREG_TOKEN=$("$UREG" token create --root "$root" --scope "push:$PKG")
	export UREG_TOKEN
	c0=$(server_cpu)
	timeit publish "$UREG" publish --json --key "$KEY" --registry "$URL" "$TREE"
	c1=$(server_cpu)
	grep -q '"dry_run":false' "$T/out" || die "publish printed no result: $(cat "$T/out")"
	if [ "$i" -eq 1 ]; then
		cp "$T/out" "$T/publish.json"
		# what was pushed is what the dry run computed
		python3 - "$T/dry.json" "$T/publish.json" <<'EOF' || die "publish and dry run disagree"
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:3])
for k in ("layer", "manifest", "tree"):
    if k in a and a[k] != b.get(k):
        sys.exit("bench: %s: dry run %s, publish %s" % (k, a[k], b.get(k)))
EOF
	fi
	timeit republish "$UREG" publish --json --key "$KEY" --registry "$URL" "$TREE"
	c2=$(server_cpu)
	awk -v a="$c0" -v b="$c1" 'BEGIN {d = b - a; print d, d}' >>"$T/times/server-publish"
	awk -v a="$c1" -v b="$c2" 'BEGIN {d = b - a; print d, d}' >>"$T/times/server-republish"
	grep -q '"already_published":true' "$T/out" ||
		die "the re-publish was not a no-op: $(cat "$T/out")"
	unset UREG_TOKEN
	stop_server
	rm -rf "$root"
	printf '   round %d/%d done\n' "$i" "$RUNS"
done

# --- results -------------------------------------------------------------------
note "results: median of $RUNS (min..max), wall seconds; CPU = user + sys of the process tree"
python3 - "$T/times" "$BYTES" <<'EOF'
import os, statistics, sys
d, nbytes = sys.argv[1], int(sys.argv[2])
t = {}
for name in os.listdir(d):
    rows = [tuple(map(float, l.split())) for l in open(os.path.join(d, name))]
    t[name] = ([r[0] for r in rows], [r[1] for r in rows])
med = lambda name, k=0: statistics.median(t[name][k])
def line(label, name):
    w, c = t[name]
    print("   %-46s %7.3f s (%.3f..%.3f)  CPU %7.3f s  %6.1f MiB/s"
          % (label, med(name), min(w), max(w), med(name, 1),
             nbytes / med(name) / 1048576))
line("tar | gzip -n > /dev/null", "tar-gzip")
line("tar | gzip -n > file", "tar-gzip-file")
line("ureg publish --dry-run (pack + sign)", "dry-run")
line("ureg publish --dry-run, ureg.json alone", "dry-run-empty")
pack = med("dry-run") - med("dry-run-empty")
print("   %-46s %7.3f s" % ("pack alone (dry run - dry run of ureg.json)", pack))
line("ureg publish (pack, sign, upload; fresh root)", "publish")
line("ureg publish again (no-op)", "republish")
print("   ratio, dry run / tar | gzip > /dev/null:     wall %.2f  CPU %.2f  (target <= 1.2)"
      % (med("dry-run") / med("tar-gzip"), med("dry-run", 1) / med("tar-gzip", 1)))
r = med("dry-run") / med("tar-gzip")
print("   target (wall ratio <= 1.2): %s" % ("met" if r <= 1.2 else "NOT MET"))
print("   ratio, dry run / tar | gzip > file:          wall %.2f  CPU %.2f"
      % (med("dry-run") / med("tar-gzip-file"), med("dry-run", 1) / med("tar-gzip-file", 1)))
print("   ratio, pack alone / tar | gzip > /dev/null:  wall %.2f"
      % (pack / med("tar-gzip")))
print("   upload share of the publish: %.3f s (publish - dry run)"
      % (med("publish") - med("dry-run")))
print("   server CPU: publish %.3f s, re-publish %.3f s (median; /proc, 10 ms ticks)"
      % (med("server-publish"), med("server-republish")))
EOF

note "load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"

# --- profile ---------------------------------------------------------------------
if [ "${BENCH_PERF:-0}" = 1 ]; then
	command -v perf >/dev/null 2>&1 || die "BENCH_PERF=1 needs perf"
	note "perf: one dry run; share of samples by DSO, then the top symbols outside zlib and the kernel"
	perf record -q -g -o "$T/perf.data" -- \
		"$UREG" publish --dry-run --key "$KEY" "$TREE" >/dev/null 2>&1
	perf report -i "$T/perf.data" --no-children --sort dso \
		--call-graph=none --stdio 2>/dev/null |
		grep -E '^ +[0-9]' | head -8
	dsos=$(perf report -i "$T/perf.data" --no-children --sort dso \
		--call-graph=none --stdio 2>/dev/null |
		awk '/^ +[0-9]/ && $2 !~ /^(libz|\[kernel)/ {print $2}' |
		head -6 | paste -sd, -)
	perf report -i "$T/perf.data" --no-children --sort dso,sym \
		--call-graph=none --stdio --dsos "$dsos" 2>/dev/null |
		grep -E '^ +[0-9]' | head -12
fi
