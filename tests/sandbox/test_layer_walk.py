"""When a container's layers are walked here, and what the walk makes of plain folders (the
engine's own listing is compared in tests/docker/test_layer_changes.py)."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from swelancer.sandbox.docker import layer_changes as layer_walk
from swelancer.sandbox.docker.layer_changes import (
    OPAQUE,
    Layers,
    LayersUnreadable,
    TooManyChanges,
    layer_changes,
    layers_of,
)


def attrs(upper: Path, *lowers: Path, driver: str = "overlay2") -> dict:
    data = {"UpperDir": str(upper), "LowerDir": ":".join(str(p) for p in lowers)}
    return {"GraphDriver": {"Name": driver, "Data": data}}


@pytest.fixture
def layers(tmp_path: Path) -> tuple[Path, Path, Path]:
    upper, init, image = (tmp_path / n for n in ("upper", "init", "image"))
    for folder in (upper, init, image / "etc", image / "srv"):
        folder.mkdir(parents=True)
    (image / "etc" / "conf").write_text("old")
    (image / "srv" / "kept").write_text("kept")
    return upper, init, image


def test_only_a_local_overlay2_engine_with_a_native_diff_run_as_root(layers, monkeypatch):
    upper, init, image = layers
    monkeypatch.setattr(os, "geteuid", lambda: 0)
    assert layers_of(attrs(upper, init, image), native_diff=True) == Layers(
        str(upper), (str(init), str(image))
    )
    assert layers_of(attrs(upper, init, image), native_diff=False) is None
    assert layers_of(attrs(upper, init, image, driver="btrfs"), native_diff=True) is None
    assert layers_of(attrs(upper / "gone", init), native_diff=True) is None  # another host
    assert layers_of({"GraphDriver": {"Name": "overlay2"}}, native_diff=True) is None
    monkeypatch.setattr(os, "geteuid", lambda: 1000)  # whiteouts are root's to read
    assert layers_of(attrs(upper, init, image), native_diff=True) is None


def test_added_changed_and_parents(layers):
    upper, init, image = layers
    (upper / "etc").mkdir()
    (upper / "etc" / "conf").write_text("new, longer")
    (upper / "srv").mkdir()
    os.utime(upper / "srv", ns=(0, (image / "srv").stat().st_mtime_ns))
    (upper / "srv" / "kept").write_text("kept")
    os.utime(upper / "srv" / "kept", ns=(0, (image / "srv" / "kept").stat().st_mtime_ns))
    (upper / "new" / "deeper").mkdir(parents=True)
    (upper / "new" / "deeper" / "file").write_text("x")
    found = sorted(layer_changes(Layers(str(upper), (str(init), str(image)))))
    assert found == [
        ("/etc", 0),  # the parent of a change
        ("/etc/conf", 0),
        ("/new", 1),
        ("/new/deeper", 1),
        ("/new/deeper/file", 1),
    ]  # /srv/kept copied up unchanged is no change, as the engine says


def test_a_walk_past_its_bounds_is_refused(layers):
    upper, init, image = layers
    for n in range(30):
        (upper / f"f{n}").write_text("")
    here = Layers(str(upper), (str(init), str(image)))
    with pytest.raises(TooManyChanges, match="more than 10 entries"):
        layer_changes(here, max_entries=10)  # the engine's list would be as long: not asked
    (upper / "a" / "b" / "c").mkdir(parents=True)
    with pytest.raises(LayersUnreadable, match="more than 2 deep"):
        layer_changes(here, max_depth=2)
    with pytest.raises(LayersUnreadable):
        layer_changes(Layers(str(upper / "gone"), (str(image),)))


def test_the_image_side_never_follows_a_link_of_a_lower_layer(tmp_path, monkeypatch):
    """A folder of the image remade in a layer above one where its parent is a link: the
    walk lists the folder's children in that layer, never through the link."""
    upper, top, bottom, outside = (tmp_path / n for n in ("upper", "top", "bottom", "host"))
    (outside / "etc").mkdir(parents=True)
    (outside / "etc" / "secret").write_text("host")
    (top / "x" / "etc").mkdir(parents=True)
    (top / "x" / "etc" / "kept").write_text("")
    bottom.mkdir()
    (bottom / "x").symlink_to(outside)  # overlayfs shows `top`'s folder x, not this link
    (upper / "x" / "etc").mkdir(parents=True)
    monkeypatch.setattr(
        "swelancer.sandbox.docker.layer_changes._xattr",
        lambda path, name: b"y" if name == OPAQUE and isinstance(path, int) else None,
    )
    listed: list[str] = []
    real_listdir = os.listdir
    monkeypatch.setattr(os, "listdir", lambda p: listed.append(str(p)) or real_listdir(p))
    found = sorted(layer_changes(Layers(str(upper), (str(top), str(bottom)))))
    assert found == [("/x", 0), ("/x/etc", 0), ("/x/etc/kept", 2)]
    assert not any(p.startswith(str(bottom)) for p in listed), listed


def test_marks_tell_an_entry_written_again_even_with_its_size_and_time_kept(layers):
    upper, init, image = layers
    (upper / "out").mkdir()
    for name in ("same", "rewritten", "gone"):
        (upper / "out" / name).write_text("setup")
    walk = Layers(str(upper), (str(init), str(image)))
    time.sleep(layer_walk.RACY_NS / 1e9 * 1.5)  # setup's writes are older than the walk's window
    before = layer_changes(walk)
    assert before.marks is not None and "/out/same" in before.marks
    kept = (upper / "out" / "rewritten").stat().st_mtime_ns
    (upper / "out" / "rewritten").write_text("agent")  # same size
    os.utime(upper / "out" / "rewritten", ns=(kept, kept))  # and modification time set back
    (upper / "out" / "gone").unlink()
    assert "/out/rewritten" not in (layer_changes(walk).marks or {}), "just written: no mark"
    time.sleep(layer_walk.RACY_NS / 1e9 * 1.5)
    after = layer_changes(walk)
    assert after.marks is not None
    assert after.marks["/out/same"] == before.marks["/out/same"]
    assert after.marks["/out/rewritten"] != before.marks["/out/rewritten"]
    assert "/out/gone" not in after.marks


def test_an_entry_written_just_before_the_walk_has_no_mark(layers, monkeypatch):
    upper, init, image = layers
    monkeypatch.setattr(layer_walk, "RACY_NS", 60 * 10**9)  # "just before", however slow
    (upper / "now").write_text("just written")
    listing = layer_changes(Layers(str(upper), (str(init), str(image))))
    assert ("/now", 1) in listing and listing.marks is not None
    assert "/now" not in listing.marks, "it could be written again within the same tick"
