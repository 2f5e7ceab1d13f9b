"""Work done once at a time on an engine, across this host's processes (a lock file)."""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any


@contextmanager
def engine_lock(client: Any, purpose: str) -> Iterator[None]:
    """Held by one process of this host at a time for `purpose` on the engine of `client`
    (best effort: where no lock file can be made, it does not wait)."""
    try:
        import fcntl
    except ImportError:  # not POSIX
        yield
        return
    key = hashlib.sha256(str(getattr(client.api, "base_url", "")).encode()).hexdigest()[:12]
    path = Path(tempfile.gettempdir()) / f"swelancer-{purpose}-{key}.lock"
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
    except OSError:
        yield
        return
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)
