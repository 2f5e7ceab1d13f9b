"""The model gateway from inside a task container with no network: one demo-image container,
the loopback port opened beside it by the gateway's relay (which alone holds the socket),
probed from inside.

The probes: the placeholder is the only key in the container; a model call to the loopback
port reaches the fake provider on this host through the gateway, with the real key, and is
metered; the fake provider's own address does not answer from inside; a call for provider web
search is refused; past the attempt's cost cap a second call is refused; a CLI that cannot
start is an infrastructure fault of its own kind.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from swelancer.agents.installed.claude_code import ClaudeCode
from swelancer.agents.installed.runner import run_session
from swelancer.errors import FaultKind, InfraError
from swelancer.gateway.inside import MOUNT, PORT, open_beside
from swelancer.gateway.ledger import read_records
from swelancer.gateway.server import PLACEHOLDER_KEY, Gateway, Upstream
from swelancer.models.prices import Prices
from swelancer.sandbox.base import SandboxSpec
from swelancer.sandbox.docker.provider import DockerProvider
from tests.fakes.script import Reply
from tests.gateway.streaming import StreamingAnthropicServer

pytestmark = pytest.mark.docker

REAL = "sk-real-secret-inside-0123456789"

# Run inside the container by python3: POST a Messages request, print status and body.
ASK = r"""
import json, sys, urllib.request, urllib.error
url, key, extra = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
body = {"model": "claude-sonnet-4-5", "max_tokens": 5,
        "messages": [{"role": "user", "content": "hi"}], **extra}
req = urllib.request.Request(url + "/v1/messages", data=json.dumps(body).encode(),
    headers={"x-api-key": key, "anthropic-version": "2023-06-01",
             "content-type": "application/json"})
try:
    with urllib.request.urlopen(req, timeout=60) as r:
        print(json.dumps({"status": r.status, "body": json.load(r)}))
except urllib.error.HTTPError as e:
    print(json.dumps({"status": e.code, "body": json.load(e)}))
except OSError as e:
    print(json.dumps({"status": 0, "body": str(e)}))
"""


@pytest.fixture
def fake() -> Iterator[StreamingAnthropicServer]:
    with StreamingAnthropicServer(expected_key=REAL) as server:
        yield server  # type: ignore[misc]


def ask(box: Any, url: str, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    got = box.exec(["python3", "-c", ASK, url, PLACEHOLDER_KEY, json.dumps(extra or {})],
                   timeout=90)  # fmt: skip
    assert got.exit_code == 0, got.output
    result: dict[str, Any] = json.loads(got.output.strip().splitlines()[-1])
    return result


def test_a_container_without_network_reaches_its_models_only_through_the_gateway(
    tmp_path: Path,
    docker_client: Any,
    demo_image: str,
    docker_run_id: str,
    fake: StreamingAnthropicServer,
) -> None:
    fake.answer_with(lambda body: Reply(text="ok", input_tokens=100_000, output_tokens=10))
    # each call: 100k input tokens at $3/M and 10 output at $15/M, just over $0.30
    upstream = Upstream(family="anthropic", base_url=fake.url, api_key=REAL)
    with Gateway([upstream], Prices()) as gw, gw.open(tmp_path / "a1", cap_usd=0.3) as gate:
        spec = SandboxSpec(
            image=demo_image,
            env={"ISSUE_ID": "101"},  # its entry point sets task 101 up, then stays
            labels={"swelancer.run_id": docker_run_id},
        )
        box = DockerProvider(docker_client).start(spec)
        try:
            box.disconnect_network()
            labels = {"swelancer.run_id": docker_run_id}
            relay, env = open_beside(box, demo_image, gate, labels, deadline_s=600)  # type: ignore[arg-type]
            url = env["ANTHROPIC_BASE_URL"]
            assert url == f"http://127.0.0.1:{PORT}"
            assert env["ANTHROPIC_API_KEY"] == PLACEHOLDER_KEY
            # No key anywhere in the container's environment; the socket is not in it at all.
            seen = box.exec(["sh", "-c", f"env; ls {MOUNT}; find / -name gateway.sock -xdev"],
                            timeout=60)  # fmt: skip
            assert REAL not in seen.output and "gateway.sock" not in seen.output
            assert "No such file" in seen.output
            # The provider's own address does not answer from inside.
            direct = ask(box, fake.url)
            assert direct["status"] == 0, direct
            # Web search through the provider is refused before it reaches the provider.
            search = ask(box, url, {"tools": [{"type": "web_search_20250305", "name": "w"}]})
            assert search["status"] == 400
            assert "provider-side tools" in search["body"]["error"]["message"]
            assert fake.requests == []
            # A model call through the port: answered, with the real key behind it, metered.
            first = ask(box, url)
            assert first["status"] == 200 and first["body"]["content"][0]["text"] == "ok"
            assert [r.headers["x-api-key"] for r in fake.requests] == [REAL]
            # The attempt's cap ($0.30) is spent: the next call is refused, for cost.
            second = ask(box, url)
            assert second["status"] == 403
            assert "max-cost-usd 0.3" in second["body"]["error"]["message"]
            assert len(fake.requests) == 1
            # A CLI that cannot start (no agent volume here) is the harness's fault, apart.
            with pytest.raises(InfraError, match="did not start") as fault:
                run_session(box, ClaudeCode(), "hi", model="claude-sonnet-4-5", max_turns=1,
                            wall_s=60, cwd="/", gateway_env=env,
                            folder=tmp_path / "cli")  # fmt: skip
            assert fault.value.kind == FaultKind.AGENT_START
        finally:
            box.remove()
        assert not relay.alive()  # removed with the task container
    records = read_records(tmp_path / "a1")
    assert [r.refused for r in records] == ["tools", None, "cost_cap"]
    assert records[1].usage.input_tokens == 100_000
    assert records[1].cost_usd == pytest.approx((100_000 * 3 + 10 * 15) / 1e6)
