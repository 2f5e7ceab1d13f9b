"""Doctor checks and the image helpers behind `images`, with real inputs and no Docker engine."""

from __future__ import annotations

import io
import json
import shutil
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from rich.console import Console
from upstream_data import CURRENT, need

from swelancer.errors import ManifestError
from swelancer.ops.doctor import (
    Check,
    DoctorOptions,
    check_api_key,
    check_architecture,
    check_disk,
    check_engine,
    check_manifest,
    disk_need,
    exit_code,
    render_table,
    run_checks,
)
from swelancer.ops.images import (
    DEMO_IMAGE,
    MONOLITH_IMAGE,
    cached_manifest,
    per_task_image,
    per_task_image_id,
    pull_error,
    selection_images,
)
from swelancer.sandbox.engine import EngineFacts
from swelancer.sandbox.factory import docker_engine
from swelancer.tasks.sources import sha256_of

SECRET = "sk-test-0123456789abcdef"


@pytest.fixture
def cache(monkeypatch, tmp_path) -> Path:
    """An empty cache directory, and the default manifest URLs."""
    monkeypatch.setenv("SWELANCER_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("SWELANCER_MANIFEST_URL", raising=False)
    monkeypatch.delenv("SWELANCER_LITE_MANIFEST_URL", raising=False)
    return tmp_path / "cache"


@pytest.fixture
def manifest_server(monkeypatch) -> Iterator[str]:
    """A local HTTP server serving the real current manifest; its URL is the split's URL."""
    body = need(CURRENT).read_bytes()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{httpd.server_address[1]}/all_swelancer_tasks.csv"
    monkeypatch.setenv("SWELANCER_MANIFEST_URL", url)
    yield url
    httpd.shutdown()
    httpd.server_close()


# ---------------------------------------------------------------------------------------------
# API keys


@pytest.mark.parametrize(
    ("model", "variable"),
    [
        ("gpt-4o", "OPENAI_API_KEY"),
        ("o3-mini", "OPENAI_API_KEY"),
        ("claude-sonnet-4-20250514", "ANTHROPIC_API_KEY"),
        ("openrouter/meta/llama-3", "OPENROUTER_API_KEY"),
    ],
)
def test_api_key_names_the_variable_and_never_shows_the_key(model: str, variable: str) -> None:
    missing = check_api_key(model, None, env={})
    assert missing.status == "fail"
    assert f"{variable} not set" in missing.detail
    assert missing.fix and f"export {variable}=" in missing.fix

    present = check_api_key(model, None, env={variable: SECRET})
    assert present.status == "ok" and f"{variable} set" in present.detail
    assert SECRET not in json.dumps(present.to_json())


def test_api_key_not_needed_for_mocks_or_a_base_url() -> None:
    for mock in ("mock/oracle", "mock/noop", "mock/scripted:/tmp/x.json"):
        assert check_api_key(mock, None, env={}).status == "ok"
    served = check_api_key("my-local-model", "http://127.0.0.1:8000/v1", env={})
    assert served.status == "ok" and "no key required" in served.detail
    assert check_api_key(None, None, env={}).status == "ok"


def test_unknown_model_fails_with_the_accepted_forms() -> None:
    check = check_api_key("llama-local", None, env={})
    assert check.status == "fail" and "Unknown model 'llama-local'" in check.detail


# ---------------------------------------------------------------------------------------------
# Manifest cache


def test_upstream_manifest_not_cached_is_a_warning_with_the_fetch_fix(cache: Path) -> None:
    check = check_manifest("diamond", None)
    assert check.status == "warn"
    assert "not cached" in check.detail and "all_swelancer_tasks.csv" in check.detail
    assert check.fix == "`swelancer doctor --split diamond --fetch` downloads it now"
    assert not cache.exists(), "doctor must not download without --fetch"


def test_fetch_downloads_then_the_cache_is_reported(cache: Path, manifest_server: str) -> None:
    check = check_manifest("nondiamond", None, fetch=True)
    assert check.status == "ok", check
    path = cached_manifest("nondiamond")
    assert path is not None and path.parent == cache / "manifests"
    assert str(path) in check.detail
    assert f"sha256 {sha256_of(CURRENT)[:12]}" in check.detail
    assert "fetched 0 minutes ago" in check.detail
    # A second look reads the cache; the lite split has its own file, not cached.
    assert check_manifest("diamond", None).status == "ok"
    assert check_manifest("lite", None).status == "warn"


def test_fetch_that_cannot_download_fails_with_the_reason(cache: Path, monkeypatch) -> None:
    monkeypatch.setenv("SWELANCER_MANIFEST_URL", "http://127.0.0.1:9/none.csv")
    check = check_manifest("diamond", None, fetch=True)
    assert check.status == "fail" and "could not download the task manifest" in check.detail


def test_manifest_file_and_demo(tmp_path: Path) -> None:
    assert check_manifest(None, None).status == "ok"  # the demo split, bundled
    given = check_manifest(None, need(CURRENT))
    assert given.status == "ok" and sha256_of(CURRENT)[:12] in given.detail
    assert check_manifest(None, tmp_path / "nope.csv").status == "fail"


# ---------------------------------------------------------------------------------------------
# Engine, architecture, disk


def test_engine_down_is_a_failure_with_how_to_start_it(monkeypatch) -> None:
    monkeypatch.setenv("DOCKER_HOST", "unix:///tmp/nonexistent.sock")
    check, facts = check_engine(docker_engine())
    assert facts is None
    assert check.status == "fail"
    assert "unix:///tmp/nonexistent.sock" in check.detail
    assert check.fix and "Start Docker" in check.fix and "docker info" in check.fix


def test_architecture() -> None:
    assert check_architecture(EngineFacts(architecture="x86_64"), upstream=True).status == "ok"
    assert check_architecture(EngineFacts(architecture="aarch64"), upstream=False).status == "ok"
    arm = check_architecture(EngineFacts(architecture="aarch64"), upstream=True)
    assert arm.status == "warn" and "x86-64 only" in arm.detail and "emulation" in arm.detail


def test_disk_need_counts_missing_images_only() -> None:
    need_demo, how = disk_need([DEMO_IMAGE])
    assert need_demo == 3_000_000_000 and "demo image" in how
    per_task = [per_task_image(str(i)) for i in range(10)]
    need_upstream, how = disk_need([MONOLITH_IMAGE, *per_task])
    assert need_upstream == 11 * 14_000_000_000 + 2_000_000_000
    assert "11 upstream images (~14 GB each)" in how


def test_disk_against_the_data_root(tmp_path: Path) -> None:
    info = EngineFacts(root_dir=str(tmp_path))
    free = shutil.disk_usage(tmp_path).free
    ok = check_disk(info, [], unknown_per_task=False)
    assert ok.status == "ok" and f"{free / 1e9:,.1f} GB free on {tmp_path}" in ok.detail
    too_many = [per_task_image(str(i)) for i in range(free // 14_000_000_000 + 1)]
    full = check_disk(info, too_many, unknown_per_task=False)
    assert full.status == "fail" and full.fix and "prune" in full.fix
    remote = check_disk(EngineFacts(root_dir="/no/such/dir"), [], unknown_per_task=False)
    assert remote.status == "warn" and "not on this machine" in remote.detail


# ---------------------------------------------------------------------------------------------
# All together


def test_run_checks_with_the_engine_down(monkeypatch, cache: Path) -> None:
    monkeypatch.setenv("DOCKER_HOST", "unix:///tmp/nonexistent.sock")
    options = DoctorOptions(split="diamond", model="gpt-4o")
    checks = run_checks(options, env={})
    by_name = {check.name: check for check in checks}
    assert list(by_name) == [
        "engine",
        "architecture",
        "disk",
        "container disk",
        "images",
        "api key",
        "manifest",
    ]
    assert by_name["engine"].status == "fail"
    assert by_name["images"].detail.startswith("not checked")
    assert by_name["api key"].status == "fail"
    assert by_name["manifest"].status == "warn"
    assert exit_code(checks) == 1

    console = Console(file=io.StringIO(), width=200)
    render_table(checks, console)
    shown = console.file.getvalue()
    assert "OPENAI_API_KEY not set" in shown and "not ready: fix engine, api key first." in shown


def test_warnings_do_not_fail() -> None:
    checks = [Check("a", "ok", ""), Check("b", "warn", "", "do x")]
    assert exit_code(checks) == 0
    assert exit_code([*checks, Check("c", "fail", "", "do y")]) == 1


# ---------------------------------------------------------------------------------------------
# Which images a selection needs


def test_selection_images(cache: Path) -> None:
    assert selection_images(None, None).images == [DEMO_IMAGE]
    assert selection_images("diamond", None).images == [MONOLITH_IMAGE]
    unknown = selection_images("diamond", None, per_task=True, download=False)
    assert unknown.images == [MONOLITH_IMAGE] and "per-task images" in (unknown.note or "")
    assert not cache.exists()

    per_task = selection_images(None, need(CURRENT), per_task=True)
    assert per_task.images[0] != MONOLITH_IMAGE
    assert MONOLITH_IMAGE in per_task.images  # manager tasks run in the unified image
    assert len(per_task.images) == 198 + 1
    ic = [task.task_id for task in per_task.tasks or [] if task.variant == "ic_swe"]
    assert set(per_task.images) == {MONOLITH_IMAGE, *map(per_task_image, ic)}
    with pytest.raises(ManifestError, match="unknown split"):
        selection_images("diamonds", None)


def test_per_task_image_names() -> None:
    assert per_task_image_id("swelancer/swelancer_x86_28565_1001:releasev1") == "28565_1001"
    assert per_task_image_id(MONOLITH_IMAGE) is None
    assert per_task_image_id("swelancer/swelancer_x86_28565_1001:latest") is None
    assert per_task_image_id(DEMO_IMAGE) is None


# ---------------------------------------------------------------------------------------------
# Why a pull failed


@pytest.mark.parametrize(
    ("said", "kind", "words"),
    [
        (
            'Get "https://registry-1.docker.io/v2/": dial tcp: lookup registry-1.docker.io on '
            "10.0.0.53:53: no such host",
            "registry_unreachable",
            "could not reach the registry",
        ),
        (
            "pull access denied for swelancer/nope, repository does not exist or may require "
            "'docker login'",
            "image_missing",
            "was not found in its registry",
        ),
        (
            "manifest for swelancer/swelancer_x86_1:releasev1 not found: manifest unknown",
            "image_missing",
            "was not found in its registry",
        ),
        (
            "failed to register layer: write /usr/lib/x: no space left on device",
            "disk_full",
            "ran out of disk space",
        ),
        ("something else entirely", "pull_failed", "pulling"),
    ],
)
def test_pull_errors_say_what_happened(said: str, kind: str, words: str) -> None:
    error = pull_error("swelancer/swelancer_x86_1:releasev1", said)
    assert error.kind == kind
    assert words in str(error) and "swelancer/swelancer_x86_1:releasev1" in str(error)
    assert said.split()[0] in str(error)  # Docker's own words are kept
