#!/usr/bin/env bash
# Benchmark of the air-gap transfer: `offsync export`, `verify` and `import` of a few GiB of
# content and of a large metadata set, with wall time, CPU time and peak RSS (GNU time -v),
# side by side with plain tools on the same data (cat, sha256sum, cp -r). Writes the measured
# part of bench/TRANSFER-RESULTS.md (between its BEGIN/END MEASURED markers; the rest of the
# file, the hand-written analysis, is kept).
#
#   bench/transfer.sh            # 10-20 minutes on 2 shared cores (+ a build of a new commit)
#
# Cases:
#   content   ~3 GiB of pseudo-random payload files (40 of 1-200 MiB, two of ~600 MiB) and
#             matching upd:Update documents (bench/make_payloads.py); a connected store syncs
#             them and takes the files in; then export --max-volume-size 700M (large files are
#             cut across volumes) into a fresh folder, verify, and import into a fresh isolated
#             store. The same with a ~1 GiB subset, to see whether memory stays flat as content
#             grows. Baselines on the same files: cat, sha256sum (one and two processes),
#             sha1sum + sha256sum, cp -r, cp -r with fsync of every file, and the hand-made
#             pipeline (sha256sum + zip -0 + sync; unzip + sha256sum -c + mv + sync; needs
#             zip and unzip, else left out). BENCH_RUNS rounds, each
#             running the baselines and both offsync cases in turn, so that they share the
#             machine's load of the moment (the medians and ratios are what counts). One more
#             run of each under bench/transfer_io.py counts the bytes read and written
#             (/proc/PID/io) and the CPU time per thread, and one under `perf record` gives the
#             hot functions.
#   metadata  examples/gen_updates with 50,000 and 200,000 updates, broad criteria, sync, then
#             export --metadata-only, verify, import.
#
# Environment (all optional):
#   BENCH_DIR          parent of the work folder (default /tmp); the work folder is removed at the end
#   BENCH_RUNS         runs per measured phase, the median is reported (default 3)
#   BENCH_CONTENT_MIB  content size in MiB (default 3072); scaled down when the disk is short
#   BENCH_SUBSET_MIB   the smaller content set for the memory comparison (default a third)
#   BENCH_VOLUME       --max-volume-size (default 700M, scaled with the content)
#   BENCH_META_SIZES   update counts of the metadata case (default "50000 200000")
#   BENCH_CONTENT=0    skip the content case;  BENCH_META=0  skip the metadata case
#   BENCH_PERF=0       skip the perf profile runs
#   BENCH_META_TMPFS   where the generated update documents go (default /dev/shm when it has
#                      room, else the work folder): removing 200,000 small files from an ext4
#                      mounted with `discard` takes minutes, from tmpfs no time
#   BENCH_RESULTS      file to write (default bench/TRANSFER-RESULTS.md)
#   BENCH_BUDGET_S     time budget in seconds (default 1500): content rounds after the first
#                      are skipped when the next one would not leave room for the rest
#   BENCH_SOURCE       commit (default: the last commit, from a snapshot) or worktree
#   OFFSYNC_BIN, GEN_BIN   use these binaries instead of building them (both must be given)
#   The disk needs about 4.5 times the content plus 4 GiB (checked with df first; the content
#   is scaled down, with a message, when it does not fit).
#   BENCH_KEEP=1       keep the work folder
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(dirname "$here")"
runs="${BENCH_RUNS:-3}"
content_mib="${BENCH_CONTENT_MIB:-3072}"
meta_sizes="${BENCH_META_SIZES:-50000 200000}"
do_content="${BENCH_CONTENT:-1}"
do_meta="${BENCH_META:-1}"
results="${BENCH_RESULTS:-$here/TRANSFER-RESULTS.md}"
t_start=$(date +%s)

parent="${BENCH_DIR:-/tmp}"
mkdir -p "$parent"
work="$(mktemp -d "$parent/offsync-transfer.XXXXXX")"
raw="$work/raw"
mkdir -p "$raw"
shm=""   # the metadata case's upstream folders, on tmpfs when there is room (see below)
cleanup() {
    if [[ "${BENCH_KEEP:-0}" == 1 ]]; then
        echo "kept the work folder $work${shm:+ and $shm}" >&2
    else
        rm -rf "$work"
        if [[ -n "$shm" ]]; then rm -rf "$shm"; fi
    fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

say() { echo "[$(($(date +%s) - t_start))s] $*" >&2; }
fact() { printf '%s\t%s\n' "$1" "$2" >>"$raw/facts.tsv"; }
: >"$raw/facts.tsv"
printf 'case\top\trun\twall_s\trss_kib\tuser_s\tsys_s\n' >"$raw/runs.tsv"

if [[ ! -x /usr/bin/time ]]; then
    say "installing GNU time (/usr/bin/time is missing)"
    apt-get update -qq && apt-get install -y -qq time >/dev/null
fi

# --- disk space ---------------------------------------------------------------------------
# Content: the payloads, the connected store's copy, the subset store (a third), one bundle
# and one isolated store at a time: about 4.5 times the content. Metadata: the 200k folder
# (~0.8 GiB), two stores and a bundle: about 3 GiB.
avail_mib=$(df -P -BM "$work" | awk 'NR == 2 { sub(/M$/, "", $4); print $4 }')
meta_need=0
if [[ "$do_meta" == 1 ]]; then meta_need=3072; fi
need=$(awk -v c="$content_mib" -v m="$meta_need" -v d="$do_content" 'BEGIN { printf "%d", (d == 1 ? c * 4.5 : 0) + m + 1024 }')
say "work folder $work: ${avail_mib} MiB free, about ${need} MiB needed"
if ((avail_mib < need)); then
    if [[ "$do_content" == 1 ]]; then
        scaled=$(awk -v a="$avail_mib" -v m="$meta_need" 'BEGIN { printf "%d", (a - m - 1024) / 4.5 }')
        if ((scaled < 256)); then
            echo "not enough free disk space in $parent: ${avail_mib} MiB free, ${need} MiB needed (even 256 MiB of content does not fit); set BENCH_DIR to a larger disk" >&2
            exit 1
        fi
        echo "NOTE: only ${avail_mib} MiB free in $parent, ${need} MiB needed for ${content_mib} MiB of content: scaling the content down to ${scaled} MiB" >&2
        content_mib=$scaled
        fact scaled_down "from ${BENCH_CONTENT_MIB:-3072} MiB to ${scaled} MiB (disk: ${avail_mib} MiB free)"
    else
        echo "not enough free disk space in $parent: ${avail_mib} MiB free, ${need} MiB needed" >&2
        exit 1
    fi
fi
scale=$(awk -v c="$content_mib" 'BEGIN { print c / 3072 }')
subset_mib="${BENCH_SUBSET_MIB:-$(awk -v c="$content_mib" 'BEGIN { printf "%d", c / 3 }')}"
volume="${BENCH_VOLUME:-$(awk -v s="$scale" 'BEGIN { v = int(700 * s); if (v < 16) v = 16; printf "%dM", v }')}"

# --- binaries -----------------------------------------------------------------------------
# What is measured: by default the last commit (BENCH_SOURCE=commit), built from a snapshot
# (`git archive HEAD`, plus examples/gen_updates.rs when the commit lacks it) with its own
# target folder, so that changes in progress in a shared working tree do not leak into the
# numbers; BENCH_SOURCE=worktree builds the working tree as it is. Either way the binaries
# are copied into the work folder first: a `cargo build` running elsewhere during the
# benchmark cannot swap them between runs (nor under perf).
source_kind="${BENCH_SOURCE:-commit}"
commit="$(cd "$repo" && git rev-parse --short HEAD 2>/dev/null || echo '?')"
if [[ -n "${OFFSYNC_BIN:-}" && -n "${GEN_BIN:-}" ]]; then
    built_from="OFFSYNC_BIN=$OFFSYNC_BIN"
    src_offsync="$OFFSYNC_BIN" src_gen="$GEN_BIN"
elif [[ "$source_kind" == worktree ]]; then
    say "building the working tree"
    (cd "$repo" && cargo build --release --quiet --bin offsync --example gen_updates)
    src_offsync="$repo/target/release/offsync" src_gen="$repo/target/release/examples/gen_updates"
    built_from="working tree"
    if ! (cd "$repo" && git diff --quiet HEAD -- src Cargo.toml Cargo.lock && [[ -z "$(git ls-files --others --exclude-standard src)" ]]); then
        built_from="working tree, which differs from commit $commit in src/"
    fi
else
    say "building commit $commit (a snapshot; BENCH_SOURCE=worktree builds the working tree)"
    # Snapshot and target folder live in target/transfer-bench, a build cache like target/
    # itself: the same commit again is not rebuilt (tar keeps the commit's file times).
    snap="$repo/target/transfer-bench/src"
    rm -rf "$snap"
    mkdir -p "$snap"
    (cd "$repo" && git archive HEAD) | tar -x -C "$snap"
    if [[ ! -f "$snap/examples/gen_updates.rs" ]]; then
        mkdir -p "$snap/examples"
        cp "$repo/examples/gen_updates.rs" "$snap/examples/"
    fi
    (cd "$snap" && CARGO_TARGET_DIR="$repo/target/transfer-bench" cargo build --release --quiet --bin offsync --example gen_updates)
    src_offsync="$repo/target/transfer-bench/release/offsync" src_gen="$repo/target/transfer-bench/release/examples/gen_updates"
    built_from="commit $commit"
fi
mkdir -p "$work/bin"
cp "${OFFSYNC_BIN:-$src_offsync}" "$work/bin/offsync"
cp "${GEN_BIN:-$src_gen}" "$work/bin/gen_updates"
offsync="$work/bin/offsync"
gen="$work/bin/gen_updates"
use_perf=0
if [[ "${BENCH_PERF:-1}" == 1 ]] && command -v perf >/dev/null &&
    perf record -q -o "$raw/perf-probe.data" -- true >/dev/null 2>&1; then
    use_perf=1
fi

# --- the machine --------------------------------------------------------------------------
fact date "$(date -u +%Y-%m-%dT%H:%M:%SZ)"
fact nproc "$(nproc)"
fact memory "$(free -m | awk '/^Mem:/ { printf "%.1f GiB total, %.1f GiB available at start", $2 / 1024, $7 / 1024 }')"
fact cpu "$(lscpu | sed -n 's/^Model name: *//p' | head -1)"
fact cpu_flags "$(grep -o -w -m1 -E 'sha_ni|avx2' /proc/cpuinfo | sort -u | tr '\n' ' ')"
fact kernel "$(uname -r)"
fact filesystem "$(df -PT "$work" | awk 'NR == 2 { print $2 " on " $1 }'), ${avail_mib} MiB free"
fact offsync "$("$offsync" --version), built from the $built_from"
fact runs "$runs"
fact perf "$use_perf"

# --- measuring ----------------------------------------------------------------------------
# measure CASE OP RUN CMD...: runs CMD under /usr/bin/time -v; appends wall, peak RSS, user
# and system time to runs.tsv; keeps the command's output in $raw/CASE.OP.RUN.out
measure() {
    local case="$1" op="$2" run="$3"
    shift 3
    local tag="$case.${op// /_}.$run"
    if ! /usr/bin/time -v -o "$raw/$tag.time" "$@" >"$raw/$tag.out" 2>"$raw/$tag.err"; then
        echo "FAILED: $* (see $raw/$tag.err)" >&2
        tail -5 "$raw/$tag.err" >&2
        BENCH_KEEP=1
        exit 1
    fi
    local line
    line=$(awk -F': ' '
        /Elapsed \(wall clock\) time/ {
            n = split($2, p, ":"); s = 0
            for (i = 1; i <= n; i++) s = s * 60 + p[i]
            wall = s
        }
        /Maximum resident set size/ { rss = $2 }
        /User time \(seconds\)/ { u = $2 }
        /System time \(seconds\)/ { sy = $2 }
        END { printf "%.2f\t%d\t%.2f\t%.2f", wall, rss, u, sy }' "$raw/$tag.time")
    printf '%s\t%s\t%s\t%s\n' "$case" "$op" "$run" "$line" >>"$raw/runs.tsv"
    local w r u s
    IFS=$'\t' read -r w r u s <<<"$line"
    say "  $case / $op / run $run: ${w} s wall, ${u}+${s} s CPU, peak RSS $((r / 1024)) MiB"
    LAST_OUT="$raw/$tag.out"
}

# The page cache keeps the data hot for every run alike; flushing dirty pages between runs
# keeps one run's write-back out of the next run's time.
settle() { sync -f "$work" 2>/dev/null || sync; }

json_get() { python3 -c 'import json, sys; d = json.load(open(sys.argv[1])); print(eval(sys.argv[2], {"json": json}, {"d": d}))' "$@"; }

# io_run CASE OP CMD...: one run under transfer_io.py (bytes read and written).
io_run() {
    local case="$1" op="$2"
    shift 2
    python3 "$here/transfer_io.py" "$raw/io.$case.$op.json" "$raw/io.$case.$op.out" "$raw/io.$case.$op.err" -- "$@" ||
        { echo "FAILED: $* (see $raw/io.$case.$op.err)" >&2; exit 1; }
    say "  $case / $op: $(json_get "$raw/io.$case.$op.json" '"read %.0f MiB, wrote %.0f MiB" % (d["rchar"] / 2**20, d["wchar"] / 2**20)')"
}

# perf_run CASE OP CMD...: one run under perf record; keeps the top symbols.
perf_run() {
    local case="$1" op="$2"
    shift 2
    [[ "$use_perf" == 1 ]] || return 0
    perf record -q -F 499 -o "$raw/perf.data" -- "$@" >/dev/null 2>"$raw/perf.$case.$op.err" ||
        { echo "FAILED under perf: $*" >&2; exit 1; }
    perf report -i "$raw/perf.data" --stdio --no-children --sort dso,symbol --percent-limit 1.5 2>/dev/null |
        grep -E '^ +[0-9.]+%' | head -14 | sed -E 's/ +$//; s/ +- +-$//' >"$raw/perf.$case.$op.txt" || true
    rm -f "$raw/perf.data"
    say "  $case / $op: profiled"
}

# Broad criteria (as bench/sync.sh): seven products, six classifications.
broad=(
    --product a3c2375d-0c8a-42f9-bce0-28333e198407 --product 72e7624a-5b00-45d2-b92f-e561c0a6a160
    --product f702a48c-919b-45d6-9aef-ca4248d50397 --product 569e8e8f-c6cd-42c8-92a3-efbb20a0f6f5
    --product d31bd4c3-d872-41c9-a2e7-231f372588cb --product 25aed893-7c2d-4a31-ae22-28ff8ac150ed
    --product 8c3fcc84-7410-4a95-8b89-a166a0190486
    --classification 0fa1201d-4330-4fa8-8ae9-b877473b6441 --classification e6cf1350-c01b-414d-a61f-263d14d133b4
    --classification cd5ffd1e-e932-4e3a-bf74-18bf0b1bbd83 --classification 28bc880e-0592-4cbf-8f95-c79b17911d5f
    --classification e0789628-ce08-4437-be74-2495b842f43b --classification 68c5b0a3-d1a6-4553-ae49-01d3a7827828
)

# round CASE RUN STORE EXPORT-ARGS...: one export (fresh out folder), a verify of that bundle,
# and an import of it into a fresh isolated store; then both are removed.
round() {
    local case="$1" i="$2" store="$3"
    shift 3
    local out="$work/out-$case-$i" iso="$work/iso-$case" bundle
    mkdir -p "$out" # export writes into a folder that exists (the mounted media), never creates it
    settle
    measure "$case" export "$i" "$offsync" -q export --store "$store" --out "$out" --full "$@" --json
    bundle="$(ls -d "$out"/offsync-*)"
    if [[ "$i" == 1 ]]; then
        fact "$case.export" "$(json_get "$LAST_OUT" '"%d updates, %d content files, %d content bytes, %d volumes (%s), %d referenced files missing" % (d["updates"], d["content_files"], d["content_bytes"], len(d["volumes"]), ", ".join("%.1f MiB" % (v["size"] / 2**20) for v in d["volumes"]), len(d["missing"]))')"
        fact "$case.manifest" "$(json_get "$bundle/manifest.json" '"%d entries, %d of them pieces of %d files cut across volumes; metadata.bin %.2f MiB; manifest.json %.1f KiB" % (len(d["entries"]), sum(1 for e in d["entries"] if e.get("file")), len({e["file"] for e in d["entries"] if e.get("file")}), sum(e["size"] for e in d["entries"] if e["path"] == "metadata.bin") / 2**20, len(json.dumps(d)) / 1024)')"
    fi
    settle
    measure "$case" verify "$i" "$offsync" -q verify "$bundle"
    rm -rf "$iso"
    "$offsync" -q init --store "$iso" >/dev/null
    settle
    measure "$case" import "$i" "$offsync" -q import --store "$iso" "$bundle" --json
    if [[ "$i" == 1 ]]; then
        fact "$case.import" "$(json_get "$LAST_OUT" '"%s: %d new, %d content files, %d content bytes" % (d["outcome"], d["new"], d["content_files"], d["content_bytes"])')"
    fi
    rm -rf "$iso" "$out"
}

# observe CASE STORE EXPORT-ARGS...: export, verify, import once more under transfer_io.py
# (bytes read and written, CPU per thread), then once under perf (hot functions).
observe() {
    local case="$1" store="$2"
    shift 2
    local b
    say "$case: bytes read and written, CPU per thread (one run each)"
    mkdir -p "$work/out-io" "$work/out-perf"
    settle
    io_run "$case" export "$offsync" -q export --store "$store" --out "$work/out-io" --full "$@"
    b="$(ls -d "$work"/out-io/offsync-*)"
    settle
    io_run "$case" verify "$offsync" -q verify "$b"
    "$offsync" -q init --store "$work/iso-io" >/dev/null
    settle
    io_run "$case" import "$offsync" -q import --store "$work/iso-io" "$b"
    rm -rf "$work/iso-io" "$work/out-io"
    if [[ "$use_perf" == 1 ]]; then
        say "$case: profiles (one run each)"
        settle
        perf_run "$case" export "$offsync" -q export --store "$store" --out "$work/out-perf" --full "$@"
        b="$(ls -d "$work"/out-perf/offsync-*)"
        settle
        perf_run "$case" verify "$offsync" -q verify "$b"
        "$offsync" -q init --store "$work/iso-perf" >/dev/null
        settle
        perf_run "$case" import "$offsync" -q import --store "$work/iso-perf" "$b"
        rm -rf "$work/iso-perf" "$work/out-perf"
    fi
}

# baselines RUN: the plain tools on the full payload set.
baselines() {
    local i="$1" copy="$work/copy"
    settle
    measure base "cat" "$i" bash -c 'cat "$1"/* >/dev/null' _ "$pay"
    measure base "sha256sum" "$i" bash -c 'sha256sum "$1"/* >/dev/null' _ "$pay"
    measure base "sha256sum, 2 processes" "$i" bash -c 'find "$1" -type f -print0 | xargs -0 -n1 -P2 sha256sum >/dev/null' _ "$pay"
    measure base "sha1sum + sha256sum" "$i" bash -c 'sha1sum "$1"/* >/dev/null && sha256sum "$1"/* >/dev/null' _ "$pay"
    # The two copies take turns going first: the first one after the hashing runs tends to
    # pay for reclaiming page cache.
    local order=("cp -r" "cp -r + fsync") op
    if ((i % 2 == 0)); then order=("cp -r + fsync" "cp -r"); fi
    for op in "${order[@]}"; do
        rm -rf "$copy"
        settle
        if [[ "$op" == "cp -r" ]]; then
            measure base "cp -r" "$i" cp -r "$pay" "$copy"
        else
            measure base "cp -r + fsync" "$i" bash -c 'cp -r "$1" "$2" && sync "$2"/*' _ "$pay" "$copy"
        fi
    done
    rm -rf "$copy"
    hand_pipeline "$i"
}

# hand_pipeline RUN: what an administrator would script without offsync, on the same files:
# SHA256SUMS and an uncompressed zip onto the media, synced; then unzip into a staging
# folder, sha256sum -c, mv into place, synced. Its two halves against export + import give
# the round-trip ratio of issue 11 (goal: at least 3 times faster).
hand_pipeline() {
    local i="$1" hand="$work/hand"
    command -v zip >/dev/null && command -v unzip >/dev/null || return 0
    rm -rf "$hand" && mkdir -p "$hand/media" "$hand/dest"
    settle
    measure base "hand export" "$i" bash -c 'cd "$1" && sha256sum -- * >"$2/media/SHA256SUMS" && zip -0 -q -r "$2/media/payloads.zip" . && sync "$2"/media/*' _ "$pay" "$hand"
    settle
    measure base "hand import" "$i" bash -c 'mkdir "$1/staging" && unzip -q "$1/media/payloads.zip" -d "$1/staging" && (cd "$1/staging" && sha256sum -c --quiet "$1/media/SHA256SUMS") && mv "$1"/staging/* "$1/dest/" && sync "$1"/dest/*' _ "$hand"
    rm -rf "$hand"
}

# ==========================================================================================
# Content
if [[ "$do_content" == 1 ]]; then
    data="$work/data"
    say "content: generating ~${content_mib} MiB of payloads (subset ~${subset_mib} MiB), volumes of ${volume}"
    t0=$(date +%s.%N)
    python3 "$here/make_payloads.py" --out "$data" --fixtures "$repo/fixtures/upstream" \
        --total-mib "$content_mib" --subset-mib "$subset_mib" --seed 1 >"$raw/payloads.json" 2>"$raw/payloads.err"
    fact payloads_gen_s "$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')"
    fact payloads "$(cat "$raw/payloads.json")"
    fact volume "$volume"
    full_bytes=$(json_get "$raw/payloads.json" 'd["bytes"]')
    subset_bytes=$(json_get "$raw/payloads.json" 'd["subset_bytes"]')
    fact bytes.content-full "$full_bytes"
    fact bytes.content-subset "$subset_bytes"
    fact bytes.base "$full_bytes"
    pay="$data/payloads"

    # The connected stores: the full set and the subset (same metadata, less content).
    for case in content-full content-subset; do
        cs="$work/store-$case"
        src="$pay"
        if [[ "$case" == content-subset ]]; then src="$data/payloads-subset"; fi
        "$offsync" -q init --store "$cs" >/dev/null
        "$offsync" -q sync --store "$cs" --from "$data/upstream" >/dev/null 2>&1
        "$offsync" -q criteria set --store "$cs" --product "Windows 10" --classification "Security Updates" >/dev/null
        "$offsync" -q sync --store "$cs" --from "$data/upstream" --json >"$raw/sync.$case.json"
        settle
        measure "$case" "content import" 1 "$offsync" -q content import --store "$cs" "$src" --json
        fact "$case.content_import" "$(json_get "$LAST_OUT" '"%d scanned, %d matched, %d bytes added, %d referenced files missing" % (d["scanned"], len(d["matched"]), d["added_bytes"], len(d["missing"]))')"
    done

    # Rounds: the baselines and the offsync runs take turns, so that both see the same load.
    # After the first, a round runs only if it leaves time for the observation runs (about a
    # round) and the metadata case.
    budget="${BENCH_BUDGET_S:-1500}"
    round_s=0
    reserve=0
    if [[ "$do_meta" == 1 ]]; then reserve=300; fi
    for i in $(seq 1 "$runs"); do
        now=$(($(date +%s) - t_start))
        if ((i > 1 && now + 2 * round_s + reserve > budget)); then
            say "content: skipping rounds $i to $runs (a round takes ${round_s} s; ${now} s of the ${budget} s budget used)"
            fact rounds_cut "content: $((i - 1)) of $runs rounds run; a round took ${round_s} s, the budget is ${budget} s (BENCH_BUDGET_S)"
            break
        fi
        say "content: round $i of $runs"
        r0=$(date +%s)
        baselines "$i"
        round content-full "$i" "$work/store-content-full" --max-volume-size "$volume"
        round content-subset "$i" "$work/store-content-subset" --max-volume-size "$volume"
        round_s=$(($(date +%s) - r0))
    done
    observe content-full "$work/store-content-full" --max-volume-size "$volume"
    rm -rf "$work"/store-content-* "$data"
fi

# ==========================================================================================
# Metadata
if [[ "$do_meta" == 1 ]]; then
    tmpfs="${BENCH_META_TMPFS:-/dev/shm}"
    max_n=$(echo $meta_sizes | tr ' ' '\n' | sort -n | tail -1)
    # gen_updates writes about 4.2 KiB per update document.
    if [[ -d "$tmpfs" && -w "$tmpfs" ]] &&
        (($(df -P -BM "$tmpfs" | awk 'NR == 2 { sub(/M$/, "", $4); print $4 }') > max_n * 6 / 1024 + 512)); then
        shm="$(mktemp -d "$tmpfs/offsync-transfer.XXXXXX")"
        updir="$shm"
        fact meta_upstream "the generated update documents were written to $tmpfs (tmpfs); stores and bundles to the work folder"
    else
        updir="$work"
    fi
    last_n=$max_n
    for n in $meta_sizes; do
        case="meta-$n"
        up="$updir/upstream-$n"
        cs="$work/store-$case"
        say "$case: generating and syncing"
        "$gen" --out "$up" --count "$n" --seed 1 >"$raw/gen-$n.out"
        fact "$case.generated" "$(sed -E 's/ to .* in / in /' "$raw/gen-$n.out")"
        "$offsync" -q init --store "$cs" >/dev/null
        "$offsync" -q sync --store "$cs" --from "$up" >/dev/null 2>&1
        "$offsync" -q criteria set --store "$cs" "${broad[@]}" >/dev/null
        settle
        measure "$case" "sync (context)" 1 "$offsync" -q sync --store "$cs" --from "$up" --json
        fact "$case.sync" "$(json_get "$LAST_OUT" '"%d of %d upstream updates selected" % (d["selected"], d["upstream_updates"])')"
        fact "$case.store_mib" "$(du -sm "$cs" | cut -f1)"
        rm -rf "$up"
        for i in $(seq 1 "$runs"); do
            round "$case" "$i" "$cs" --metadata-only
        done
        if [[ "$use_perf" == 1 && "$n" == "$last_n" ]]; then
            say "$case: profiles (one run each)"
            mkdir -p "$work/out-perf"
            settle
            perf_run "$case" export "$offsync" -q export --store "$cs" --out "$work/out-perf" --full --metadata-only
            b="$(ls -d "$work"/out-perf/offsync-*)"
            "$offsync" -q init --store "$work/iso-perf" >/dev/null
            settle
            perf_run "$case" import "$offsync" -q import --store "$work/iso-perf" "$b"
            rm -rf "$work/iso-perf" "$work/out-perf"
        fi
        rm -rf "$cs"
    done
fi

fact total_s "$(($(date +%s) - t_start))"
say "writing $results"
python3 "$here/transfer_report.py" "$raw" "$results"
say "done in $(($(date +%s) - t_start)) s"
