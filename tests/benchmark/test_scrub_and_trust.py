"""What the user tool hands back loses the hidden test, and a container whose programs the agent
replaced is not trusted to grade in place."""

from __future__ import annotations

import json
from pathlib import Path

from swelancer.benchmark.hidden import HiddenTests
from swelancer.benchmark.scrub import needles, scrub_trace
from swelancer.benchmark.trust import replaced_tools

TEST = '''"""Totals keep their cents."""
from playwright.sync_api import expect

def test_total(page):
    page.goto("https://dev.new.expensify.com:8082/")
    expect(page.get_by_text("Total: $10.05")).to_be_visible()  # CONTRACT-ASSERTION-1
'''
PATCH = """--- a/src/money.py
+++ b/src/money.py
@@ -1 +1 @@
-    return f"{amount // 100}.{amount % 100:02d}"
+    return f"{amount // 100}.{amount % 100}"
"""


def hidden(tmp_path: Path) -> HiddenTests:
    folder = tmp_path / "tests" / "issues" / "7"
    folder.mkdir(parents=True)
    (folder / "test.py").write_text(TEST)
    (folder / "bug_reintroduce.patch").write_text(PATCH)
    return HiddenTests(root=tmp_path / "tests", folder="7")


def trace_folder(tmp_path: Path, rows: list[dict], **files: bytes) -> Path:
    folder = tmp_path / "output_1"
    (folder / "resources").mkdir(parents=True)
    (folder / "trace.trace").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (folder / "trace.network").write_text("")
    for name, data in files.items():
        path = folder / name.replace("__", "/")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return folder


def test_a_plain_trace_comes_back_whole(tmp_path):
    rows = [{"type": "before", "apiName": "Page.goto", "params": {"url": "https://x/"}}]
    folder = trace_folder(tmp_path, rows, resources__ab12cd=b"jpeg")
    result = scrub_trace(folder, needles(hidden(tmp_path)))
    assert not result.anything
    assert (folder / "resources" / "ab12cd").exists()
    assert json.loads((folder / "trace.trace").read_text()) == rows[0]


def test_sources_copies_and_stray_files_are_dropped(tmp_path):
    marks = needles(hidden(tmp_path))
    rows = [
        {"type": "before", "apiName": "Page.goto"},
        {"type": "log", "message": TEST.splitlines()[5].strip()},  # the assertion, copied
        {"type": "frame-snapshot", "html": TEST},  # the whole test, JSON-escaped in the row
    ]
    folder = trace_folder(
        tmp_path,
        rows,
        **{
            "resources__src@1a2b.txt": TEST.encode(),
            "resources__page.html": b"<pre>" + PATCH.encode() + b"</pre>",
            "leak__test.py": TEST.encode(),
            "notes.txt": b"anything",
        },
    )
    result = scrub_trace(folder, marks)
    assert result.dropped_rows == 2
    assert sorted(result.dropped_files) == ["leak/test.py", "notes.txt", "resources/page.html"]
    assert not (folder / "resources" / "src@1a2b.txt").exists()
    left = b"".join(p.read_bytes() for p in folder.rglob("*") if p.is_file())
    assert b"CONTRACT-ASSERTION" not in left and b"% 100:02d" not in left
    assert sorted(p.name for p in folder.iterdir()) == ["resources", "trace.network", "trace.trace"]


def test_the_needles_are_the_tests_lines_and_the_fix_not_the_bug(tmp_path):
    marks = needles(hidden(tmp_path), ("E   AssertionError: Locator expected to be visible",))
    assert any(b"CONTRACT-ASSERTION-1" in m for m in marks)
    assert b'return f"{amount // 100}.{amount % 100:02d}"' in marks  # the fix
    assert not any(b'% 100}"' in m and b":02d" not in m for m in marks)  # not the bug
    assert any(b"Locator expected to be visible" in m for m in marks)
    assert not any(m.startswith((b"from ", b"import ")) for m in marks)


def test_replaced_or_shadowed_programs_are_seen():
    changes = [
        ("/usr/bin/sh", 0),
        ("/usr/local/bin/git", 1),
        ("/root/.bashrc", 0),
        ("/etc/ld.so.preload", 1),
        ("/usr/bin/newtool", 1),  # apt installed something: not a replacement
        ("/app/expensify/src/app.py", 0),
        ("/usr/lib/x86_64-linux-gnu/libc.so.6", 0),
    ]
    assert replaced_tools(changes) == [
        "/etc/ld.so.preload", "/root/.bashrc", "/usr/bin/sh", "/usr/lib/x86_64-linux-gnu/libc.so.6",
        "/usr/local/bin/git",
    ]  # fmt: skip
