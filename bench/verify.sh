#!/usr/bin/env bash
# `tsmedia verify` of a ~2 GiB ISO against `sha256sum` of the same file
# (target: verify at >= 0.8 x the speed of sha256sum), and an encrypted ISO
# build against a plain one on the same tree (target: <= 1.5 x).
# Alternating runs, medians.   bash bench/verify.sh [ROUNDS] [SIZE_MIB]
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-3}
size_mib=${2:-2048}
work=$PWD/target/bench-verify
mkdir -p "$work"
trap 'rm -rf "$work"' EXIT
bash fixtures/make-fixtures.sh >/dev/null
cargo build --release -q
bin=$PWD/target/release/tsmedia
fx=$PWD/fixtures/build

tree=$work/tree
mkdir -p "$tree"
each=$(( size_mib / 8 ))
for i in $(seq 1 8); do
    head -c $(( each << 20 )) /dev/urandom > "$tree/part$i.bin"
done
cat > "$work/profile.json" <<JSON
{
  "type": "standalone", "label": "BENCH",
  "boot_image": {"path": "$fx/boot.wim", "index": 1},
  "os_image": {"id": "TSM00001", "path": "$fx/install.wim", "index": 1},
  "task_sequence": {"id": "BEN00010", "name": "Bench", "path": "$fx/task-sequence.xml"},
  "packages": [
    {"id": "TSM00002", "name": "A", "kind": "application", "source": "$fx/packages/app-notepad"},
    {"id": "TSM00003", "name": "T", "kind": "package", "source": "$fx/packages/pkg-tools"},
    {"id": "TSM00004", "name": "D", "kind": "driver", "source": "$fx/packages/drv-net"},
    {"id": "BEN00002", "name": "Bench", "kind": "package", "source": "$tree"}
  ]
}
JSON
echo "bench-verify-password" > "$work/pw"
"$bin" -q create --profile "$work/profile.json" --format iso --output "$work/m.iso"

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
now() { date +%s.%N; }
v=(); s=(); p=(); e=()
for r in $(seq 1 "$rounds"); do
    t0=$(now); "$bin" -q verify "$work/m.iso" >/dev/null; t1=$(now)
    sha256sum "$work/m.iso" >/dev/null; t2=$(now)
    v+=("$(echo "$t1 - $t0" | bc)"); s+=("$(echo "$t2 - $t1" | bc)")
    t0=$(now); "$bin" -q create --profile "$work/profile.json" --format iso --force --output "$work/p.iso"; t1=$(now)
    "$bin" -q create --profile "$work/profile.json" --format iso --force --password-file "$work/pw" --encrypt-content --output "$work/e.iso"; t2=$(now)
    p+=("$(echo "$t1 - $t0" | bc)"); e+=("$(echo "$t2 - $t1" | bc)")
    rm -f "$work/p.iso" "$work/e.iso"
done
mv=$(printf '%s\n' "${v[@]}" | median); ms=$(printf '%s\n' "${s[@]}" | median)
mp=$(printf '%s\n' "${p[@]}" | median); me=$(printf '%s\n' "${e[@]}" | median)
size=$(stat -c %s "$work/m.iso")
printf 'verify %.2fs, sha256sum %.2fs over %d MiB: verify runs at %.2f x the speed of sha256sum (target >= 0.8)\n' \
    "$mv" "$ms" $(( size >> 20 )) "$(echo "$ms / $mv" | bc -l)"
printf 'plain ISO build %.2fs, encrypted %.2fs: %.2f x (target <= 1.5)\n' "$mp" "$me" "$(echo "$me / $mp" | bc -l)"
