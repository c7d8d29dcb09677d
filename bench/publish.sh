#!/usr/bin/env bash
# Benchmark of `offsync publish share` and `offsync publish wsus` on a store of N updates with
# their documents and payload files for part of them: wall time, CPU time, peak RSS and the
# bytes each run read and wrote, against issue 12's "Scale" goal (peak RSS under 256 MiB,
# seconds, one read and one write of each new file at most, none for files already
# published). See bench/README.md.
#
# Environment (all optional):
#   BENCH_DIR      work folder (default: a new folder under /tmp); folders, stores, shares
#   BENCH_SIZES    update counts (default "100000")
#   BENCH_RUNS     runs per measured step, the median is reported (default 3)
#   BENCH_SEED     generator seed (default 1)
#   BENCH_PAYLOAD_PERCENT   share of the updates with files that get payloads (default 20)
#   BENCH_PAYLOAD_MAX       largest payload in bytes, sizes uniform from 1 KiB (default 65536)
#   BENCH_BUMP     the --since-last step bumps every K-th update's revision (default 100: 1%)
#   BENCH_OTHER_FS a folder on another file system for the copy path (default /dev/shm when
#                  it is one; "none" to skip)
#   BENCH_RESULTS  the results file to write (default bench/PUBLISH-RESULTS.md)
#   OFFSYNC_BIN, GEN_BIN   prebuilt binaries (both set: no build)
#   BENCH_KEEP=1   keep the folders, stores and shares
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(dirname "$here")"
sizes="${BENCH_SIZES:-100000}"
runs="${BENCH_RUNS:-3}"
seed="${BENCH_SEED:-1}"
pct="${BENCH_PAYLOAD_PERCENT:-20}"
pmax="${BENCH_PAYLOAD_MAX:-65536}"
bump="${BENCH_BUMP:-100}"
results="${BENCH_RESULTS:-$here/PUBLISH-RESULTS.md}"
t_start=$(date +%s)

if [[ -n "${BENCH_DIR:-}" ]]; then
    work="$BENCH_DIR"
    mkdir -p "$work"
else
    work="$(mktemp -d /tmp/offsync-publish.XXXXXX)"
fi
work="$(cd "$work" && pwd)"
raw="$work/raw"
mkdir -p "$raw"
say() { echo "[$(($(date +%s) - t_start))s] $*" >&2; }

if [[ ! -x /usr/bin/time ]]; then
    say "installing GNU time (/usr/bin/time is missing)"
    apt-get update -qq && apt-get install -y -qq time >/dev/null
fi

# --- binaries ---------------------------------------------------------------------------
if [[ -z "${OFFSYNC_BIN:-}" || -z "${GEN_BIN:-}" ]]; then
    say "building release binaries"
    (cd "$repo" && cargo build --release --quiet --bin offsync --example gen_updates)
fi
offsync="${OFFSYNC_BIN:-$repo/target/release/offsync}"
gen="${GEN_BIN:-$repo/target/release/examples/gen_updates}"

# `publish wsus` is newer than `publish share`: without it, its steps are left out (said
# in the results).
have_wsus=0
if "$offsync" publish wsus --help >/dev/null 2>&1; then
    have_wsus=1
else
    say "this offsync has no 'publish wsus': its steps are skipped"
fi

# The copy path needs a folder on another file system than the work folder.
other="${BENCH_OTHER_FS:-/dev/shm}"
if [[ "$other" == none || ! -d "$other" || ! -w "$other" ||
    "$(stat -c %d "$other")" == "$(stat -c %d "$work")" ]]; then
    say "no writable folder on another file system ($other): the copy steps are skipped"
    other=""
else
    other="$(mktemp -d "$other/offsync-publish.XXXXXX")"
fi
# (Removed even with BENCH_KEEP: it is memory when it is tmpfs.)
cleanup() { if [[ -n "$other" ]]; then rm -rf "$other"; fi; }
trap cleanup EXIT

# Every update of the generator's tree: its company and all ten classifications.
criteria=(--product 56309036-4c77-4dd9-951a-99ee9c246a94 --all-languages)
for c in $("$gen" --list-categories | awk -F'\t' '$1 == "UpdateClassification" { print $2 }'); do
    criteria+=(--classification "$c")
done

# --- measuring --------------------------------------------------------------------------
# measure NAME CMD...: runs CMD under /usr/bin/time -v (and bench/proc_io.py, for the bytes
# it read and wrote) and sets W (wall s), C (CPU s: user + system), R (peak RSS KiB),
# RC and WC (rchar and wchar bytes); the reports and the command's output stay in $raw/NAME.*
measure() {
    local name="$1"
    shift
    if ! /usr/bin/time -v -o "$raw/$name.time" python3 "$here/proc_io.py" "$raw/$name.io" -- "$@" \
        >"$raw/$name.out" 2>"$raw/$name.err"; then
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
    read -r RC WC _ <"$raw/$name.io"
    LAST_OUT="$raw/$name.out"
}

median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else printf "%.2f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
maxof() { tr ' ' '\n' | grep -v '^$' | sort -g | tail -1; }
mib() { awk -v b="$1" 'BEGIN { printf "%.1f", b / 1048576 }'; }
# json FILE KEY: a top-level field of a --json output (empty when absent).
json() { python3 -c 'import json, sys; v = json.load(open(sys.argv[1])).get(sys.argv[2], ""); print(v if not isinstance(v, (list, dict)) else len(v))' "$1" "$2"; }
# summary FILE KEY...: "key value, ..." for the keys the output has.
summary() {
    python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
print(", ".join(f"{k} {len(d[k]) if isinstance(d[k], (list, dict)) else d[k]}" for k in sys.argv[2:] if k in d))' "$@"
}
share_keys=(linked copied unchanged missing damaged bytes_written indexes_written)
wsus_keys=(updates left_out packages linked copied unchanged missing damaged bytes_written content_bytes_written)

table="$raw/table.md"
stats="$raw/stats.tsv"
{
    echo "| updates | step | runs | median wall s | median CPU s | peak RSS MiB | walls s | read MiB | written MiB | result |"
    echo "|---:|---|---:|---:|---:|---:|---|---:|---:|---|"
} >"$table"
: >"$stats"

# row N KEY STEP RESULT: a table row from the runs' lists (WS RS CS RCS WCS); the stats keep,
# per size and key, the median wall, the peak RSS, the median rchar and wchar, and IDX (the
# size of the share's indexes after the step, else 0).
row() {
    local n="$1" key="$2" step="$3" result="$4"
    local med maxrss rc wc
    med="$(echo "$WS" | median)" maxrss="$(echo "$RS" | maxof)"
    rc="$(echo "$RCS" | median)" wc="$(echo "$WCS" | median)"
    printf '| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n' "$n" "$step" "$(echo "$WS" | wc -w)" "$med" \
        "$(echo "$CS" | median)" "$(mib $((maxrss * 1024)))" "$(echo $WS | tr ' ' '/')" "$(mib "$rc")" "$(mib "$wc")" \
        "$result" | tee -a "$table" >&2
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$n" "$key" "$med" "$maxrss" "$rc" "$wc" "${IDX:-0}" >>"$stats"
    IDX=0
}
# indexes DIR: sets IDX to the bytes of the share's index.html, index.json and index.csv.
indexes() { IDX="$(cat "$1"/index.html "$1"/index.json "$1"/index.csv 2>/dev/null | wc -c)"; }
reset_lists() { WS="" RS="" CS="" RCS="" WCS=""; }
add_run() { WS+="$W " RS+="$R " CS+="$C " RCS+="$RC " WCS+="$WC "; }

# step N KEY FRESH OUT CMD...: BENCH_RUNS runs of CMD, OUT removed before each when FRESH is
# 1 (a first publish), kept when 0 (a publish over the previous one); `row` follows.
step() {
    local n="$1" key="$2" fresh="$3" out="$4"
    shift 4
    reset_lists
    for i in $(seq 1 "$runs"); do
        if [[ "$fresh" == 1 ]]; then rm -rf "$out"; fi
        measure "$key-$n-$i" "$@"
        add_run
    done
}

load_start="$(cut -d' ' -f1-3 /proc/loadavg)"
say "work folder: $work; offsync: $offsync"
declare -A content_bytes share_bytes
for n in $sizes; do
    src="$work/upstream-$n" pay="$work/payloads-$n" store="$work/store-$n"
    share="$work/share-$n" wsus="$work/wsus-$n"
    rm -rf "$src" "$pay" "$store" "$share" "$wsus" "$work/base-$n"

    say "$n: generating the documents and payloads"
    reset_lists
    measure "gen-$n" "$gen" --out "$src" --count "$n" --seed "$seed" --payloads "$pay" \
        --payload-percent "$pct" --payload-max-size "$pmax"
    add_run
    row "$n" gen "generate ($(du -sm "$src" | cut -f1) MiB of documents, not measured for a goal)" \
        "$(sed -n 's/ to .*//p' "$LAST_OUT" | tr '\n' ';' | sed 's/;$//; s/;/; /')"

    say "$n: syncing the store"
    "$offsync" -q init --store "$store" >/dev/null
    "$offsync" -q sync --store "$store" --from "$src" >/dev/null
    "$offsync" -q criteria set --store "$store" "${criteria[@]}" >/dev/null
    reset_lists
    measure "sync-$n" "$offsync" -q sync --json --store "$store" --from "$src"
    add_run
    row "$n" sync "sync (not a goal)" "$(summary "$LAST_OUT" new selected upstream_updates)"

    # Baselines: the same publishes before the store has any payload, so every file is
    # missing; what they read and write is the metadata's share, subtracted below to give
    # the content's.
    say "$n: baselines (no content yet)"
    mkdir -p "$work/base-$n"
    reset_lists
    measure "base-share-$n" "$offsync" -q publish share --store "$store" --out "$work/base-$n/share" --json
    add_run
    row "$n" base-share "baseline: publish share, no content in the store" "$(summary "$LAST_OUT" "${share_keys[@]}")"
    if [[ "$have_wsus" == 1 ]]; then
        reset_lists
        measure "base-wsus-$n" "$offsync" -q publish wsus --store "$store" --out "$work/base-$n/wsus" --full --json
        add_run
        row "$n" base-wsus "baseline: publish wsus --full, no content in the store" "$(summary "$LAST_OUT" "${wsus_keys[@]}")"
    fi
    rm -rf "$work/base-$n"

    say "$n: taking in the payloads"
    reset_lists
    measure "content-$n" "$offsync" -q content import --store "$store" "$pay" --json
    add_run
    content_bytes[$n]="$(json "$LAST_OUT" added_bytes)"
    row "$n" content "content import (not a goal)" "$(summary "$LAST_OUT" scanned added_files added_bytes)"

    say "$n: publish share"
    step "$n" share-1 1 "$share" "$offsync" -q publish share --store "$store" --out "$share" --json
    share_bytes[$n]="$(json "$LAST_OUT" bytes)"
    indexes "$share"
    row "$n" share-1 "publish share, first run (hard links; ${share_bytes[$n]} bytes in the share)" "$(summary "$LAST_OUT" "${share_keys[@]}")"
    step "$n" share-2 0 "$share" "$offsync" -q publish share --store "$store" --out "$share" --json
    indexes "$share"
    row "$n" share-2 "publish share, second run (nothing changed)" "$(summary "$LAST_OUT" "${share_keys[@]}")"
    if [[ -n "$other" ]]; then
        step "$n" copy-1 1 "$other/share-$n" "$offsync" -q publish share --store "$store" --out "$other/share-$n" --json
        indexes "$other/share-$n"
        row "$n" copy-1 "publish share to another file system, first run (copies)" "$(summary "$LAST_OUT" "${share_keys[@]}")"
        step "$n" copy-2 0 "$other/share-$n" "$offsync" -q publish share --store "$store" --out "$other/share-$n" --json
        indexes "$other/share-$n"
        row "$n" copy-2 "publish share to another file system, second run" "$(summary "$LAST_OUT" "${share_keys[@]}")"
        rm -rf "$other/share-$n"
    fi
    if [[ "${BENCH_KEEP:-0}" != 1 ]]; then rm -rf "$share"; fi

    if [[ "$have_wsus" == 1 ]]; then
        say "$n: publish wsus"
        step "$n" wsus-1 1 "$wsus" "$offsync" -q publish wsus --store "$store" --out "$wsus" --full --json
        row "$n" wsus-1 "publish wsus --full, first run (hard links)" "$(summary "$LAST_OUT" "${wsus_keys[@]}")"
        step "$n" wsus-2 0 "$wsus" "$offsync" -q publish wsus --store "$store" --out "$wsus" --full --json
        row "$n" wsus-2 "publish wsus --full, second run (content unchanged)" "$(summary "$LAST_OUT" "${wsus_keys[@]}")"

        say "$n: a revision bump of every ${bump}th update, resync, publish wsus --since-last"
        "$gen" --out "$src" --count "$n" --seed "$seed" --payloads "$pay" --payload-percent "$pct" \
            --payload-max-size "$pmax" --revision-bump "$bump" >"$raw/gen-bump-$n.out"
        reset_lists
        measure "resync-$n" "$offsync" -q sync --json --store "$store" --from "$src"
        add_run
        row "$n" resync "resync after the bump (not a goal)" "$(summary "$LAST_OUT" new updated unchanged)"
        # One run: a second --since-last would find nothing new.
        reset_lists
        measure "since-$n" "$offsync" -q publish wsus --store "$store" --out "$wsus" --since-last --json
        add_run
        row "$n" since "publish wsus --since-last after the bump (1 run)" "$(summary "$LAST_OUT" "${wsus_keys[@]}")"
    fi

    if [[ "${BENCH_KEEP:-0}" != 1 ]]; then
        rm -rf "$src" "$pay" "$store" "$share" "$wsus"
    fi
done
load_end="$(cut -d' ' -f1-3 /proc/loadavg)"

# --- the goals ----------------------------------------------------------------------------
largest="$(echo $sizes | tr ' ' '\n' | sort -n | tail -1)"
# get KEY COLUMN (3 = median wall s, 4 = peak RSS KiB, 5 = rchar, 6 = wchar, 7 = index bytes)
# at the largest size
get() { awk -F'\t' -v n="$largest" -v s="$1" -v c="$2" '$1 == n && $2 == s { print $c }' "$stats"; }
# ratio KEY BASE COLUMN REF [OTHER]: (KEY's bytes - BASE's - OTHER) / REF, the content's
# share per byte of REF.
ratio() { awk -v a="$(get "$1" "$3")" -v b="$(get "$2" "$3")" -v r="$4" -v o="${5:-0}" 'BEGIN { x = (a - b - o) / r; printf "%.2f", (x < 0 && x > -0.005) ? 0 : x }'; }
# A second publish share writes its indexes beside the old ones and compares them byte for
# byte (they are replaced only when they change): twice their size read, once written.
idx2() { echo $((2 * $(get "$1" 7))); }
met() { awk -v v="$1" -v l="$2" 'BEGIN { print (v <= l ? "yes" : "**no**") }'; }
goals="$raw/goals.md"
cb="${content_bytes[$largest]}" sb="${share_bytes[$largest]}"
{
    echo "| goal (issue 12, Scale) at $largest updates | limit | measured | met |"
    echo "|---|---:|---:|---|"
    if [[ "$have_wsus" == 1 ]]; then
        k="$(get wsus-1 4)"
        echo "| peak RSS of \`publish wsus --full\` | 256 MiB | $(mib $((k * 1024))) MiB | $(met "$k" $((256 * 1024))) |"
        v="$(get wsus-1 3)"
        echo "| wall time of \`publish wsus --full\` (\"seconds\") | 60 s | $v s | $(met "$v" 60) |"
        for s in wsus-2 since; do
            k="$(get "$s" 4)"
            echo "| peak RSS of \`publish wsus\` $([[ $s == since ]] && echo "--since-last" || echo "--full, second run") | 256 MiB | $(mib $((k * 1024))) MiB | $(met "$k" $((256 * 1024))) |"
        done
        r="$(ratio wsus-1 base-wsus 5 "$cb")"
        echo "| content read by the first \`publish wsus --full\`, per byte of content ($cb bytes) | 1 | $r | $(met "$r" 1.05) |"
        r="$(ratio wsus-1 base-wsus 6 "$cb")"
        echo "| content written by it, per byte of content (hard links: none) | 1 | $r | $(met "$r" 1.05) |"
        r="$(ratio wsus-2 base-wsus 5 "$cb")"
        echo "| content read by the second run (all published), per byte of content | 0 | $r | $(met "$r" 0.05) |"
        r="$(ratio wsus-2 base-wsus 6 "$cb")"
        echo "| content written by the second run, per byte of content | 0 | $r | $(met "$r" 0.05) |"
    else
        echo "| \`publish wsus\` goals | | not measured: this offsync has no \`publish wsus\` | |"
    fi
    k="$(get share-1 4)"
    echo "| peak RSS of \`publish share\` (not a goal of the issue; same limit) | 256 MiB | $(mib $((k * 1024))) MiB | $(met "$k" $((256 * 1024))) |"
    r="$(ratio share-1 base-share 5 "$sb")"
    echo "| content read by the first \`publish share\` (links), per byte in the share ($sb bytes) | 1 | $r | $(met "$r" 1.05) |"
    r="$(ratio share-2 base-share 5 "$sb" "$(idx2 share-2)")"
    echo "| content read by its second run, per byte in the share (less twice the indexes, compared) | 0 | $r | $(met "$r" 0.05) |"
    r="$(ratio share-2 0 6 "$sb" "$(get share-2 7)")"
    echo "| content written by its second run, per byte in the share | 0 | $r | $(met "$r" 0.05) |"
    if [[ -n "$other" ]]; then
        r="$(ratio copy-1 base-share 5 "$sb")"
        echo "| content read by the first \`publish share\` to another file system (copies) | 1 | $r | $(met "$r" 1.05) |"
        r="$(ratio copy-1 0 6 "$sb" "$(get copy-1 7)")"
        echo "| content written by it (less the indexes) | 1 | $r | $(met "$r" 1.05) |"
        r="$(ratio copy-2 base-share 5 "$sb" "$(idx2 copy-2)")"
        echo "| content read by its second run (a copy is checked by reading it) | 1 | $r | $(met "$r" 1.05) |"
        r="$(ratio copy-2 0 6 "$sb" "$(get copy-2 7)")"
        echo "| content written by its second run | 0 | $r | $(met "$r" 0.05) |"
    fi
} >"$goals"

# --- the results file ---------------------------------------------------------------------
commit="$(cd "$repo" && git rev-parse --short HEAD 2>/dev/null || echo '?')"
if ! (cd "$repo" && git diff --quiet HEAD -- src 2>/dev/null); then commit="$commit (with uncommitted changes in src/)"; fi
{
    echo "# Publish benchmark results"
    echo
    echo "Written by \`bench/publish.sh\` (see [README.md](README.md#publish-benchmark)); reproduce with"
    echo "\`BENCH_SIZES=\"$sizes\" BENCH_RUNS=$runs bash bench/publish.sh\`."
    echo
    echo "- date: $(date -u +%Y-%m-%dT%H:%M:%SZ); commit $commit; $("$offsync" --version)"
    echo "- machine: $(nproc) CPUs, $(lscpu 2>/dev/null | sed -n 's/^Model name: *//p' | head -1)"
    echo "- memory: $(free -m | awk '/^Mem:/ { printf "%.1f GiB, %.1f GiB available at the end", $2 / 1024, $7 / 1024 }'); work folder on $(df -PT "$work" | awk 'NR == 2 { print $2 " " $1 }')$([[ -n "$other" ]] && echo "; copies to $(df -PT "$other" | awk 'NR == 2 { print $2 " " $1 }')")"
    echo "- load average (1/5/15 min) at the start: $load_start; at the end: $load_end"
    echo "- $runs run(s) per step, median wall and CPU time and bytes; peak RSS is the highest run; seed $seed;"
    echo "  payloads for ${pct}% of the updates with files, 1 KiB to $pmax bytes each (examples/gen_updates.rs --payloads)"
    echo "- read and written: rchar and wchar of /proc/PID/io (bench/proc_io.py: every byte through"
    echo "  read()/write(), page cache hits included). The content's share of a run is its bytes less"
    echo "  those of the baseline run of the same command on the same store before it held any payload"
    echo "  (the metadata's part: the store, the documents, the indexes or the package), per byte of content."
    echo
    echo "## Goals"
    echo
    cat "$goals"
    echo
    echo "## Measurements"
    echo
    cat "$table"
    if [[ -f "$results" ]] && grep -q '^<!-- BEGIN NOTES -->' "$results"; then
        echo
        sed -n '/^<!-- BEGIN NOTES -->/,/^<!-- END NOTES -->/p' "$results"
    fi
} >"$raw/results.md"
cp "$raw/results.md" "$results"
say "done in $(($(date +%s) - t_start)) s; results in $results (raw reports in $raw)"
cat "$results"
