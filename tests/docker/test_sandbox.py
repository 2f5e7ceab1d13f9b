"""DockerSandbox against a real engine, on the small `debian:bookworm-slim` image.

That image has bash and coreutils but no ps, python3 or curl: processes are read from /proc and
the network is probed with bash's /dev/tcp.
"""

from __future__ import annotations

import http.server
import os
import stat
import threading
import time
import tracemalloc
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from swelancer.errors import InfraError
from swelancer.sandbox.base import Sandbox
from swelancer.sandbox.docker import (
    TIMEOUT_EXIT_CODE,
    DockerSandbox,
    find_containers,
    remove_containers,
)
from swelancer.sandbox.docker import (
    docker_client as make_client,
)

pytestmark = pytest.mark.docker

SLEEP_FOREVER = ["sleep", "infinity"]


def start(image: str, client: Any, run_id: str, **kwargs: Any) -> DockerSandbox:
    """A sleeping container labelled as one of this session's."""
    labels = {"swelancer.run_id": run_id, **kwargs.pop("labels", {})}
    return DockerSandbox.start(image, command=SLEEP_FOREVER, labels=labels, client=client, **kwargs)


@pytest.fixture(scope="module")
def sandbox(base_image: str, docker_client: Any, docker_run_id: str) -> Iterator[DockerSandbox]:
    """One container shared by the tests of this module that do not change its state."""
    with start(base_image, docker_client, f"{docker_run_id}-shared") as sb:
        yield sb


def processes(sb: DockerSandbox) -> list[str]:
    """The command lines of the processes running in the container (read from /proc)."""
    script = (
        'for p in /proc/[0-9]*; do c=$(tr "\\0" " " < "$p/cmdline" 2>/dev/null); '
        '[ -n "$c" ] && echo "$c"; done'
    )
    return [line.strip() for line in sb.exec(["bash", "-c", script]).output.splitlines()]


# -- commands -------------------------------------------------------------------------------------


def test_it_is_a_sandbox(sandbox: DockerSandbox) -> None:
    assert isinstance(sandbox, Sandbox)
    assert sandbox.status() == "running"
    assert sandbox.id and sandbox.name.startswith("swelancer-pytest-")


def test_exec_exit_codes_env_and_workdir(sandbox: DockerSandbox) -> None:
    ok = sandbox.exec("echo hello")
    assert (ok.exit_code, ok.output, ok.ok, ok.timed_out) == (0, "hello\n", True, False)
    assert 0 < ok.seconds < 10
    assert sandbox.exec("exit 3").exit_code == 3
    assert sandbox.exec("echo $FOO-$BAR", env={"FOO": "a b", "BAR": "c"}).output == "a b-c\n"
    assert sandbox.exec("pwd", workdir="/usr/lib").output == "/usr/lib\n"
    assert sandbox.exec(["printf", "%s|", "a b", "$HOME"]).output == "a b|$HOME|"


def test_exec_interleaves_stdout_and_stderr(sandbox: DockerSandbox) -> None:
    result = sandbox.exec("echo one; sleep 0.05; echo two >&2; sleep 0.05; echo three")
    assert result.output == "one\ntwo\nthree\n"
    assert sandbox.exec("echo out; echo err >&2", timeout=30).output == "out\nerr\n"


def test_exec_faults_of_the_command_are_results(sandbox: DockerSandbox) -> None:
    missing = sandbox.exec(["no-such-program"])
    assert missing.exit_code != 0 and "no-such-program" in missing.output
    assert sandbox.exec("true", workdir="/no/such/dir").exit_code != 0


def test_timeout_kills_every_process_the_command_started(sandbox: DockerSandbox) -> None:
    sandbox.kill_grace = 0.5
    try:
        result = sandbox.exec(
            "echo started; sleep 1001 & setsid sleep 1002 & "
            "(trap '' TERM; sleep 1003) & sleep 1004",
            timeout=1,
        )
    finally:
        del sandbox.kill_grace
    assert result.timed_out and result.exit_code == TIMEOUT_EXIT_CODE
    assert result.output == "started\n"
    assert 1 <= result.seconds < 10
    left = [p for p in processes(sandbox) if p.startswith("sleep 100")]
    assert left == []
    assert sandbox.exec("ls /tmp").output == ""  # no stale pgid file


def test_timeout_of_a_command_flooding_output(sandbox: DockerSandbox) -> None:
    result = sandbox.exec("yes", timeout=1)
    assert result.timed_out and result.truncated
    assert result.output.startswith("y\ny\n")
    assert not [p for p in processes(sandbox) if p == "yes"]


def test_timeout_not_reached(sandbox: DockerSandbox) -> None:
    result = sandbox.exec("sleep 0.2; exit 5", timeout=20)
    assert (result.exit_code, result.timed_out) == (5, False)


def test_huge_output_is_truncated_in_bounded_memory(sandbox: DockerSandbox) -> None:
    tracemalloc.start()
    try:
        result = sandbox.exec("yes | head -c 50000000")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert result.exit_code == 0 and result.truncated
    limit = DockerSandbox.max_output_bytes
    assert f"\n[... {50_000_000 - limit} bytes truncated ...]\n" in result.output
    assert result.output.startswith("y\ny\n") and result.output.endswith("y\ny\n")
    assert len(result.output) < limit + 100
    assert peak < 10 * limit


def test_small_output_limit_keeps_head_and_tail(sandbox: DockerSandbox) -> None:
    sandbox.max_output_bytes = 20
    try:
        result = sandbox.exec("seq 1 1000")
    finally:
        del sandbox.max_output_bytes
    assert result.truncated
    assert result.output.startswith("1\n2\n3\n4\n")
    assert result.output.endswith("999\n1000\n")
    assert "bytes truncated" in result.output


def test_output_that_is_not_utf8_is_decoded_safely(sandbox: DockerSandbox) -> None:
    result = sandbox.exec(r"printf 'caf\xc3\xa9 \xff\xfe end'")
    assert result.output == "café \ufffd\ufffd end"


# -- files ----------------------------------------------------------------------------------------


def test_write_and_read_file(sandbox: DockerSandbox) -> None:
    sandbox.write_file("/work/new/dir/run.sh", "#!/bin/sh\necho ran\n", mode=0o755)
    assert sandbox.read_file("/work/new/dir/run.sh") == b"#!/bin/sh\necho ran\n"
    assert sandbox.exec("/work/new/dir/run.sh").output == "ran\n"
    assert sandbox.exec("stat -c %a /work/new/dir/run.sh").output == "755\n"
    sandbox.write_file("/work/new/dir/run.sh", b"\x00\xff", mode=0o600)
    assert sandbox.read_file("/work/new/dir/run.sh") == b"\x00\xff"
    assert sandbox.exec("stat -c %a /work/new/dir/run.sh").output == "600\n"


def test_read_file_errors(sandbox: DockerSandbox) -> None:
    with pytest.raises(FileNotFoundError):
        sandbox.read_file("/no/such/file")
    with pytest.raises(IsADirectoryError):
        sandbox.read_file("/etc")
    with pytest.raises(ValueError, match="absolute"):
        sandbox.read_file("relative/path")


def test_read_file_follows_a_symlink(sandbox: DockerSandbox) -> None:
    sandbox.exec("echo target > /tmp/target.txt && ln -sf /tmp/target.txt /tmp/link.txt")
    assert sandbox.read_file("/tmp/link.txt") == b"target\n"
    sandbox.exec("rm -f /tmp/target.txt /tmp/link.txt")


def make_tree(root: Path) -> None:
    (root / "sub" / "deeper").mkdir(parents=True)
    (root / "a.txt").write_text("a\n")
    (root / "sub" / "tool.sh").write_text("#!/bin/sh\necho tool\n")
    (root / "sub" / "tool.sh").chmod(0o750)
    (root / "sub" / "deeper" / "blob.bin").write_bytes(bytes(range(256)) * 100)
    (root / "sub" / "link").symlink_to("tool.sh")


def mode(path: Path) -> int:
    return stat.S_IMODE(path.lstat().st_mode)


def test_copy_in_and_out_of_a_folder(sandbox: DockerSandbox, tmp_path: Path) -> None:
    make_tree(tmp_path / "src")
    sandbox.copy_in(tmp_path / "src", "/copied/here/tree")
    listing = sandbox.exec("cd /copied/here/tree && find . | sort && stat -c %a sub/tool.sh")
    expected = ". ./a.txt ./sub ./sub/deeper ./sub/deeper/blob.bin ./sub/link ./sub/tool.sh 750"
    assert listing.output.split() == expected.split()
    assert sandbox.exec("/copied/here/tree/sub/link").output == "tool\n"
    assert sandbox.exec("stat -c %U /copied/here/tree/a.txt").output == "root\n"

    sandbox.copy_out("/copied/here/tree", tmp_path / "out" / "back")
    back = tmp_path / "out" / "back"
    assert (back / "a.txt").read_text() == "a\n"
    assert (back / "sub" / "deeper" / "blob.bin").read_bytes() == bytes(range(256)) * 100
    assert mode(back / "sub" / "tool.sh") == 0o755  # modes reduced to 0644/0755 on the host
    assert not (back / "sub" / "link").exists()  # no link reaches the host


def test_copy_in_and_out_of_a_file(sandbox: DockerSandbox, tmp_path: Path) -> None:
    src = tmp_path / "script.py"
    src.write_text("print('hi')\n")
    src.chmod(0o700)
    sandbox.copy_in(src, "/opt/other-name.py")
    assert sandbox.exec("stat -c %a /opt/other-name.py").output == "700\n"
    sandbox.copy_out("/opt/other-name.py", tmp_path / "nested" / "again.py")
    assert (tmp_path / "nested" / "again.py").read_text() == "print('hi')\n"
    assert mode(tmp_path / "nested" / "again.py") == 0o755  # reduced to 0644/0755


def test_copy_out_brings_no_link_to_the_host(sandbox: DockerSandbox, tmp_path: Path) -> None:
    """Links are left out (and said), never made on the host, where they would point at the
    host's own /etc."""
    sandbox.exec(
        "mkdir -p /tmp/leak && ln -sfn /etc /tmp/leak/etc && ln -sf /etc/hostname /tmp/leak/h"
        " && echo kept > /tmp/leak/file.txt"
    )
    report = sandbox.copy_out("/tmp/leak", tmp_path / "leak")
    assert sorted(p.name for p in (tmp_path / "leak").iterdir()) == ["file.txt"]
    assert not any(p.is_symlink() for p in (tmp_path / "leak").rglob("*"))
    assert any("etc" in line for line in report.skipped), report
    sandbox.exec("rm -rf /tmp/leak")


def test_copy_errors(sandbox: DockerSandbox, tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        sandbox.copy_out("/no/such/path", tmp_path / "x")
    assert not (tmp_path / "x").exists()
    with pytest.raises(FileNotFoundError):
        sandbox.copy_in(tmp_path / "missing", "/tmp/x")


# -- network --------------------------------------------------------------------------------------


class _Hello(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"hello")

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def host_server(sandbox: DockerSandbox, docker_client: Any) -> Iterator[tuple[str, int]]:
    """An HTTP server on the host, bound only to the gateway of Docker's default bridge."""
    networks = docker_client.api.inspect_container(sandbox.id)["NetworkSettings"]["Networks"]
    gateway = networks["bridge"]["Gateway"]
    try:
        server = http.server.ThreadingHTTPServer((gateway, 0), _Hello)
    except OSError as err:
        if os.environ.get("CI"):
            raise
        pytest.skip(f"cannot listen on the bridge gateway {gateway} (engine in a VM?): {err}")
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield gateway, server.server_address[1]
    server.shutdown()
    server.server_close()


def reaches(sb: DockerSandbox, address: tuple[str, int]) -> bool:
    host, port = address
    probe = f"exec 3<>/dev/tcp/{host}/{port} && printf 'GET / HTTP/1.0\\r\\n\\r\\n' >&3 && cat <&3"
    result = sb.exec(["bash", "-c", probe], timeout=10)
    return result.exit_code == 0 and "hello" in result.output


def interfaces(sb: DockerSandbox) -> list[str]:
    lines = sb.exec(["cat", "/proc/net/dev"]).output.splitlines()[2:]
    return sorted(line.split(":")[0].strip() for line in lines)


def test_network_cut_and_restore(
    base_image: str, docker_client: Any, docker_run_id: str, host_server: tuple[str, int]
) -> None:
    with start(base_image, docker_client, docker_run_id) as sb:
        assert reaches(sb, host_server)
        assert "lo" in interfaces(sb) and len(interfaces(sb)) == 2

        sb.disconnect_network()
        sb.disconnect_network()  # idempotent
        assert interfaces(sb) == ["lo"]
        assert not reaches(sb, host_server)

        sb.connect_network()
        sb.connect_network()  # idempotent
        assert len(interfaces(sb)) == 2
        assert reaches(sb, host_server)


def test_start_without_network(
    base_image: str, docker_client: Any, docker_run_id: str, host_server: tuple[str, int]
) -> None:
    with start(base_image, docker_client, docker_run_id, network=False) as sb:
        assert sb.status() == "running"
        assert interfaces(sb) == ["lo"]
        assert not reaches(sb, host_server)
        sb.connect_network()
        assert reaches(sb, host_server)


def test_user_defined_network_and_aliases_come_back(
    base_image: str, docker_client: Any, docker_run_id: str
) -> None:
    network = docker_client.networks.create(f"swelancer-{docker_run_id}")
    try:
        with start(base_image, docker_client, docker_run_id) as sb:
            network.connect(sb.id, aliases=["grader"])
            sb.disconnect_network()
            assert interfaces(sb) == ["lo"]
            sb.connect_network()
            networks = docker_client.api.inspect_container(sb.id)["NetworkSettings"]["Networks"]
            assert set(networks) == {"bridge", network.name}
            assert "grader" in networks[network.name]["Aliases"]
    finally:
        network.remove()


# -- lifecycle, labels, errors --------------------------------------------------------------------


def test_labels_name_and_cleanup(base_image: str, docker_client: Any, docker_run_id: str) -> None:
    labels = {"swelancer.task_id": "123_4 (x)/y", "swelancer.run.attempt": "2"}
    first = start(base_image, docker_client, docker_run_id, labels=labels)
    second = start(base_image, docker_client, docker_run_id, labels=labels, env={"A": "1"})
    container = docker_client.containers.get(first.id)
    assert container.labels["swelancer"] == "1"
    assert container.labels["swelancer.task_id"] == "123_4 (x)/y"
    assert first.name.startswith(f"swelancer-{docker_run_id}-123_4-x-y-2-")
    assert first.name != second.name
    host_config = container.attrs["HostConfig"]
    assert host_config["Init"] is True and host_config["Privileged"] is False
    assert not host_config.get("CapAdd")

    found = {c.id for c in find_containers(docker_client, run_id=docker_run_id)}
    assert found == {first.id, second.id}
    assert {first.id, second.id} <= {c.id for c in find_containers(docker_client)}
    removed = remove_containers(docker_client, run_id=docker_run_id)
    assert sorted(removed) == sorted([first.name, second.name])
    assert find_containers(docker_client, run_id=docker_run_id) == []
    assert first.status() == "removed"


def test_limits_are_applied(base_image: str, docker_client: Any, docker_run_id: str) -> None:
    with start(
        base_image,
        docker_client,
        docker_run_id,
        memory="256m",
        cpus=0.5,
        pids_limit=64,
        workdir="/srv",
    ) as sb:
        host_config = docker_client.containers.get(sb.id).attrs["HostConfig"]
        assert host_config["Memory"] == 256 * 1024 * 1024
        assert host_config["NanoCpus"] == 500_000_000
        assert host_config["PidsLimit"] == 64
        assert sb.exec("pwd").output == "/srv\n"


def test_remove_is_idempotent_and_the_context_manager_removes(
    base_image: str, docker_client: Any, docker_run_id: str
) -> None:
    with start(base_image, docker_client, docker_run_id) as sb:
        assert sb.status() == "running"
    assert sb.status() == "removed"
    sb.remove()
    sb.remove()
    with pytest.raises(InfraError) as caught:
        sb.exec("true")
    assert caught.value.kind == "container_gone"


def test_container_gone_during_exec(
    base_image: str, docker_client: Any, docker_run_id: str
) -> None:
    sb = start(base_image, docker_client, docker_run_id)
    remover = threading.Timer(0.5, sb.remove)
    remover.start()
    started = time.monotonic()
    with pytest.raises(InfraError) as caught:
        sb.exec("sleep 30")
    remover.join()
    assert caught.value.kind == "container_gone"
    assert time.monotonic() - started < 15


def test_logs(base_image: str, docker_client: Any, docker_run_id: str) -> None:
    command = ["sh", "-c", "echo booting; echo oops >&2; exec sleep infinity"]
    with DockerSandbox.start(
        base_image,
        command=command,
        labels={"swelancer.run_id": docker_run_id},
        client=docker_client,
    ) as sb:
        for _ in range(50):
            if "oops" in sb.logs():
                break
            time.sleep(0.1)
        assert "booting" in sb.logs() and "oops" in sb.logs()


def test_missing_image(docker_client: Any) -> None:
    image = "swelancer-tests/no-such-image:never"
    with pytest.raises(InfraError) as caught:
        DockerSandbox.start(image, client=docker_client)
    assert caught.value.kind == "image_missing"
    assert image in str(caught.value) and f"docker pull {image}" in str(caught.value)
    with pytest.raises(InfraError, match="swelancer images build demo"):
        DockerSandbox.start("swelancer/demo:no-such-tag", client=docker_client)


def test_a_missing_image_the_user_named_does_not_suggest_naming_one(docker_client: Any) -> None:
    from swelancer.sandbox.docker.images import ensure_images

    with pytest.raises(InfraError) as caught:
        ensure_images(docker_client, ["swelancer-tests/nosuch:latest"])
    said = str(caught.value)
    assert "--image" not in said and "docker images" in said
    upstream = "swelancer-tests/swelancer_x86_monolith:never"  # chosen from the manifest
    with pytest.raises(InfraError, match="--image NAME"):
        ensure_images(docker_client, [upstream])


def test_daemon_unreachable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOCKER_HOST", "unix:///tmp/nonexistent.sock")
    with pytest.raises(InfraError) as caught:
        make_client()
    assert caught.value.kind == "docker_unavailable"
    message = str(caught.value)
    assert "unix:///tmp/nonexistent.sock" in message and "not running" in message
    with pytest.raises(InfraError, match="not reachable"):
        DockerSandbox.start("debian:bookworm-slim")
