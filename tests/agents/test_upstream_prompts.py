"""The messages before the model's first reply are upstream's, character for character: for
every task of the current manifest (upstream's own `construct_task_prompt`, imported by path, and
the solver's `ADDITIONAL_AGENT_PROMPT`) and of the lite manifest (the old harness's message list,
rebuilt from the CSV row as its `run()` builds it). Upstream's files are read from the shared
snapshot by path; prices come from pandas, as upstream reads them."""

from __future__ import annotations

import ast
import importlib.util
import json
import subprocess
import sys
from functools import cache
from pathlib import Path

import pandas as pd
import pytest
from upstream_data import CURRENT, LITE, UPSTREAM, need, upstream_tasks

from swelancer.agents.prompt_choice import resolve_prompts
from swelancer.agents.prompts import render_prompt
from swelancer.tasks.catalog import TaskQuery, load_tasks
from swelancer.tasks.manifest import load_manifest, read_manifest

PREPAREDNESS = UPSTREAM / "preparedness_51052ce_swelancer" / "swelancer"
OLD_AGENT = UPSTREAM / "SWELancer-Benchmark_fff675d" / "swelancer_agent.py"


@cache
def upstream_prompts_module():
    """Upstream's prompts.py, imported by path (it imports only `typing`)."""
    path = need(PREPAREDNESS / "prompts.py")
    spec = importlib.util.spec_from_file_location("upstream_prompts", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@cache
def additional_agent_prompt() -> str:
    """The solver's module constant, its expression evaluated here (the product never does)."""
    tree = ast.parse(need(PREPAREDNESS / "solvers" / "swelancer_agent" / "solver.py").read_text())
    (node,) = [
        n for n in tree.body
        if isinstance(n, ast.Assign) and [t.id for t in n.targets] == ["ADDITIONAL_AGENT_PROMPT"]
    ]  # fmt: skip
    return eval(compile(ast.Expression(node.value), "solver.py", "eval"), {})


@cache
def old_protocol_message() -> dict:
    """The first `messages.append({...})` in the old harness's run() whose argument is a
    literal: the protocol message (the others append computed text, or come later)."""
    source = need(OLD_AGENT).read_text()
    tree = ast.parse(source)
    run = next(
        n for n in ast.walk(tree)
        if isinstance(n, ast.AsyncFunctionDef) and n.name == "run"
    )  # fmt: skip
    literals = []
    for call in ast.walk(run):
        if (isinstance(call, ast.Call) and isinstance(call.func, ast.Attribute)
                and call.func.attr == "append" and call.args
                and isinstance(call.args[0], ast.Dict)):  # fmt: skip
            try:
                literals.append((call.lineno, ast.literal_eval(call.args[0])))
            except ValueError:
                continue
    return min(literals, key=lambda item: item[0])[1]


@pytest.fixture(scope="module")
def upstream_set():
    return resolve_prompts(
        "upstream", price_style=read_manifest(need(CURRENT))[1], show_progress=False
    )


def test_every_current_task_sends_what_upstreams_code_sends(upstream_set):
    module = upstream_prompts_module()
    table = pd.read_csv(need(CURRENT))  # upstream's reading: the price column is float64
    prices = dict(zip(table["question_id"], table["price"], strict=True))
    tasks = upstream_tasks(CURRENT)
    assert len(tasks) == 463
    extra = additional_agent_prompt()
    for task in tasks:
        proposals = getattr(task, "proposals_text", "")
        upstream = module.construct_task_prompt(
            task.variant, task.title, task.description, prices[task.task_id], proposals
        )
        expected = [upstream + "\n\n" + extra]
        assert render_prompt(task, mode="upstream", prompts=upstream_set) == expected, task.task_id
    assert upstream_set.price_style == "float"
    some_ic = next(t for t in tasks if t.variant == "ic_swe")
    assert f"${some_ic.price_usd:.1f}" in render_prompt(some_ic, prompts=upstream_set)[0]


def test_every_lite_task_sends_what_the_old_harness_sends(upstream_set):
    protocol = old_protocol_message()
    assert protocol["role"] == "user"
    table = pd.read_csv(need(LITE))
    rows = {row["question_id"]: row for row in table.to_dict(orient="records")}
    tasks = upstream_tasks(LITE)
    assert len(tasks) == 174
    for task in tasks:
        messages = [str(m["content"]) for m in ast.literal_eval(rows[task.task_id]["prompt"])]
        expected = [*messages, protocol["content"]]
        assert render_prompt(task, mode="upstream", prompts=upstream_set) == expected, task.task_id


def test_the_price_is_written_as_pandas_types_the_column(tmp_path):
    rows = need(CURRENT).read_text(encoding="utf-8").splitlines(keepends=True)
    assert read_manifest(CURRENT)[1] == "float" and read_manifest(LITE)[1] == "float"
    header = rows[0].split(",")
    column = header.index("price")
    # The same manifest with every price an integer: pandas reads int64 and so does our style.
    table = pd.read_csv(CURRENT)
    table["price"] = table["price"].astype(int)
    whole = tmp_path / "whole.csv"
    table.to_csv(whole, index=False)
    assert pd.read_csv(whole)["price"].dtype.kind == "i" and column >= 0
    assert read_manifest(whole)[1] == "int"
    # what `run` and `tasks show` use: the style found by the same pass that loaded the tasks
    assert load_tasks(TaskQuery(manifest=whole), show_progress=False).price_style == "int"
    assert load_tasks(TaskQuery(manifest=CURRENT), show_progress=False).price_style == "float"
    chosen = resolve_prompts("upstream", price_style="int", show_progress=False)
    task = next(t for t in load_manifest(whole) if t.variant == "swe_manager")
    module = upstream_prompts_module()
    expected = module.construct_task_prompt(
        task.variant, task.title, task.description, int(task.price_usd), task.proposals_text
    )
    assert render_prompt(task, prompts=chosen)[0].startswith(expected)
    price = int(task.price_usd)
    assert f" {price} " in expected and f"{price}.0" not in expected


def test_tasks_show_prompt_json_prints_the_same_messages(upstream_set):
    module = upstream_prompts_module()
    tasks = {t.task_id: t for t in upstream_tasks(CURRENT)}
    for task_id in ("15193-manager-0", next(i for i, t in tasks.items() if t.variant == "ic_swe")):
        result = subprocess.run(
            [sys.executable, "-m", "swelancer", "tasks", "show", task_id, "--manifest",
             str(CURRENT), "--prompt", "--json"],
            capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        assert result.returncode == 0, result.stderr
        task = tasks[task_id]
        upstream = module.construct_task_prompt(
            task.variant, task.title, task.description, float(task.price_usd),
            getattr(task, "proposals_text", ""),
        )  # fmt: skip
        assert json.loads(result.stdout) == [upstream + "\n\n" + additional_agent_prompt()]


def test_tasks_show_prompt_of_a_lite_task_with_tools_and_with_our_words():
    task = next(t for t in upstream_tasks(LITE) if t.variant == "ic_swe")
    base = [sys.executable, "-m", "swelancer", "tasks", "show", task.task_id,
            "--manifest", str(LITE), "--prompt", "--json"]  # fmt: skip
    tools = json.loads(subprocess.run([*base, "--agent", "tools"], capture_output=True,
                                      text=True, timeout=120, check=True).stdout)  # fmt: skip
    assert tools[:-1] == task.prompt and "`finish`" in tools[-1]
    ours = json.loads(subprocess.run([*base, "--prompts", "swelancer"], capture_output=True,
                                     text=True, timeout=120, check=True).stdout)  # fmt: skip
    assert ours[:-1] == task.prompt and ours[-1] != old_protocol_message()["content"]
    assert "reply with just DONE" in ours[-1]
    text = subprocess.run(base[:-1], capture_output=True, text=True, timeout=120, check=True)
    count = len(task.prompt) + 1
    assert text.stdout.startswith(f"--- message 1 of {count} (user) ---\n")
    assert f"--- message {count} of {count} (user) ---\n" in text.stdout
    assert old_protocol_message()["content"].strip() in text.stdout


def test_a_folder_of_copies_in_either_layout_gives_the_same_words(tmp_path, upstream_set):
    flat = tmp_path / "flat"
    flat.mkdir()
    for source in (PREPAREDNESS / "prompts.py", PREPAREDNESS / "solvers" / "swelancer_agent" /
                   "solver.py", OLD_AGENT):  # fmt: skip
        (flat / source.name).write_bytes(source.read_bytes())
    from_flat = resolve_prompts(str(flat), price_style="float")
    from_snapshot = resolve_prompts(str(UPSTREAM), price_style="float")
    assert from_flat.upstream == from_snapshot.upstream == upstream_set.upstream
    assert from_flat.record["from"] == str(flat.resolve())
    assert from_flat.record["files"]["prompts"]["read_from"] == str((flat / "prompts.py").resolve())
    assert Path(from_snapshot.record["files"]["old_agent"]["read_from"]) == OLD_AGENT.resolve()
