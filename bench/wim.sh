#!/usr/bin/env bash
# Prestaged WIM build time: tsmedia (no staging) against staging the same tree
# with `cp -r` and capturing it with `wimlib-imagex capture`, at each
# compression. Alternating runs, medians and ratios.
#
#   bash bench/wim.sh [SIZE_MIB] [ROUNDS]     (default 1024 MiB, 3 rounds)
set -euo pipefail
cd "$(dirname "$0")/.."
size_mib=${1:-1024}
rounds=${2:-3}
work=$(mktemp -d "${TMPDIR:-/tmp}/tsmedia-bench-wim.XXXXXX")
trap 'rm -rf "$work"' EXIT

bash fixtures/make-fixtures.sh >/dev/null
cargo build --release -q
bin=$PWD/target/release/tsmedia
fx=$PWD/fixtures/build

# The tree: a few large files and many small ones, incompressible-ish content
# (a mix of random and repetitive data so compressors have work to do).
tree=$work/tree
mkdir -p "$tree/big" "$tree/small"
big_each=$(( size_mib * 3 / 4 / 4 ))
set +o pipefail   # `yes | head` ends yes with SIGPIPE
for i in 1 2 3 4; do
    { head -c $(( big_each * 512 * 1024 )) /dev/urandom; yes "tsmedia benchmark line $i" | head -c $(( big_each * 512 * 1024 )); } > "$tree/big/file$i.bin"
done
small_total=$(( size_mib / 4 ))
n_small=$(( small_total * 16 ))
for i in $(seq 1 "$n_small"); do
    d=$tree/small/d$(( i % 50 ))
    mkdir -p "$d"
    head -c 65536 /dev/urandom > "$d/f$i.dat"
done
set -o pipefail
cat > "$work/profile.json" <<JSON
{
  "type": "prestaged",
  "label": "BENCH",
  "boot_image": {"path": "$fx/boot.wim", "index": 1},
  "os_image": {"id": "BEN00001", "path": "$fx/install.wim", "index": 1},
  "packages": [{"id": "BEN00002", "name": "Bench", "kind": "package", "source": "$tree"}],
  "site": {"code": "BEN", "management_points": ["https://mp.bench.example"]}
}
JSON
# The staged tree that wimlib-imagex captures: what tsmedia would write as a folder.
"$bin" -q create --profile "$work/profile.json" --format folder --output "$work/staged-ref"

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
now() { date +%s.%N; }
declare -A times
for c in none xpress lzx; do
    for r in $(seq 1 "$rounds"); do
        sync
        t0=$(now); "$bin" -q create --profile "$work/profile.json" --format wim --compression $c --force --output "$work/t.wim"; t1=$(now)
        times[ts_$c]+="$(echo "$t1 - $t0" | bc) "
        rm -f "$work/t.wim"; sync
        t0=$(now); cp -r "$work/staged-ref" "$work/staged"; t1=$(now)
        wimlib-imagex capture "$work/staged" "$work/w.wim" BENCH --compress=$c --no-acls >/dev/null; t2=$(now)
        times[stage_$c]+="$(echo "$t1 - $t0" | bc) "
        times[cap_$c]+="$(echo "$t2 - $t1" | bc) "
        rm -rf "$work/staged" "$work/w.wim"
    done
done
printf '%-8s %12s %12s %12s %14s %14s\n' compress tsmedia cp-r capture stage+capture "ratio(ts/s+c)"
for c in none xpress lzx; do
    ts=$(echo ${times[ts_$c]} | tr ' ' '\n' | median)
    st=$(echo ${times[stage_$c]} | tr ' ' '\n' | median)
    cp=$(echo ${times[cap_$c]} | tr ' ' '\n' | median)
    sc=$(echo "$st + $cp" | bc)
    printf '%-8s %11.2fs %11.2fs %11.2fs %13.2fs %14.2f\n' $c "$ts" "$st" "$cp" "$sc" "$(echo "$ts / $sc" | bc -l)"
done
echo "tree: $size_mib MiB; wimlib-imagex $(wimlib-imagex --version | head -1 | awk '{print $2}') (Debian) vs tsmedia's bundled wimlib 1.14.4"
