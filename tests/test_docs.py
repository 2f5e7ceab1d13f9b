"""The docs name tests as evidence; every test they name must exist, so that they stay true."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
DOCS = [*sorted((REPO / "docs").glob("*.md")), REPO / "README.md"]
QUALIFIED = re.compile(r"(tests/[\w/]+\.py)(?:::(\w+))?")
BARE = re.compile(r"`(test_\w+)`")


def _defined() -> dict[str, set[str]]:
    return {
        str(path.relative_to(REPO)): set(re.findall(r"^def (test_\w+)", path.read_text(), re.M))
        for path in (REPO / "tests").rglob("test_*.py")
    }


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: p.name)
def test_every_test_a_doc_names_exists(doc: Path):
    defined = _defined()
    everywhere = set().union(*defined.values())
    text = doc.read_text(encoding="utf-8")
    missing = [
        f"{file}::{name}" if name else file
        for file, name in QUALIFIED.findall(text)
        if not (REPO / file).is_file() or (name and name not in defined.get(file, set()))
    ]
    missing += [name for name in BARE.findall(text) if name not in everywhere]
    assert not missing, f"{doc.name} names tests that do not exist: {missing}"
