"""``ps`` output as a table: the header's columns exactly, numbers typed, the last column whole.

Pure (standard library only): the helpers layer turns a :class:`Table` into a pandas DataFrame
when pandas is installed, or into a list of dicts when it is not.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

__all__ = ["Cell", "Table", "parse_ps"]

Cell = int | float | str


@dataclass(frozen=True)
class Table:
    """Columns in header order and rows of typed cells (every row as long as the header)."""

    columns: tuple[str, ...]
    rows: tuple[tuple[Cell, ...], ...]

    def records(self) -> list[dict[str, Cell]]:
        return [dict(zip(self.columns, row, strict=True)) for row in self.rows]

    def column(self, name: str) -> list[Cell]:
        i = self.columns.index(name)
        return [row[i] for row in self.rows]

    def sorted_by(self, name: str, *, descending: bool = True) -> Table:
        i = self.columns.index(name)

        def key(row: tuple[Cell, ...]) -> tuple[int, float | str]:
            v = row[i]
            return (0, float(v)) if isinstance(v, (int, float)) else (1, str(v))

        rows = sorted(self.rows, key=key, reverse=descending)
        return Table(self.columns, tuple(rows))

    def __len__(self) -> int:
        return len(self.rows)

    def __iter__(self) -> Iterator[tuple[Cell, ...]]:
        return iter(self.rows)


def parse_ps(text: str) -> Table:
    """Split ``ps`` output: the first line names the columns; each row is split on whitespace
    into as many fields, the last keeping its spaces (a full command line). Missing trailing
    fields are empty. A column whose every value is an integer becomes int, else float if all
    parse as float (``%CPU``), else it stays text (``TIME``, ``STIME``)."""
    lines = [line for line in text.splitlines() if line.strip()]
    if not lines:
        return Table((), ())
    columns = tuple(lines[0].split())
    n = len(columns)
    raw: list[list[str]] = []
    for line in lines[1:]:
        fields = line.split(None, n - 1) if n > 1 else [line.strip()]
        fields[-1] = fields[-1].rstrip() if fields else ""
        fields += [""] * (n - len(fields))
        raw.append(fields)
    typed_columns = [_typed([row[i] for row in raw]) for i in range(n)]
    rows = tuple(tuple(col[r] for col in typed_columns) for r in range(len(raw)))
    return Table(columns, rows)


_INT = re.compile(r"^-?[0-9]+$")
_FLOAT = re.compile(r"^-?[0-9]+(?:\.[0-9]+)?$")


def _typed(values: list[str]) -> list[Cell]:
    if values and all(_INT.match(v) for v in values):
        return [int(v) for v in values]
    if values and all(_FLOAT.match(v) for v in values):
        return [float(v) for v in values]
    return list(values)
