#!/usr/bin/env bash
# bench/iso.sh [ROUNDS]   (or --many-files: bench/many-files.sh iso)
#
# Benchmark of the ISO writer (not a test): builds an ISO from the same
# ~2 GiB tree with tsmedia (release build), xorriso (-as mkisofs -J
# -joliet-long) and genisoimage (-J -joliet-long -udf), and copies the tree
# with `cp -r` as the floor. Runs alternate (ROUNDS rounds, default 3);
# every run is printed (wall ms, peak RSS KiB, CPU s), then the median of
# each tool, its ratio to `cp -r` and to xorriso, its median CPU time
# (user + system) and its peak RSS (/usr/bin/time).
#
# Each timed command is followed by `sync -f` on the output's file
# system, so every tool pays for getting its bytes to disk (tsmedia syncs
# its image itself; the extra sync then finds nothing to do).
#
# The tree: 4 files of 320 MiB and 3000 files of 4 KiB-600 KiB in nested
# folders, from a fixed AES-CTR key stream and a seeded generator:
# incompressible, no duplicates, the same on every run. Everything lives
# under target/bench-iso/ and is removed at the end (BENCH_KEEP=1 keeps it).
set -euo pipefail
# `--many-files`: the per-file benchmark instead (bench/many-files.sh iso).
if [ "${1:-}" = --many-files ]; then
    exec bash "$(dirname "$0")/many-files.sh" iso
fi
cd "$(dirname "$0")/.."
rounds=${1:-3}
base=$PWD/target/bench-iso
tree=$base/tree
out=$base/out
mkdir -p "$base"
trap '[ "${BENCH_KEEP:-0}" = 1 ] || rm -rf "$base"' EXIT

for t in xorriso genisoimage openssl python3; do
    command -v "$t" >/dev/null || { echo "bench: $t is missing" >&2; exit 2; }
done
[ -x /usr/bin/time ] || { echo "bench: /usr/bin/time is missing (Debian package time)" >&2; exit 2; }

echo "== building tsmedia (release)"
cargo build --release --quiet
bin=$PWD/target/release/tsmedia
bash fixtures/make-fixtures.sh >/dev/null

if [ ! -f "$tree/.done" ]; then
    echo "== generating the tree"
    rm -rf "$tree"
    mkdir -p "$tree/big"
    for i in 1 2 3 4; do
        head -c $((320 * 1024 * 1024)) /dev/zero |
            openssl enc -aes-128-ctr -nosalt -K "0000000000000000000000000000000$i" \
                -iv 00000000000000000000000000000000 >"$tree/big/image$i.bin"
    done
    python3 - "$tree" <<'EOF'
import os, random, sys
root = sys.argv[1]
rng = random.Random(20240601)
for i in range(3000):
    d = os.path.join(root, f"pkg{i % 3}", f"dir{i % 17:02d}", f"sub{i % 5}")
    os.makedirs(d, exist_ok=True)
    size = rng.randint(4 * 1024, 600 * 1024)
    with open(os.path.join(d, f"file{i:05d}.dat"), "wb") as f:
        f.write(rng.randbytes(size))
EOF
    touch "$tree/.done"
fi
du -sh --apparent-size "$tree" | sed 's/^/tree: /'

# A profile whose packages are the tree's top folders.
profile=$base/profile.json
python3 - "$PWD" "$tree" "$profile" <<'EOF'
import json, sys
repo, tree, out = sys.argv[1:]
text = open(f"{repo}/examples/standalone.json").read().replace("../fixtures/build", f"{repo}/fixtures/build")
p = json.loads(text)
p.pop("output", None)
p["media"]["size"] = "unlimited"
for i, d in enumerate(["big", "pkg0", "pkg1", "pkg2"]):
    p["packages"].append({"id": f"BEN0000{i}", "name": d, "kind": "package", "source": f"{tree}/{d}"})
json.dump(p, open(out, "w"), indent=2)
EOF

run() {   # run NAME COMMAND...: prints "NAME MILLISECONDS PEAK_KIB CPU_SECONDS"
    local name=$1; shift
    rm -rf "$out"; mkdir -p "$out"
    sync -f "$base"
    local t0 t1
    t0=$(date +%s%N)
    /usr/bin/time -f "%M %U %S" -o "$base/rss" "$@" >/dev/null 2>"$base/err" ||
        { echo "bench: $name failed:" >&2; cat "$base/err" >&2; exit 1; }
    sync -f "$out"
    t1=$(date +%s%N)
    local m u s2
    read -r m u s2 < <(tail -n 1 "$base/rss")
    echo "$name $(( (t1 - t0) / 1000000 )) $m $(python3 -c "print(round($u + $s2, 2))")"
}

results=$base/results
: >"$results"
for r in $(seq 1 "$rounds"); do
    echo "== round $r"
    {
        run cp-r cp -r "$tree" "$out/copy"
        run tsmedia "$bin" -q create --format iso --profile "$profile" --output "$out/t.iso"
        run xorriso xorriso -as mkisofs -quiet -J -joliet-long -iso-level 3 -V BENCH -o "$out/x.iso" "$tree"
        run genisoimage genisoimage -quiet -J -joliet-long -udf -iso-level 3 -V BENCH -o "$out/g.iso" "$tree"
    } | tee -a "$results"
done
rm -rf "$out"

echo "== medians over $rounds rounds"
python3 - "$results" <<'EOF'
import statistics, sys
rows = [l.split() for l in open(sys.argv[1]) if l.strip()]
by = {}
for name, ms, kib, cpu in rows:
    by.setdefault(name, []).append((int(ms), int(kib), float(cpu)))
med = {n: statistics.median(m for m, _, _ in v) for n, v in by.items()}
cpu = {n: statistics.median(c for _, _, c in v) for n, v in by.items()}
print(f"{'tool':12} {'median s':>9} {'x cp -r':>8} {'x xorriso':>10} {'CPU s':>6} {'peak RSS MiB':>13}")
for n, v in by.items():
    print(f"{n:12} {med[n]/1000:9.2f} {med[n]/med['cp-r']:8.2f} {med[n]/med['xorriso']:10.2f} {cpu[n]:6.2f} {max(k for _, k, _ in v)/1024:13.1f}")
EOF
