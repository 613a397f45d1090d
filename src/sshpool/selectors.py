"""Which channels a fan-out names: a comma-separated list (or JSON array) of terms, any of which
selects: an alias (``web1``), a glob (``db*``), ``@tag`` (the channels carrying it) or
``@tag1+tag2`` (those carrying both). One rule for ``/run``, sshpoolctl and the library."""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterable, Mapping

from sshpool.dsn import check_tag
from sshpool.errors import DSNError, RequestError, UnknownAliasError

__all__ = ["FORMS", "expand", "is_glob", "is_tag_term", "selects_many", "tag_set", "terms"]

#: What a term may be, for the refusals to say.
FORMS = "an alias (web1), a glob (web*), @tag or @tag1+tag2"

_GLOB = frozenset("*?[")
_COMMAS = re.compile(r",(?![^\[]*\])")  # commas between terms, not inside a [...] glob class
_CLASSES = re.compile(r"\[[^\]]*\]")  # a glob's [...] classes, where '!' negates


def is_glob(term: str) -> bool:
    return bool(_GLOB & set(term))


def is_tag_term(term: str) -> bool:
    return term.startswith("@")


def selects_many(text: str) -> bool:
    """``*``, ``web*``, ``@web`` or ``web1,db1`` may address many channels; a plain alias one."""
    return is_glob(text) or "," in text or any(is_tag_term(t) for t in terms(text))


def terms(text: str) -> list[str]:
    """``"web1, db*"`` as ``["web1", "db*"]``; a comma inside ``[...]`` belongs to its glob."""
    return [t.strip() for t in _COMMAS.split(text) if t.strip()]


def tag_set(term: str) -> frozenset[str]:
    """The tags an ``@tag1+tag2`` term asks for, casefolded; RequestError naming the term when it
    is not one."""
    names = term[1:].split("+")
    try:
        return frozenset(check_tag(name).casefold() for name in names)
    except DSNError as exc:
        raise RequestError(f"bad selector term {term!r}: {exc}; a term is {FORMS}") from None


def _check(term: str) -> None:
    """RequestError for a term no form reads: a lone ``!`` (no negation here), a bad tag term."""
    if is_tag_term(term):
        tag_set(term)
    elif "!" in _CLASSES.sub("", term):
        raise RequestError(f"bad selector term {term!r}: '!' negates nothing here; a term is {FORMS}")


def expand(chosen: Iterable[str], known: Mapping[str, Iterable[str]] | Iterable[str]) -> list[str]:
    """The aliases ``chosen`` names, in the order its terms name them (a glob's or a tag term's
    matches in alias order), once each (case-insensitively), spelled as ``known`` spells them.
    ``known`` maps each alias to its tags (a plain list of aliases: channels without tags). A
    term no form reads is a RequestError; a glob or tag term that matches nothing raises
    UnknownAliasError naming it; a plain alias stays as given, known or not (its own answer says
    which)."""
    wanted = list(chosen)
    for term in wanted:
        _check(term)
    pairs = known.items() if isinstance(known, Mapping) else ((a, ()) for a in known)
    typed = {a: list(ts) for a, ts in pairs}
    tags = {a: frozenset(t.casefold() for t in ts) for a, ts in typed.items()}
    names = sorted(typed, key=str.casefold)
    by_fold = {a.casefold(): a for a in names}
    picked: dict[str, str] = {}
    for term in wanted:
        if is_tag_term(term):
            needed = tag_set(term)
            found = [a for a in names if needed <= tags.get(a, frozenset())]
        elif is_glob(term):
            found = [a for a in names if fnmatch.fnmatchcase(a.casefold(), term.casefold())]
        else:
            picked.setdefault(term.casefold(), by_fold.get(term.casefold(), term))
            continue
        if not found:
            raise _nothing(term, names, typed)
        for alias in found:
            picked.setdefault(alias.casefold(), alias)
    return list(picked.values())


def _nothing(term: str, names: list[str], typed: Mapping[str, list[str]]) -> UnknownAliasError:
    if is_tag_term(term):
        seen: dict[str, str] = {}
        for tag in (t for ts in typed.values() for t in ts):
            seen.setdefault(tag.casefold(), tag)
        used = ", ".join(seen[k] for k in sorted(seen)) or "none"
        message = f"no channel carries {term!r}; the tags in use: {used}"
    else:
        listed = ", ".join(names) or "none"
        message = f"no channel matches {term!r}; known channels: {listed}"
    return UnknownAliasError(term, names, message=message)
