"""Seconds and peak memory to refuse a hostile manifest: one line of many tiny cells, and one
cell of many megabytes. Both should cost about one read of the line, whatever it holds."""

from __future__ import annotations

import contextlib
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

from swelancer.errors import ManifestError
from swelancer.tasks.manifest import load_manifest
from swelancer.tasks.rows import CURRENT_COLUMNS


def _refuse(path: Path) -> tuple[float, float, str]:
    """Seconds to refuse `path`, peak MB allocated doing it again, and the error's first line."""
    start = time.perf_counter()
    try:
        load_manifest(path)
    except ManifestError as error:
        message = str(error)
    else:
        raise SystemExit(f"{path} loaded; expected a ManifestError")
    seconds = time.perf_counter() - start
    tracemalloc.start()
    with contextlib.suppress(ManifestError):
        load_manifest(path)
    peak = tracemalloc.get_traced_memory()[1] / 1e6
    tracemalloc.stop()
    return seconds, peak, message.splitlines()[0][:100]


def main() -> None:
    megabytes = int(sys.argv[1]) if len(sys.argv) > 1 else 80
    header = ",".join(CURRENT_COLUMNS) + "\n"
    with tempfile.TemporaryDirectory() as tmp:
        cases = {
            "one line of tiny cells": header + "1," * (megabytes * 500_000) + "\n",
            "one huge quoted cell": header + '1,"' + "x" * (megabytes * 1_000_000) + '"\n',
        }
        for name, text in cases.items():
            path = Path(tmp) / "m.csv"
            path.write_text(text, encoding="utf-8")
            seconds, peak, message = _refuse(path)
            print(f"{name} ({megabytes} MB): {seconds:.2f} s, peak {peak:.1f} MB")
            print(f"  {message}")


if __name__ == "__main__":
    main()
