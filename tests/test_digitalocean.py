"""Droplets by name through pydo, against a loopback server speaking the API's documented shape,
then SSH to the droplet, whose public address is the test sshd's."""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from sshpool import ChannelUnavailableError
from sshpool import digitalocean as do
from tests.support.library import FakeAPI, droplet

pytestmark = pytest.mark.timeout(60)

ACCOUNT = [
    droplet(101, "TEST"),
    droplet(102, "web"),
    droplet(103, "Test"),
    droplet(104, "tEsT"),
    droplet(105, "teST"),
    droplet(106, "tesT"),
    droplet(107, "test"),
    droplet(201, "twin"),
    droplet(202, "twin"),
    droplet(301, "private-only", public=None),
]


@pytest.fixture
def api() -> Iterator[FakeAPI]:
    server = FakeAPI(ACCOUNT)
    yield server
    server.close()


@pytest.fixture
def client(api: FakeAPI) -> do.Client:
    return do.connect("dop_v1_test", endpoint=api.url, retry_total=0, timeout=5)


def test_by_name_reads_every_page_and_matches_the_case_exactly(client: do.Client, api: FakeAPI) -> None:
    found = client.droplets.by_name("test")
    assert (found.id, found.name, found.ip_address) == (107, "test", "127.0.0.1")
    pages = [q["page"][0] for path, q, _ in api.requests]
    assert pages == ["1", "2", "3"] and all(q["name"] == ["test"] for _, q, _ in api.requests)
    assert {auth for _, _, auth in api.requests} == {"Bearer dop_v1_test"}


def test_no_droplet_by_that_name_is_a_key_error_naming_it(client: do.Client) -> None:
    with pytest.raises(KeyError, match="no droplet named 'tset'"):
        client.droplets.by_name("tset")


def test_several_droplets_with_one_name_is_a_value_error_listing_their_ids(client: do.Client) -> None:
    with pytest.raises(ValueError, match=r"2 droplets are named 'twin' \(ids 201, 202\)"):
        client.droplets.by_name("twin")


def test_list_and_a_droplet_without_a_public_address(client: do.Client) -> None:
    assert [d.id for d in client.droplets.list()] == [d["id"] for d in ACCOUNT]
    lonely = client.droplets.by_name("private-only")
    assert lonely.ip_address is None
    with pytest.raises(ValueError, match="no public IPv4"):
        lonely.connect()


def test_token_and_endpoint_come_from_the_environment(api: FakeAPI, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("DIGITALOCEAN_TOKEN", "DIGITALOCEAN_API_KEY", "DIGITALOCEAN_API_URL"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(ValueError, match="DIGITALOCEAN_TOKEN"):
        do.connect()
    monkeypatch.setenv("DIGITALOCEAN_API_KEY", "from-api-key")
    monkeypatch.setenv("DIGITALOCEAN_API_URL", api.url)
    assert do.connect(retry_total=0).droplets.by_name("web").id == 102
    assert api.requests[-1][2] == "Bearer from-api-key"


def test_plain_http_is_allowed_only_on_loopback() -> None:
    assert do._loopback_http("http://127.0.0.1:8080") and do._loopback_http("http://localhost")
    assert do._loopback_http("http://[::1]:1")
    assert not do._loopback_http("http://api.example.com") and not do._loopback_http("https://127.0.0.1")
    client = do.connect("t", endpoint="http://10.1.2.3:9", retry_total=0, timeout=2)
    with pytest.raises(Exception, match="non-TLS"):
        client.droplets.by_name("x")


@contextlib.contextmanager
def ssh_config_block(text: str) -> Iterator[None]:
    """Add a block to the client's ~/.ssh/config for one test, then put the file back."""
    config = Path(os.environ["HOME"]) / ".ssh" / "config"
    before = config.read_text() if config.exists() else None
    config.write_text(text + "\n" + (before or ""))
    try:
        yield
    finally:
        if before is None:
            config.unlink()
        else:
            config.write_text(before)


def test_droplet_connect_uses_ssh_configs_user_and_port(
    client: do.Client, ssh_home: Any, sshd: Any, test_user: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SSHPOOL_STATE_DIR", str(tmp_path / "state"))
    found = client.droplets.by_name("test")
    with ssh_config_block(f"Host 127.0.0.1\n  Port {sshd.port}\n  User {test_user.name}\n"):
        with found.connect() as ssh:
            assert ssh.wait("whoami") == f"{test_user.name}\n"
            assert "test" in repr(ssh)
    with ssh_config_block("Host 127.0.0.1\n  Port 1\n"):
        with pytest.raises(ChannelUnavailableError, match=re.escape("root@127.0.0.1:1")):
            found.connect(connect_timeout=2)
