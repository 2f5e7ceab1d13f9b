"""Task text reaches a model as written, through the real SDK path."""

from __future__ import annotations

from upstream_data import CURRENT, need

from swelancer.agents.prompts import render_prompt
from swelancer.models.base import Message
from swelancer.models.openai import OpenAIChatModel
from swelancer.models.retry import RetryPolicy
from swelancer.tasks.manifest import load_manifest
from tests.fakes import FakeOpenAIServer, Reply

KEY = "sk-test-text"


def test_the_27156_manager_prompt_is_sent_and_answered():
    """Decoding every escape once made `\\ud83d\\udc41` in this task's proposals a lone
    surrogate pair the SDK could not encode: every try was a harness error."""
    (task,) = [t for t in load_manifest(need(CURRENT)) if t.task_id == "27156-manager-0"]
    (prompt,) = render_prompt(task)
    assert "`:eye:` -> `\\ud83d\\udc41\\ufe0f `" in prompt
    with FakeOpenAIServer(expected_key=KEY, lifetime_s=60) as server:
        server.push(Reply(text="DONE", input_tokens=9000, output_tokens=1))
        model = OpenAIChatModel(
            "gpt-4o",
            api_key=KEY,
            base_url=server.base_url,
            retry_policy=RetryPolicy(budget_s=20, base_delay_s=0.01, max_delay_s=0.05),
        )
        response = model.complete([Message(role="user", content=prompt)])
    assert response.message.content == "DONE"
    (body,) = server.bodies
    assert body["messages"][-1]["content"] == prompt
