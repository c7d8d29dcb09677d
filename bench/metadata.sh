#!/usr/bin/env bash
# Benchmark of the metadata side of the air-gap transfer at 100,000 and 1,000,000 update
# revisions: full `export --metadata-only`, `verify`, `import` into an empty store, and a 1%
# incremental export plus its import, each with wall time, CPU time and peak RSS (GNU time -v),
# against the goals of issue 11 point 3. See bench/README.md.
#
# Environment (all optional):
#   BENCH_DIR      work folder (default: a new folder under /tmp); stores and bundles go there
#   BENCH_SIZES    revision counts (default "100000 1000000")
#   BENCH_RUNS     runs per measured step, the median is reported (default 3)
#   BENCH_SEED     generator seed (default 1)
#   BENCH_BUMP     percent of the updates the incremental step changes (default 1)
#   BENCH_PERF=0   skip the profiles (one `perf record` of each command at the largest size)
#   BENCH_RESULTS  the results file to write (default bench/METADATA-RESULTS.md)
#   OFFSYNC_BIN, GEN_STORE_BIN   prebuilt binaries (both set: no build)
#   BENCH_KEEP=1   keep the stores and bundles
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(dirname "$here")"
sizes="${BENCH_SIZES:-100000 1000000}"
runs="${BENCH_RUNS:-3}"
seed="${BENCH_SEED:-1}"
bump="${BENCH_BUMP:-1}"
results="${BENCH_RESULTS:-$here/METADATA-RESULTS.md}"
t_start=$(date +%s)

if [[ -n "${BENCH_DIR:-}" ]]; then
    work="$BENCH_DIR"
    mkdir -p "$work"
else
    work="$(mktemp -d /tmp/offsync-metadata.XXXXXX)"
fi
raw="$work/raw"
mkdir -p "$raw"
say() { echo "[$(($(date +%s) - t_start))s] $*" >&2; }

if [[ ! -x /usr/bin/time ]]; then
    say "installing GNU time (/usr/bin/time is missing)"
    apt-get update -qq && apt-get install -y -qq time >/dev/null
fi

# --- binaries ---------------------------------------------------------------------------
if [[ -z "${OFFSYNC_BIN:-}" || -z "${GEN_STORE_BIN:-}" ]]; then
    say "building release binaries"
    (cd "$repo" && cargo build --release --quiet --bin offsync --example gen_store)
fi
offsync="${OFFSYNC_BIN:-$repo/target/release/offsync}"
gen="${GEN_STORE_BIN:-$repo/target/release/examples/gen_store}"
use_perf=0
if [[ "${BENCH_PERF:-1}" == 1 ]] && command -v perf >/dev/null &&
    perf record -q -o "$raw/perf-probe.data" -- true >/dev/null 2>&1; then
    use_perf=1
fi
rm -f "$raw/perf-probe.data"

# --- measuring --------------------------------------------------------------------------
# measure NAME CMD...: runs CMD under /usr/bin/time -v and sets W (wall s), C (CPU s: user +
# system) and R (peak RSS KiB); the report and the command's output stay in $raw/NAME.*
measure() {
    local name="$1"
    shift
    if ! /usr/bin/time -v -o "$raw/$name.time" "$@" >"$raw/$name.out" 2>"$raw/$name.err"; then
        echo "FAILED: $* (see $raw/$name.err)" >&2
        tail -5 "$raw/$name.err" >&2
        exit 1
    fi
    read -r W R C < <(awk -F': ' '
        /Elapsed \(wall clock\) time/ {
            n = split($2, p, ":"); s = 0
            for (i = 1; i <= n; i++) s = s * 60 + p[i]
            wall = s
        }
        /Maximum resident set size/ { rss = $2 }
        /User time \(seconds\)|System time \(seconds\)/ { cpu += $2 }
        END { printf "%.2f %d %.2f\n", wall, rss, cpu }' "$raw/$name.time")
    LAST_OUT="$raw/$name.out"
}

median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else printf "%.2f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
maxof() { tr ' ' '\n' | grep -v '^$' | sort -g | tail -1; }
# json_num FILE KEY: the first number under "KEY" in a --json output.
json_num() { grep -o "\"$2\": *[0-9]*" "$1" | head -1 | grep -o '[0-9]*$'; }

table="$raw/table.md"
summary="$raw/summary.tsv"
{
    echo "| revisions | step | runs | median wall s | median CPU s | peak RSS MiB | walls s | result |"
    echo "|---:|---|---:|---:|---:|---:|---|---|"
} >"$table"
: >"$summary"

# row N STEP "walls" "rss list" "cpus" RESULT: a table row; the summary keeps, per size and
# step, the median wall time and the peak RSS for the goals.
row() {
    local n="$1" step="$2" walls="$3" rss="$4" cpus="$5" result="$6"
    local med maxrss
    med="$(echo "$walls" | median)"
    maxrss="$(echo "$rss" | maxof)"
    printf '| %s | %s | %s | %s | %s | %.1f | %s | %s |\n' "$n" "$step" "$(echo "$walls" | wc -w)" "$med" \
        "$(echo "$cpus" | median)" "$(awk -v k="$maxrss" 'BEGIN { print k / 1024 }')" \
        "$(echo $walls | tr ' ' '/')" "$result" | tee -a "$table" >&2
    printf '%s\t%s\t%s\t%s\n' "$n" "$step" "$med" "$maxrss" >>"$summary"
}

# profile NAME CMD...: one run under perf record; keeps the top symbols in $raw/perf.NAME.txt.
profile() {
    local name="$1"
    shift
    perf record -q -F 499 -o "$raw/perf.data" -- "$@" >/dev/null 2>"$raw/perf.$name.err" ||
        { echo "FAILED under perf: $*" >&2; exit 1; }
    perf report -i "$raw/perf.data" --stdio --no-children --sort dso,symbol --percent-limit 2 2>/dev/null |
        grep -E '^ +[0-9.]+%' | head -12 | sed -E 's/ +- +-$//; s/ +$//; s/ {3,}/  /g' >"$raw/perf.$name.txt" || true
    rm -f "$raw/perf.data"
}

load_start="$(cut -d' ' -f1-3 /proc/loadavg)"
say "work folder: $work; offsync: $offsync"
largest="$(echo $sizes | tr ' ' '\n' | sort -n | tail -1)"
for n in $sizes; do
    store="$work/store-$n" imp="$work/imported-$n"
    rm -rf "$store" "$imp" "$work"/out-"$n"-*

    say "$n: generating the store"
    measure "gen-$n" "$gen" --store "$store" --updates "$n" --seed "$seed"
    row "$n" "generate the store ($(du -sm "$store" | cut -f1) MiB)" "$W" "$R" "$C" "$(sed -E 's/ in .*//' "$LAST_OUT")"

    # Full export: each run writes a new bundle (the store records each export; the last one
    # is the base of the incremental step below).
    ew="" er="" ec="" bundle=""
    for i in $(seq 1 "$runs"); do
        out="$work/out-$n-full-$i"
        rm -rf "$work"/out-"$n"-full-* && mkdir -p "$out"
        measure "export-$n-$i" "$offsync" -q export --store "$store" --out "$out" --full --metadata-only --json
        ew+="$W " er+="$R " ec+="$C "
        bundle="$(ls -d "$out"/offsync-*)"
    done
    row "$n" "full export" "$ew" "$er" "$ec" "$(json_num "$LAST_OUT" updates) updates, metadata bundle $(du -sm "$bundle" | cut -f1) MiB"

    vw="" vr="" vc=""
    for i in $(seq 1 "$runs"); do
        measure "verify-$n-$i" "$offsync" -q verify "$bundle"
        vw+="$W " vr+="$R " vc+="$C "
    done
    row "$n" "verify" "$vw" "$vr" "$vc" "ok"

    iw="" ir="" ic=""
    for i in $(seq 1 "$runs"); do
        rm -rf "$imp"
        "$offsync" -q init --store "$imp" >/dev/null
        measure "import-$n-$i" "$offsync" -q import --store "$imp" "$bundle" --json
        iw+="$W " ir+="$R " ic+="$C "
    done
    row "$n" "import into an empty store" "$iw" "$ir" "$ic" "$(json_num "$LAST_OUT" new) new"

    if [[ "$use_perf" == 1 && "$n" == "$largest" ]]; then
        say "$n: profiles (one run each)"
        mkdir -p "$work/out-perf"
        profile export "$offsync" -q export --store "$store" --out "$work/out-perf" --full --metadata-only
        profile verify "$offsync" -q verify "$bundle"
        "$offsync" -q init --store "$work/imported-perf" >/dev/null
        profile import "$offsync" -q import --store "$work/imported-perf" "$bundle"
        rm -rf "$work/out-perf" "$work/imported-perf"
        # The profiled export is now the last one: export once more so that the incremental
        # step follows on the bundle the imported store holds.
        rm -rf "$work"/out-"$n"-full-* && mkdir -p "$work/out-$n-full-x"
        "$offsync" -q export --store "$store" --out "$work/out-$n-full-x" --full --metadata-only >/dev/null
        rm -rf "$imp" && "$offsync" -q init --store "$imp" >/dev/null
        "$offsync" -q import --store "$imp" "$work"/out-"$n"-full-x/offsync-* >/dev/null
    fi
    rm -rf "$work"/out-"$n"-full-*

    # The incremental step: round i changes another ~BENCH_BUMP% of the updates; its bundle
    # is imported into the store that took the previous one, as on a real air gap.
    bw="" br="" bc="" xw="" xr="" xc="" mw="" mr="" mc="" sum=""
    for i in $(seq 1 "$runs"); do
        measure "bump-$n-$i" "$gen" --store "$store" --updates "$n" --seed "$seed" --bump-percent "$bump" --bump-round "$i"
        bw+="$W " br+="$R " bc+="$C "
        out="$work/out-$n-inc-$i"
        rm -rf "$out" && mkdir -p "$out"
        measure "incexport-$n-$i" "$offsync" -q export --store "$store" --out "$out" --metadata-only --json
        xw+="$W " xr+="$R " xc+="$C "
        local_w="$W"
        inc_updates="$(json_num "$LAST_OUT" updates)"
        measure "incimport-$n-$i" "$offsync" -q import --store "$imp" "$out"/offsync-* --json
        mw+="$W " mr+="$R " mc+="$C "
        sum+="$(awk -v a="$local_w" -v b="$W" 'BEGIN { printf "%.2f", a + b }') "
        rm -rf "$out"
    done
    row "$n" "${bump}% bump (gen_store, not a goal)" "$bw" "$br" "$bc" "$(sed -E 's/ in .*//' "$raw/bump-$n-1.out")"
    row "$n" "incremental export" "$xw" "$xr" "$xc" "$inc_updates updates"
    row "$n" "its import" "$mw" "$mr" "$mc" "$(json_num "$LAST_OUT" updated) updated, $(json_num "$LAST_OUT" new) new"
    row "$n" "incremental export + import" "$sum" "$(echo "$xr $mr" | maxof)" "$(echo "$xc" | median) " "sum of each run's two"

    if [[ "${BENCH_KEEP:-0}" != 1 ]]; then
        rm -rf "$store" "$imp"
    fi
done
load_end="$(cut -d' ' -f1-3 /proc/loadavg)"

# --- the goals ----------------------------------------------------------------------------
smallest="$(echo $sizes | tr ' ' '\n' | sort -n | head -1)"
# get N STEP COLUMN (3 = median wall s, 4 = peak RSS KiB)
get() { awk -F'\t' -v n="$1" -v s="$2" -v c="$3" '$1 == n && $2 == s { print $c }' "$summary"; }
goals="$raw/goals.md"
{
    echo "| goal (issue 11 point 3) | limit | measured | met |"
    echo "|---|---:|---:|---|"
    at="at $largest revisions"
    if [[ "$largest" != 1000000 ]]; then at="at $largest revisions (the goal is at 1,000,000)"; fi
    for g in "full export|5" "import into an empty store|10" "verify|3" "incremental export + import|1"; do
        step="${g%|*}" limit="${g#*|}"
        v="$(get "$largest" "$step" 3)"
        echo "| $step $at | ${limit} s | ${v} s | $(awk -v v="$v" -v l="$limit" 'BEGIN { print (v <= l ? "yes" : "**no**") }') |"
    done
    for step in "full export" "verify" "import into an empty store" "incremental export" "its import"; do
        k="$(get "$largest" "$step" 4)"
        echo "| peak RSS of $step $at | 256 MiB | $(awk -v k="$k" 'BEGIN { printf "%.1f MiB", k / 1024 }') | $(awk -v k="$k" 'BEGIN { print (k <= 256 * 1024 ? "yes" : "**no**") }') |"
    done
    if [[ "$smallest" != "$largest" ]]; then
        for step in "full export" "verify" "import into an empty store" "incremental export" "its import"; do
            a="$(get "$smallest" "$step" 4)" b="$(get "$largest" "$step" 4)"
            echo "| peak RSS of $step: $largest vs $smallest revisions | within 10% | $(awk -v a="$a" -v b="$b" 'BEGIN { printf "%.1f / %.1f MiB (%+.0f%%)", b / 1024, a / 1024, (b - a) * 100 / a }') | $(awk -v a="$a" -v b="$b" 'BEGIN { print (b <= a * 1.1 && b >= a * 0.9 ? "yes" : "**no**") }') |"
        done
    fi
} >"$goals"

# --- the results file ---------------------------------------------------------------------
commit="$(cd "$repo" && git rev-parse --short HEAD 2>/dev/null || echo '?')"
if ! (cd "$repo" && git diff --quiet HEAD -- src 2>/dev/null); then commit="$commit (with uncommitted changes in src/)"; fi
{
    echo "# Metadata benchmark results"
    echo
    echo "Written by \`bench/metadata.sh\` (see [README.md](README.md#metadata-benchmark)); reproduce with"
    echo "\`BENCH_SIZES=\"$sizes\" BENCH_RUNS=$runs bash bench/metadata.sh\`."
    echo
    echo "- date: $(date -u +%Y-%m-%dT%H:%M:%SZ); commit $commit; $("$offsync" --version)"
    echo "- machine: $(nproc) CPUs, $(lscpu 2>/dev/null | sed -n 's/^Model name: *//p' | head -1); flags: $(grep -o -w -E 'sha_ni|avx2|aes' /proc/cpuinfo | sort -u | tr '\n' ' ')"
    echo "- memory: $(free -m | awk '/^Mem:/ { printf "%.1f GiB, %.1f GiB available at the start", $2 / 1024, $7 / 1024 }'); disk: $(df -PT "$work" | awk 'NR == 2 { print $2 " on " $1 }')"
    echo "- load average (1/5/15 min) at the start: $load_start; at the end: $load_end"
    echo "- $runs run(s) per step, median wall and CPU time; peak RSS is the highest run; seed $seed; the incremental step changes ${bump}% of the updates (whole bundles) with examples/gen_store.rs"
    echo
    echo "## Goals"
    echo
    cat "$goals"
    echo
    echo "## Measurements"
    echo
    cat "$table"
    if [[ "$use_perf" == 1 ]]; then
        echo
        echo "## Profiles at $largest revisions"
        echo
        echo "One \`perf record -F 499\` run of each command, the symbols above 2% of the samples:"
        for c in export verify import; do
            if [[ -s "$raw/perf.$c.txt" ]]; then
                echo
                echo "$c:"
                echo
                echo '```'
                cat "$raw/perf.$c.txt"
                echo '```'
            fi
        done
    fi
    if [[ -f "$results" ]] && grep -q '^<!-- BEGIN NOTES -->' "$results"; then
        echo
        sed -n '/^<!-- BEGIN NOTES -->/,/^<!-- END NOTES -->/p' "$results"
    fi
} >"$raw/results.md"
cp "$raw/results.md" "$results"
say "done in $(($(date +%s) - t_start)) s; results in $results (raw reports in $raw)"
cat "$results"
