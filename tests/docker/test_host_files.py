"""Files read on this host from a running container's merged directory are what the engine's
archive gives, entry for entry and error for error; what the merged directory does not show
(mounts, paths through a link, a stopped container) is read through the engine; and no swap
of a link or a FIFO by the container's processes leads a read out of the container or blocks
it."""

from __future__ import annotations

import os
import secrets
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from swelancer.errors import InfraError
from swelancer.sandbox.archive import CopyLimits
from swelancer.sandbox.docker import DockerSandbox

pytestmark = pytest.mark.docker

TREE = r"""set -e
mkdir -p /t/a/b /t/e /t/empty-dir
echo hello > /t/a/f; head -c 5000 /dev/zero | tr '\0' x > /t/big; chmod +x /t/big
ln -s /etc/passwd /t/abs; ln -s ../a /t/e/rel; ln -s nowhere /t/dang; ln -s /t/a /t/linkdir
ln -s /t/abs /t/chain
ln /t/a/f /t/hard; mkfifo /t/fifo; : > /t/empty
perl -MSocket -e 'socket(S, PF_UNIX, SOCK_STREAM, 0); bind(S, pack_sockaddr_un("/t/sock"))'
touch "$(printf '/t/bad\377\376name')"
d=/t/deep; for i in $(seq 1 70); do d=$d/d; done; mkdir -p $d; echo deep > $d/x
"""

READS = ["/t/a/f", "/t/abs", "/t/chain", "/t/e/rel", "/t/dang", "/t/fifo", "/t/sock", "/t/a",
         "/t/nope", "/t/nope/x", "/t/a/f/x", "/t/linkdir/f", "/t/empty", "/etc/hosts",
         "/etc/hostname", "/proc/1/cmdline", "/t/big"]  # fmt: skip
COPIES = [
    ("/t", CopyLimits()),
    ("/t", CopyLimits(max_entries=7)),
    ("/t", CopyLimits(max_total_bytes=100, max_file_bytes=3)),
    ("/t/a/f", CopyLimits()),
    ("/t/abs", CopyLimits()),
    ("/t/linkdir", CopyLimits()),
    ("/t/e/rel/f", CopyLimits()),
    ("/t/nope", CopyLimits()),
    ("/etc", CopyLimits()),
]


def sandbox(image: str, client: Any, run_id: str) -> DockerSandbox:
    labels = {"swelancer.run_id": run_id}
    return DockerSandbox.start(image, command=["sleep", "infinity"], labels=labels, client=client)


def hosted(box: DockerSandbox) -> None:
    """In CI (root, a local overlay2 engine) the container's files must be readable here."""
    if box._host_root is None and not os.environ.get("CI"):
        pytest.skip("this engine's containers cannot be read here (not root, or not overlay2)")
    assert box._host_root is not None, box.container.attrs.get("GraphDriver")


def counting_archives(box: DockerSandbox) -> list[str]:
    """The paths the sandbox asks the engine's archive API for, from now on."""
    asked: list[str] = []
    real = box._get_archive

    def get(path: str):
        asked.append(path)
        return real(path)

    box._get_archive = get  # type: ignore[method-assign]
    return asked


def read(box: DockerSandbox, path: str, limit: int | None = None) -> Any:
    try:
        return box.read_file(path, limit)
    except (OSError, InfraError) as exc:
        return type(exc).__name__, getattr(exc, "kind", None)


def copy(box: DockerSandbox, src: str, limits: CopyLimits, into: Path) -> Any:
    dest = into / secrets.token_hex(4) / "out"
    try:
        report = box.copy_out(src, dest, limits)
    except (OSError, InfraError) as exc:
        return type(exc).__name__
    found = {}
    for path in sorted(dest.parent.rglob("*")):
        shown = path.relative_to(dest.parent).as_posix()
        found[shown] = (path.is_dir(), path.stat().st_mode & 0o777,
                        path.read_bytes() if path.is_file() else None)  # fmt: skip
    return report.model_dump(), found


def both(box: DockerSandbox, how) -> tuple[Any, Any]:
    box.read_host = True
    here = how()
    box.read_host = False
    try:
        return here, how()
    finally:
        box.read_host = True


def test_reads_here_are_the_engines_own(base_image, docker_client, docker_run_id, tmp_path):
    with sandbox(base_image, docker_client, docker_run_id) as box:
        assert box.exec(["sh", "-c", TREE]).exit_code == 0, "the tree was made"
        hosted(box)
        for path in READS:
            here, engine = both(box, lambda p=path: read(box, p))
            assert here == engine, path
        assert both(box, lambda: read(box, "/t/big", 100)) == (("InfraError", "too_large"),) * 2
        for src, limits in COPIES:
            here, engine = both(box, lambda s=src, lim=limits: copy(box, s, lim, tmp_path))
            assert here == engine, (src, limits)
        whole = copy(box, "/t", CopyLimits(), tmp_path)[0]
        assert whole["links"]["abs"] == "/etc/passwd" and whole["files"] >= 4
        assert any("hard link" in line for line in whole["skipped"])
        assert any("FIFO" in line for line in whole["skipped"])
        assert not any("sock" in line for line in whole["skipped"]), "sockets are left out"
        asked = counting_archives(box)
        assert box.read_file("/t/a/f") == b"hello\n" and box.read_file("/t/chain")
        box.copy_out("/t", tmp_path / "again" / "t")
        assert asked == [], "read on this host, not through the engine"
        box.read_file("/etc/hosts")
        box.read_file("/t/linkdir/f")
        assert asked == ["/etc/hosts", "/t/linkdir/f"], "a mount and a link are the engine's"


def test_a_stopped_container_is_read_through_the_engine(base_image, docker_client, docker_run_id,
                                                        tmp_path):  # fmt: skip
    with sandbox(base_image, docker_client, docker_run_id) as box:
        assert box.exec(["sh", "-c", "mkdir -p /s && echo kept > /s/f"]).exit_code == 0
        hosted(box)
        docker_client.api.kill(box.id)
        docker_client.api.wait(box.id, timeout=30)
        asked = counting_archives(box)
        assert box.read_file("/s/f") == b"kept\n"
        assert box.copy_out("/s", tmp_path / "s").files == 1
        assert (tmp_path / "s" / "f").read_bytes() == b"kept\n"
        assert asked == ["/s/f", "/s"]


SWAPS = r"""
mkdir -p /real/tmp && echo CONTAINER > /real/tmp/{secret} && ln -s / /fake
echo data > /file-a && mkfifo /fifo-a
while true; do
  mv -T /real /x; mv -T /x /real; mv -T /fake /x; mv -T /x /fake
  ln -f /file-a /y; ln -f /fifo-a /y
done
"""


def test_swapped_links_and_fifos_never_lead_out_or_block(base_image, docker_client, docker_run_id,
                                                         tmp_path):  # fmt: skip
    secret = f"swelancer-host-secret-{secrets.token_hex(6)}"
    on_host = Path("/tmp") / secret  # where a link to / would lead if it were followed here
    on_host.write_text("HOST\n")
    try:
        with sandbox(base_image, docker_client, docker_run_id) as box:
            hosted(box)
            swapper = threading.Thread(
                target=box.exec, args=(["sh", "-c", SWAPS.format(secret=secret)],),
                kwargs={"timeout": 30}, daemon=True,
            )  # fmt: skip
            swapper.start()
            time.sleep(0.3)
            seen: set[Any] = set()
            deadline = time.monotonic() + 4
            n = 0
            while time.monotonic() < deadline:
                n += 1
                seen.add(read(box, f"/x/tmp/{secret}"))
                seen.add(read(box, "/y"))
                got = copy(box, "/x", CopyLimits(), tmp_path)
                if not isinstance(got, str):
                    contents = {v[2] for v in got[1].values()}
                    assert b"HOST\n" not in contents
            assert b"HOST\n" not in seen, "a link was followed on this host"
            assert seen <= {b"CONTAINER\n", b"data\n", ("FileNotFoundError", None)}, seen
            assert b"CONTAINER\n" in seen and b"data\n" in seen, (n, seen)
    finally:
        on_host.unlink()
