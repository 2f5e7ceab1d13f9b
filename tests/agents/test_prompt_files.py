"""Upstream's prompt files come from a mirror (http or file://) into the cache once, from a
folder in any of its layouts, and are refused when their checksum is not the pinned one; without
the network and a cached copy the error says how to give them. Read with ast only."""

from __future__ import annotations

import ast
from collections.abc import Iterator

import pytest
from upstream_data import UPSTREAM, need

from swelancer.agents.prompt_choice import resolve_prompts
from swelancer.agents.upstream_files import ENV, PINNED, locate
from swelancer.agents.upstream_text import inline_protocol, module_strings, read_texts
from swelancer.errors import ConfigError
from tests.agents.test_upstream_prompts import old_protocol_message
from tests.fakes.files_server import FilesServer, serving


def snapshot_copy(pin) -> bytes:
    return need(UPSTREAM / pin.snapshot).read_bytes()


@pytest.fixture
def mirror(monkeypatch, tmp_path) -> Iterator[FilesServer]:
    """A raw-file server laid out as raw.githubusercontent.com; its `base` is the mirror."""
    files = {"/raw" + pin.url(""): snapshot_copy(pin) for pin in PINNED}
    with serving(files, prefix="/raw") as srv:
        monkeypatch.setenv("SWELANCER_CACHE_DIR", str(tmp_path / "cache"))
        monkeypatch.setenv(ENV, srv.base)
        yield srv


def one_paragraph(message: str) -> str:
    assert "\n\n" not in message.strip()
    return " ".join(message.split())


def test_the_files_are_downloaded_once_then_read_from_the_cache(mirror, tmp_path):
    first = resolve_prompts("upstream", show_progress=False)
    assert sorted(mirror.hits) == sorted("/raw" + pin.url("") for pin in PINNED)
    cached = sorted(p.name for p in (tmp_path / "cache" / "prompts").iterdir())
    assert cached == sorted(f"{pin.sha256[:16]}-{pin.name}" for pin in PINNED)
    assert first.record["from"] == mirror.base
    for pin in PINNED:
        record = first.record["files"][pin.key]
        assert record["sha256"] == pin.sha256 and record["path"] == pin.path
        assert record["read_from"] == pin.url(mirror.base) and record["commit"] == pin.commit
    mirror.hits.clear()
    mirror.httpd.shutdown()  # offline from now on: the cache is enough
    again = resolve_prompts("upstream", show_progress=False)
    assert mirror.hits == [] and again.upstream == first.upstream


def test_a_file_that_is_not_the_pinned_one_is_refused_and_not_cached(mirror, tmp_path):
    pin = PINNED[0]
    mirror.files["/raw" + pin.url("")] += b"\n# one more line\n"
    with pytest.raises(ConfigError) as info:
        resolve_prompts("upstream", show_progress=False)
    text = one_paragraph(str(info.value))
    assert pin.path in text and pin.sha256 in text and "sha256" in text
    assert "--prompts swelancer" in text
    assert not (tmp_path / "cache" / "prompts" / f"{pin.sha256[:16]}-{pin.name}").exists()
    leftovers = [p for p in (tmp_path / "cache").rglob("*") if p.is_file()]
    assert leftovers == []


def test_offline_without_a_cached_copy_says_how_to_give_the_files(monkeypatch, tmp_path):
    monkeypatch.setenv("SWELANCER_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv(ENV, "http://127.0.0.1:9/raw")  # the discard port: nothing answers
    with pytest.raises(ConfigError) as info:
        resolve_prompts("upstream", show_progress=False)
    text = one_paragraph(str(info.value))
    assert "could not download" in text and PINNED[0].path in text
    assert "--prompts FOLDER" in text and ENV in text and "--prompts swelancer" in text
    assert "prompts.py, solver.py, swelancer_agent.py" in text


def test_a_file_url_mirror_works(monkeypatch, tmp_path):
    root = tmp_path / "mirror"
    for pin in PINNED:
        target = root / pin.url("").lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(snapshot_copy(pin))
    monkeypatch.setenv("SWELANCER_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv(ENV, root.as_uri())
    chosen = resolve_prompts(None, show_progress=False)
    assert chosen.kind == "upstream"
    assert chosen.record["files"]["solver"]["read_from"].startswith("file://")
    assert chosen.upstream == resolve_prompts(str(UPSTREAM)).upstream
    # The same folder named directly (the mirror layout is one a folder may have).
    assert locate(root).paths["old_agent"] == root / PINNED[2].url("").lstrip("/")


def test_a_folder_named_by_the_environment_is_read_in_place(monkeypatch, tmp_path):
    monkeypatch.setenv("SWELANCER_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv(ENV, str(UPSTREAM))
    chosen = resolve_prompts("upstream")
    assert chosen.record["from"] == str(UPSTREAM.resolve())
    assert not (tmp_path / "cache").exists()


def test_a_folder_missing_a_file_or_holding_another_is_refused(tmp_path):
    for pin in PINNED[:2]:
        (tmp_path / pin.name).write_bytes(snapshot_copy(pin))
    with pytest.raises(ConfigError) as info:
        resolve_prompts(str(tmp_path))
    text = one_paragraph(str(info.value))
    assert "swelancer_agent.py" in text and PINNED[2].repo in text
    (tmp_path / "swelancer_agent.py").write_bytes(snapshot_copy(PINNED[2]) + b"\n")
    with pytest.raises(ConfigError, match=r"not upstream's swelancer_agent\.py"):
        resolve_prompts(str(tmp_path))
    with pytest.raises(ConfigError, match="is not a folder"):
        resolve_prompts(str(tmp_path / "nowhere"))


def test_a_file_without_a_named_constant_is_an_error_naming_both():
    source = need(UPSTREAM / PINNED[0].snapshot).read_text()
    tree = ast.parse(source)
    tree.body = [
        s for s in tree.body
        if not (isinstance(s, ast.Assign) and s.targets[0].id == "IC_THIRD_PROMPT")
    ]  # fmt: skip
    with pytest.raises(ConfigError, match=r"prompts\.py: IC_THIRD_PROMPT is not assigned"):
        module_strings(tree, ("IC_FIRST_PROMPT", "IC_THIRD_PROMPT"), "prompts.py")
    computed = ast.parse("IC_FIRST_PROMPT = 'a'.upper()\n")
    with pytest.raises(ConfigError, match="IC_FIRST_PROMPT is not a string constant"):
        module_strings(computed, ("IC_FIRST_PROMPT",), "prompts.py")
    joined = ast.parse("X = ('a' + \"b\") + '''c'''\n")
    assert module_strings(joined, ("X",), "f.py") == {"X": "abc"}


def test_the_old_harness_protocol_is_the_one_constant_message_before_the_loop():
    tree = ast.parse(need(UPSTREAM / PINNED[2].snapshot).read_text())
    protocol = inline_protocol(tree, "swelancer_agent.py")
    # The same message as the first literal append in source order (the test's own reading);
    # the loop's reminder, also a literal, comes later and is not it.
    assert protocol == old_protocol_message()["content"]
    bare = ast.parse("class SimpleAgentSolver:\n    async def run(self):\n        messages = []\n")
    with pytest.raises(ConfigError, match="appends 0 constant user messages"):
        inline_protocol(bare, "swelancer_agent.py")
    with pytest.raises(ConfigError, match=r"no SimpleAgentSolver\.run"):
        inline_protocol(ast.parse("x = 1\n"), "swelancer_agent.py")


MINI_SOLVER = """
class SimpleAgentSolver:
    async def run(self):
        for remaining_turns in range(3, 0, -1):
            try:
                if "<user-tool>" in reply:
                    execution_output = "traced"
                else:
                    messages.append({"role": "user", "content": "no block"})
            except TimeoutError:
                execution_output = f"slow {timeout}"
            if execution_output == "":
                execution_output = "nothing"
            messages.append(
                {"role": "user", "content": f"{execution_output}|{remaining_turns - 1}"}
            )
"""


def test_nothing_of_upstreams_files_is_imported_or_run(tmp_path):
    # Files whose import would write a file and fail read fine: their text is only parsed.
    marker = tmp_path / "ran"
    trap = f"open({str(marker)!r}, 'w').write('x')\nraise SystemExit('imported')\n"
    names = "IC_FIRST_PROMPT = IC_SECOND_PROMPT = IC_THIRD_PROMPT = 'ic'\n"
    names += "MANAGER_FIRST_PROMPT = MANAGER_SECOND_PROMPT = 'manager'\n"
    paths = {}
    for key, body in (
        ("prompts", names),
        ("solver", "ADDITIONAL_AGENT_PROMPT = ('a'\n    + 'b')\n" + MINI_SOLVER),
        ("old_agent", "class SimpleAgentSolver:\n    async def run(self):\n"
                      "        messages.append({'role': 'user', 'content': 'go'})\n"
                      "        for turn in range(3):\n"
                      "            messages.append({'role': 'user', 'content': 'again'})\n"),
    ):  # fmt: skip
        path = tmp_path / f"{key}.py"
        path.write_text(trap + body)
        paths[key] = path
    texts = read_texts(paths)
    assert texts.constants["ADDITIONAL_AGENT_PROMPT"] == "ab"
    assert texts.constants["MANAGER_SECOND_PROMPT"] == "manager"
    assert texts.old_protocol == "go"
    assert texts.turns.model_dump() == {
        "no_code_block": "no block",
        "no_output": "nothing",
        "user_tool_done": "traced",
        "timeout": "slow {timeout}",
        "feedback": "{output}|{turns_left}",
    }
    assert not marker.exists()
