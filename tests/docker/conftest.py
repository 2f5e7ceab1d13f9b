"""Fixtures of the tests that need a Docker engine. They never skip when CI is set."""

from __future__ import annotations

import contextlib
import fcntl
import os
import secrets
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

HERE = Path(__file__).parent
BASE_IMAGE = "debian:bookworm-slim"
"""A small image the engine must already hold (tests never pull)."""


HEAVY_FIRST = (
    "test_attacks.py",
    "test_judge_attacks.py",
    "test_contract_pipeline.py",
    "test_faults.py",
    "test_snapshots.py",
    "test_model_agents.py",
    "test_pipeline.py",
    "test_contract_image.py",
    "test_isolation.py",
    "test_installed_contract.py",
    "test_installed_mini_swe_agent.py",
    "test_installed_claude_code.py",
    "test_installed_codex.py",
    "test_ray.py",
)
"""The slowest modules, slowest first, so that `pytest -n` (whole modules to a worker, in this
order) starts them early instead of leaving one for the end."""
RESTART = "test_engine_restart.py"
"""It stops the engine: first, while the other test processes run the tests that need no
engine, so that it waits for no one and no one waits long for it."""
RESTART_DONE = "restart-done"


def _rank(item: pytest.Item) -> tuple[int, int]:
    if HERE not in item.path.parents:
        return (1, 0)
    if item.path.name == RESTART:
        return (0, 0)
    if item.path.name in HEAVY_FIRST:
        return (2, HEAVY_FIRST.index(item.path.name))
    return (3, 0)


def _restart_runs(items: list[pytest.Item]) -> bool:
    """Whether this session restarts the engine (`test_engine_restart.py` collected, on an
    engine the test run started itself) from more than one process."""
    owned = os.environ.get("SWELANCER_TESTS_OWN_ENGINE") == "1"
    shared = bool(os.environ.get("PYTEST_XDIST_TESTRUNUID"))
    return owned and shared and any(item.path.name == RESTART for item in items)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark every test of this folder `docker`; order modules for `pytest -n` (a stable sort:
    each module's own order stays): the engine restart, the tests with no engine, then the
    slowest modules first."""
    for item in items:
        if HERE in item.path.parents:
            item.add_marker(pytest.mark.docker)
    items.sort(key=_rank)
    config.stash[_WAIT_FOR_RESTART] = _restart_runs(items)


_WAIT_FOR_RESTART = pytest.StashKey[bool]()
RESTART_WAIT_S = 1800


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    """Before any of its fixtures, a test that needs the engine waits for the engine restart
    another process runs first (`RESTART`) to be over."""
    if HERE not in item.path.parents or item.path.name == RESTART:
        return
    if not item.config.stash.get(_WAIT_FOR_RESTART, False):
        return
    done = _done_marker()
    deadline = time.monotonic() + RESTART_WAIT_S
    while not done.exists():
        if time.monotonic() > deadline:
            pytest.fail(f"the engine restart test did not finish in {RESTART_WAIT_S} s "
                        f"(no {done})", pytrace=False)  # fmt: skip
        time.sleep(0.5)


def _done_marker() -> Path:
    run = os.environ.get("PYTEST_XDIST_TESTRUNUID", "single")
    return _LOCKS / f"swelancer-tests-engine.{RESTART_DONE}.{run}"


@pytest.fixture(scope="module")
def restart_over() -> Iterator[None]:
    """Tells the other test processes (`pytest_runtest_setup`) that the engine restart is
    over, whatever its outcome."""
    try:
        yield
    finally:
        _done_marker().touch()


def _unavailable(reason: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"{reason} (CI is set: Docker tests must run)", pytrace=False)
    pytest.skip(reason)


# ---------------------------------------------------------------------------------------------
# Sharing one engine between test processes (`pytest -n`): a module that uses the engine holds
# it shared; a test that restarts the engine holds it alone. A gate taken first gives the one
# waiting to be alone precedence over modules not yet started, so that it is not starved.

_LOCKS = Path(tempfile.gettempdir())


def _flock(name: str, how: int) -> int:
    fd = os.open(_LOCKS / f"swelancer-tests-engine.{name}", os.O_RDWR | os.O_CREAT, 0o666)
    fcntl.flock(fd, how)
    return fd


@contextlib.contextmanager
def _held(name: str, how: int) -> Iterator[None]:
    fd = _flock(name, how)
    try:
        yield
    finally:
        os.close(fd)


class EngineUse:
    """This process's shared hold of the engine (for one module)."""

    def __init__(self) -> None:
        self.fd: int | None = None

    def share(self) -> None:
        gate = _flock("gate", fcntl.LOCK_SH)
        try:
            self.fd = _flock("use", fcntl.LOCK_SH)
        finally:
            os.close(gate)

    def release(self) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None


@pytest.fixture(scope="module", autouse=True)
def engine_in_use() -> Iterator[EngineUse]:
    """Every module of this folder shares the engine with other test processes while it runs
    (what it starts in the background may span its tests)."""
    use = EngineUse()
    use.share()
    yield use
    use.release()


@pytest.fixture
def engine_alone(engine_in_use: EngineUse) -> Iterator[None]:
    """The engine to this test alone: it waits until no other test process uses it."""
    engine_in_use.release()
    try:
        with _held("gate", fcntl.LOCK_EX), _held("use", fcntl.LOCK_EX):
            yield
    finally:
        engine_in_use.share()


@pytest.fixture(scope="session")
def docker_client() -> Iterator[Any]:
    """A client of the local engine; skips (or fails, in CI) when the engine does not answer."""
    from swelancer.errors import InfraError
    from swelancer.sandbox.docker import docker_client as make_client

    try:
        client = make_client()
    except InfraError as err:
        _unavailable(f"Docker engine not reachable: {err}")
    yield client
    client.close()


@pytest.fixture(scope="module")
def demo_image(docker_client: Any) -> str:
    """The demo image, built if missing (once per module: a test elsewhere may rebuild it)."""
    from swelancer.ops.images import DEMO_IMAGE
    from swelancer.sandbox.docker.images import ensure_images

    ensure_images(docker_client, [DEMO_IMAGE])
    return DEMO_IMAGE


@pytest.fixture(scope="session")
def base_image(docker_client: Any) -> str:
    """The name of an image present on the engine."""
    from docker.errors import ImageNotFound

    try:
        docker_client.images.get(BASE_IMAGE)
    except ImageNotFound:
        _unavailable(f"image {BASE_IMAGE} is not on the engine (`docker pull {BASE_IMAGE}`)")
    return BASE_IMAGE


@pytest.fixture(scope="session")
def docker_run_id(docker_client: Any) -> Iterator[str]:
    """The `swelancer.run_id` label of the containers tests start (`<id>-shared` for the one
    shared by a module); all are removed when the session ends."""
    from swelancer.sandbox.docker import find_containers

    run_id = f"pytest-{secrets.token_hex(4)}"
    yield run_id
    use = EngineUse()  # a session ends after its last module: wait out an engine restart
    use.share()
    try:
        for container in find_containers(docker_client):
            if container.labels.get("swelancer.run_id", "").startswith(run_id):
                container.remove(force=True)
    finally:
        use.release()


@pytest.fixture(autouse=True)
def remove_leftover_containers(request: pytest.FixtureRequest) -> Iterator[None]:
    """After each test, remove the containers labelled with `docker_run_id` it left behind."""
    yield
    if "docker_run_id" not in request.fixturenames:
        return
    from swelancer.sandbox.docker import remove_containers

    remove_containers(
        request.getfixturevalue("docker_client"), request.getfixturevalue("docker_run_id")
    )


def _image_lines(line: str) -> None:
    if not line.startswith("  "):
        print(line, flush=True)


@pytest.fixture(scope="session")
def contract_images(docker_client: Any) -> dict[str, str]:
    """The contract images (tests/contract/): built once, reused while their inputs are
    unchanged; {image name: image id}."""
    from contract.build import ContractImageError, build_contract_images

    try:  # one test process builds them; the others wait, then find them current
        with _held("contract-build", fcntl.LOCK_EX):
            return build_contract_images(docker_client, on_line=_image_lines)
    except ContractImageError as err:
        _unavailable(f"contract images unavailable: {err}")
        raise  # not reached: _unavailable fails or skips
