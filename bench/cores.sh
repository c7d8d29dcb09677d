#!/usr/bin/env bash
# Old binary against new on the same content, alternated (the machine is shared and noisy):
# export, verify and import of ~300 MiB, wall and CPU time from GNU time, then one run of each
# under transfer_io.py for the read factor and the main thread's share of the CPU time.
#
#   bench/cores.sh OLD_BIN NEW_BIN [ROUNDS] [MIB]     # results as TSV lines on stdout
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
old="$1" new="$2" rounds="${3:-3}" mib="${4:-300}"
work="$(mktemp -d /tmp/offsync-cores.XXXXXX)"
trap 'rm -rf "$work"' EXIT
python3 "$here/make_payloads.py" --out "$work/data" --fixtures "$here/../fixtures/upstream" \
    --total-mib "$mib" --subset-mib $((mib / 3)) --seed 1 >"$work/payloads.json"
cs="$work/store"
"$new" -q init --store "$cs" >/dev/null
"$new" -q sync --store "$cs" --from "$work/data/upstream" >/dev/null 2>&1
"$new" -q criteria set --store "$cs" --product "Windows 10" --classification "Security Updates" >/dev/null
"$new" -q sync --store "$cs" --from "$work/data/upstream" >/dev/null
"$new" -q content import --store "$cs" "$work/data/payloads" >/dev/null
t() { # label op cmd...: one line "label op wall user sys"
    local label="$1" op="$2"; shift 2
    sync; sleep 1
    /usr/bin/time -f "%e %U %S" -o "$work/t" "$@" >/dev/null 2>"$work/err" || { cat "$work/err" >&2; exit 1; }
    printf '%s\t%s\t%s\n' "$label" "$op" "$(tr ' ' '\t' <"$work/t")"
}
for i in $(seq 1 "$rounds"); do
    for label in old new; do
        bin="$old"; [[ "$label" == new ]] && bin="$new"
        out="$work/media-$label"; iso="$work/iso-$label"
        rm -rf "$out" "$iso"; mkdir -p "$out"
        t "$label" export "$bin" -q export --store "$cs" --out "$out" --full --max-volume-size 68M --json
        b="$(ls -d "$out"/*/ | head -1)"
        t "$label" verify "$bin" -q verify "$b"
        "$bin" -q init --store "$iso" >/dev/null
        t "$label" import "$bin" -q import --store "$iso" "$b" --json
    done
done
# Read factor and threads, one run each (new binary).
content=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["bytes"])' "$work/payloads.json")
for label in old new; do
    bin="$old"; [[ "$label" == new ]] && bin="$new"
    out="$work/io-$label"; iso="$work/io-iso-$label"; rm -rf "$out" "$iso"; mkdir -p "$out"
    python3 "$here/transfer_io.py" "$work/e.json" /dev/null /dev/null -- "$bin" -q export --store "$cs" --out "$out" --full --max-volume-size 68M
    b="$(ls -d "$out"/*/ | head -1)"
    python3 "$here/transfer_io.py" "$work/v.json" /dev/null /dev/null -- "$bin" -q verify "$b"
    "$bin" -q init --store "$iso" >/dev/null
    python3 "$here/transfer_io.py" "$work/i.json" /dev/null /dev/null -- "$bin" -q import --store "$iso" "$b"
    for op in e v i; do
        python3 - "$work/$op.json" "$content" "$label" "$op" <<'PY'
import json, sys
d = json.load(open(sys.argv[1])); c = int(sys.argv[2])
cpu = d.get("user_s", 0) + d.get("sys_s", 0)
main = d.get("main_thread_cpu_s", 0)
print("io\t%s\t%s\tread/content %.3f\twall %.2f\tcpu %.2f\tmain share %.0f%%\tthreads %s" % (
    sys.argv[3], sys.argv[4], d["rchar"] / c, d["wall_s"], cpu, 100 * main / cpu if cpu else 0,
    d.get("threads_seen")))
PY
    done
done
