"""The library's rolling and grouped fan-out over the twelve-host fleet, async and blocking: skipped
channels come back as SkippedError, groups as Group values with their folded host list."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from sshpool import DaemonClient, SkippedError
from sshpool.client import AsyncDaemonClient, Done, Grouped, Output
from sshpool.errors import RequestError, UnknownAliasError
from sshpool.groups import Group
from sshpool.result import Result
from tests.support.daemon import Daemon
from tests.support.fleet import Fleet
from tests.support.tagged import NUMBERED, numbered_daemon

pytestmark = pytest.mark.timeout(90)

ALIASES = list(NUMBERED)
OCTET = "set -- $SSH_CONNECTION; octet=${3##*.}; "


@pytest.fixture
def fleet_daemon(tmp_path: Path, fleet: Fleet, ssh_home: Any) -> Iterator[Daemon]:
    yield from numbered_daemon(tmp_path, fleet)


def test_a_rolling_run_gives_skipped_errors_for_the_channels_it_never_started(fleet_daemon: Daemon) -> None:
    async def main() -> dict[str, Result | Any]:
        async with AsyncDaemonClient(fleet_daemon.url, fleet_daemon.token) as client:
            return await client.run_many(
                OCTET + "[ $octet -ne 4 ]", "web*", parallel=1, halt="first_failure", timeout=10
            )

    outcomes = asyncio.run(main())
    assert list(outcomes) == ALIASES
    assert [o.exit_code for o in outcomes.values() if isinstance(o, Result)] == [0, 0, 1]
    skipped = [o for o in outcomes.values() if isinstance(o, SkippedError)]
    assert len(skipped) == 9 and {s.alias for s in skipped} == set(ALIASES[3:])
    assert str(skipped[0]) == "not started: 1 failure (web03) reached halt=first_failure"


def test_the_blocking_client_groups_and_streams_groups(fleet_daemon: Daemon) -> None:
    with DaemonClient(fleet_daemon.url, fleet_daemon.token) as client:
        groups = client.run_many(OCTET + "echo $(( octet / 5 ))", [*ALIASES, "ghost"], group=True)
        assert [(g.folded, g.aliases[0]) for g in groups] == [
            ("web[04-08]", "web04"),
            ("web[09-12]", "web09"),
            ("web[01-03]", "web01"),
            ("ghost", "ghost"),
        ]
        assert [g.outcome.stdout for g in groups[:3] if isinstance(g.outcome, Result)] == ["1\n", "2\n", "0\n"]
        assert isinstance(groups[3].outcome, UnknownAliasError)
        events = list(client.stream_many("echo same", "web*", group=True, parallel=4))
        assert {e.alias for e in events if isinstance(e, Done)} == set(ALIASES)
        assert {e.alias for e in events if isinstance(e, Output)} == set(ALIASES)
        last = events[-1]
        assert isinstance(last, Grouped) and len(last.groups) == 1
        only = last.groups[0]
        assert isinstance(only, Group) and only.aliases == tuple(ALIASES) and only.folded == "web[01-12]"
        assert isinstance(only.outcome, Result) and only.outcome.stdout == "same\n"
        with pytest.raises(RequestError, match="field 'parallel'"):
            client.run_many("true", "web*", parallel=0)
