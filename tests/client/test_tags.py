"""Tags and selectors from Python: the blocking and async clients fan out on ``@tag`` selectors to
exactly the hosts that carry the tags, and start or retag channels."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from sshpool import AsyncDaemonClient, DaemonClient
from sshpool.client import Done, Output
from sshpool.errors import RequestError, UnknownAliasError
from sshpool.result import Result
from tests.support.daemon import Daemon
from tests.support.fleet import Fleet
from tests.support.tagged import HOSTS, WHERE, tagged_daemon

pytestmark = pytest.mark.timeout(120)


@pytest.fixture
def tagged(tmp_path: Path, fleet: Fleet, ssh_home: Any) -> Iterator[Daemon]:
    yield from tagged_daemon(tmp_path, fleet)


def test_run_many_on_a_selector_answers_for_exactly_its_channels(tagged: Daemon, fleet: Fleet) -> None:
    with DaemonClient(tagged.url, tagged.token) as client:
        results = client.run_many(WHERE, "@db+staging,web06")
        listed = client.run_many(WHERE, ["@cache", "@canary"])
        with pytest.raises(UnknownAliasError, match=r"no channel carries '@db\+canary'"):
            client.run_many("true", "@db+canary")
        with pytest.raises(RequestError, match=r"bad selector term '@we b'"):
            client.run_many("true", "@we b")
    assert list(results) == ["db03", "db04", "web06"]
    assert {a: fleet.where(r.stdout) for a, r in results.items() if isinstance(r, Result)} == {
        a: HOSTS[a] for a in results
    }
    assert list(listed) == ["cache01", "cache02", "web06"]


def test_stream_many_on_a_tag_streams_from_exactly_its_hosts(tagged: Daemon, fleet: Fleet) -> None:
    async def stream() -> tuple[dict[str, str], list[str]]:
        seen: dict[str, str] = {}
        done: list[str] = []
        async with AsyncDaemonClient(tagged.url, tagged.token) as client:
            async for event in client.stream_many(WHERE, "@prod+web"):
                if isinstance(event, Output):
                    seen[str(event.alias)] = fleet.where(event.data.decode())
                elif isinstance(event, Done):
                    done.append(event.alias)
        return seen, done

    seen, done = asyncio.run(stream())
    assert seen == {a: HOSTS[a] for a in ("web01", "web02", "web03")}
    assert sorted(done) == ["web01", "web02", "web03"]


def test_start_and_update_set_tags(tagged: Daemon, fleet: Fleet) -> None:
    with DaemonClient(tagged.url, tagged.token) as client:
        assert client.start(fleet.dsn("extra", fleet.hosts[0], ["web"]), tags=["blue"])["connected"]
        assert client.info("extra")["tags"] == ["web", "blue"]
        assert client.update("extra", tags=["green"])["connected"]
        assert client.info("extra")["tags"] == ["green"]
        assert list(client.run_many("true", "@green")) == ["extra"]
        client.update("web01", tags=[])
        assert list(client.run_many("true", "@web+prod")) == ["web02", "web03"]
        with pytest.raises(TypeError, match="needs a dsn, tags, or both"):
            client.update("web01")
