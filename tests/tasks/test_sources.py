"""Upstream manifests are downloaded once into the cache, atomically, from an overridable URL."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from upstream_data import CURRENT, LITE, need

from swelancer.errors import ManifestError
from swelancer.tasks.catalog import TaskQuery, load_tasks
from swelancer.tasks.sources import sha256_of
from tests.fakes.files_server import FilesServer, serving


@pytest.fixture
def server(monkeypatch, tmp_path) -> Iterator[FilesServer]:
    files = {"/current.csv": need(CURRENT).read_bytes(), "/lite.csv": need(LITE).read_bytes()}
    monkeypatch.setenv("SWELANCER_CACHE_DIR", str(tmp_path / "cache"))
    with serving(files, missing_status=500) as srv:
        yield srv


def test_first_use_downloads_then_the_cache_is_used(server, monkeypatch, tmp_path):
    monkeypatch.setenv("SWELANCER_MANIFEST_URL", server.url + "/current.csv")
    first = load_tasks(TaskQuery(split="diamond"), show_progress=False)
    assert server.hits == ["/current.csv"]
    assert len(first.tasks) == 463
    assert first.source.kind == "upstream"
    assert first.source.sha256 == sha256_of(CURRENT)
    assert first.source.url == server.url + "/current.csv"
    second = load_tasks(TaskQuery(split="diamond", variant="ic_swe"), show_progress=False)
    assert server.hits == ["/current.csv"], "second use must read the cache"
    assert len(second.tasks) == 198
    cached = list((tmp_path / "cache" / "manifests").iterdir())
    assert sorted(p.suffix for p in cached) == [".csv", ".json", ".sha256"]
    sha_file = next(p for p in cached if p.suffix == ".sha256")
    assert sha_file.read_text().split()[0] == sha256_of(CURRENT)


def test_lite_split_has_its_own_url(server, monkeypatch):
    monkeypatch.setenv("SWELANCER_LITE_MANIFEST_URL", server.url + "/lite.csv")
    lite = load_tasks(TaskQuery(split="lite"), show_progress=False)
    assert len(lite.tasks) == 174
    assert server.hits == ["/lite.csv"]


def test_server_error_is_clear_and_leaves_no_partial_file(server, monkeypatch, tmp_path):
    monkeypatch.setenv("SWELANCER_MANIFEST_URL", server.url + "/missing.csv")
    with pytest.raises(ManifestError) as info:
        load_tasks(TaskQuery(split="diamond"), show_progress=False)
    message = str(info.value)
    assert "could not download" in message and "500" in message and "--manifest" in message
    leftovers = list((tmp_path / "cache").rglob("*"))
    assert [p for p in leftovers if p.is_file()] == []


def test_skip_broken_and_limit(server, monkeypatch):
    monkeypatch.setenv("SWELANCER_MANIFEST_URL", server.url + "/current.csv")
    kept = load_tasks(TaskQuery(split="all", variant="ic_swe"), show_progress=False)
    skipped = load_tasks(
        TaskQuery(split="all", variant="ic_swe", skip_broken=True), show_progress=False
    )
    assert len(kept.tasks) == 198 and len(skipped.tasks) == 195
    assert sorted(skipped.skipped_broken) == ["29854_602", "32236_652", "49523_849"]
    limited = load_tasks(TaskQuery(split="diamond", limit=5), show_progress=False)
    assert len(limited.tasks) == 5


@pytest.mark.parametrize("form", ["plain path", "file:// URL"])
def test_a_local_copy_is_taken_wherever_a_url_is(monkeypatch, tmp_path, form):
    copy = tmp_path / "mirror" / "all tasks.csv"  # a space: the URL quotes it
    copy.parent.mkdir()
    copy.write_bytes(need(CURRENT).read_bytes())
    monkeypatch.setenv("SWELANCER_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv(
        "SWELANCER_MANIFEST_URL", str(copy) if form == "plain path" else copy.as_uri()
    )
    found = load_tasks(
        TaskQuery(split="diamond", task_ids=["15193-manager-0"]), show_progress=False
    )
    assert [t.task_id for t in found.tasks] == ["15193-manager-0"]


def test_offline_the_error_says_how_to_give_a_local_copy(monkeypatch, tmp_path, capsys):
    """`tasks show` of the README, with no network (a closed port stands for it)."""
    import socket

    from swelancer.cli.app import main

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    monkeypatch.setenv("SWELANCER_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("SWELANCER_MANIFEST_URL", f"http://127.0.0.1:{port}/all.csv")
    with pytest.raises(SystemExit) as stopped:
        main(["tasks", "show", "15193-manager-0"])
    said = " ".join(capsys.readouterr().err.split())
    assert stopped.value.code != 0 and "Traceback" not in said
    assert "--manifest PATH" in said and "point SWELANCER_MANIFEST_URL at a local copy" in said
