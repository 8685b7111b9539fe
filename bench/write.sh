#!/usr/bin/env bash
# `tsmedia write` of a 2 GiB ISO to a USB image, against doing the same
# without mounting: `7z x` of the ISO to a folder, then mkfs.fat -F 32 and
# mcopy -s of that folder into an image of the same size. Runs alternate,
# ROUNDS rounds (default 3); prints medians and the ratio (target <= 0.5).
# The ISO is built by tsmedia from about 2 GiB of content under
# target/bench-write and stays in the page cache, so this measures the
# writers, not the source disk. Every run ends with a sync of its output,
# timed. Needs: p7zip-full, dosfstools, mtools.
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${ROUNDS:-3}
W=$PWD/target/bench-write
T=$PWD/target/release/tsmedia

cargo build --release -q
bash fixtures/make-fixtures.sh >/dev/null
for t in 7z mkfs.fat mcopy; do
    command -v $t >/dev/null || { echo "bench/write.sh needs $t (p7zip-full, dosfstools, mtools)" >&2; exit 2; }
done
mkdir -p "$W"

# Content: 7 x 256 MiB, 200 x 1 MiB, 2,000 x 16 KiB in 20 folders (~2 GiB).
if [ ! -e "$W/tree/.done" ]; then
    rm -rf "$W/tree"
    mkdir -p "$W/tree/big" "$W/tree/mid"
    for i in 1 2 3 4 5 6 7; do head -c 256M /dev/urandom >"$W/tree/big/file$i.bin"; done
    for i in $(seq 1 200); do head -c 1M /dev/urandom >"$W/tree/mid/m$i.dat"; done
    for d in $(seq 1 20); do
        mkdir -p "$W/tree/small/dir$d"
        for i in $(seq 1 100); do head -c 16K /dev/urandom >"$W/tree/small/dir$d/s$i.txt"; done
    done
    touch "$W/tree/.done"
fi
python3 - "$PWD" "$W" <<'PY'
import json, sys
root, w = sys.argv[1:]
p = json.load(open(f"{root}/examples/bootable.json"))
p = json.loads(json.dumps(p).replace("../fixtures/build", f"{root}/fixtures/build"))
p["extra_files"].append({"source": f"{w}/tree", "target": "/data"})
p.pop("output", None)
p.setdefault("media", {})["size"] = "unlimited"   # one ISO, not a volume set
json.dump(p, open(f"{w}/p.json", "w"))
PY

export SOURCE_DATE_EPOCH=1767225600
$T -q create -p "$W/p.json" --format iso -o "$W/media.iso" --force
IMG_BYTES=$($T -q write "$W/media.iso" -o "$W/probe.img" --force --json |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["output_bytes"])')
rm -f "$W/probe.img"
cat "$W/media.iso" >/dev/null   # warm the cache

now() { date +%s.%N; }
declare -A times
timed() { # label command...
    local a b
    sync
    a=$(now)
    "${@:2}"
    b=$(now)
    times[$1]+="$(echo "$b - $a" | bc) "
}
# tsmedia checks every file against the ISO's manifest while writing (no
# read-back); the alternative checks nothing.
run_write() { $T -q write "$W/media.iso" -o "$W/out.img" --force; sync -f "$W"; rm -f "$W/out.img"; }
run_7z_mkfs_mcopy() {
    rm -rf "$W/x" "$W/out.img"
    7z x -y -bd -o"$W/x" "$W/media.iso" >/dev/null
    truncate -s $((IMG_BYTES - 1048576)) "$W/out.img"
    mkfs.fat -F 32 -n TSM_BOOTABL "$W/out.img" >/dev/null
    mcopy -s -i "$W/out.img" "$W"/x/* ::/
    sync -f "$W"
    rm -rf "$W/x" "$W/out.img"
}

for r in $(seq 1 "$ROUNDS"); do
    echo "round $r/$ROUNDS" >&2
    timed write run_write
    timed alt run_7z_mkfs_mcopy
done

median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
mw=$(echo "${times[write]}" | median)
ma=$(echo "${times[alt]}" | median)
echo "ISO: $(stat -c %s "$W/media.iso") bytes; image $IMG_BYTES bytes; $ROUNDS rounds, medians (s):"
printf '  %-32s %8.2f   (runs: %s)\n' "tsmedia write" "$mw" "${times[write]}"
printf '  %-32s %8.2f   (runs: %s)\n' "7z x + mkfs.fat + mcopy -s" "$ma" "${times[alt]}"
echo "ratio: tsmedia write / (7z x + mkfs.fat + mcopy) = $(echo "scale=2; $mw / $ma" | bc)   (target <= 0.5)"
