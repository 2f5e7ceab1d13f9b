"""Model API keys reach a Ray worker in memory only: picked from the driver's environment, set
in the worker's for one call and taken back, never part of the job, and no runtime_env (which
Ray writes down) is ever asked for. The Docker test checks the run and Ray's logs for them."""

from __future__ import annotations

import os
import sys
import types

import pytest

from swelancer.errors import ConfigError
from swelancer.ops import cluster
from swelancer.run.ray_worker import env_for_call, model_env


def test_only_the_variables_models_read_are_sent():
    environ = {
        "OPENAI_API_KEY": "sk-o",
        "ANTHROPIC_API_KEY": "",
        "OPENROUTER_API_KEY": "sk-r",
        "AWS_SECRET_ACCESS_KEY": "not ours",
        "HOME": "/root",
    }
    assert model_env("gpt-4o", environ) == {"OPENAI_API_KEY": "sk-o", "OPENROUTER_API_KEY": "sk-r"}
    assert model_env("mock/oracle", {}) == {}


def test_keys_live_in_the_worker_env_only_for_the_call(monkeypatch):
    monkeypatch.setenv("ANTHROPIC_API_KEY", "before")
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with env_for_call({"OPENAI_API_KEY": "sk-call", "ANTHROPIC_API_KEY": "sk-a"}):
        assert os.environ["OPENAI_API_KEY"] == "sk-call"
        assert os.environ["ANTHROPIC_API_KEY"] == "sk-a"
    assert "OPENAI_API_KEY" not in os.environ
    assert os.environ["ANTHROPIC_API_KEY"] == "before"
    with pytest.raises(RuntimeError), env_for_call({"OPENAI_API_KEY": "sk-x"}):
        raise RuntimeError("the attempt failed")
    assert "OPENAI_API_KEY" not in os.environ


def _fake_ray(monkeypatch, nodes: list[dict]) -> dict:
    seen: dict = {}
    fake = types.SimpleNamespace(
        __version__="2.99",
        is_initialized=lambda: "init" in seen,
        init=lambda **kwargs: seen.update(init=kwargs),
        nodes=lambda: nodes,
    )
    monkeypatch.setitem(sys.modules, "ray", fake)
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    return seen


def test_joining_the_cluster_sends_no_environment(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-never-sent")
    node = {"NodeID": "ab" * 28, "NodeManagerAddress": "10.0.0.2", "Alive": True,
            "Resources": {"docker_slots": 2.0}}  # fmt: skip
    seen = _fake_ray(monkeypatch, [node, {**node, "NodeID": "cd" * 28, "Resources": {}}])

    info = cluster.connect("auto")

    assert "runtime_env" not in seen["init"] and "job_config" not in seen["init"]
    assert "sk-never-sent" not in repr(seen["init"])
    assert [(n.label, n.docker_slots) for n in info.nodes] == [("10.0.0.2/abababab", 2.0)]


def test_a_cluster_without_docker_slots_is_refused(monkeypatch):
    _fake_ray(monkeypatch, [{"NodeID": "ab" * 28, "Alive": True, "Resources": {"CPU": 8}}])
    with pytest.raises(ConfigError, match="offers the resource docker_slots"):
        cluster.connect("auto")


def test_no_cluster_at_the_address_says_how_to_start_one(monkeypatch):
    import socket

    _fake_ray(monkeypatch, [])
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(ConfigError) as err:
        cluster.connect(f"127.0.0.1:{port}")
    assert f"127.0.0.1:{port}" in str(err.value) and "ray start --head" in str(err.value)


def test_without_ray_the_error_says_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)
    with pytest.raises(ConfigError, match=r"pip install 'swelancer\[ray\]'"):
        cluster.connect("auto")
