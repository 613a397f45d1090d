"""Which channels a fan-out names: ``"*"``, a glob, or a comma-separated list (or JSON array) of
aliases and globs, ``"w*,db1"``. One rule for ``/run``, sshpoolctl and ``run --wait``."""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterable

from sshpool.errors import UnknownAliasError

__all__ = ["expand", "is_glob", "terms"]

_GLOB = frozenset("*?[")
_COMMAS = re.compile(r",(?![^\[]*\])")  # commas between terms, not inside a [...] glob class


def is_glob(term: str) -> bool:
    return bool(_GLOB & set(term))


def terms(text: str) -> list[str]:
    """``"web1, db*"`` as ``["web1", "db*"]``; a comma inside ``[...]`` belongs to its glob."""
    return [t.strip() for t in _COMMAS.split(text) if t.strip()]


def expand(chosen: Iterable[str], known: Iterable[str]) -> list[str]:
    """The aliases ``chosen`` names, in order, once each (case-insensitively), spelled as ``known``
    spells them. A glob that matches nothing raises UnknownAliasError naming it; a plain alias
    stays as given, known or not (its own answer says which)."""
    names = list(known)
    by_fold = {a.casefold(): a for a in names}
    picked: dict[str, str] = {}
    for term in chosen:
        if not is_glob(term):
            picked.setdefault(term.casefold(), by_fold.get(term.casefold(), term))
            continue
        found = [a for a in names if fnmatch.fnmatchcase(a.casefold(), term.casefold())]
        if not found:
            listed = ", ".join(sorted(names, key=str.casefold)) or "none"
            raise UnknownAliasError(term, names, message=f"no channel matches {term!r}; known channels: {listed}")
        for alias in found:
            picked.setdefault(alias.casefold(), alias)
    return list(picked.values())
