"""The fleet (:mod:`tests.support.fleet`) as tagged channels of a real sshpoold: twelve aliases on
127.0.0.2-13, each with the tags of its role and its stage, so a selector's hits can be told
from what each host answers (``$SSH_CONNECTION``)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from tests.support.daemon import Daemon, daemon_running
from tests.support.fleet import ADDRESSES, Fleet

__all__ = ["HOSTS", "NUMBERED", "TAGS", "WHERE", "add_fleet", "answered", "numbered_daemon", "tagged_daemon"]

#: alias -> tags, in alias order; the n-th alias lives on ADDRESSES[n].
TAGS: dict[str, tuple[str, ...]] = {
    "cache01": ("cache", "prod"),
    "cache02": ("cache",),
    "db01": ("db", "prod"),
    "db02": ("db", "prod"),
    "db03": ("db", "staging"),
    "db04": ("DB", "staging"),
    "web01": ("web", "prod"),
    "web02": ("web", "prod"),
    "web03": ("web", "prod"),
    "web04": ("web", "staging"),
    "web05": ("web", "staging"),
    "web06": ("Web", "staging", "canary"),
}
HOSTS: dict[str, str] = dict(zip(TAGS, ADDRESSES, strict=True))
#: The untagged fleet's aliases, web01 to web12, on ADDRESSES in order.
NUMBERED: tuple[str, ...] = tuple(f"web{n:02d}" for n in range(1, 13))
#: A command whose output names the host that ran it.
WHERE = "echo $SSH_CONNECTION"


def answered(fleet: Fleet, results: Mapping[str, Mapping[str, Any]]) -> dict[str, str]:
    """alias -> the address that answered ``WHERE`` for it."""
    return {alias: fleet.where(str(r["stdout"])) for alias, r in results.items()}


def add_fleet(daemon: Daemon, fleet: Fleet) -> None:
    """Start the twelve channels through ``POST /channels`` (their tags in the DSN), all up."""

    async def start() -> None:
        async with daemon.async_client() as c:
            answers = await asyncio.gather(
                *(c.post("/channels", content=fleet.dsn(a, HOSTS[a], TAGS[a])) for a in TAGS)
            )
        # One sshd takes a dozen handshakes at once: one it drops (MaxStartups) is retried.
        assert {r.status_code for r in answers} <= {200, 202}, [r.text for r in answers]

    asyncio.run(start())
    for alias in TAGS:
        daemon.wait_state(alias)


def tagged_daemon(tmp_path: Path, fleet: Fleet) -> Iterator[Daemon]:
    """Body of a fixture: a daemon holding the tagged fleet."""
    for daemon in daemon_running(tmp_path):
        add_fleet(daemon, fleet)
        yield daemon


def numbered_daemon(tmp_path: Path, fleet: Fleet) -> Iterator[Daemon]:
    """Body of a fixture: a daemon started with web01 to web12 (``--channel``, no tags), all up."""
    channels = [w for a, h in zip(NUMBERED, ADDRESSES, strict=True) for w in ("--channel", fleet.dsn(a, h))]
    yield from daemon_running(tmp_path, *channels, up=NUMBERED)
