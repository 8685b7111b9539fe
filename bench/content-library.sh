#!/usr/bin/env bash
# Pulling a package from a distribution point's content library against
# pulling the same package from a plain folder: one standalone ISO each,
# alternating runs, medians (target: library <= 1.0 x folder; the library's
# files stream from FileLib and their SHA-256 is checked with the hash the
# writer computes anyway).   bash bench/content-library.sh [ROUNDS] [SIZE_MIB]
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-5}
size_mib=${2:-2048}
work=$PWD/target/bench-library
rm -rf "$work"
mkdir -p "$work"
trap 'rm -rf "$work"' EXIT
bash fixtures/make-fixtures.sh >/dev/null
cargo build --release -q
bin=$PWD/target/release/tsmedia
fx=$PWD/fixtures/build

# The package: 8 large files and 2000 small ones in 20 folders.
pkg=$work/src/BEN00002
mkdir -p "$pkg"
each=$(( size_mib / 8 ))
for i in $(seq 1 8); do
    head -c $(( each << 20 )) /dev/urandom > "$pkg/part$i.bin"
done
for d in $(seq 1 20); do
    mkdir -p "$pkg/small/d$d"
    for f in $(seq 1 100); do
        printf 'small file %d/%d\n' "$d" "$f" > "$pkg/small/d$d/f$f.txt"
    done
done

# The same package in a content library: PkgLib INI, DataLib tree of INIs,
# FileLib blobs by SHA-256 (hard links, so no second copy on disk).
lib=$work/SCCMContentLib
mkdir -p "$lib/PkgLib" "$lib/DataLib/BEN00002.1" "$lib/FileLib"
printf '[Packages]\r\nBEN00002.1=\r\n' > "$lib/PkgLib/BEN00002.INI"
(cd "$pkg" && find . -type f -printf '%P\n') | while IFS= read -r rel; do
    h=$(sha256sum "$pkg/$rel" | cut -c1-64 | tr a-f A-F)
    mkdir -p "$lib/FileLib/${h:0:4}" "$(dirname "$lib/DataLib/BEN00002.1/$rel")"
    [ -e "$lib/FileLib/${h:0:4}/$h" ] || ln "$pkg/$rel" "$lib/FileLib/${h:0:4}/$h"
    printf '[File]\r\nSize=%d\r\nHash=%s\r\n' "$(stat -c %s "$pkg/$rel")" "$h" \
        > "$lib/DataLib/BEN00002.1/$rel.INI"
done

profile() {   # profile NAME SOURCES
    cat > "$work/$1.json" <<JSON
{
  "type": "standalone", "label": "BENCH",
  "boot_image": {"path": "$fx/boot.wim", "index": 1},
  "os_image": {"id": "TSM00001", "path": "$fx/install.wim", "index": 1},
  "task_sequence": {"id": "BEN00010", "name": "Bench", "path": "$fx/task-sequence.xml"},
  "packages": [
    {"id": "TSM00002", "name": "A", "kind": "application", "source": "$fx/packages/app-notepad"},
    {"id": "TSM00003", "name": "T", "kind": "package", "source": "$fx/packages/pkg-tools"},
    {"id": "TSM00004", "name": "D", "kind": "driver", "source": "$fx/packages/drv-net"},
    {"id": "BEN00002", "name": "Bench", "kind": "package"}
  ],
  "content_sources": [$2]
}
JSON
}
profile folder "{\"folder\": \"$work/src\"}"
profile library "{\"content_library\": \"$lib\"}"

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
now() { date +%s.%N; }
f=(); l=()
for r in $(seq 1 "$rounds"); do
    t0=$(now); "$bin" -q create --profile "$work/folder.json" --format iso --output "$work/f.iso"; sync; t1=$(now)
    "$bin" -q create --profile "$work/library.json" --format iso --output "$work/l.iso"; sync; t2=$(now)
    f+=("$(echo "$t1 - $t0" | bc)"); l+=("$(echo "$t2 - $t1" | bc)")
    printf 'round %d: folder %.2fs, library %.2fs\n' "$r" "${f[-1]}" "${l[-1]}"
    rm -f "$work/f.iso" "$work/l.iso"
done
mf=$(printf '%s\n' "${f[@]}" | median); ml=$(printf '%s\n' "${l[@]}" | median)
printf 'package of %d MiB: folder %.2fs, content library %.2fs: %.2f x (target <= 1.0)\n' \
    "$size_mib" "$mf" "$ml" "$(echo "$ml / $mf" | bc -l)"
