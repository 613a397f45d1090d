"""What an import would do: the hosts a source found, compared with the channels there are.

A source gives :class:`Found` (DSNs, and what it skipped with the reason); :func:`plan` sorts them
into added, kept (the same DSN is there already), changed (the alias points elsewhere: replaced
only when asked) and skipped. Planning changes nothing, so the same import twice keeps everything
the second time.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from sshpool.dsn import DSN, check_alias, unique_tags
from sshpool.errors import DSNError

__all__ = ["Change", "Found", "Plan", "Skipped", "dsn_for", "plan", "tag_for"]

_NOT_TAG = re.compile(r"[^A-Za-z0-9_.-]+")


@dataclass(frozen=True)
class Skipped:
    """A host (or pattern) the import leaves out, and why; ``alias`` when it names a valid alias."""

    name: str
    reason: str
    alias: bool = False

    def to_dict(self) -> dict[str, str]:
        return {"alias" if self.alias else "host": self.name, "reason": self.reason}


@dataclass
class Found:
    """What one source holds: DSNs in the source's order, one per alias, and what it skipped."""

    dsns: list[DSN] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)

    def add(self, dsn: DSN) -> None:
        if any(d.key == dsn.key for d in self.dsns):
            self.skip(dsn.alias, "another host of this import has that alias (compared without regard to case)", True)
        else:
            self.dsns.append(dsn)

    def skip(self, name: str, reason: str, alias: bool = False) -> None:
        entry = Skipped(name, reason, alias)
        if entry not in self.skipped:
            self.skipped.append(entry)


@dataclass(frozen=True)
class Change:
    """An alias there is, which the source points elsewhere."""

    was: DSN
    now: DSN


@dataclass(frozen=True)
class Plan:
    added: tuple[DSN, ...] = ()
    kept: tuple[DSN, ...] = ()
    changed: tuple[Change, ...] = ()
    skipped: tuple[Skipped, ...] = ()
    replace: bool = False

    @property
    def replaced(self) -> tuple[Change, ...]:
        """The changes to make: all of them with ``replace``, else none."""
        return self.changed if self.replace else ()

    def refuse(self, alias: str, reason: str) -> Plan:
        """The plan without ``alias`` (added or changed), which is skipped for ``reason`` instead."""
        key = alias.casefold()
        return replace(
            self,
            added=tuple(d for d in self.added if d.key != key),
            changed=tuple(c for c in self.changed if c.now.key != key),
            skipped=(*self.skipped, Skipped(alias, reason, True)),
        )

    def answer(self) -> dict[str, Any]:
        """The JSON answer: DSNs as text with any password masked (``****``), never revealed."""
        return {
            "added": [_entry(d) for d in self.added],
            "kept": [_entry(d) for d in self.kept],
            "changed": [{**_entry(c.now), "was": c.was.to_text(), "replaced": self.replace} for c in self.changed],
            "skipped": [s.to_dict() for s in self.skipped],
        }


def _entry(dsn: DSN) -> dict[str, str]:
    return {"alias": dsn.alias, "dsn": dsn.to_text()}


def _same(was: DSN, now: DSN) -> bool:
    return was.to_text(reveal_password=True) == now.with_(alias=was.alias).to_text(reveal_password=True)


def plan(found: Found, existing: Iterable[DSN], *, replace: bool = False) -> Plan:
    """Sort ``found`` against the ``existing`` channels' DSNs (compared by alias, case-insensitively)."""
    there = {d.key: d for d in existing}
    added: list[DSN] = []
    kept: list[DSN] = []
    changed: list[Change] = []
    for dsn in found.dsns:
        was = there.get(dsn.key)
        if was is None:
            added.append(dsn)
        elif _same(was, dsn):
            kept.append(was)
        else:
            changed.append(Change(was, dsn.with_(alias=was.alias)))
    return Plan(tuple(added), tuple(kept), tuple(changed), tuple(found.skipped), replace)


def dsn_for(
    alias: str,
    host: str,
    *,
    user: str | None = None,
    port: int | None = None,
    password: str | None = None,
    tags: Sequence[str] = (),
) -> DSN:
    """A DSN from its parts, checked as a typed DSN is (DSNError naming the part); the password is
    never in a refusal."""
    check_alias(alias)
    shown = f"[{host}]" if ":" in host and not host.startswith("[") else host
    dsn = DSN.parse(f"{alias}://{shown}" + (f":{port}" if port is not None else ""), scheme_alias=True)
    if dsn.host != host.strip("[]") or dsn.port != port:
        raise DSNError(f"invalid host {host!r}: use a host name or an IP address")
    if user is not None and (not user or any(ch.isspace() or ord(ch) < 32 for ch in user)):
        raise DSNError(f"invalid user {user!r}: a user name has no whitespace or control characters")
    return dsn.with_(user=user, password=password, tags=unique_tags(list(tags)))


def tag_for(name: str) -> str | None:
    """A source's group name as a tag: characters a tag cannot hold become ``-`` (``k8s:worker``
    is ``k8s-worker``); None when nothing is left."""
    tag = _NOT_TAG.sub("-", name).strip("-._")[:64]
    return tag or None
