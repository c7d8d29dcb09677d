#!/usr/bin/env bash
# Benchmark of `offsync sync` from Microsoft's offline scan catalog at its real size: a
# synthetic wsusscn2.cab (examples/gen_wsusscn2.rs: 136,000 Update elements, a package.xml of
# about 110 MB with about 97,000 FileLocations, 75 MSZIP inner CABs) synced into a new store
# with broad criteria, then again unchanged. Wall time and peak memory with /usr/bin/time -v;
# medians of BENCH_RUNS runs. Results: bench/WSUSSCN2-RESULTS.md.
#
# Goals (issue 5, this 2-core machine): first full sync < 60 s, unchanged re-sync < 20 s,
# peak memory < 300 MiB.
#
# Environment (all optional):
#   BENCH_DIR     work folder (default: a new folder under /tmp)
#   BENCH_RUNS    runs per measured phase, the median is reported (default 3)
#   BENCH_SEED    generator seed (default 1)
#   GEN_ARGS      more generator arguments (e.g. "--languages 8" for a smaller catalog)
#   BENCH_NEWER=1 also sync a newer catalog in which every 50th bundle expired
#   OFFSYNC_BIN   use this offsync binary instead of building one
#   GEN_BIN       use this gen_wsusscn2 binary instead of building one
#   BENCH_KEEP=1  keep the catalogs and stores
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(dirname "$here")"
runs="${BENCH_RUNS:-3}"
seed="${BENCH_SEED:-1}"
read -r -a gen_args <<<"${GEN_ARGS:-}"

if [[ -n "${BENCH_DIR:-}" ]]; then
    work="$BENCH_DIR"
    mkdir -p "$work"
else
    work="$(mktemp -d /tmp/offsync-wsusscn2-bench.XXXXXX)"
fi
raw="$work/raw"
mkdir -p "$raw"

if [[ ! -x /usr/bin/time ]]; then
    echo "installing GNU time (/usr/bin/time is missing)" >&2
    apt-get update -qq && apt-get install -y -qq time >/dev/null
fi

if [[ -z "${OFFSYNC_BIN:-}" || -z "${GEN_BIN:-}" ]]; then
    echo "building release binaries" >&2
    (cd "$repo" && cargo build --release --quiet --bin offsync --example gen_wsusscn2)
fi
offsync="${OFFSYNC_BIN:-$repo/target/release/offsync}"
gen="${GEN_BIN:-$repo/target/release/examples/gen_wsusscn2}"

# Broad criteria: the Windows and Office families (so every product below them) and all ten
# classifications (real GUIDs as Microsoft publishes them). The generator's third family is left out.
criteria=(
    --product 6964aab4-c5b5-43bd-a17d-ffb4346a8e1d   # Windows
    --product 477b856e-65c4-4473-b621-a8b230bb70d9   # Office
    --classification e6cf1350-c01b-414d-a61f-263d14d133b4
    --classification 0fa1201d-4330-4fa8-8ae9-b877473b6441
    --classification e0789628-ce08-4437-be74-2495b842f43b
    --classification 28bc880e-0592-4cbf-8f95-c79b17911d5f
    --classification 68c5b0a3-d1a6-4553-ae49-01d3a7827828
    --classification b4832bd8-e735-4761-8daf-37f882276dab
    --classification b54e7d24-7add-428f-8b75-90a396fa584f
    --classification cd5ffd1e-e932-4e3a-bf74-18bf0b1bbd83
    --classification ebfc1fc5-71a4-4f7b-9aca-3b9a503104a0
    --classification 3689bdc8-b205-4af4-8d4a-a63924c5e9d5
)

# measure NAME CMD...: runs CMD under /usr/bin/time -v; prints "wall_s rss_kib cpu_s" and
# keeps the full report and the command's output in $raw/NAME.*
measure() {
    local name="$1"
    shift
    if ! /usr/bin/time -v -o "$raw/$name.time" "$@" >"$raw/$name.out" 2>"$raw/$name.err"; then
        echo "FAILED: $* (see $raw/$name.err)" >&2
        tail -5 "$raw/$name.err" >&2
        exit 1
    fi
    awk -F': ' '
        /Elapsed \(wall clock\) time/ {
            n = split($2, p, ":"); s = 0
            for (i = 1; i <= n; i++) s = s * 60 + p[i]
            wall = s
        }
        /Maximum resident set size/ { rss = $2 }
        /User time/ { cpu += $2 }
        /System time/ { cpu += $2 }
        END { printf "%.2f %d %.1f\n", wall, rss, cpu }' "$raw/$name.time"
}

# m NAME CMD...: measure, leaving wall time in W, peak RSS (KiB) in R, CPU seconds in C.
m() {
    local res
    res="$(measure "$@")" || exit 1
    read -r W R C <<<"$res"
}

median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else printf "%.2f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
maxof() { tr ' ' '\n' | grep -v '^$' | sort -g | tail -1; }

# The counts a sync reported (its --json output).
counts() {
    tr -d ' \n' <"$raw/$1.out" | sed -E 's/.*"new":([0-9]+).*"updated":([0-9]+).*"expired":([0-9]+).*"unchanged":([0-9]+).*"categories":([0-9]+).*"upstream_updates":([0-9]+).*"selected":([0-9]+).*/new \1, updated \2, expired \3, unchanged \4, categories \5 (\7 selected of \6)/'
}

table="$work/results.md"
{
    echo "| phase | runs | median wall s | peak RSS MiB | CPU s (user+sys, median) | walls s | result |"
    echo "|---|---:|---:|---:|---:|---|---|"
} >"$table"

# row PHASE "walls" "rss_kib list" "cpu list" RESULT
row() {
    local med maxrss n cpu
    med="$(echo "$2" | median)"
    maxrss="$(echo "$3" | maxof)"
    cpu="$(echo "$4" | median)"
    n="$(echo "$2" | wc -w)"
    printf '| %s | %s | %s | %.1f | %s | %s | %s |\n' "$1" "$n" "$med" "$(awk -v k="$maxrss" 'BEGIN { print k / 1024 }')" "$cpu" "$(echo $2 | tr ' ' '/')" "$5" | tee -a "$table"
}

echo "work folder: $work" >&2
echo "offsync: $offsync" >&2
{
    echo "machine: $(nproc) CPUs ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')), $(free -m | awk '/Mem:/ { print $2 }') MiB RAM"
    echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
    echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
} | tee "$work/machine.txt" >&2

cab="$work/wsusscn2.cab"
m gen "$gen" --out "$cab" --seed "$seed" "${gen_args[@]}"
row "generate catalog ($(du -m "$cab" | cut -f1) MiB)" "$W" "$R" "$C" "$(sed -E 's/^wrote [^:]*: //' "$raw/gen.out")"

# The reader alone: scan, then fetch every update, nothing stored.
rw="" rr="" rc=""
for i in $(seq 1 "$runs"); do
    m "read-$i" "$gen" --read "$cab"
    rw+="$W " rr+="$R " rc+="$C "
done
row "reader only (scan + fetch of every update, no store)" "$rw" "$rr" "$rc" "$(sed -E 's/^read [^:]*: //' "$raw/read-1.out")"

store="$work/store"
cat_w="" cat_r="" cat_c="" full_w="" full_r="" full_c=""
for i in $(seq 1 "$runs"); do
    rm -rf "$store"
    "$offsync" -q init --store "$store" >/dev/null
    m "cat-$i" "$offsync" -q sync --json --store "$store" --from "$cab"
    cat_w+="$W " cat_r+="$R " cat_c+="$C "
    "$offsync" -q criteria set --store "$store" "${criteria[@]}" >/dev/null
    m "full-$i" "$offsync" -q sync --json --store "$store" --from "$cab"
    full_w+="$W " full_r+="$R " full_c+="$C "
    echo "  run $i: full sync $W s, $((R / 1024)) MiB" >&2
done
row "first sync, no criteria (categories only)" "$cat_w" "$cat_r" "$cat_c" "$(counts cat-1)"
row "first full sync, broad criteria (new store)" "$full_w" "$full_r" "$full_c" "$(counts full-1)"
db_mib="$(du -sm "$store" | cut -f1)"

re_w="" re_r="" re_c=""
for i in $(seq 1 "$runs"); do
    m "resync-$i" "$offsync" -q sync --json --store "$store" --from "$cab"
    re_w+="$W " re_r+="$R " re_c+="$C "
done
row "re-sync, unchanged catalog" "$re_w" "$re_r" "$re_c" "$(counts resync-1)"

if [[ "${BENCH_NEWER:-0}" == 1 ]]; then
    newer="$work/wsusscn2-newer.cab"
    m gen-newer "$gen" --out "$newer" --seed "$seed" --drop-every 50 --created 2026-06-09T03:00:00Z "${gen_args[@]}"
    cp -a "$store" "$store.snapshot"
    nw="" nr="" nc=""
    for i in $(seq 1 "$runs"); do
        rm -rf "$store"
        cp -a "$store.snapshot" "$store"
        m "newer-$i" "$offsync" -q sync --json --store "$store" --from "$newer"
        nw+="$W " nr+="$R " nc+="$C "
    done
    row "sync of a newer catalog (every 50th bundle expired)" "$nw" "$nr" "$nc" "$(counts newer-1)"
    rm -rf "$store.snapshot"
    [[ "${BENCH_KEEP:-0}" == 1 ]] || rm -f "$newer"
fi
echo "| store size after the full sync | | | | | | ${db_mib} MiB |" | tee -a "$table"
echo "load average at end: $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a "$work/machine.txt" >&2
cp "$store/offsync.log" "$raw/offsync.log"

if [[ "${BENCH_KEEP:-0}" != 1 ]]; then
    rm -rf "$cab" "$store"
fi

echo >&2
echo "results: $table (raw /usr/bin/time reports and outputs in $raw)" >&2
cat "$work/machine.txt"
cat "$table"
