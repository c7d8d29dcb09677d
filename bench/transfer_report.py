#!/usr/bin/env python3
"""Renders what bench/transfer.sh measured as Markdown:

    transfer_report.py RAW_DIR RESULTS.md

RAW_DIR holds runs.tsv (case, op, run, wall, peak RSS KiB, user, sys), facts.tsv (key, value),
io.<case>.<op>.json (bench/transfer_io.py) and perf.<case>.<op>.txt. The text goes between the
BEGIN/END MEASURED markers of RESULTS.md; everything outside them (the hand-written analysis)
is kept. A new file gets a title and an empty analysis section.
"""

import glob
import json
import os
import statistics
import sys

BEGIN = "<!-- BEGIN MEASURED: written by bench/transfer.sh, do not edit by hand -->"
END = "<!-- END MEASURED -->"
MIB = 1 << 20


def load(raw):
    runs = {}
    with open(os.path.join(raw, "runs.tsv")) as f:
        next(f)
        for line in f:
            case, op, _run, wall, rss, user, sys_ = line.rstrip("\n").split("\t")
            runs.setdefault((case, op), []).append(
                {"wall": float(wall), "rss": int(rss), "user": float(user), "sys": float(sys_)}
            )
    facts = {}
    with open(os.path.join(raw, "facts.tsv")) as f:
        for line in f:
            k, _, v = line.rstrip("\n").partition("\t")
            facts[k] = v
    io = {}
    for p in glob.glob(os.path.join(raw, "io.*.json")):
        _, case, op, _ = os.path.basename(p).split(".")
        with open(p) as f:
            io[(case, op)] = json.load(f)
    perf = {}
    for p in sorted(glob.glob(os.path.join(raw, "perf.*.txt"))):
        _, case, op, _ = os.path.basename(p).split(".")
        with open(p) as f:
            perf[(case, op)] = f.read().rstrip()
    return runs, facts, io, perf


class Stat:
    def __init__(self, rs):
        self.n = len(rs)
        self.walls = [r["wall"] for r in rs]
        self.wall = statistics.median(self.walls)
        self.rss = max(r["rss"] for r in rs) / 1024
        self.user = statistics.median(r["user"] for r in rs)
        self.sys = statistics.median(r["sys"] for r in rs)
        # CPU% of the median run: (user + sys) / wall, over all runs together.
        tot_wall = sum(self.walls)
        self.cpu = 100 * sum(r["user"] + r["sys"] for r in rs) / tot_wall if tot_wall else 0.0


def fmt_walls(ws):
    return " / ".join(f"{w:.2f}" for w in ws)


def verdict(ok):
    return "n/a" if ok is None else ("yes" if ok else "**no**")


def content_goals(w, st, io, facts, content):
    """The content goals of issue 11 point 3, each with its limit, what this run measured and
    whether it is met."""
    F = "content-full"
    sha_ni = "sha_ni" in facts.get("cpu_flags", "")
    wall = lambda case, op: st[(case, op)].wall if (case, op) in st else None
    w("### Goals of issue 11 (content, full set)")
    w("")
    w("| goal | limit | measured | met |")
    w("|---|---:|---:|---|")
    for op in ("export", "verify", "import"):
        d = io.get((F, op))
        if d and "rchar" in d and content:
            f = d["rchar"] / content
            w(f"| read factor of {op} (rchar / content bytes) | 1.00 ± 0.02 | {f:.2f} | {verdict(abs(f - 1) <= 0.02)} |")
        else:
            w(f"| read factor of {op} (rchar / content bytes) | 1.00 ± 0.02 | not measured | n/a |")
    ours = [wall(F, "export"), wall(F, "import")]
    hand = [wall("base", "hand export"), wall("base", "hand import")]
    if None not in ours and None not in hand and sum(ours) > 0:
        r = sum(hand) / sum(ours)
        w(f"| round trip: hand-made pipeline / (export + import) | at least 3 | {r:.2f} ({sum(hand):.2f} s / {sum(ours):.2f} s) | {verdict(r >= 3)} |")
        v = wall(F, "verify")
        if v is not None:
            r3 = sum(hand) / (sum(ours) + v)
            w(f"| (the same with verify: pipeline / (export + verify + import)) | (at least 3) | {r3:.2f} | {verdict(r3 >= 3)} |")
    else:
        w("| round trip: hand-made pipeline / (export + import) | at least 3 | not measured (zip or unzip missing) | n/a |")
    cp = wall("base", "cp -r + fsync")
    sha = wall("base", "sha256sum")
    for op in ("export", "verify", "import"):
        t = wall(F, op)
        if t is None:
            continue
        if sha_ni and cp:
            r = t / cp
            w(f"| {op} / (cp -r + sync of the same bytes), CPU with sha_ni | at most 1.2 | {r:.2f} | {verdict(r <= 1.2)} |")
        elif not sha_ni and sha:
            r = t / sha
            w(f"| {op} / one single-threaded sha256sum pass, CPU without sha_ni | at most 1.1 | {r:.2f} | {verdict(r <= 1.1)} |")
    w("")
    w("The hand-made pipeline: `sha256sum` of every file into SHA256SUMS and `zip -0` onto the media, synced "
      "(its export half); `unzip` into a staging folder, `sha256sum -c`, `mv` into place, synced (its import half). "
      "The round trip compares it with export + import, each of which does its own checking as the pipeline does; "
      "`verify`, a separate pass at a guard station, is shown apart. "
      f"This CPU {'has' if sha_ni else 'has no'} SHA extensions (sha_ni), so the speed goal is "
      f"{'cp -r + sync' if sha_ni else 'one sha256sum pass'}.")
    w("")


def render(runs, facts, io, perf):
    st = {k: Stat(v) for k, v in runs.items()}
    o = []
    w = o.append
    w("## Run")
    w("")
    w(f"- date: {facts.get('date', '?')}; whole script: {facts.get('total_s', '?')} s")
    w(f"- machine: {facts.get('nproc', '?')} cores ({facts.get('cpu', '?')}; flags {facts.get('cpu_flags', '').strip() or 'none of sha_ni, avx2'}), "
      f"memory {facts.get('memory', '?')}, kernel {facts.get('kernel', '?')}")
    w(f"- work folder: {facts.get('filesystem', '?')}")
    w(f"- {facts.get('offsync', '?')}; {facts.get('runs', '?')} runs per phase, median wall time reported; "
      "peak RSS is the largest of the runs; CPU % = (user + sys) / wall over all runs (above 100 % means more than one core busy)")
    w("- the machine is shared: compare the ratios (same data, same minute) rather than absolute times")
    if "meta_upstream" in facts:
        w(f"- {facts['meta_upstream']}")
    if "rounds_cut" in facts:
        w(f"- **fewer runs** {facts['rounds_cut']}")
    if "scaled_down" in facts:
        w(f"- **content scaled down** {facts['scaled_down']}")
    w("")

    def table(rows, nbytes=None):
        w("| case | operation | runs | median wall s | MiB/s | peak RSS MiB | user s | sys s | CPU % | walls s |")
        w("|---|---|---:|---:|---:|---:|---:|---:|---:|---|")
        for case, op in rows:
            s = st.get((case, op))
            if not s:
                continue
            b = nbytes(case) if nbytes else None
            tput = f"{b / MIB / s.wall:.0f}" if b and s.wall > 0 else ""
            w(f"| {case} | {op} | {s.n} | {s.wall:.2f} | {tput} | {s.rss:.1f} | {s.user:.2f} | {s.sys:.2f} | {s.cpu:.0f} | {fmt_walls(s.walls)} |")
        w("")

    def nbytes(case):
        v = facts.get(f"bytes.{case}")
        return int(v) if v else None

    has_content = any(c.startswith("content") for c, _ in st)
    if has_content:
        p = json.loads(facts.get("payloads", "{}"))
        w("## Content case")
        w("")
        w(f"- payloads: {p.get('files')} files, {p.get('bytes', 0) / MIB:.0f} MiB "
          f"(two large ones of {', '.join('%.0f MiB' % (x / MIB) for x in p.get('large_files', []))}, the others "
          f"{p.get('smallest_file', 0) / MIB:.1f}-{p.get('largest_small_file', 0) / MIB:.0f} MiB), pseudo-random bytes, "
          f"{p.get('updates')} upd:Update documents; generated and hashed in {facts.get('payloads_gen_s', '?')} s by bench/make_payloads.py")
        w(f"- subset for the memory comparison: {p.get('subset_files')} files, {p.get('subset_bytes', 0) / MIB:.0f} MiB (same metadata, the rest of the content missing)")
        w(f"- volumes: --max-volume-size {facts.get('volume')}")
        for case in ("content-subset", "content-full"):
            for key in ("content_import", "export", "manifest", "import"):
                if f"{case}.{key}" in facts:
                    w(f"- {case}, {key.replace('_', ' ')}: {facts[f'{case}.{key}']}")
        w("")
        base_ops = ["cat", "sha256sum", "sha256sum, 2 processes", "sha1sum + sha256sum", "cp -r", "cp -r + fsync",
                    "hand export", "hand import"]
        rows = [("base", op) for op in base_ops]
        for case in ("content-full", "content-subset"):
            rows += [(case, op) for op in ("content import", "export", "verify", "import")]
        w("MiB/s is content bytes (the payloads) per second of wall time; `base` rows are the plain tools on the full payload set.")
        w("")
        table(rows, nbytes)

        def ratio(a, b):
            sa, sb = st.get(a), st.get(b)
            if sa and sb and sb.wall > 0:
                return f"{sa.wall / sb.wall:.2f}"
            return "n/a"

        F = "content-full"
        w("### Side by side (median wall / median wall, full content)")
        w("")
        w("| offsync | baseline | ratio | note |")
        w("|---|---|---:|---|")
        pairs = [
            ((F, "export"), ("base", "cp -r + fsync"), "export reads each file, hashes it, writes volumes synced to disk"),
            ((F, "export"), ("base", "cp -r"), ""),
            ((F, "export"), ("base", "sha256sum"), ""),
            ((F, "verify"), ("base", "sha256sum"), "verify only reads and hashes"),
            ((F, "verify"), ("base", "cat"), "pure read speed (page cache)"),
            ((F, "import"), ("base", "cp -r + fsync"), "import verifies, then copies and hashes into the store"),
            ((F, "import"), ("base", "sha1sum + sha256sum"), ""),
            ((F, "import"), ((F, "verify")), "the share of import spent in its own verify pass"),
            ((F, "content import"), ("base", "cp -r + fsync"), "content import copies with SHA-1 + SHA-256"),
            (("base", "sha256sum, 2 processes"), ("base", "sha256sum"), "what a second core gives plain hashing"),
        ]
        for a, b, note in pairs:
            w(f"| {a[1]} ({a[0]}) | {b[1]} ({b[0]}) | {ratio(a, b)} | {note} |")
        w("")

        content_goals(w, st, io, facts, nbytes(F))

        if io:
            content = nbytes(F) or 1
            w("### Bytes read and written per content byte (one more run each, /proc/PID/io)")
            w("")
            w("`rchar`/`wchar` count every byte through read()/write(), page-cache hits included, so the read factor is how many times the command read the data. "
              "The issue asks for one read of every content byte by export and by import.")
            w("")
            w("The last columns come from sampling /proc/PID/task: the CPU seconds of the main thread against the whole process; "
              "a main-thread share near 100 % means the work ran on one thread, whatever the load of the machine.")
            w("")
            w("| operation | read MiB | read / content | written MiB | written / content | wall s | user + sys s | threads seen | main thread share of CPU |")
            w("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
            for op in ("export", "verify", "import"):
                d = io.get((F, op))
                if not d or "rchar" not in d:
                    continue
                cpu = d["user_s"] + d["sys_s"]
                share = f"{100 * min(1.0, d.get('main_thread_cpu_s', 0) / cpu):.0f} %" if cpu else ""
                w(f"| {op} | {d['rchar'] / MIB:.0f} | {d['rchar'] / content:.2f} | {d['wchar'] / MIB:.0f} | {d['wchar'] / content:.2f} | {d['wall_s']:.2f} | {cpu:.2f} | {d.get('threads_seen', '')} | {share} |")
            w("")

        w("### Memory as content grows (peak RSS, largest of the runs)")
        w("")
        sb, fb = nbytes("content-subset"), nbytes("content-full")
        w(f"| operation | {sb / MIB if sb else 0:.0f} MiB | {fb / MIB if fb else 0:.0f} MiB | change | verdict |")
        w("|---|---:|---:|---:|---|")
        for op in ("content import", "export", "verify", "import"):
            a, b = st.get(("content-subset", op)), st.get((F, op))
            if not (a and b):
                continue
            d = b.rss - a.rss
            flat = abs(d) <= max(4.0, 0.1 * a.rss)
            w(f"| {op} | {a.rss:.1f} | {b.rss:.1f} | {d:+.1f} MiB ({100 * d / a.rss:+.0f} %) | {'flat' if flat else 'grows'} |")
        w("")

        w("### Parallel hashing")
        w("")
        w("CPU % = (user + sys) / wall over all runs: above 100 % means both cores were busy. On a loaded machine a parallel "
          "program cannot show it either, so compare with the two-process sha256sum of the same rounds, and look at the main "
          "thread's share of the CPU time (io run above).")
        w("")
        w("| operation | CPU % at full content | CPU % at subset | main thread share (io run) | uses both cores? |")
        w("|---|---:|---:|---:|---|")
        s1 = st.get(("base", "sha256sum"))
        s2 = st.get(("base", "sha256sum, 2 processes"))
        for op in ("content import", "export", "verify", "import"):
            a, b = st.get((F, op)), st.get(("content-subset", op))
            if not a:
                continue
            d = io.get((F, op))
            share = None
            if d and d.get("user_s", 0) + d.get("sys_s", 0) > 0:
                share = min(1.0, d.get("main_thread_cpu_s", 0) / (d["user_s"] + d["sys_s"]))
            if a.cpu > 130 or (share is not None and share < 0.7):
                verdict = "yes"
            elif a.cpu > 105 or (share is not None and share < 0.9):
                verdict = "a little"
            else:
                verdict = "no"
            w(f"| {op} | {a.cpu:.0f} | {b.cpu if b else 0:.0f} | {'' if share is None else '%.0f %%' % (100 * share)} | {verdict} |")
        if s1:
            w(f"| (baseline) sha256sum, 1 process | {s1.cpu:.0f} | | | reference |")
        if s2:
            w(f"| (baseline) sha256sum, 2 processes | {s2.cpu:.0f} | | | reference |")
        w("")

    metas = sorted({c for c, _ in st if c.startswith("meta-")}, key=lambda c: int(c.split("-")[1]))
    if metas:
        w("## Metadata case (gen_updates, broad criteria, export --metadata-only)")
        w("")
        for c in metas:
            w(f"- {c}:")
            for k in ("generated", "sync", "export", "manifest", "import"):
                if facts.get(f"{c}.{k}"):
                    w(f"  - {k}: {facts[f'{c}.{k}']}")
            w(f"  - connected store after the sync: {facts.get(c + '.store_mib', '?')} MiB")
        w("")
        table([(c, op) for c in metas for op in ("sync (context)", "export", "verify", "import")])
        if len(metas) >= 2:
            lo, hi = metas[0], metas[-1]
            w(f"### Growth from {lo} to {hi}")
            w("")
            w("| operation | peak RSS " + lo + " MiB | peak RSS " + hi + " MiB | RSS ratio | wall ratio |")
            w("|---|---:|---:|---:|---:|")
            for op in ("export", "verify", "import"):
                a, b = st.get((lo, op)), st.get((hi, op))
                if a and b:
                    w(f"| {op} | {a.rss:.1f} | {b.rss:.1f} | {b.rss / a.rss:.2f} | {b.wall / a.wall if a.wall else 0:.2f} |")
            ua = facts.get(f"{lo}.export", "").split(" updates")[0]
            ub = facts.get(f"{hi}.export", "").split(" updates")[0]
            if ua.isdigit() and ub.isdigit():
                w("")
                w(f"Updates in the bundle grow {int(ub) / int(ua):.2f} times ({ua} to {ub}).")
            w("")

    if perf:
        w("## Profiles (perf record -F 499, one run each; share of samples, functions above 1.5 %)")
        w("")
        order = ["export", "verify", "import"]
        for (case, op), text in sorted(perf.items(), key=lambda kv: (not kv[0][0].startswith("content"), kv[0][0], order.index(kv[0][1]) if kv[0][1] in order else 9)):
            w(f"{case}, {op}:")
            w("")
            w("```")
            w(text or "(no samples)")
            w("```")
            w("")
    return "\n".join(o).rstrip() + "\n"


def main():
    raw, results = sys.argv[1], sys.argv[2]
    body = render(*load(raw))
    block = f"{BEGIN}\n\n{body}\n{END}"
    if os.path.exists(results):
        with open(results) as f:
            old = f.read()
        if BEGIN in old and END in old:
            head, _, rest = old.partition(BEGIN)
            _, _, tail = rest.partition(END)
            new = head + block + tail
        else:
            new = old.rstrip() + "\n\n" + block + "\n"
    else:
        new = (
            "# Transfer benchmark: export, verify, import\n\n"
            "Measured by `bench/transfer.sh` (see the comment at its top); the section between the "
            "markers is rewritten by each run, the analysis after it is written by hand.\n\n"
            + block
            + "\n\n## Observations and suggestions\n\n(written by hand after a run)\n"
        )
    with open(results, "w") as f:
        f.write(new)


if __name__ == "__main__":
    main()
