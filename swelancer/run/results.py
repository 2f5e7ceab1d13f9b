"""The run directory, the one source of truth: run.json, attempts.jsonl, per-attempt files."""

from __future__ import annotations

import json
import os
import shutil
import socket
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from swelancer.errors import SwelancerError
from swelancer.records import AttemptRecord, Spend, Tokens, utc_now
from swelancer.textsafe import clean

LOCK_FILE = ".lock"


def transcript_spend(path: Path) -> Spend:
    """What the model calls in a transcript cost, from its `model` events."""
    spend = Spend()
    if not path.exists():
        return spend
    with path.open(encoding="utf-8", errors="replace") as handle:
        for line in handle:
            try:
                event = json.loads(line)
            except ValueError:
                continue
            if not isinstance(event, dict) or event.get("kind") != "model":
                continue
            usage = event.get("usage") or {}
            spend = spend + Spend(
                tokens=Tokens(
                    input=int(usage.get("input_tokens") or 0),
                    cached=int(usage.get("cached_input_tokens") or 0),
                    output=int(usage.get("output_tokens") or 0),
                    reasoning=int(usage.get("reasoning_tokens") or 0),
                ),
                cost_usd=event.get("cost_usd"),
            )
    return spend


class RunDir:
    """A run directory on disk. Appends are atomic (one `write` of a whole line, then fsync)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.attempts_file = path / "attempts.jsonl"
        self.run_file = path / "run.json"
        self._lock = threading.Lock()

    @property
    def run_id(self) -> str:
        return self.path.name

    def create(self) -> None:
        try:
            self.path.mkdir(parents=True, exist_ok=True)
            probe = self.path / ".write-test"
            probe.write_text("ok")
            probe.unlink()
        except OSError as exc:
            raise SwelancerError(
                f"cannot write the run directory {self.path} ({exc.strerror}). Choose another "
                "place with --results-dir, or free disk space."
            ) from None

    def lock(self) -> RunLock:
        """Take the run directory for this process (creating it), for as long as the run lasts;
        a `SwelancerError` naming the holder when another process has it. Readers (`report`,
        `view`) take no lock."""
        self.create()
        return RunLock.take(self.path / LOCK_FILE, self.path)

    def read_run(self) -> dict[str, Any] | None:
        if not self.run_file.exists():
            return None
        run: dict[str, Any] = json.loads(self.run_file.read_text(encoding="utf-8"))
        return run

    def write_run(self, data: dict[str, Any]) -> None:
        write_text_atomic(self.run_file, json.dumps(data, indent=2, ensure_ascii=False) + "\n")

    def task_dir(self, task_id: str) -> Path:
        """`attempts/<task_id>`; a `SwelancerError` when the id would lead anywhere else."""
        return self._inside(self.path / "attempts", task_id)

    def attempt_dir(self, task_id: str, attempt: int) -> Path:
        """`attempts/<task_id>/<attempt>`, checked to stay inside the run directory."""
        return self._inside(self.path / "attempts", task_id, str(attempt))

    def _inside(self, root: Path, task_id: str, *more: str) -> Path:
        """`root/task_id/…`, refused unless the id is one plain folder name and the path,
        symlinks resolved, stays under `root`."""
        path = root.joinpath(task_id, *more) if is_plain_name(task_id) else None
        if path is None or not stays_under(path, root):
            raise SwelancerError(
                f"task id {task_id[:80]!r} would lead outside the run directory {self.path} "
                f"(attempts/<task id> must be a folder inside it); refused. The manifest "
                "checks every id, so the record or folder was changed by hand or by a program: "
                "check attempts.jsonl and attempts/."
            )
        return path

    def fresh_attempt_dir(self, task_id: str, attempt: int) -> Path:
        """An empty folder for an attempt; what an unfinished earlier try left is set aside."""
        folder = self.attempt_dir(task_id, attempt)
        if folder.exists():
            k = 1
            while folder.with_name(f"{attempt}.unfinished-{k}").exists():
                k += 1
            shutil.move(folder, folder.with_name(f"{attempt}.unfinished-{k}"))
        folder.mkdir(parents=True)
        return folder

    def append(self, record: AttemptRecord) -> None:
        line = (record.model_dump_json() + "\n").encode("utf-8")
        with self._lock:
            try:
                self.path.mkdir(parents=True, exist_ok=True)
                fd = os.open(self.attempts_file, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
                try:
                    _repair_tail(fd, self.attempts_file)
                    written = os.write(fd, line)
                    if written != len(line):
                        raise OSError(f"short write to {self.attempts_file}")
                    os.fsync(fd)
                finally:
                    os.close(fd)
            except OSError as exc:
                raise SwelancerError(
                    f"could not record attempt {record.attempt} of {record.task_id} in "
                    f"{self.attempts_file} ({exc.strerror or exc}). The run stopped; every "
                    "attempt recorded before is intact. Free space (or fix the directory) and "
                    "run the same command again to resume."
                ) from None

    def records(self) -> list[AttemptRecord]:
        """Every complete record; a line cut short by a crash is ignored."""
        return read_records(self.attempts_file)


class RunLock:
    """An exclusive `flock` on a run directory's `.lock` file, which also names the holder (pid,
    host, since). The kernel drops the lock when the holder's process ends, even by `kill -9`,
    so a lock is never left stuck; the file itself stays, as the next holder rewrites it."""

    def __init__(self, fd: int, path: Path) -> None:
        self._fd: int | None = fd
        self.path = path

    @classmethod
    def take(cls, path: Path, run: Path) -> RunLock:
        """The lock at `path` (of the run directory `run`), taken at once or refused."""
        import fcntl

        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            holder = _lock_holder(fd)
            os.close(fd)
            if isinstance(exc, BlockingIOError):
                raise SwelancerError(
                    f"the run {run.name} is in use by {holder} ({run}). Wait for it to finish, "
                    "or choose another --run-id."
                ) from None
            raise SwelancerError(
                f"cannot lock the run directory {run} ({exc.strerror or exc}); choose another "
                "place with --results-dir."
            ) from None
        us = {"pid": os.getpid(), "host": socket.gethostname(), "since": utc_now()}
        try:  # who holds it is for the message only: a full disk must not stop the run here
            os.ftruncate(fd, 0)
            os.pwrite(fd, (json.dumps(us) + "\n").encode("utf-8"), 0)
        except OSError:
            pass
        return cls(fd, path)

    def release(self) -> None:
        """Give the run directory up (closing the file drops the lock)."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> RunLock:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.release()


def _lock_holder(fd: int) -> str:
    """Who holds a lock, as its file says: `pid 123 on host since …`."""
    try:
        data = json.loads(os.pread(fd, 4096, 0).decode("utf-8"))
        return f"pid {int(data['pid'])} on {clean(data['host'])} since {clean(data['since'])}"
    except (OSError, ValueError, KeyError, TypeError):
        return "another process (which has not said which yet)"


def is_plain_name(name: str) -> bool:
    """Whether `name` is one folder name: not empty, `.` or `..`, no `/` and no NUL."""
    return 0 < len(name) <= 255 and name not in (".", "..") and "/" not in name and "\0" not in name


def stays_under(path: Path, root: Path) -> bool:
    """Whether `path`, with `..` and symlinks resolved, is `root` or below it."""
    try:
        return path.resolve().is_relative_to(root.resolve())
    except (OSError, RuntimeError, ValueError):
        return False


def _repair_tail(fd: int, path: Path) -> None:
    """If a crash left a last line without its newline, end it so the next record stands alone."""
    size = os.fstat(fd).st_size
    if size == 0:
        return
    with path.open("rb") as handle:
        handle.seek(size - 1)
        if handle.read(1) != b"\n":
            os.write(fd, b"\n")


def read_records(path: Path) -> list[AttemptRecord]:
    if not path.exists():
        return []
    records: list[AttemptRecord] = []
    with path.open("rb") as handle:
        for raw in handle:
            # A line cut short by a crash never parses (no prefix of a JSON object is one). A last
            # line that lost only its newline is whole: it counts now as after `_repair_tail`.
            try:
                records.append(AttemptRecord.model_validate_json(raw))
            except (ValidationError, ValueError):
                continue  # a damaged line: never a crash, never a lost earlier record
    return records


def write_text_atomic(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


class Transcript:
    """Append-only transcript.jsonl of one attempt; every event is flushed as it happens."""

    def __init__(
        self, path: Path, on_event: Callable[[str, dict[str, Any]], None] | None = None
    ) -> None:
        self.path = path
        self._handle = path.open("a", encoding="utf-8", errors="surrogateescape")
        self._lock = threading.Lock()
        self._on_event = on_event

    def event(self, kind: str, **data: Any) -> None:
        entry = {"t": utc_now(), "kind": kind, **data}
        line = json.dumps(entry, ensure_ascii=True, default=str)
        with self._lock:
            self._handle.write(line + "\n")
            self._handle.flush()
        if self._on_event is not None:
            self._on_event(kind, data)

    def close(self) -> None:
        with self._lock:
            self._handle.close()
