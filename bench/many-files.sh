#!/usr/bin/env bash
# bench/many-files.sh [iso|usb|folder|all]   (ROUNDS=5 by default)
#
# Per-file cost, not byte throughput: trees of many small files, as driver
# packages are. The 100k tree is 70,000 files of 100-800 bytes in 1,000
# folders plus one folder of 30,000 such files (about 48 MB); the 200k tree
# is two copies of it side by side, to check that cost stays linear.
#
# Each tool gets the same content: tsmedia builds from a bootable profile
# whose extra_files is the tree; the peers get tsmedia's folder output of
# that profile (the same files). Runs alternate; every run ends with a
# `sync -f` of its output's file system, timed. Prints every run (wall ms,
# peak RSS KiB), then medians and the ratios the targets are stated in:
#   ISO 100k: tsmedia <= 0.8 x genisoimage -J -joliet-long -udf in time,
#             peak RSS <= genisoimage's
#   USB image 100k: time <= 0.8 x mkfs.fat + mcopy, RSS <= 64 MiB + 600 B/file
#   folder 100k: time <= 1.0 x cp -r, RSS <= 64 MiB + 600 B/file
#   200k / 100k <= 2.1 in time and in peak RSS, for each tsmedia format
# Everything lives under target/bench-many/ (BENCH_KEEP=1 keeps it).
set -euo pipefail
cd "$(dirname "$0")/.."
what=${1:-all}
rounds=${ROUNDS:-5}
base=$PWD/target/bench-many
out=$base/out
mkdir -p "$base"
trap '[ "${BENCH_KEEP:-0}" = 1 ] || rm -rf "$out" "$base"/staged-*' EXIT

for t in genisoimage xorriso mkfs.fat mcopy python3; do
    command -v "$t" >/dev/null || { echo "bench: $t is missing" >&2; exit 2; }
done
[ -x /usr/bin/time ] || { echo "bench: /usr/bin/time is missing (Debian package time)" >&2; exit 2; }

echo "== building tsmedia (release)"
cargo build --release --quiet
bin=$PWD/target/release/tsmedia
bash fixtures/make-fixtures.sh >/dev/null
export SOURCE_DATE_EPOCH=1767225600

if [ ! -f "$base/trees.done" ]; then
    echo "== generating the trees"
    rm -rf "$base/tree-100k" "$base/tree-200k"
    python3 - "$base/tree-100k" <<'EOF'
import os, random, sys
root = sys.argv[1]
rng = random.Random(20261201)
for i in range(70000):
    d = os.path.join(root, "spread", f"d{i % 1000:04d}")
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, f"f{i:06d}.inf"), "wb") as f:
        f.write(rng.randbytes(rng.randint(100, 800)))
d = os.path.join(root, "flat")
os.makedirs(d, exist_ok=True)
for i in range(30000):
    with open(os.path.join(d, f"drv{i:06d}.sys"), "wb") as f:
        f.write(rng.randbytes(rng.randint(100, 800)))
EOF
    mkdir -p "$base/tree-200k"
    cp -r "$base/tree-100k" "$base/tree-200k/a"
    cp -r "$base/tree-100k" "$base/tree-200k/b"
    touch "$base/trees.done"
fi

for n in 100k 200k; do
    python3 - "$PWD" "$base/tree-$n" "$base/profile-$n.json" <<'EOF'
import json, sys
repo, tree, out = sys.argv[1:]
text = open(f"{repo}/examples/bootable.json").read().replace("../fixtures/build", f"{repo}/fixtures/build")
p = json.loads(text)
p.pop("output", None)
p["extra_files"].append({"source": tree, "target": "/data"})
json.dump(p, open(out, "w"), indent=2)
EOF
    rm -rf "$base/staged-$n"
    "$bin" -q create --profile "$base/profile-$n.json" --format folder --output "$base/staged-$n"
done

run() {   # run NAME COMMAND...: prints "NAME MILLISECONDS PEAK_KIB"
    local name=$1; shift
    rm -rf "$out"; mkdir -p "$out"
    sync -f "$base"
    local t0 t1 m
    t0=$(date +%s%N)
    /usr/bin/time -f "%M" -o "$base/rss" "$@" >/dev/null 2>"$base/err" ||
        { echo "bench: $name failed:" >&2; cat "$base/err" >&2; exit 1; }
    sync -f "$out"
    t1=$(date +%s%N)
    m=$(tail -n 1 "$base/rss")
    echo "$name $(( (t1 - t0) / 1000000 )) $m"
}
# mkfs.fat + mcopy as one command (so /usr/bin/time measures both).
mcopy_image='truncate -s 1G "$2" && mkfs.fat -F 32 -n BENCH "$2" >/dev/null && mcopy -s -i "$2" "$1"/* ::/'

results=$base/results
: >"$results"
for r in $(seq 1 "$rounds"); do
    echo "== round $r"
    {
        for n in 100k 200k; do
            case $what in iso|all)
                run "tsmedia-iso-$n" "$bin" -q create --profile "$base/profile-$n.json" --format iso --output "$out/t.iso" ;;
            esac
            case $what in usb|all)
                run "tsmedia-usb-$n" "$bin" -q create --profile "$base/profile-$n.json" --format usb-image --output "$out/t.img" ;;
            esac
            case $what in folder|all)
                run "tsmedia-folder-$n" "$bin" -q create --profile "$base/profile-$n.json" --format folder --output "$out/t" ;;
            esac
        done
        case $what in iso|all)
            run genisoimage genisoimage -quiet -J -joliet-long -udf -iso-level 3 -V BENCH -o "$out/g.iso" "$base/staged-100k"
            run xorriso xorriso -as mkisofs -quiet -J -joliet-long -iso-level 3 -V BENCH -o "$out/x.iso" "$base/staged-100k" ;;
        esac
        case $what in usb|all)
            run mkfs-mcopy bash -c "$mcopy_image" _ "$base/staged-100k" "$out/m.img" ;;
        esac
        case $what in folder|all)
            run cp-r cp -r "$base/staged-100k" "$out/copy" ;;
        esac
    } | tee -a "$results"
done

echo "== medians over $rounds rounds"
python3 - "$results" "$what" <<'EOF'
import statistics, sys
rows = [l.split() for l in open(sys.argv[1]) if l.strip()]
what = sys.argv[2]
by = {}
for name, ms, kib in rows:
    by.setdefault(name, []).append((int(ms), int(kib)))
t = {n: statistics.median(m for m, _ in v) / 1000 for n, v in by.items()}
rss = {n: max(k for _, k in v) / 1024 for n, v in by.items()}
print(f"{'run':20} {'median s':>9} {'peak RSS MiB':>13}")
for n in by:
    print(f"{n:20} {t[n]:9.2f} {rss[n]:13.1f}")
files = 100_000
budget = 64 + 600 * files / 2**20
def line(label, value, target, ok):
    print(f"  {label:44} {value:7.2f}   (target {target}) {'met' if ok else 'NOT met'}")
print("ratios:")
if what in ("iso", "all"):
    r = t["tsmedia-iso-100k"] / t["genisoimage"]
    line("ISO time / genisoimage", r, "<= 0.80", r <= 0.8)
    r = rss["tsmedia-iso-100k"] / rss["genisoimage"]
    line("ISO peak RSS / genisoimage", r, "<= 1.00", r <= 1.0)
    print(f"  {'ISO time / xorriso':44} {t['tsmedia-iso-100k'] / t['xorriso']:7.2f}")
if what in ("usb", "all"):
    r = t["tsmedia-usb-100k"] / t["mkfs-mcopy"]
    line("USB time / mkfs.fat + mcopy", r, "<= 0.80", r <= 0.8)
    line("USB peak RSS MiB", rss["tsmedia-usb-100k"], f"<= {budget:.1f}", rss["tsmedia-usb-100k"] <= budget)
if what in ("folder", "all"):
    r = t["tsmedia-folder-100k"] / t["cp-r"]
    line("folder time / cp -r", r, "<= 1.00", r <= 1.0)
    line("folder peak RSS MiB", rss["tsmedia-folder-100k"], f"<= {budget:.1f}", rss["tsmedia-folder-100k"] <= budget)
for f in ("iso", "usb", "folder"):
    a, b = f"tsmedia-{f}-100k", f"tsmedia-{f}-200k"
    if a in t:
        r = t[b] / t[a]
        line(f"{f} 200k / 100k time", r, "<= 2.10", r <= 2.1)
        r = rss[b] / rss[a]
        line(f"{f} 200k / 100k peak RSS", r, "<= 2.10", r <= 2.1)
EOF
