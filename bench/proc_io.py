#!/usr/bin/env python3
"""Runs a command and writes the bytes it read and wrote (Linux /proc/PID/io) to a file:

    proc_io.py REPORT -- CMD ARGS...

REPORT gets one line "rchar wchar read_bytes write_bytes". `rchar`/`wchar` count every byte
passed through read()/write()-like calls (page cache hits included). The counters are taken
after the command exits and before it is reaped (waitid with WNOWAIT, blocking: this wrapper
takes no CPU while the command runs), so nothing is missed. Standard input, output and error
are the command's. Exits with the command's status. Used by bench/publish.sh under
/usr/bin/time -v, whose figures then include this wrapper's start (~20 ms CPU, ~10 MiB RSS,
below the command's own).
"""

import os
import sys


def main():
    if len(sys.argv) < 4 or sys.argv[2] != "--":
        sys.exit(__doc__)
    report, cmd = sys.argv[1], sys.argv[3:]
    pid = os.posix_spawnp(cmd[0], cmd, os.environ)
    os.waitid(os.P_PID, pid, os.WEXITED | os.WNOWAIT)
    io = {}
    try:
        with open(f"/proc/{pid}/io") as f:
            for line in f:
                k, v = line.split(":")
                io[k.strip()] = int(v)
    except OSError:
        pass
    _, status = os.waitpid(pid, 0)
    with open(report, "w") as f:
        f.write(" ".join(str(io.get(k, -1)) for k in ("rchar", "wchar", "read_bytes", "write_bytes")) + "\n")
    code = os.waitstatus_to_exitcode(status)
    sys.exit(code if code >= 0 else 1)


if __name__ == "__main__":
    main()
