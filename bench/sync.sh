#!/usr/bin/env bash
# Benchmark of `offsync sync` from a folder of upd:Update documents: wall time and peak
# memory at 50k, 100k and 200k documents. See bench/README.md.
#
# Environment (all optional):
#   BENCH_DIR     work folder (default: a new folder under /tmp); folders and stores go there
#   BENCH_SIZES   update counts to measure (default "50000 100000 200000")
#   BENCH_RUNS    runs per measured phase, the median is reported (default 3)
#   BENCH_SEED    generator seed (default 1)
#   BENCH_BUMP    the revision-bump resync changes every K-th update document (default 10)
#   OFFSYNC_BIN   use this offsync binary instead of building one
#   GEN_BIN       use this gen_updates binary instead of building one
#   BENCH_KEEP=1  keep the generated folders and stores
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(dirname "$here")"
sizes="${BENCH_SIZES:-50000 100000 200000}"
runs="${BENCH_RUNS:-3}"
seed="${BENCH_SEED:-1}"
bump="${BENCH_BUMP:-10}"

if [[ -n "${BENCH_DIR:-}" ]]; then
    work="$BENCH_DIR"
    mkdir -p "$work"
else
    work="$(mktemp -d /tmp/offsync-bench.XXXXXX)"
fi
raw="$work/raw"
mkdir -p "$raw"

if [[ ! -x /usr/bin/time ]]; then
    echo "installing GNU time (/usr/bin/time is missing)" >&2
    apt-get update -qq && apt-get install -y -qq time >/dev/null
fi

# --- binaries ---------------------------------------------------------------------------
if [[ -z "${OFFSYNC_BIN:-}" || -z "${GEN_BIN:-}" ]]; then
    echo "building release binaries" >&2
    (cd "$repo" && cargo build --release --quiet --bin offsync --example gen_updates)
fi
offsync="${OFFSYNC_BIN:-$repo/target/release/offsync}"
gen="${GEN_BIN:-$repo/target/release/examples/gen_updates}"

# Broad criteria: products of both families (real GUIDs as Microsoft publishes them, as the
# generator uses them) and six of the ten classifications.
criteria=(
    --product a3c2375d-0c8a-42f9-bce0-28333e198407   # Windows 10
    --product 72e7624a-5b00-45d2-b92f-e561c0a6a160   # Windows 11
    --product f702a48c-919b-45d6-9aef-ca4248d50397   # Windows Server 2019
    --product 569e8e8f-c6cd-42c8-92a3-efbb20a0f6f5   # Windows Server 2016
    --product d31bd4c3-d872-41c9-a2e7-231f372588cb   # Windows Server 2012 R2
    --product 25aed893-7c2d-4a31-ae22-28ff8ac150ed   # Office 2016
    --product 8c3fcc84-7410-4a95-8b89-a166a0190486   # Windows Defender
    --classification 0fa1201d-4330-4fa8-8ae9-b877473b6441   # Security Updates
    --classification e6cf1350-c01b-414d-a61f-263d14d133b4   # Critical Updates
    --classification cd5ffd1e-e932-4e3a-bf74-18bf0b1bbd83   # Updates
    --classification 28bc880e-0592-4cbf-8f95-c79b17911d5f   # Update Rollups
    --classification e0789628-ce08-4437-be74-2495b842f43b   # Definition Updates
    --classification 68c5b0a3-d1a6-4553-ae49-01d3a7827828   # Service Packs
)

# --- measuring --------------------------------------------------------------------------
# measure NAME CMD...: runs CMD under /usr/bin/time -v; prints "wall_s rss_kib cpu_s" and keeps
# the full report and the command's output in $raw/NAME.*
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
        /User time \(seconds\)|System time \(seconds\)/ { cpu += $2 }
        END { printf "%.2f %d %.2f\n", wall, rss, cpu }' "$raw/$name.time"
}

# m NAME CMD...: measure, leaving the wall time in W, the peak RSS (KiB) in R and the CPU
# time (user + system, less sensitive than wall time to other load on the machine) in C.
m() {
    local res
    res="$(measure "$@")" || exit 1
    read -r W R C <<<"$res"
}

median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else printf "%.2f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
maxof() { tr ' ' '\n' | grep -v '^$' | sort -g | tail -1; }

# The counts a sync reported (its --json output).
counts() {
    tr -d ' \n' <"$raw/$1.out" | sed -E 's/.*"new":([0-9]+).*"updated":([0-9]+).*"unchanged":([0-9]+).*"upstream_updates":([0-9]+).*"selected":([0-9]+).*/new \1, updated \2, unchanged \3 (\5 selected of \4)/'
}

table="$work/results.md"
{
    echo "| documents | phase | runs | median wall s | median CPU s | peak RSS MiB | walls s | result |"
    echo "|---:|---|---:|---:|---:|---:|---|---|"
} >"$table"

# row DOCS PHASE "walls" "rss_kib list" "cpus" RESULT
row() {
    local walls="$3" rss="$4" cpus="$5"
    local med maxrss n
    med="$(echo "$walls" | median)"
    maxrss="$(echo "$rss" | maxof)"
    n="$(echo "$walls" | wc -w)"
    printf '| %s | %s | %s | %s | %s | %.1f | %s | %s |\n' "$1" "$2" "$n" "$med" "$(echo "$cpus" | median)" \
        "$(awk -v k="$maxrss" 'BEGIN { print k / 1024 }')" "$(echo $walls | tr ' ' '/')" "$6" | tee -a "$table"
}

load_start="$(cut -d' ' -f1-3 /proc/loadavg)"
echo "work folder: $work" >&2
echo "offsync: $offsync" >&2
for n in $sizes; do
    src="$work/upstream-$n"
    store="$work/store-$n"
    rm -rf "$src" "$store" "$store.snapshot"

    m "gen-$n" "$gen" --out "$src" --count "$n" --seed "$seed"
    docs="$(find "$src" -name '*.xml' | wc -l)"
    size="$(du -sm "$src" | cut -f1)"
    row "$docs" "generate folder (${size} MiB)" "$W" "$R" "$C" "$(sed -E 's/^wrote .*: ([0-9]+ updates)/\1/' "$raw/gen-$n.out")"

    cat_w="" cat_r="" cat_c="" full_w="" full_r="" full_c=""
    for i in $(seq 1 "$runs"); do
        rm -rf "$store"
        "$offsync" -q init --store "$store" >/dev/null
        m "cat-$n-$i" "$offsync" -q sync --json --store "$store" --from "$src"
        cat_w+="$W " cat_r+="$R " cat_c+="$C "
        "$offsync" -q criteria set --store "$store" "${criteria[@]}" >/dev/null
        m "full-$n-$i" "$offsync" -q sync --json --store "$store" --from "$src"
        full_w+="$W " full_r+="$R " full_c+="$C "
        echo "  $n run $i: full sync $W s" >&2
    done
    row "$docs" "first sync (categories only)" "$cat_w" "$cat_r" "$cat_c" "$(counts "cat-$n-1" | sed 's/new 0, updated 0, unchanged 0/no updates/')"
    row "$docs" "full sync (new store)" "$full_w" "$full_r" "$full_c" "$(counts "full-$n-1")"
    db_mib="$(du -sm "$store" | cut -f1)"

    re_w="" re_r="" re_c=""
    for i in $(seq 1 "$runs"); do
        m "resync-$n-$i" "$offsync" -q sync --json --store "$store" --from "$src"
        re_w+="$W " re_r+="$R " re_c+="$C "
    done
    row "$docs" "resync, unchanged folder" "$re_w" "$re_r" "$re_c" "$(counts "resync-$n-1")"

    cp -a "$store" "$store.snapshot"
    m "gen-bump-$n" "$gen" --out "$src" --count "$n" --seed "$seed" --revision-bump "$bump"
    bump_w="" bump_r="" bump_c=""
    for i in $(seq 1 "$runs"); do
        rm -rf "$store"
        cp -a "$store.snapshot" "$store"
        m "bump-$n-$i" "$offsync" -q sync --json --store "$store" --from "$src"
        bump_w+="$W " bump_r+="$R " bump_c+="$C "
    done
    row "$docs" "resync, every ${bump}th revision bumped" "$bump_w" "$bump_r" "$bump_c" "$(counts "bump-$n-1")"
    echo "| $docs | store size after full sync | | | | | | ${db_mib} MiB |" | tee -a "$table"
    cp "$store/offsync.log" "$raw/offsync-$n.log"

    if [[ "${BENCH_KEEP:-0}" != 1 ]]; then
        rm -rf "$src" "$store" "$store.snapshot"
    fi
done

{
    echo
    echo "Load average (1/5/15 min) at the start: $load_start; at the end: $(cut -d' ' -f1-3 /proc/loadavg) ($(nproc) CPUs)."
} >>"$table"

echo >&2
echo "results: $table (raw /usr/bin/time reports and sync outputs in $raw)" >&2
cat "$table"
