"""An image build on the real engine as the user sees it (`ops.build_log` over
`sandbox.docker.images.build_image`): the engine's own output read as steps on one live line,
every line in the log, and a failed build's error with the log's last lines, leaving no
container behind."""

from __future__ import annotations

import io
import re
import secrets
from pathlib import Path
from typing import Any

import pytest

from swelancer.errors import FaultKind, InfraError
from swelancer.ops.build_log import build_progress
from swelancer.sandbox.docker.images import build_image


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def _context(folder: Path, base: str, *steps: str) -> Path:
    folder.mkdir()
    (folder / "Dockerfile").write_text("\n".join([f"FROM {base}", *steps]) + "\n")
    return folder


def _layers(log: Path) -> list[str]:
    """The ids of the layers the build made, as its log names them (` ---> <id>`)."""
    return re.findall(r"^ ---> ([0-9a-f]{12})$", log.read_text(), re.M)


def test_a_real_build_is_one_line_and_a_failed_one_shows_its_end(
    docker_client: Any, base_image: str, tmp_path: Path
) -> None:
    token = secrets.token_hex(6)  # no build cache: each step runs
    tag = f"swelancer-test-build-{token}:1"
    log = tmp_path / "ok.log"
    screen, said = Terminal(), []
    context = _context(tmp_path / "ok", base_image, f"RUN echo made-{token}", "RUN echo again")
    try:
        with build_progress(log, said.append, stream=screen) as build:
            build.line(f"building {tag}")
            build_image(docker_client, context, tag=tag, on_line=build.line)
        assert screen.getvalue().count("\n") == 1 and "step 3/3" in screen.getvalue()
        assert len(said) == 1 and "3 steps" in said[0] and str(log) in said[0]
        assert f"made-{token}" in log.read_text() and "Successfully tagged" in log.read_text()
    finally:
        docker_client.images.remove(tag, force=True)

    log = tmp_path / "failed.log"
    context = _context(tmp_path / "bad", base_image, f"RUN echo first-{token}",
                       f"RUN echo last-words-{token} && exit 3")  # fmt: skip
    try:
        quiet = build_progress(log, said.append, stream=io.StringIO())
        with pytest.raises(InfraError) as failed, quiet as build:
            build.line(f"building {tag}")
            build_image(docker_client, context, tag=tag, on_line=build.line)
        error = failed.value
        assert error.kind == FaultKind.IMAGE_BUILD and str(log) in str(error)
        assert "returned a non-zero code: 3" in str(error)
        assert any(f"last-words-{token}" == line for line in error.tail), error.tail
        layers = _layers(log)
        users = docker_client.containers.list(all=True, filters={"ancestor": layers[-1]})
        assert users == [], "the failed step's container is removed"
    finally:
        for layer in reversed(_layers(log)[1:]):  # the base image's own id comes first
            docker_client.images.remove(layer)
