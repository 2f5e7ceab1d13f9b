"""Where a command's CPU time goes, machine-wide: runs it under the kernel's process accounting
and prints the CPU seconds of every process that ended meanwhile, grouped by command name, beside
the machine's busy time (the difference is what did not end: dockerd, containerd, the kernel).

Processes in containers are counted too (a pid namespace's processes are also accounted in its
parents'). Needs root and `accton` (Debian's package `acct`). For the test suite:

    python benchmarks/suite_cpu.py -- .venv/bin/python -m pytest -n 2 -m docker
    python benchmarks/suite_cpu.py --top 30 -- swelancer run --split demo --model mock/oracle
"""

from __future__ import annotations

import argparse
import collections
import shutil
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path

RECORD = struct.Struct("<BBHIIIIIIfHHHHHHHH16s")
"""struct acct_v3 of <linux/acct.h> (64 bytes; the times are comp_t in AHZ ticks)."""
AHZ = 100


def comp_t(value: int) -> int:
    """A comp_t: a 13-bit mantissa and a 3-bit base-8 exponent."""
    return (value & 0x1FFF) << (3 * (value >> 13))


def cpu_by_command(path: Path) -> collections.Counter[str]:
    """CPU seconds (user + system) of each command name in an acct_v3 file."""
    totals: collections.Counter[str] = collections.Counter()
    data = path.read_bytes()
    for at in range(0, len(data) - RECORD.size + 1, RECORD.size):
        fields = RECORD.unpack_from(data, at)
        if fields[1] != 3:  # ac_version
            raise SystemExit(f"{path}: record {at // RECORD.size} is not acct_v3")
        utime, stime, comm = fields[10], fields[11], fields[18]
        name = comm.split(b"\0", 1)[0].decode("utf-8", "replace")
        totals[name] += (comp_t(utime) + comp_t(stime)) / AHZ
    return totals


def busy_s() -> float:
    ticks = list(map(int, Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]))
    return (sum(ticks) - ticks[3] - ticks[4]) / AHZ  # all but idle and iowait


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--top", type=int, default=25, help="command names to list")
    parser.add_argument("command", nargs="+", help="the command (after --)")
    args = parser.parse_args()
    if shutil.which("accton") is None:
        raise SystemExit("accton not found: install Debian's package acct (apt-get install acct)")
    with tempfile.TemporaryDirectory() as tmp:
        pacct = Path(tmp) / "pacct"
        pacct.touch()
        subprocess.run(["accton", str(pacct)], check=True, stdout=subprocess.DEVNULL)
        start, busy = time.monotonic(), busy_s()
        try:
            code = subprocess.run(args.command).returncode
        finally:
            busy, wall = busy_s() - busy, time.monotonic() - start
            subprocess.run(["accton", "off"], check=True, stdout=subprocess.DEVNULL)
        totals = cpu_by_command(pacct)
    ended = sum(totals.values())
    print(f"\nexit {code}; {wall:.0f} s wall; the machine busy {busy:.0f} CPU-s; processes that "
          f"ended {ended:.0f} CPU-s; the rest (still running: daemons, kernel) "
          f"{busy - ended:.0f} CPU-s", file=sys.stderr)  # fmt: skip
    for name, seconds in totals.most_common(args.top):
        print(f"{seconds:9.1f}  {100 * seconds / max(busy, 1e-9):5.1f}%  {name}", file=sys.stderr)
    return code


if __name__ == "__main__":
    sys.exit(main())
