"""An attempt's files from a Ray worker to the driver: packed bounded, unpacked inert."""

from __future__ import annotations

import io
import os
import tarfile
from pathlib import Path

from swelancer.run.ray_files import LEFT_OUT_FILE, TryFiles, pack, unpack
from swelancer.run.results import RunDir
from swelancer.sandbox.archive import CopyLimits


def _tar(*members: tuple[tarfile.TarInfo, bytes | None]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for info, data in members:
            if data is not None:
                info.size = len(data)
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    return buffer.getvalue()


def _member(name: str, kind: bytes = tarfile.REGTYPE, link: str = "") -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = link
    info.mode = 0o4777 if kind == tarfile.REGTYPE else 0o755
    return info


def _everything(root: Path) -> list[Path]:
    return sorted(root.rglob("*"))


def test_a_folder_round_trips_into_the_attempt_folder(tmp_path):
    folder = tmp_path / "try-1"
    (folder / "grading" / "run-1").mkdir(parents=True)
    (folder / "transcript.jsonl").write_text('{"kind": "model"}\n')
    (folder / "grading" / "run-1" / "pytest.log").write_bytes(b"\x00\xffbinary")
    run_dir = RunDir(tmp_path / "run")

    notes = unpack([pack(folder, "try-1")], lambda: run_dir.fresh_attempt_dir("101", 1))

    dest = run_dir.attempt_dir("101", 1)
    assert notes == []
    assert (dest / "transcript.jsonl").read_text() == '{"kind": "model"}\n'
    assert (dest / "grading" / "run-1" / "pytest.log").read_bytes() == b"\x00\xffbinary"
    assert not (dest / LEFT_OUT_FILE).exists()


def test_earlier_tries_are_set_aside_as_locally(tmp_path):
    run_dir = RunDir(tmp_path / "run")
    tries = []
    for k in (1, 2):
        folder = tmp_path / f"try-{k}"
        folder.mkdir()
        (folder / "error.txt" if k == 1 else folder / "patch.diff").write_text(f"try {k}")
        tries.append(pack(folder, f"try-{k}"))

    unpack(tries, lambda: run_dir.fresh_attempt_dir("101", 1))

    task = run_dir.task_dir("101")
    assert (task / "1.unfinished-1" / "error.txt").read_text() == "try 1"
    assert (task / "1" / "patch.diff").read_text() == "try 2"
    assert not (task / "1" / "error.txt").exists()


def test_packing_follows_no_link_and_caps_sizes(tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("host secret")
    folder = tmp_path / "try-1"
    folder.mkdir()
    (folder / "link").symlink_to(secret)
    (folder / "dirlink").symlink_to(tmp_path)
    os.mkfifo(folder / "fifo")
    (folder / "big.log").write_bytes(b"x" * 5000)
    limits = CopyLimits(max_file_bytes=1000, max_total_bytes=100_000)

    packed = pack(folder, "try-1", limits)

    with tarfile.open(fileobj=io.BytesIO(packed.tar)) as tar:
        members = {m.name: m for m in tar.getmembers()}
    assert set(members) == {"try-1", "try-1/big.log"}
    assert members["try-1/big.log"].size == 1000
    assert any("big.log: cut" in line for line in packed.left_out)
    assert sum("not a regular file" in line for line in packed.left_out) == 3


def test_a_hostile_tar_makes_only_files_and_folders_inside_the_attempt(tmp_path):
    victim = tmp_path / "victim.txt"
    victim.write_text("untouched")
    data = _tar(
        (_member("try-1", tarfile.DIRTYPE), None),
        (_member("try-1/ok.txt"), b"fine"),
        (_member("try-1/../../victim.txt"), b"overwritten"),
        (_member("/etc/evil"), b"absolute"),
        (_member("try-1/link", tarfile.SYMTYPE, str(victim)), None),
        (_member("try-1/link/through"), b"via the link"),
        (_member("try-1/hard", tarfile.LNKTYPE, "try-1/ok.txt"), None),
        (_member("try-1/dev", tarfile.CHRTYPE), None),
        (_member("try-1/pipe", tarfile.FIFOTYPE), None),
        (_member("other/outside-top.txt"), b"not this try's"),
    )
    run_dir = RunDir(tmp_path / "run")

    notes = unpack([TryFiles(name="try-1", tar=data)], lambda: run_dir.fresh_attempt_dir("1", 1))

    dest = run_dir.attempt_dir("1", 1)
    made = _everything(tmp_path / "run")
    assert all(p.is_relative_to(dest) or p in dest.parents for p in made)
    assert not any(p.is_symlink() for p in made)
    files = {p.relative_to(dest).as_posix() for p in made if p.is_file()}
    assert files == {"ok.txt", "link/through", LEFT_OUT_FILE}  # `link`: a plain folder here
    assert (dest / "ok.txt").stat().st_mode & 0o7777 == 0o755  # setuid and world-write dropped
    assert victim.read_text() == "untouched"
    assert not Path("/etc/evil").exists()
    left = (dest / LEFT_OUT_FILE).read_text().splitlines()
    assert left == notes and len(notes) == 7
    for name in ("victim.txt", "/etc/evil", "link", "hard", "dev", "pipe", "outside-top"):
        assert any(name in line for line in notes), name


def test_a_cut_short_tar_is_said_not_raised(tmp_path):
    data = _tar((_member("try-1", tarfile.DIRTYPE), None), (_member("try-1/a"), b"a" * 4000))
    run_dir = RunDir(tmp_path / "run")

    notes = unpack(
        [TryFiles(name="try-1", tar=data[:1500])], lambda: run_dir.fresh_attempt_dir("1", 1)
    )

    assert notes and "did not come back whole" in notes[-1]
