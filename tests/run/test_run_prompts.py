"""A run sends the prompts it was given, unchanged, to the model, and records them in run.json
(kind, where from, each file's sha256); a resume with other prompts is refused. On fake
sandboxes, with the scripted model through the real turn loop."""

from __future__ import annotations

import functools
import json
from typing import ClassVar

import pytest
from upstream_data import UPSTREAM

from swelancer.agents.prompt_choice import resolve_prompts
from swelancer.agents.prompts import render_prompt
from swelancer.agents.upstream_files import PINNED
from swelancer.errors import ConfigError
from swelancer.models import scripted
from swelancer.ops.images import DEMO_IMAGE
from swelancer.run import runner as runner_module
from swelancer.run.job import Workbench
from swelancer.tasks.manifest import load_manifest, read_manifest
from swelancer.tasks.sources import demo_manifest_path
from tests.fakes.sandbox import FakeProvider
from tests.fakes.sandbox_images import image_for_tasks
from tests.run.test_runner_fake import config, run, run_json

TASKS = ("101", "110-manager-0")


@pytest.fixture
def provider():
    provider = FakeProvider(image_for_tasks(load_manifest(demo_manifest_path()), DEMO_IMAGE))
    yield provider
    assert provider.live() == []


@pytest.fixture
def backoffs(monkeypatch) -> None:
    monkeypatch.setattr(
        runner_module, "Workbench", functools.partial(Workbench, backoff=lambda s: None)
    )


class RecordingModel(scripted.ScriptedChatModel):
    """The scripted model, keeping the messages of every first call (before any reply)."""

    first_calls: ClassVar[list[list[str]]] = []

    def complete(self, messages, tools=None):
        if not any(m.role == "assistant" for m in messages):
            RecordingModel.first_calls.append([m.content for m in messages])
        return super().complete(messages, tools)


@pytest.fixture
def recording(monkeypatch, tmp_path) -> str:
    RecordingModel.first_calls = []
    monkeypatch.setattr(scripted, "ScriptedChatModel", RecordingModel)
    script = tmp_path / "script.json"
    script.write_text(json.dumps(["DONE"]))
    return f"mock/scripted:{script}"


def with_prompts(cfg, prompts: str | None, mode: str = "upstream"):
    agent = cfg.agent.model_copy(update={"prompts": prompts, "mode": mode})
    return cfg.model_copy(update={"agent": agent})


def events(tmp_path, task_id: str) -> list[str]:
    path = tmp_path / "fake-run" / "attempts" / task_id / "1" / "transcript.jsonl"
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    return [r["content"] for r in rows if r["kind"] == "prompt"]


def test_the_model_reads_upstreams_words_unchanged_and_run_json_says_so(
    provider, tmp_path, backoffs, recording
):
    run(config(tmp_path, recording, TASKS, concurrency=1), provider)
    expected = resolve_prompts("upstream", price_style=read_manifest(demo_manifest_path())[1])
    tasks = {t.task_id: t for t in load_manifest(demo_manifest_path())}
    sent = [render_prompt(tasks[i], mode="upstream", prompts=expected) for i in TASKS]
    assert sorted(RecordingModel.first_calls) == sorted(sent)
    assert [events(tmp_path, i) for i in TASKS] == sent
    assert sent[0][0].startswith(expected.upstream.constants["IC_FIRST_PROMPT"][:60])
    record = run_json(tmp_path)["prompts"]
    assert record["kind"] == "upstream" and record["price"] == "float"
    assert record["from"] == str(UPSTREAM.resolve())
    assert {k: f["sha256"] for k, f in record["files"].items()} == {
        pin.key: pin.sha256 for pin in PINNED
    }


def test_prompts_swelancer_sends_and_records_our_words(provider, tmp_path, backoffs, recording):
    run(with_prompts(config(tmp_path, recording, TASKS[:1]), "swelancer"), provider)
    (task,) = [t for t in load_manifest(demo_manifest_path()) if t.task_id == TASKS[0]]
    assert RecordingModel.first_calls == [render_prompt(task, mode="upstream")]
    assert "Whoever fixes this issue" in RecordingModel.first_calls[0][0]
    assert run_json(tmp_path)["prompts"] == {"kind": "swelancer", "template": None}


def test_a_mock_that_sends_nothing_records_no_prompts(provider, tmp_path, backoffs):
    run(config(tmp_path, "mock/oracle", TASKS[:1]), provider)
    assert run_json(tmp_path)["prompts"] is None


def test_resume_refuses_other_prompts(provider, tmp_path, backoffs, recording):
    run(config(tmp_path, recording, TASKS[:1]), provider)
    with pytest.raises(ConfigError, match=r"other prompts \(upstream\) than these \(swelancer\)"):
        run(with_prompts(config(tmp_path, recording, TASKS[:1]), "swelancer"), provider)
    run(config(tmp_path, recording, TASKS[:1]), provider)  # the same prompts resume
