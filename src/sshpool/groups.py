"""Grouped output: the channels of a fan-out that answered alike, each group once, and its aliases
folded into a compact host list as ``clush -b`` shows them (``web01,web02,web03,web05`` ->
``web[01-03,05]``), so a fleet of hundreds reads as the few answers it gave.

One rule for the daemon (``"group": true`` on ``/run``), the library and sshpoolctl's ``--group``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Hashable, Iterable, Mapping
from dataclasses import dataclass
from typing import Generic, TypeVar

__all__ = ["Group", "fold", "group_by"]

T = TypeVar("T")
#: A name's last run of digits, with what comes before and after it: ``web01a`` -> web, 01, a.
_NUMBERED = re.compile(r"^(.*?)(\d+)(\D*)$")


@dataclass(frozen=True)
class Group(Generic[T]):
    """Channels that answered alike: their ``aliases`` in alias order, and the first one's ``outcome``
    (every alias of the group had the same stdout, stderr, exit code and error)."""

    aliases: tuple[str, ...]
    outcome: T

    @property
    def folded(self) -> str:
        """The aliases as a compact host list, ``web[01-03,05]``."""
        return fold(self.aliases)


def group_by(outcomes: Mapping[str, T], key: Callable[[T], Hashable]) -> list[Group[T]]:
    """The outcomes (by alias, in alias order) grouped by ``key``: the biggest group first, a tie
    going to the group whose first alias comes first."""
    buckets: dict[Hashable, list[str]] = {}
    for alias, outcome in outcomes.items():
        buckets.setdefault(key(outcome), []).append(alias)
    groups = [Group(tuple(names), outcomes[names[0]]) for names in buckets.values()]
    return sorted(groups, key=lambda g: -len(g.aliases))  # stable: first-alias order among equals


def fold(names: Iterable[str]) -> str:
    """``web01,web02,web03,web05,db1`` -> ``web[01-03,05],db1``: names that differ only in their last
    number share one term (zero padding kept: ``web01`` and ``web1`` are not the same host), terms in
    the order their first name came, numbers ascending within a term, each name once."""
    parsed = [(name, _NUMBERED.match(name)) for name in dict.fromkeys(names)]
    widths = {(m[1], m[3], len(m[2])) for _, m in parsed if m is not None and len(m[2]) > 1 and m[2].startswith("0")}
    terms: dict[str | tuple[str, str, int], set[int]] = {}
    for name, m in parsed:
        if m is None:
            terms.setdefault(name, set())
        else:
            terms.setdefault(_term(m[1], m[2], m[3], widths), set()).add(int(m[2]))
    return ",".join(_shown(term, numbers) for term, numbers in terms.items())


def _term(head: str, digits: str, tail: str, widths: set[tuple[str, str, int]]) -> tuple[str, str, int]:
    """The term a number belongs to: its padded width, or 0 for a plain number (one as long as a
    padded width of the same name, ``web10`` beside ``web01``, takes that width)."""
    if len(digits) > 1 and digits.startswith("0"):
        return head, tail, len(digits)
    return (head, tail, len(digits)) if (head, tail, len(digits)) in widths else (head, tail, 0)


def _shown(term: str | tuple[str, str, int], numbers: set[int]) -> str:
    if isinstance(term, str):
        return term
    head, tail, width = term
    ordered = sorted(numbers)
    if len(ordered) == 1:
        return f"{head}{ordered[0]:0{width}d}{tail}"
    runs: list[str] = []
    start = prev = ordered[0]
    for n in [*ordered[1:], None]:
        if n is not None and n == prev + 1:
            prev = n
            continue
        runs.append(f"{start:0{width}d}" if start == prev else f"{start:0{width}d}-{prev:0{width}d}")
        if n is not None:
            start = prev = n
    return f"{head}[{','.join(runs)}]{tail}"
