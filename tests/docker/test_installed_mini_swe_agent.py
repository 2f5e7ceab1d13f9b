"""The real mini-swe-agent (PyPI, pinned) through `swelancer run`: on the Python its volume
carries, in the demo image's task container with no network, its model calls (litellm's Chat
Completions) through the run's gateway. A fake Chat Completions server on this host plays the
session: a `bash` call that fixes task 101 and shows the loader and Python variables its
commands get, then mini-swe-agent's own way to finish; the hidden test grades the fix.

Its Python owes nothing to the task image: the same volume runs `mini` in an image that holds
only a static busybox (no libc, no Python)."""

from __future__ import annotations

import io
import json
import tarfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cli_runs import FIX_101, metered_as_the_gateway_says, records, run_installed, unique

from swelancer.agents.installed.base import MOUNT
from swelancer.agents.installed.mini_swe_agent import MiniSweAgent
from swelancer.agents.installed.volume import mount
from swelancer.models.base import ToolCall
from tests.fakes.script import Reply
from tests.gateway.streaming import StreamingOpenAIServer

pytestmark = pytest.mark.docker

REAL = "sk-openai-real-secret-mini-0123"
FIX = (
    f"{FIX_101}; "
    'echo "RUNTIME=[${LD_LIBRARY_PATH-}|${LD_PRELOAD-}|${PYTHONHOME-}|${PYTHONPATH-}]"'
)
SUBMIT = "echo COMPLETE_TASK_AND_SUBMIT_FINAL_OUTPUT"


def session(body: dict[str, Any]) -> Reply:
    """The fix while no command has run, then mini-swe-agent's submit command."""
    done = sum(m.get("role") == "tool" for m in body.get("messages") or [])
    command = FIX if done == 0 else SUBMIT
    call = ToolCall(id=f"call_{done}", name="bash", arguments={"command": command})
    return Reply(text="Next step.", tool_calls=[call], input_tokens=2000, output_tokens=40)


@pytest.fixture
def fake() -> Iterator[StreamingOpenAIServer]:
    with StreamingOpenAIServer(expected_key=REAL) as server:
        yield server  # type: ignore[misc]


@pytest.mark.timeout(1800)  # the first run installs the volume (about 800 MB)
def test_swelancer_run_with_mini_swe_agent_earns_task_101(
    tmp_path: Path, docker_client: Any, demo_image: str, fake: StreamingOpenAIServer
) -> None:
    fake.answer_with(session)
    run_id = unique("mini")
    run_installed(tmp_path, run_id, "mini-swe-agent", "openai/gpt-4o",
                  {"OPENAI_API_KEY": REAL, "OPENAI_BASE_URL": fake.base_url},
                  "--task", "101", timeout=2400)  # fmt: skip
    run_dir = tmp_path / run_id
    (record,) = records(run_dir)
    folder = run_dir / "attempts" / "101" / "1"
    stderr = (folder / "mini-swe-agent.stderr").read_text()[-3000:]
    assert record["status"] == "passed" and record["earned_usd"] == 250.0, (record, stderr)
    trajectory = json.loads((folder / "mini-swe-agent.traj.json").read_text())
    assert trajectory["info"]["exit_status"] == "Submitted", stderr
    assert record["turns"] == 2 and record["stop_reason"] == "done"
    outputs = json.dumps(trajectory["messages"])
    assert "FIXED-101" in outputs
    # its runtime stays its own: nothing set for it, the image's PYTHONPATH (which its own
    # Python ignores) passed on as the image gives it
    assert "RUNTIME=[|||/app/tests]" in outputs
    calls = metered_as_the_gateway_says(run_dir, run_id, record, folder, REAL,
                                        MiniSweAgent().version)  # fmt: skip
    assert len(calls) == len(fake.requests) == 2 and all(r.refused is None for r in calls)
    assert all(r.headers["authorization"] == f"Bearer {REAL}" for r in fake.requests)
    assert fake.requests[0].body["model"] == "gpt-4o"
    assert record["tokens"]["input"] == 4000


def test_its_python_runs_in_an_image_with_no_libc_and_no_python(
    docker_client: Any, docker_run_id: str
) -> None:
    from swelancer.agents.installed.volume import prepare

    agent = MiniSweAgent()
    prepare(docker_client, agent)  # made by the run above; kept by its labels
    tag = f"swelancer-test-busybox-{docker_run_id}:only"
    dockerfile = (
        "FROM debian:bookworm-slim AS get\n"
        "RUN apt-get update -qq && apt-get install -y -qq busybox-static >/dev/null\n"
        "FROM scratch\nCOPY --from=get /bin/busybox /bin/busybox\n"
        'RUN ["/bin/busybox", "--install", "-s", "/bin"]\n'
    )
    context = io.BytesIO()
    with tarfile.open(fileobj=context, mode="w") as tar:
        info = tarfile.TarInfo("Dockerfile")
        info.size = len(dockerfile)
        tar.addfile(info, io.BytesIO(dockerfile.encode()))
    context.seek(0)
    docker_client.images.build(fileobj=context, custom_context=True, tag=tag, rm=True,
                               labels={"swelancer.test": docker_run_id})  # fmt: skip
    volume = mount(agent)
    try:
        out = docker_client.containers.run(
            tag, ["/bin/sh", "-c", f"ls /lib /usr 2>&1; {MOUNT}/bin/mini --help"],
            volumes={volume.source: {"bind": volume.target, "mode": "ro"}},
            network_mode="none", remove=True, stderr=True,
            environment={"MSWEA_SILENT_STARTUP": "1", "MSWEA_CONFIGURED": "true",
                         "LITELLM_LOCAL_MODEL_COST_MAP": "True", "HOME": "/tmp"},
        ).decode()  # fmt: skip
    finally:
        docker_client.images.remove(tag, force=True)
    assert "No such file or directory" in out  # nothing in /lib or /usr
    assert "Usage: mini" in out and "--model" in out, out[-2000:]
