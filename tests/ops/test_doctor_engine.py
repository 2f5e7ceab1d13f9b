"""Doctor's engine, architecture, disk and image checks on the fake engine."""

from __future__ import annotations

from pathlib import Path

import pytest

from swelancer.ops.doctor import DoctorOptions, check_engine, exit_code, run_checks
from swelancer.ops.images import DEMO_IMAGE, MONOLITH_IMAGE
from tests.fakes.engine import HOST, FakeEngine


@pytest.fixture(autouse=True)
def no_host(monkeypatch, tmp_path: Path) -> None:
    monkeypatch.delenv("DOCKER_HOST", raising=False)
    monkeypatch.setenv("SWELANCER_CACHE_DIR", str(tmp_path / "cache"))


def _by_name(engine: FakeEngine, **options) -> dict:
    checks = run_checks(DoctorOptions(**options), env={}, engine=engine)
    return {check.name: check for check in checks}


def test_an_engine_that_answers_is_named_with_its_version(monkeypatch) -> None:
    check, facts = check_engine(FakeEngine(version="20.10.7"))
    assert check.status == "ok" and facts is not None and facts.architecture == "x86_64"
    assert check.detail == "Docker 20.10.7 (API 1.47, Fake Linux)"  # an old engine is said as is
    monkeypatch.setenv("DOCKER_HOST", "tcp://10.0.0.2:2375")
    assert check_engine(FakeEngine())[0].detail.endswith(" at tcp://10.0.0.2:2375")


def test_an_engine_down_fails_with_how_to_start_it_and_nothing_else_is_checked() -> None:
    engine = FakeEngine()
    engine.up = False
    check, facts = check_engine(engine)
    assert facts is None and check.status == "fail" and HOST in check.detail
    assert check.fix and check.fix.startswith("Start Docker") and "Docker said:" in check.detail
    checks = _by_name(engine, split="demo")
    assert checks["engine"].status == "fail"
    assert all(checks[n].detail.startswith("not checked") for n in ("architecture", "disk",
                                                                    "images"))  # fmt: skip
    assert engine.closed == 1


def test_an_engine_that_fails_after_answering_is_a_failure() -> None:
    engine = FakeEngine()
    engine.failure = RuntimeError("500 Server Error: info is broken")
    check, facts = check_engine(engine)
    assert facts is None and check.status == "fail" and "info is broken" in check.detail
    assert check.fix and "docker info" in check.fix


def test_the_demo_is_ready_when_its_image_is_here(tmp_path: Path) -> None:
    engine = FakeEngine(root_dir=str(tmp_path))
    engine.add_image(DEMO_IMAGE)
    checks = _by_name(engine, split="demo", model="mock/oracle")
    assert list(checks) == [
        "engine",
        "architecture",
        "disk",
        "container disk",
        "images",
        "api key",
        "manifest",
    ]
    assert all(check.status == "ok" for check in checks.values()), checks
    assert DEMO_IMAGE in checks["images"].detail and str(tmp_path) in checks["disk"].detail
    assert exit_code(list(checks.values())) == 0 and engine.closed == 1


def test_an_engine_that_cannot_cap_a_containers_disk_is_a_warning(tmp_path: Path) -> None:
    engine = FakeEngine(root_dir=str(tmp_path))
    engine.add_image(DEMO_IMAGE)
    engine.engine_facts.no_disk_cap = "its storage driver is overlay2 on extfs"
    check = _by_name(engine, split="demo", model="mock/oracle")["container disk"]
    assert check.status == "warn" and "overlay2 on extfs" in check.detail
    assert check.fix and "pquota" in check.fix


def test_a_missing_demo_image_warns_a_missing_upstream_one_fails(tmp_path: Path) -> None:
    demo = _by_name(FakeEngine(root_dir=str(tmp_path)), split="demo")["images"]
    assert demo.status == "warn" and "swelancer images build demo" in (demo.fix or "")
    upstream = _by_name(FakeEngine(root_dir=str(tmp_path)), split="diamond")
    assert upstream["images"].status == "fail" and MONOLITH_IMAGE in upstream["images"].detail
    assert "swelancer images pull diamond" in (upstream["images"].fix or "")
    assert "1 upstream image" in upstream["disk"].detail


def test_an_arm_engine_warns_for_upstream_images_only() -> None:
    arm = FakeEngine(architecture="aarch64")
    arm.add_image(MONOLITH_IMAGE)
    upstream = _by_name(arm, split="diamond")["architecture"]
    assert upstream.status == "warn" and "x86-64 only" in upstream.detail
    assert _by_name(arm, split="demo")["architecture"].status == "ok"


def test_a_bad_selection_still_checks_the_engine(tmp_path: Path) -> None:
    checks = _by_name(FakeEngine(), manifest=tmp_path / "nope.csv")
    assert checks["manifest"].status == "fail"
    assert checks["images"].detail == "not checked: the selection could not be read"
    assert checks["disk"].status == "warn"  # the fake's data root is not on this machine
    unknown = _by_name(FakeEngine(), split="diamonds")
    assert unknown["manifest"].status == "fail" and "unknown split" in unknown["manifest"].detail
