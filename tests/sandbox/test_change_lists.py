"""A container's change list held packed, and the engine's listing read as a stream."""

from __future__ import annotations

import json
import tracemalloc

import pytest
from hypothesis import given
from hypothesis import strategies as st

from swelancer.sandbox.changes import ChangeList
from swelancer.sandbox.docker.engine_changes import (
    ListingTooLong,
    ListingUnreadable,
    engine_changes,
)

paths = st.text(st.characters(blacklist_categories=("Cs",)), max_size=60)
entries = st.lists(st.tuples(paths, st.integers(0, 2)), max_size=40)


@given(entries)
def test_a_change_list_gives_back_what_it_was_given(given_entries):
    packed = ChangeList(given_entries)
    assert list(packed) == given_entries and len(packed) == len(given_entries)
    assert packed == given_entries and sorted(packed) == sorted(given_entries)
    if given_entries:
        assert packed[-1] == given_entries[-1] and packed[0:2] == given_entries[0:2]


@given(entries, st.integers(1, 50))
def test_the_engines_listing_read_in_any_pieces_is_its_json(given_entries, size):
    body = json.dumps([{"Path": p, "Kind": k} for p, k in given_entries]).encode()
    pieces = [body[i : i + size] for i in range(0, len(body), size)]
    assert list(engine_changes(pieces)) == given_entries


def test_a_null_listing_is_empty_and_a_broken_one_is_refused():
    assert list(engine_changes([b"nu", b"ll"])) == []
    for bad in ([b'[{"Path": "/a", "Kind": 1}'], [b"{}"], [b'[{"Path": "\xff\xfe"}]'], []):
        with pytest.raises(ListingUnreadable):
            engine_changes(bad)


def test_a_listing_past_its_bound_stops_and_holds_little():
    """600,000 entries streamed: refused at the bound, holding the bound's entries packed
    (a list of tuples of them would take several times more)."""
    row = b'{"Path":"/tmp/many/l%07d","Kind":1}'

    def pieces():
        yield b"["
        for n in range(600_000):
            yield (b"," if n else b"") + row % n
        yield b"]"

    tracemalloc.start()
    try:
        with pytest.raises(ListingTooLong, match="more than 200,000"):
            engine_changes(pieces(), limit=200_000)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 20_000_000, f"{peak / 1e6:.0f} MB"
    assert len(engine_changes(pieces(), limit=600_000)) == 600_000
