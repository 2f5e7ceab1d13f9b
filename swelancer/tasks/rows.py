"""The rows of a manifest CSV, each cell bounded in size before anything parses it.

A manifest may come from a stranger: a cell of many megabytes would cost far more memory once
parsed as a Python literal. Cells are refused past `CELL_LIMIT` characters as the CSV is read,
and a line is never read whole past what a row of such cells could take.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator
from pathlib import Path
from typing import TextIO

from swelancer.errors import ManifestError
from swelancer.textsafe import clean

CURRENT_COLUMNS = (
    "question_id", "variant", "price", "manager_data", "manager_commit",
    "acceptable_folders", "cwd", "set", "title", "description", "proposals",
)  # fmt: skip
OLDER_COLUMNS = (
    "question_id", "variant", "price", "prompt", "manager_data", "manager_commit",
    "acceptable_folders", "cwd",
)  # fmt: skip

CELL_LIMIT = 1_000_000
"""Characters in one cell; the largest real cell (17387-manager-0's manager_data) has 84,508."""

Row = dict[str, str]

_SEPARATORS = re.compile('[",]')


class _CellTooLarge(Exception):
    """A line too long for a row whose every cell is within `CELL_LIMIT`."""


class _Lines:
    """The file's lines for `csv.reader`, none read past `limit` characters; remembers the lines
    of the record being read, to tell which column overflowed."""

    def __init__(self, handle: TextIO, limit: int) -> None:
        self.handle, self.limit = handle, limit
        self.record: list[str] = []

    def __iter__(self) -> _Lines:
        return self

    def __next__(self) -> str:
        line = self.handle.readline(self.limit)
        if not line:
            raise StopIteration
        self.record.append(line)
        if len(line) >= self.limit and not line.endswith("\n"):
            raise _CellTooLarge
        return line


def _overflowing_column(text: str, columns: int) -> int:
    """The index of the first cell past `CELL_LIMIT` in the text of a CSV record, or of its
    last (unfinished) cell; `columns` once past the header's (a line of millions of tiny cells
    is not walked to its end)."""
    column, start, quotes, at = 0, 0, 0, 0
    while column < columns and (match := _SEPARATORS.search(text, at)) is not None:
        at = match.end()
        if match.group() == '"':  # skip to the closing quote (a doubled one reopens at once)
            closing = text.find('"', at)
            if closing < 0:
                break
            quotes, at = quotes + 2, closing + 1
        elif match.start() - start - quotes > CELL_LIMIT:
            return column
        else:
            column, start, quotes = column + 1, at, 0
    return column


def _too_large(lines: _Lines, header: list[str], path: str, row: int) -> ManifestError:
    index = _overflowing_column("".join(lines.record), len(header))
    column = header[index] if index < len(header) else None
    return ManifestError(
        f"a cell is larger than {CELL_LIMIT:,} characters (the largest in upstream's manifests "
        "has 84,508). This is not a SWE-Lancer task manifest: check where the file came from.",
        path=path,
        row=row,
        column=column,
    )


def detect_schema(header: list[str], path: str) -> str:
    """`current` or `older`, from the header; `ManifestError` naming what is missing."""
    names = set(header)
    needed: tuple[str, ...]
    if "prompt" in names and "set" not in names:
        schema, needed = "older", OLDER_COLUMNS
    else:
        schema, needed = "current", CURRENT_COLUMNS
    missing = [c for c in needed if c not in names]
    if missing:
        raise ManifestError(
            f"missing column(s) {', '.join(missing)} for the {schema} SWE-Lancer schema "
            f"(header has: {clean(', '.join(header))[:500] or 'nothing'}). Pass a SWE-Lancer "
            "task CSV, such as upstream's all_swelancer_tasks.csv.",
            path=path,
            row=1,
            column=missing[0],
        )
    return schema


def _records(lines: _Lines, path: str) -> Iterator[tuple[int, list[str], list[str]]]:
    """(spreadsheet row number, header, cells) of each record, cells bounded."""
    reader = csv.reader(lines)
    header: list[str] = []
    row = 1
    while True:
        lines.record = []
        try:
            cells = next(reader, None)
        except _CellTooLarge:
            raise _too_large(lines, header, path, row) from None
        except csv.Error as exc:
            if "field larger than field limit" not in str(exc):
                raise
            raise _too_large(lines, header, path, row) from None
        if cells is None:
            return
        if sum(line.count('"') for line in lines.record) % 2:  # only at the end of the file
            raise ManifestError(
                "the file ends inside a quoted cell: it looks cut short (an interrupted download "
                "or copy). Get the file again, or give a complete copy with --manifest.",
                path=path,
                row=row,
            )
        if row == 1:
            header = [h.strip().lstrip("\ufeff") for h in cells]
            lines.limit = max(len(header), 1) * (2 * CELL_LIMIT + 3) + 2
        yield row, header, cells
        row += 1


def iter_rows(path: Path) -> Iterator[tuple[int, Row, str]]:
    """Yield (spreadsheet row number, row, schema) for each data row of a manifest CSV."""
    shown = str(path)
    try:
        handle = path.open(newline="", encoding="utf-8")
    except FileNotFoundError:
        raise ManifestError(
            "no such file. Check the path given to --manifest, or use --split.", path=shown
        ) from None
    except OSError as exc:
        raise ManifestError(f"cannot be read ({exc.strerror}).", path=shown) from None
    csv.field_size_limit(CELL_LIMIT)  # process-wide: set at each read, never assumed
    with handle:
        schema = ""
        try:
            # A header line of more than a few cells' worth is no manifest's.
            for index, header, cells in _records(_Lines(handle, 4 * CELL_LIMIT), shown):
                if index == 1:
                    if not cells:
                        raise ManifestError(
                            "the file is empty; expected a CSV header.", path=shown, row=1
                        )
                    schema = detect_schema(header, shown)
                    continue
                if not any(c.strip() for c in cells):
                    continue
                if len(cells) > len(header):
                    raise ManifestError(
                        f"{len(cells)} cells but the header names {len(header)} columns",
                        path=shown,
                        row=index,
                    )
                if len(cells) < len(header):
                    raise ManifestError(
                        f"{len(cells)} cells but the header names {len(header)} columns (from "
                        f"'{header[len(cells)]}' on the row is missing): the file may be cut "
                        "short. Get it again, or give a complete copy with --manifest.",
                        path=shown,
                        row=index,
                    )
                yield index, dict(zip(header, cells, strict=False)), schema
            if not schema:
                raise ManifestError("the file is empty; expected a CSV header.", path=shown, row=1)
        except UnicodeDecodeError as exc:
            raise ManifestError(
                f"not UTF-8 text ({exc.reason} at byte {exc.start}); save the CSV as UTF-8.",
                path=shown,
            ) from None
        except csv.Error as exc:
            raise ManifestError(f"not a well-formed CSV ({exc}).", path=shown) from None
