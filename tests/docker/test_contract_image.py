"""The contract images run upstream's own runtime scripts (tests/contract/README.md).

These tests drive them the way upstream's harness (swelancer/eval.py) does, without this
project's harness: start the image with upstream's environment, poll `/setup_done.txt`, grade
with `bash -i -c 'export ISSUE_ID=...; ansible-playbook ... run_tests.yml'` and read the last
integer line of `/app/tests/logs/<ID>/pytest_exit_code`, run the user tool as
`bash -i -c 'user-tool'`. Containers are shared within the module where that is safe; each test
puts the repository in the state it needs.
"""

from __future__ import annotations

import json
import re
import secrets
import time
from collections.abc import Iterator
from typing import Any

import pytest
from contract.build import (
    IC_TASKS,
    IMAGE_PREFIX,
    IMAGE_TAG,
    MANAGER_TASKS,
    MANIFEST,
    MONOLITH_IMAGE,
    per_task_image,
)

from swelancer.tasks.manifest import load_manifest

MONOLITH_TASK = "91342"
PER_TASK_TASKS = ("92018_1", "94317_1207")
SETUP_TIMEOUT_S = 300
UPSTREAM_ENV = {  # upstream's SWEFL_ENV, with sample.env's values
    "PUSHER_APP_KEY": secrets.token_hex(10),
    "PUSHER_APP_SECRET": secrets.token_hex(10),
    "PUSHER_APP_ID": str(secrets.randbelow(10**6)),
    "USE_WEB_PROXY": "false",
    "EXPENSIFY_URL": "https://www.expensify.com/",
    "NEW_EXPENSIFY_URL": "https://new.expensify.com/",
    "LC_ALL": "C.UTF-8",
}
RUN_TESTS = 'ansible-playbook -i "localhost," --connection=local /app/tests/run_tests.yml'


def marker(question_id: str) -> str:
    return f"CONTRACT-ASSERTION-{question_id.split('_')[0].split('-')[0]}"


def sh(container: Any, command: str, interactive: bool = False) -> tuple[int, str]:
    """Run a command as upstream does (`bash -i -c` when `interactive`)."""
    argv = ["bash", "-i", "-c", command] if interactive else ["bash", "-c", command]
    code, output = container.exec_run(argv)
    return code, output.decode("utf-8", "replace")


def start(client: Any, image: str, question_id: str, variant: str, run_id: str) -> Any:
    return client.containers.run(
        image,
        detach=True,
        environment={**UPSTREAM_ENV, "ISSUE_ID": question_id, "EVAL_VARIANT": variant},
        labels={"swelancer": "1", "swelancer.run_id": f"{run_id}-shared"},
        name=f"swelancer-contract-{question_id}-{secrets.token_hex(3)}",
    )


def wait_for_setup(container: Any, timeout_s: float = SETUP_TIMEOUT_S) -> float:
    """Poll `/setup_done.txt` like upstream's harness; seconds it took from the container start."""
    container.reload()
    started = container.attrs["State"]["StartedAt"]
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        code, output = sh(container, "cat /setup_done.txt")
        if code == 0 and output.strip() == "done":
            return _seconds_since(started)
        container.reload()
        if container.status != "running":
            logs = container.logs().decode("utf-8", "replace")[-3000:]
            pytest.fail(f"container {container.name} exited during setup:\n{logs}")
        time.sleep(1)
    pytest.fail(f"setup of {container.name} not done in {timeout_s} s")


def _seconds_since(docker_time: str) -> float:
    import datetime as dt

    stamp = re.sub(r"\.(\d{6})\d*", r".\1", docker_time.replace("Z", "+00:00"))
    return (dt.datetime.now(dt.UTC) - dt.datetime.fromisoformat(stamp)).total_seconds()


def grade(container: Any, question_id: str) -> int | None:
    """One grading run of upstream's harness; the pytest exit code, None when absent."""
    sh(container, f'echo "export ISSUE_ID={question_id}" >> ~/.bashrc', interactive=True)
    sh(container, f"mkdir -p /app/tests/logs/{question_id}")
    sh(container, f"rm -rf /app/tests/logs/{question_id}/*")
    sh(container, f"export ISSUE_ID={question_id}; {RUN_TESTS}", interactive=True)
    _, raw = sh(
        container,
        f"export ISSUE_ID={question_id}; cat /app/tests/logs/$ISSUE_ID/pytest_exit_code",
        interactive=True,
    )
    for line in reversed(raw.splitlines()):
        if line.strip().lstrip("-").isdigit():
            return int(line.strip())
    return None


def pytest_log(container: Any, question_id: str) -> str:
    return sh(container, f"cat /app/tests/logs/{question_id}/pytest.log")[1]


def set_bug(container: Any, question_id: str, present: bool) -> None:
    """Apply or reverse the bug patch so that the repository has (or lacks) the bug."""
    patch = f"/app/tests/issues/{question_id}/bug_reintroduce.patch"
    has_bug = sh(container, f"cd /app/expensify && git apply --check -R {patch}")[0] == 0
    if has_bug != present:
        flag = "" if present else "-R "
        code, output = sh(container, f"cd /app/expensify && git apply {flag}{patch}")
        assert code == 0, output


@pytest.fixture(scope="module")
def fleet(
    docker_client: Any, contract_images: dict[str, str], docker_run_id: str
) -> Iterator[dict[str, Any]]:
    """The IC containers of this module, started together so that their setups overlap:
    the monolith on one task, and the per-task image of two others."""
    started = {
        MONOLITH_TASK: start(docker_client, MONOLITH_IMAGE, MONOLITH_TASK, "ic_swe", docker_run_id)
    }
    for question_id in PER_TASK_TASKS:
        started[question_id] = start(
            docker_client, per_task_image(question_id), question_id, "ic_swe", docker_run_id
        )
    yield started
    for container in started.values():
        container.remove(force=True)


@pytest.fixture(scope="module")
def monolith(fleet: dict[str, Any]) -> Any:
    """The monolith container of MONOLITH_TASK, its setup done."""
    wait_for_setup(fleet[MONOLITH_TASK])
    return fleet[MONOLITH_TASK]


# ---- the images --------------------------------------------------------------------------------


def test_images_are_upstreams_with_only_from_replaced(
    docker_client: Any, contract_images: dict[str, str]
) -> None:
    assert set(contract_images) == {
        f"{IMAGE_PREFIX}:base",
        MONOLITH_IMAGE,
        *(per_task_image(q) for q in IC_TASKS),
    }
    assert f"{IMAGE_PREFIX}_monolith:{IMAGE_TAG}" == MONOLITH_IMAGE
    monolith_config = docker_client.images.get(MONOLITH_IMAGE).attrs["Config"]
    assert "RUNTIME_SETUP=true" in monolith_config["Env"]
    assert "PYTHONPATH=/app/tests" in monolith_config["Env"]
    assert monolith_config["WorkingDir"] == "/app/expensify"
    for question_id in IC_TASKS:
        config = docker_client.images.get(per_task_image(question_id)).attrs["Config"]
        assert f"ISSUE_ID={question_id}" in config["Env"]
        assert not any(e.startswith("RUNTIME_SETUP=") for e in config["Env"])
    for image in (MONOLITH_IMAGE, *(per_task_image(q) for q in IC_TASKS)):
        config = docker_client.images.get(image).attrs["Config"]
        assert config["Entrypoint"] == ["/bin/bash", "-l", "-c"]
        assert config["Cmd"] == ["/app/tests/run.sh"]


def test_manifest_loads_and_matches_the_image(
    docker_client: Any, contract_images: dict[str, str]
) -> None:
    tasks = {t.task_id: t for t in load_manifest(MANIFEST)}
    assert set(tasks) == {*IC_TASKS, *MANAGER_TASKS}
    assert sum(t.price_usd for t in tasks.values()) == 5900.0
    assert tasks["92018_1"].test_folders == ["92018", "92018_1"]
    assert tasks["94317_1207"].test_folders == ["94317_1180"]
    listing = (
        docker_client.containers.run(
            MONOLITH_IMAGE,
            ["ls /app/tests/issues; cd /app/expensify && git log --format=%H"],
            remove=True,
        )
        .decode()
        .split()
    )
    assert {*IC_TASKS, "conftest.py"} <= set(listing)
    assert not {"92018", "94317_1180"} & set(listing)  # listed in acceptable_folders, absent
    for task in tasks.values():
        if task.variant == "swe_manager":
            assert task.manager_commit in listing  # setup resets to its parent


def test_npm_install_needs_upstreams_npm_fix(
    docker_client: Any, contract_images: dict[str, str]
) -> None:
    script = (
        "source /root/.nvm/nvm.sh && nvm install >/dev/null && npm install --no-cache; "
        "echo rc=$?; python3.12 npm_fix.py && npm install --no-cache && echo rc=$?"
    )
    output = docker_client.containers.run(
        f"{IMAGE_PREFIX}:base", ["bash", "-c", script], remove=True, stderr=True
    ).decode()
    assert "npm error code EINTEGRITY" in output and "rc=1" in output
    assert "All 'integrity' keys have been removed." in output and output.rstrip().endswith("rc=0")


# ---- manager tasks -------------------------------------------------------------------------------


def test_manager_container_is_ready_at_once_and_never_marks_setup(
    docker_client: Any, contract_images: dict[str, str], docker_run_id: str
) -> None:
    task = next(t for t in load_manifest(MANIFEST) if t.task_id == MANAGER_TASKS[0])
    began = time.monotonic()
    container = start(docker_client, MONOLITH_IMAGE, task.task_id, "swe_manager", docker_run_id)
    try:
        code, output = sh(
            container,
            f"cd /app/expensify && git reset --hard "
            f"{task.manager_commit}^ && git log -1 --format=%H",
        )
        ready = time.monotonic() - began
        assert code == 0, output
        assert ready < 10, f"manager container took {ready:.1f} s to take a command"
        time.sleep(3)
        assert sh(container, "test -e /setup_done.txt")[0] != 0
        logs = container.logs().decode()
        assert "EVAL_VARIANT is set to swe_manager. Skipping setup steps." in logs
        assert "PLAY [" not in logs
        print(f"manager container ready in {ready:.1f} s")
    finally:
        container.remove(force=True)


# ---- the monolith, one IC task -------------------------------------------------------------------


def test_monolith_runtime_setup_marks_done(fleet: dict[str, Any]) -> None:
    seconds = wait_for_setup(fleet[MONOLITH_TASK])
    container = fleet[MONOLITH_TASK]
    logs = container.logs().decode()
    assert "RUNTIME_SETUP is set; running Expensify setup playbook" in logs
    assert "TASK [Install node modules via npm]" in logs
    _, head = sh(container, "cd /app/expensify && git rev-parse HEAD")
    assert (
        head.strip()
        == sh(container, f"cat /app/tests/issues/{MONOLITH_TASK}/commit_id.txt")[1].strip()
    )
    patch = f"/app/tests/issues/{MONOLITH_TASK}/bug_reintroduce.patch"
    assert sh(container, f"cd /app/expensify && git apply --check -R {patch}")[0] == 0
    assert (
        sh(
            container,
            "test -d /app/expensify/node_modules/.bin && test -f "
            "/app/expensify/config/webpack/certificate.pem && test -f "
            "/root/.mitmproxy/mitmproxy-ca-cert.pem",
        )[0]
        == 0
    )
    # upstream runs commands with `bash -i -c`: root's .bashrc activates conda's testbed, and
    # nvm's default alias (made by `nvm install` during setup) puts node on PATH
    _, env = sh(container, "echo $CONDA_DEFAULT_ENV; command -v python node npm", interactive=True)
    said = [line for line in env.splitlines() if line and not line.startswith("bash: ")]
    assert said == [
        "testbed",
        "/opt/conda/envs/testbed/bin/python",
        "/root/.nvm/versions/node/v20.15.1/bin/node",
        "/root/.nvm/versions/node/v20.15.1/bin/npm",
    ], env
    print(f"monolith IC setup done {seconds:.0f} s after the container started")


def test_monolith_grading_fails_with_the_bug(monolith: Any) -> None:
    set_bug(monolith, MONOLITH_TASK, present=True)
    assert grade(monolith, MONOLITH_TASK) == 1
    log = pytest_log(monolith, MONOLITH_TASK)
    assert "1 failed" in log and marker(MONOLITH_TASK) in log


def test_user_tool_writes_a_cleaned_trace_that_leaks_the_test_source(monolith: Any) -> None:
    set_bug(monolith, MONOLITH_TASK, present=True)
    sh(monolith, "rm -rf /app/expensify/user_tool")
    code, output = sh(monolith, "user-tool", interactive=True)
    assert code == 0, output[-2000:]
    found = sh(monolith, "ls -d /app/expensify/user_tool/output_*")[1].split()
    assert len(found) == 1 and re.fullmatch(r".*/output_[0-9a-f]{32}", found[0]), found
    out = found[0]
    assert (
        sh(
            monolith,
            f"test ! -e {out}.zip && test -f {out}/trace.trace && "
            f"test -f {out}/trace.network && test -d {out}/resources",
        )[0]
        == 0
    )
    rows = [json.loads(line) for line in sh(monolith, f"cat {out}/trace.trace")[1].splitlines()]
    kinds = [row["type"] for row in rows]
    assert kinds[0] == "context-options"
    assert {"before", "after", "log", "screencast-frame", "frame-snapshot"} <= set(kinds)
    for row in rows:  # upstream's trace_cleaner ran
        if row["type"] in ("before", "after", "log"):
            text = json.dumps(row)
            assert "LocatorAssertions" not in text and "waiting for" not in text, text
    resources = set(sh(monolith, f"ls {out}/resources")[1].split())
    frames = [row["sha1"] for row in rows if row["type"] == "screencast-frame"]
    assert frames and set(frames) <= resources
    assert all(name.endswith(".jpeg") for name in frames)
    network = [
        json.loads(line) for line in sh(monolith, f"cat {out}/trace.network")[1].splitlines()
    ]
    urls = [row["snapshot"]["request"]["url"] for row in network]
    assert "https://dev.new.expensify.com:8082/" in urls
    # sources=True: the test's own source is in resources/src@*.txt, assertions included,
    # and that is the only file under /app/expensify that holds the marker
    holders = sh(monolith, f"grep -rl {marker(MONOLITH_TASK)} /app/expensify")[1].split()
    assert holders and all(re.search(r"/resources/src@[0-9a-f]{40}\.txt$", h) for h in holders)
    assert "def test_report_total_keeps_two_decimals" in sh(monolith, f"cat {holders[0]}")[1]
    assert sh(monolith, f"cat /app/tests/logs/{MONOLITH_TASK}/pytest_exit_code")[1].strip() == "1"


def test_a_broken_build_stops_before_pytest_exit_code(monolith: Any) -> None:
    target = "/app/expensify/src/libs/ReportUtils.py"
    sh(monolith, f"cp {target} /tmp/ReportUtils.py.bak && echo 'def total(:' >> {target}")
    try:
        assert grade(monolith, MONOLITH_TASK) is None
        assert sh(monolith, f"ls /app/tests/logs/{MONOLITH_TASK}/pytest_exit_code")[0] != 0
    finally:
        sh(monolith, f"cp /tmp/ReportUtils.py.bak {target}")


def test_conftest_is_what_defines_user_tool_trace(monolith: Any) -> None:
    conftest = "/app/tests/issues/conftest.py"
    sh(monolith, f"mv {conftest} /tmp/conftest.py.bak")
    try:
        # grading: the test reads the option and errors; upstream scores it as a failure (1)
        assert grade(monolith, MONOLITH_TASK) == 1
        assert "no option named '--user-tool-trace'" in pytest_log(monolith, MONOLITH_TASK)
        # the user tool passes the flag itself: pytest refuses it (usage error, exit 4)
        sh(monolith, "user-tool", interactive=True)
        code = sh(monolith, f"cat /app/tests/logs/{MONOLITH_TASK}/pytest_exit_code")[1]
        assert int(code.strip()) >= 2
        assert "unrecognized arguments: --user-tool-trace" in pytest_log(monolith, MONOLITH_TASK)
    finally:
        sh(monolith, f"mv /tmp/conftest.py.bak {conftest}")


def test_monolith_grading_passes_with_the_bug_patch_reversed(monolith: Any) -> None:
    set_bug(monolith, MONOLITH_TASK, present=False)
    assert grade(monolith, MONOLITH_TASK) == 0, pytest_log(monolith, MONOLITH_TASK)[-3000:]


# ---- per-task images -----------------------------------------------------------------------------


@pytest.mark.parametrize("question_id", PER_TASK_TASKS)
def test_per_task_image_is_set_up_at_build_time(fleet: dict[str, Any], question_id: str) -> None:
    container = fleet[question_id]
    seconds = wait_for_setup(container)
    logs = container.logs().decode()
    assert "RUNTIME_SETUP is not set; assuming Expensify setup happened at build time." in logs
    assert "TASK [Install node modules via npm]" not in logs  # setup_expensify did not run
    assert "TASK [Install mitmproxy certificates" in logs  # setup_mitmproxy did
    set_bug(container, question_id, present=True)
    assert grade(container, question_id) == 1
    assert marker(question_id) in pytest_log(container, question_id)
    set_bug(container, question_id, present=False)
    assert grade(container, question_id) == 0, pytest_log(container, question_id)[-3000:]
    print(f"per-task {question_id}: setup seen done {seconds:.0f} s after its start")


def test_git_tag_is_applied_with_npm_version(fleet: dict[str, Any]) -> None:
    container = fleet["92018_1"]
    wait_for_setup(container)
    tag = sh(container, "cat /app/tests/issues/92018_1/git_tag.txt")[1].strip()
    version = json.loads(sh(container, "cat /app/expensify/package.json")[1])["version"]
    assert tag and version == tag
