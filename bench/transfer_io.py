#!/usr/bin/env python3
"""Runs a command and reports the bytes it read and wrote (Linux /proc/PID/io), with its wall
time, CPU time and how that CPU time was spread over its threads, as one JSON line:

    transfer_io.py REPORT.json STDOUT STDERR -- CMD ARGS...

`rchar`/`wchar` count every byte passed through read()/write()-like calls (page cache hits
included), so `rchar / content bytes` is how many times the command read its data. The
counters are taken after the command exits and before it is reaped (waitid with WNOWAIT), so
nothing is missed. Threads are sampled every 20 ms (/proc/PID/task/*/stat): `thread_cpu_s`
lists the CPU seconds of each thread seen, busiest first, and `main_thread_cpu_s` the main
thread's: its share of user + sys shows whether work is spread over threads whatever else the
machine is doing (short-lived threads may lose up to 20 ms each in the samples; the main
thread's figure is exact). (`maxrss_kib` here includes this wrapper's own
memory, posix_spawn shares it until exec: take peak RSS from GNU time instead.) Exits with the
command's status.
"""

import json
import os
import sys
import time


def main():
    if len(sys.argv) < 6 or sys.argv[4] != "--":
        sys.exit(__doc__)
    report, out, err, cmd = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[5:]
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC
    t0 = time.monotonic()
    pid = os.posix_spawnp(
        cmd[0],
        cmd,
        os.environ,
        file_actions=[
            (os.POSIX_SPAWN_OPEN, 1, out, flags, 0o644),
            (os.POSIX_SPAWN_OPEN, 2, err, flags, 0o644),
        ],
    )
    tick = os.sysconf("SC_CLK_TCK")
    threads = {}

    def sample():
        try:
            tids = os.listdir(f"/proc/{pid}/task")
        except OSError:
            return
        for tid in tids:
            try:
                with open(f"/proc/{pid}/task/{tid}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            # fields[0] is field 3 (state); utime and stime are fields 14 and 15.
            threads[int(tid)] = (int(fields[11]) + int(fields[12])) / tick

    while os.waitid(os.P_PID, pid, os.WEXITED | os.WNOWAIT | os.WNOHANG) is None:
        sample()
        time.sleep(0.02)
    wall = time.monotonic() - t0
    sample()
    io = {}
    try:
        with open(f"/proc/{pid}/io") as f:
            for line in f:
                k, v = line.split(":")
                io[k.strip()] = int(v)
    except OSError as e:
        io["error"] = str(e)
    _, status, ru = os.wait4(pid, 0)
    code = os.waitstatus_to_exitcode(status)
    with open(report, "w") as f:
        json.dump(
            {
                "cmd": cmd,
                "exit": code,
                "wall_s": round(wall, 3),
                "user_s": ru.ru_utime,
                "sys_s": ru.ru_stime,
                "maxrss_kib": ru.ru_maxrss,
                "main_thread_cpu_s": threads.get(pid, 0.0),
                "threads_seen": len(threads),
                "thread_cpu_s": sorted(threads.values(), reverse=True),
                **io,
            },
            f,
        )
        f.write("\n")
    sys.exit(code if code >= 0 else 1)


if __name__ == "__main__":
    main()
