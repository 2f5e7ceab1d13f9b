"""The image check before a Ray run: every node with docker_slots must hold every image, and
the refusal names the node and the image (the per-node answers stand in for Ray's)."""

from __future__ import annotations

import pytest

from swelancer.errors import ConfigError
from swelancer.ops import cluster
from swelancer.ops.cluster import ClusterInfo, NodeImages, NodeInfo

A = NodeInfo(node_id="a" * 56, ip="10.0.0.1", docker_slots=2)
B = NodeInfo(node_id="b" * 56, ip="10.0.0.2", docker_slots=4)
CLUSTER = ClusterInfo(address="head:6379", ray_version="2", nodes=[A, B])


def _answers(monkeypatch, answers: dict) -> None:
    monkeypatch.setattr(cluster, "on_each_node", lambda nodes, fn, *args, timeout=None: answers)


def test_every_node_holding_every_image_passes_with_the_ids(monkeypatch):
    ids = {"img:1": "sha256:1", "img:2": "sha256:2"}
    _answers(monkeypatch, {A.node_id: NodeImages(ids=ids), B.node_id: NodeImages(ids=ids)})
    said: list[str] = []
    assert cluster.check_images(CLUSTER, list(ids), build_demo=True, say=said.append) == ids
    assert said == []


def test_a_node_lacking_an_image_is_named_with_the_image(monkeypatch):
    _answers(
        monkeypatch,
        {
            A.node_id: NodeImages(ids={"img:1": "sha256:1"}),
            B.node_id: NodeImages(missing={"img:1": "not on this engine"}),
        },
    )
    with pytest.raises(ConfigError) as err:
        cluster.check_images(CLUSTER, ["img:1"], build_demo=False, say=print)
    text = str(err.value)
    assert "node 10.0.0.2/bbbbbbbb lacks img:1" in text and "10.0.0.1" not in text
    assert "swelancer images pull IMAGE_OR_SPLIT --executor ray" in text


def test_a_node_that_cannot_answer_is_named_and_different_builds_are_said(monkeypatch):
    _answers(monkeypatch, {A.node_id: NodeImages(ids={"i": "x"}), B.node_id: OSError("gone")})
    with pytest.raises(ConfigError, match=r"node 10.0.0.2/bbbbbbbb could not check its images"):
        cluster.check_images(CLUSTER, ["i"], build_demo=False, say=print)

    _answers(
        monkeypatch, {A.node_id: NodeImages(ids={"i": "x"}), B.node_id: NodeImages(ids={"i": "y"})}
    )
    said: list[str] = []
    cluster.check_images(CLUSTER, ["i"], build_demo=False, say=said.append)
    assert said == ["node 10.0.0.2/bbbbbbbb holds other builds of the images than the first node"]
