"""`swelancer doctor` and `swelancer images …` as a user runs them, against the real engine."""

from __future__ import annotations

import contextlib
import io
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest
from upstream_data import CURRENT, need

from swelancer.ops.images import DEMO_IMAGE

THROWAWAY_TAG = "swelancer/swelancer_x86_99999999:releasev1"
"""A per-task tag on a copy of the base image: pruning it only untags."""
THROWAWAY_BUILT = "swelancer/swelancer_x86_99999998:releasev1"
"""A per-task tag on an image of its own: pruning it removes the image."""


def swelancer(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    full_env = {**os.environ, **(env or {})}
    for name, value in (env or {}).items():
        if value is None:
            full_env.pop(name, None)
    return subprocess.run(
        [sys.executable, "-m", "swelancer", *args],
        capture_output=True,
        text=True,
        timeout=300,
        env=full_env,
        stdin=subprocess.DEVNULL,
    )


def docker_info() -> dict[str, Any]:
    """The engine's own `docker info`, through its CLI (not the harness's code)."""
    out = subprocess.run(["docker", "info", "--format", "{{json .}}"], capture_output=True,
                         text=True, check=True)  # fmt: skip
    return json.loads(out.stdout)


def no_traceback(result: subprocess.CompletedProcess) -> None:
    assert "Traceback" not in result.stdout + result.stderr, result.stderr


# ---------------------------------------------------------------------------------------------
# doctor


def test_doctor_passes_for_the_demo_with_a_mock_model(demo_image: str) -> None:
    result = swelancer("doctor", "--split", "demo", "--model", "mock/oracle", "--json")
    no_traceback(result)
    assert result.returncode == 0, result.stdout + result.stderr
    report = json.loads(result.stdout)
    assert report["ok"] is True
    checks = {check["name"]: check for check in report["checks"]}
    assert set(checks) == {
        "engine",
        "architecture",
        "disk",
        "container disk",
        "images",
        "api key",
        "manifest",
    }
    assert all(check["status"] != "fail" for check in checks.values())
    assert checks["engine"]["status"] == "ok" and checks["engine"]["detail"].startswith("Docker ")
    assert checks["images"]["status"] == "ok" and DEMO_IMAGE in checks["images"]["detail"]
    assert checks["api key"]["status"] == "ok"
    info = docker_info()
    backing = dict(info["DriverStatus"]).get("Backing Filesystem")
    if info["Driver"] == "overlay2" and backing != "xfs":  # the engine cannot cap disk here
        assert checks["container disk"]["status"] == "warn", checks["container disk"]
        assert f"overlay2 on {backing}" in checks["container disk"]["detail"]
    elif info["Driver"] == "overlay2":
        assert checks["container disk"]["status"] == "ok", checks["container disk"]

    table = swelancer("doctor", "--model", "mock/oracle")
    assert table.returncode == 0 and "ready" in table.stdout and "engine" in table.stdout


def test_doctor_against_a_stopped_engine_says_how_to_start_it() -> None:
    result = swelancer("doctor", env={"DOCKER_HOST": "unix:///tmp/nonexistent.sock"})
    no_traceback(result)
    assert result.returncode == 1
    shown = " ".join(result.stdout.split())
    assert "fail" in shown and "not ready: fix engine first" in shown
    as_json = swelancer("doctor", "--json", env={"DOCKER_HOST": "unix:///tmp/nonexistent.sock"})
    engine = json.loads(as_json.stdout)["checks"][0]
    assert engine["name"] == "engine" and engine["status"] == "fail"
    assert "unix:///tmp/nonexistent.sock" in engine["detail"]
    assert "Start Docker" in engine["fix"]


def test_doctor_reports_a_missing_api_key_by_name(demo_image: str) -> None:
    env = {"OPENAI_API_KEY": None, "OPENAI_BASE_URL": None}
    result = swelancer("doctor", "--model", "gpt-4o", "--json", env=env)  # type: ignore[arg-type]
    no_traceback(result)
    assert result.returncode == 1
    key = next(c for c in json.loads(result.stdout)["checks"] if c["name"] == "api key")
    assert key["status"] == "fail" and "OPENAI_API_KEY not set" in key["detail"]

    secret = "sk-doctor-test-not-a-real-key"
    ok = swelancer("doctor", "--model", "gpt-4o", env={"OPENAI_API_KEY": secret})
    assert ok.returncode == 0, ok.stdout
    assert "OPENAI_API_KEY set" in " ".join(ok.stdout.split())
    assert secret not in ok.stdout + ok.stderr


# ---------------------------------------------------------------------------------------------
# images list / pull


def test_images_list_shows_the_demo_image_present(demo_image: str, docker_client: Any) -> None:
    result = swelancer("images", "list", "--split", "demo", "--json")
    no_traceback(result)
    assert result.returncode == 0, result.stderr
    listing = json.loads(result.stdout)
    (needed,) = listing["needed"]
    assert needed["image"] == DEMO_IMAGE and needed["present"] is True
    assert needed["id"] == docker_client.images.get(DEMO_IMAGE).id and needed["size"] > 0
    assert all(other["image"].startswith("swelancer") for other in listing["other"])

    table = swelancer("images", "list", "--split", "demo")
    assert table.returncode == 0
    row = next(line for line in table.stdout.splitlines() if DEMO_IMAGE in line)
    assert "present" in row and needed["id"].removeprefix("sha256:")[:12] in row


def test_pull_of_a_nonexistent_image_fails_clearly(docker_client) -> None:
    result = swelancer("images", "pull", "swelancer/swelancer_x86_nonexistent:releasev1")
    no_traceback(result)
    assert result.returncode == 1
    assert result.stderr.count("swelancer: error:") == 1
    message = " ".join(result.stderr.split())
    assert "swelancer/swelancer_x86_nonexistent:releasev1" in message
    # No registry is reachable from the test engines; with one, the image is simply not found.
    assert "could not reach the registry" in message or "was not found" in message
    assert "Docker said:" in message

    demo = swelancer("images", "pull", "demo")
    assert demo.returncode == 2 and "swelancer images build demo" in " ".join(demo.stderr.split())


# ---------------------------------------------------------------------------------------------
# images prune


@pytest.fixture
def throwaway_images(docker_client: Any, base_image: str) -> Iterator[dict[str, str]]:
    """Two per-task tags of tasks no manifest has: one on the base image, one on its own image."""
    import docker.errors

    docker_client.images.get(base_image).tag(THROWAWAY_TAG)
    dockerfile = io.BytesIO(f"FROM {base_image}\nLABEL swelancer.test=prune\n".encode())
    built, _ = docker_client.images.build(fileobj=dockerfile, tag=THROWAWAY_BUILT, rm=True)
    yield {THROWAWAY_TAG: docker_client.images.get(base_image).id, THROWAWAY_BUILT: built.id}
    for tag in (THROWAWAY_TAG, THROWAWAY_BUILT):
        with contextlib.suppress(docker.errors.ImageNotFound):
            docker_client.images.remove(tag, force=True)


def _prune(*args: str) -> subprocess.CompletedProcess:
    # --snapshots none: the prune of per-task images only; snapshots of other tests stay
    return swelancer(
        "images", "prune", "--manifest", str(need(CURRENT)), "--snapshots", "none", *args
    )


def _present(client: Any, tag: str) -> bool:
    import docker.errors

    try:
        client.images.get(tag)
        return True
    except docker.errors.ImageNotFound:
        return False


def _only_ours_to_prune(throwaway_images: dict[str, str]) -> dict:
    """The dry run's plan, when it offers only this test's images; else the test is skipped
    (prune acts engine-wide, and other work's images are not the tests' to remove)."""
    looked = _prune("--dry-run", "--json")
    no_traceback(looked)
    assert looked.returncode == 0, looked.stderr
    plan = json.loads(looked.stdout)
    tags = {item["tag"] for item in plan["items"]}
    if tags != set(throwaway_images):
        pytest.skip(f"the engine holds other prunable images ({sorted(tags)}); not touching them")
    return plan


def test_prune_removes_images_of_tasks_no_longer_in_the_manifest(
    docker_client: Any, base_image: str, throwaway_images: dict[str, str]
) -> None:
    plan = _only_ours_to_prune(throwaway_images)
    assert plan["dry_run"] is True and not any(item["removed"] for item in plan["items"])
    by_tag = {item["tag"]: item for item in plan["items"]}
    assert by_tag[THROWAWAY_TAG]["frees"] is False  # the base image keeps its own tag
    assert base_image in by_tag[THROWAWAY_TAG]["other_tags"]
    assert by_tag[THROWAWAY_BUILT]["frees"] is True
    assert plan["frees_bytes"] == by_tag[THROWAWAY_BUILT]["size"] > 0
    assert all(_present(docker_client, tag) for tag in throwaway_images)

    refused = _prune()  # stdin is not a terminal and there is no --yes
    assert refused.returncode == 2 and "--yes" in refused.stderr
    assert all(_present(docker_client, tag) for tag in throwaway_images)

    done = _prune("--yes", "--json")
    no_traceback(done)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["dry_run"] is False and all(item["removed"] for item in result["items"])
    assert not any(_present(docker_client, tag) for tag in throwaway_images)
    assert _present(docker_client, base_image), "prune must only untag a shared image"
    again = _prune("--yes")
    assert again.returncode == 0 and "nothing to prune" in again.stderr


def test_prune_never_removes_an_image_a_container_uses(
    docker_client: Any, docker_run_id: str, throwaway_images: dict[str, str]
) -> None:
    _only_ours_to_prune(throwaway_images)
    container = docker_client.containers.run(
        THROWAWAY_BUILT,
        ["sleep", "300"],
        detach=True,
        labels={"swelancer": "1", "swelancer.run_id": docker_run_id},
    )
    try:
        result = _prune("--yes", "--json")
        no_traceback(result)
        assert result.returncode == 0, result.stderr
        items = {item["tag"]: item for item in json.loads(result.stdout)["items"]}
        kept = items[THROWAWAY_BUILT]
        assert kept["removed"] is False and f"running container {container.name}" in (
            kept["blocked"] or ""
        )
        assert _present(docker_client, THROWAWAY_BUILT)
        assert items[THROWAWAY_TAG]["removed"] is True
    finally:
        container.remove(force=True)
