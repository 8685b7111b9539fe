#!/usr/bin/env bash
# USB image speed: tsmedia --format usb-image against mkfs.fat -F 32 + mcopy -s
# on the same content, with cp -r as the floor; then 10,000 files in one
# folder against 10,000 spread over 100 folders. Runs alternate, ROUNDS
# rounds (default 3); prints medians and ratios. Inputs are generated under
# target/bench-usb (about 1.6 GB) and stay in the page cache, so this
# measures the writers, not the source disk. Every run ends with a sync of
# its output, timed. Needs: dosfstools, mtools.
set -euo pipefail
# `--many-files`: the per-file benchmark instead (bench/many-files.sh usb).
if [ "${1:-}" = --many-files ]; then
    exec bash "$(dirname "$0")/many-files.sh" usb
fi
cd "$(dirname "$0")/.."
ROUNDS=${ROUNDS:-3}
W=$PWD/target/bench-usb
T=$PWD/target/release/tsmedia

cargo build --release -q
bash fixtures/make-fixtures.sh >/dev/null
for t in mkfs.fat mcopy; do
    command -v $t >/dev/null || { echo "bench/usb.sh needs $t (dosfstools, mtools)" >&2; exit 2; }
done
mkdir -p "$W"

# Content: 5 x 256 MiB, 200 x 1 MiB, 2,000 x 16 KiB in 20 folders (~1.5 GB).
if [ ! -e "$W/tree/.done" ]; then
    rm -rf "$W/tree"
    mkdir -p "$W/tree/big" "$W/tree/mid"
    for i in 1 2 3 4 5; do head -c 256M /dev/urandom >"$W/tree/big/file$i.bin"; done
    for i in $(seq 1 200); do head -c 1M /dev/urandom >"$W/tree/mid/m$i.dat"; done
    for d in $(seq 1 20); do
        mkdir -p "$W/tree/small/dir$d"
        for i in $(seq 1 100); do head -c 16K /dev/urandom >"$W/tree/small/dir$d/s$i.txt"; done
    done
    touch "$W/tree/.done"
fi
# 10,000 small files in one folder, and spread over 100 folders.
if [ ! -e "$W/one/.done" ]; then
    rm -rf "$W/one" "$W/spread"
    mkdir -p "$W/one" "$W/spread"
    python3 - "$W" <<'PY'
import os, sys
w = sys.argv[1]
for i in range(10000):
    data = (b"%d\n" % i) * 100
    with open(f"{w}/one/document-number-{i:05}.txt", "wb") as f: f.write(data)
    d = f"{w}/spread/folder{i // 100:03}"
    os.makedirs(d, exist_ok=True)
    with open(f"{d}/document-number-{i:05}.txt", "wb") as f: f.write(data)
PY
    touch "$W/one/.done"
fi

profile() { # name source
    python3 - "$PWD" "$1" "$2" "$W" <<'PY'
import json, sys
root, name, src, w = sys.argv[1:]
p = json.load(open(f"{root}/examples/bootable.json"))
text = json.dumps(p).replace("../fixtures/build", f"{root}/fixtures/build")
p = json.loads(text)
p["extra_files"].append({"source": src, "target": "/data"})
json.dump(p, open(f"{w}/{name}.json", "w"))
PY
}
profile tree "$W/tree"
profile one "$W/one"
profile spread "$W/spread"

export SOURCE_DATE_EPOCH=1767225600
# The staged folder (same files as the image) for cp -r and mcopy.
rm -rf "$W/staged"
$T -q create -p "$W/tree.json" --format folder -o "$W/staged"
IMG_BYTES=$($T -q create -p "$W/tree.json" --format usb-image -o "$W/probe.img" --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["output_bytes"])')
rm -f "$W/probe.img"
cat "$W"/tree/big/* "$W"/tree/mid/* >/dev/null   # warm the cache

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
# Every run ends with `sync -f` before its output is removed, so each tool
# pays for getting its bytes to disk (tsmedia flushes its image itself).
run_tsmedia() { $T -q create -p "$W/$1.json" --format usb-image -o "$W/out.img" --force; sync -f "$W"; rm -f "$W/out.img"; }
run_mkfs_mcopy() {
    rm -f "$W/out.img"
    truncate -s $((IMG_BYTES - 1048576)) "$W/out.img"
    mkfs.fat -F 32 -n TSM_BOOTABL "$W/out.img" >/dev/null
    mcopy -s -i "$W/out.img" "$W"/staged/* ::/
    sync -f "$W"
    rm -f "$W/out.img"
}
run_cp() { rm -rf "$W/copy"; cp -r "$W/staged" "$W/copy"; sync -f "$W"; rm -rf "$W/copy"; }

for r in $(seq 1 "$ROUNDS"); do
    echo "round $r/$ROUNDS" >&2
    timed tsmedia run_tsmedia tree
    timed mkfs_mcopy run_mkfs_mcopy
    timed cp_r run_cp
    timed one_folder run_tsmedia one
    timed spread run_tsmedia spread
done

median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
declare -A med
for k in tsmedia mkfs_mcopy cp_r one_folder spread; do
    med[$k]=$(echo "${times[$k]}" | median)
done
size=$(du -sb "$W/staged" | cut -f1)
echo "content: $size bytes in $(find "$W/staged" -type f | wc -l) files; image $IMG_BYTES bytes; $ROUNDS rounds, medians (s):"
printf '  %-28s %8.2f   (runs: %s)\n' "tsmedia usb-image" "${med[tsmedia]}" "${times[tsmedia]}"
printf '  %-28s %8.2f   (runs: %s)\n' "mkfs.fat -F 32 + mcopy -s" "${med[mkfs_mcopy]}" "${times[mkfs_mcopy]}"
printf '  %-28s %8.2f   (runs: %s)\n' "cp -r (floor)" "${med[cp_r]}" "${times[cp_r]}"
printf '  %-28s %8.2f   (runs: %s)\n' "10,000 files in one folder" "${med[one_folder]}" "${times[one_folder]}"
printf '  %-28s %8.2f   (runs: %s)\n' "10,000 files in 100 folders" "${med[spread]}" "${times[spread]}"
ratio() { echo "scale=2; $1 / $2" | bc; }
echo "ratios:"
echo "  tsmedia / cp -r              $(ratio "${med[tsmedia]}" "${med[cp_r]}")   (target <= 1.10)"
echo "  tsmedia / mkfs.fat+mcopy     $(ratio "${med[tsmedia]}" "${med[mkfs_mcopy]}")   (target <= 0.80)"
echo "  one folder / spread          $(ratio "${med[one_folder]}" "${med[spread]}")   (target < 2)"
rm -rf "$W/staged"
