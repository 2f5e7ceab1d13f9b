"""The reading of the engine's events into who stopped a container (`StopLedger`), with
events shaped as Docker sends them; the real engine's are in tests/docker/test_stop_witness.py."""

from __future__ import annotations

import threading

from swelancer.sandbox.docker.stop_ledger import StopLedger

T0 = 1_700_000_000_000_000_000
LABELS = {"swelancer.run_id": "r", "swelancer.task_id": "101", "swelancer.run.attempt": "1"}


def event(cid: str, action: str, at: int, **attrs: str) -> dict:
    return {
        "status": action, "id": cid, "from": "swelancer-demo:latest", "Type": "container",
        "Action": action, "scope": "local", "time": at // 10**9, "timeNano": at,
        "Actor": {"ID": cid, "Attributes": {"name": f"box-{cid}", **LABELS, **attrs}},
    }  # fmt: skip


def test_requests_to_the_engine_are_from_outside_and_say_which():
    ledger = StopLedger()
    for cid, actions in {
        "stopped": [("start", {}), ("kill", {"signal": "15"}), ("die", {"exitCode": "143"}),
                    ("stop", {})],
        "killed": [("start", {}), ("kill", {"signal": "9"}), ("die", {"exitCode": "137"})],
        "paused": [("start", {}), ("pause", {})],
    }.items():  # fmt: skip
        for n, (action, attrs) in enumerate(actions):
            ledger.record(event(cid, action, T0 + n, **attrs))
    assert ledger.cause("stopped").what == "the engine was asked to kill it (signal 15)"
    assert ledger.cause("killed").what == "the engine was asked to kill it (signal 9)"
    assert ledger.cause("paused").what == "the engine was asked to pause it"
    assert all(ledger.cause(c).outside for c in ("stopped", "killed", "paused"))


def test_a_container_exiting_by_itself_is_its_own_doing():
    ledger = StopLedger()
    ledger.record(event("c", "start", T0))
    ledger.record(event("c", "exec_create: sh -c kill 1", T0 + 1))  # not watched
    ledger.record(event("c", "die", T0 + 2, exitCode="143"))
    cause = ledger.cause("c")
    assert cause.outside is False and "exit code 143" in cause.what
    assert ledger.outside_since(LABELS, T0) is None


def test_the_harness_own_requests_are_not_from_outside():
    ledger = StopLedger()
    ledger.adopt("c")
    ledger.record(event("c", "start", T0))
    ledger.expect("c", "pause", "unpause")  # a snapshot's commit
    ledger.record(event("c", "pause", T0 + 1))
    ledger.record(event("c", "unpause", T0 + 2))
    ledger.expect("c", "kill", "destroy")  # its removal
    for n, action in enumerate(("kill", "die", "destroy")):
        ledger.record(event("c", action, T0 + 3 + n, signal="9"))
    assert ledger.outside_since(LABELS, T0) is None
    # an expectation is spent by the event it was for: a second pause is someone else's
    ledger.record(event("c", "pause", T0 + 9))
    assert ledger.outside_since(LABELS, T0) == "box-c (?): the engine was asked to pause it"


def test_a_repeated_event_after_a_reconnection_is_taken_once():
    ledger = StopLedger()
    ledger.expect("c", "kill")
    assert ledger.record(event("c", "kill", T0, signal="9")) is not None
    assert ledger.record(event("c", "kill", T0, signal="9")) is None  # the same, replayed
    assert ledger.outside_since(LABELS, 0) is None


def test_a_break_of_the_stream_makes_stops_of_containers_that_lived_through_it_outside():
    ledger = StopLedger()
    ledger.resumed(T0)
    ledger.record(event("old", "start", T0 + 10))
    ledger.broke(T0 + 20)  # the engine restarted: its events of the moment are lost
    ledger.resumed(T0 + 30)
    ledger.record(event("old", "die", T0 + 31, exitCode="0"))  # even a die seen after it
    ledger.record(event("new", "start", T0 + 40))
    ledger.record(event("new", "die", T0 + 41, exitCode="1"))
    assert ledger.cause("old").outside is True and "event stream broke" in ledger.cause("old").what
    assert ledger.cause("new").outside is False
    assert ledger.outside_since(LABELS, T0 + 5) is not None  # a try that lived through it
    assert ledger.outside_since({**LABELS, "swelancer.run.attempt": "2"}, T0 + 35) is None


def test_the_cause_waits_for_a_late_event_and_is_unknown_without_one():
    ledger = StopLedger()
    ledger.record(event("c", "start", T0))
    assert ledger.cause("c", wait=0.05).outside is None  # nothing reported
    late = threading.Timer(0.2, lambda: ledger.record(event("c", "kill", T0 + 1, signal="9")))
    late.start()
    assert ledger.cause("c", wait=30).outside is True


def test_a_container_the_engine_never_started_was_not_stopped():
    # a create with a disk cap the storage driver refuses is undone by the engine: `destroy`
    ledger = StopLedger()
    ledger.record(event("refused", "destroy", T0))
    ledger.record(event("made", "start", T0 + 1))
    ledger.record(event("made", "die", T0 + 2, exitCode="137"))
    assert ledger.outside_since(LABELS, 0) is None
    assert ledger.cause("made").outside is False


def test_another_processes_containers_of_the_run_are_not_judged_here():
    # two nodes of a Ray run on one engine: each reads every event of the run's label; node
    # A's commit pauses its container (its own request); node B never made that container
    node_a, node_b = StopLedger(), StopLedger()
    node_a.adopt("a")
    node_a.expect("a", "pause", "unpause")
    for ledger in (node_a, node_b):
        ledger.record(event("a", "start", T0))
        ledger.record(event("a", "pause", T0 + 1))
        ledger.record(event("a", "unpause", T0 + 2))
    assert node_a.owns("a") and not node_b.owns("a")
    assert node_a.outside_since(LABELS, 0) is None  # its own request
    assert node_b.outside_since(LABELS, 0) is None  # not its container
    node_a.record(event("a", "kill", T0 + 3, signal="9"))  # then someone else kills it
    assert node_a.outside_since(LABELS, 0) is not None
