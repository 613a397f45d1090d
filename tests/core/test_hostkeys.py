"""Host keys: strict by default, accept-new on request, and a clear way to accept a key."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest

from sshpool import HostKeyError, Pool


def dsn(alias: str, server: Any, user: Any) -> str:
    return f"{alias}://{user.name}@{server.host}:{server.port}"


async def test_unknown_key_is_refused_under_strict_with_fingerprint_and_fix(
    tmp_path: Path, ssh_home: Any, make_sshd: Any, test_user: Any
) -> None:
    server = make_sshd(add_known_host=False)
    async with Pool(state_dir=tmp_path, backoff_max=1) as p:
        info = await p.start(dsn("new", server, test_user))
        assert info.state == "failed" and info.last_error_code == "host_key_unknown"
        msg = info.last_error or ""
        assert f"127.0.0.1 port {server.port}" in msg and "ssh-ed25519" in msg and "SHA256:" in msg
        assert "ssh-keyscan" in msg and "Pool(host_key_policy='accept-new')" in msg
        assert "pool.accept_host_key('new')" in msg and "sshpoolctl" not in msg  # a Pool's user has no CLI
        with pytest.raises(HostKeyError) as err:
            await p.run("new", "true")
        assert err.value.code == "host_key_unknown" and (err.value.fingerprint or "").startswith("SHA256:")
        assert isinstance(err.value, ConnectionError)


async def test_accept_host_key_after_looking_at_it(
    tmp_path: Path, ssh_home: Any, make_sshd: Any, test_user: Any
) -> None:
    server = make_sshd(add_known_host=False)
    async with Pool(state_dir=tmp_path, backoff_max=30) as p:
        info = await p.start(dsn("acc", server, test_user))
        assert info.last_error_code == "host_key_unknown"
        fp = await p.accept_host_key("acc")
        assert fp in (info.last_error or "")
        await p.get("acc").start(wait=5)
        import asyncio

        for _ in range(100):
            if p.get("acc").state == "up":
                break
            await asyncio.sleep(0.05)
        assert (await p.run("acc", "echo trusted")).stdout == "trusted\n"
        assert f"[127.0.0.1]:{server.port} ssh-ed25519" in (tmp_path / "known_hosts").read_text()


async def test_accept_new_records_the_key_only_after_success(
    tmp_path: Path, ssh_home: Any, make_sshd: Any, test_user: Any
) -> None:
    server = make_sshd(add_known_host=False)
    own = tmp_path / "known_hosts"
    async with Pool(state_dir=tmp_path, host_key_policy="accept-new") as p:
        bad = await p.start(f"bad://nosuchuser:x@{server.host}:{server.port}")
        assert bad.last_error_code == "auth_failed"
        assert not own.exists() or str(server.port) not in own.read_text()
        good = await p.start(dsn("good", server, test_user))
        assert good.state == "up", good.last_error
        assert f"[127.0.0.1]:{server.port} ssh-ed25519" in own.read_text()
        assert oct(own.stat().st_mode & 0o777) == "0o600"


async def test_changed_key_is_refused_even_under_accept_new(
    tmp_path: Path, ssh_home: Any, make_sshd: Any, test_user: Any
) -> None:
    server = make_sshd(add_known_host=False)
    async with Pool(state_dir=tmp_path, host_key_policy="accept-new") as p:
        assert (await p.start(dsn("k", server, test_user))).state == "up"
        await p.stop("k")
        server.regenerate_host_key()
        info = await p.start(dsn("k", server, test_user))
        assert info.state == "failed" and info.last_error_code == "host_key_changed"
        assert "CHANGED" in (info.last_error or "") and "ssh-keygen -R" in (info.last_error or "")


async def test_policy_off_connects_and_warns(
    tmp_path: Path, ssh_home: Any, make_sshd: Any, test_user: Any, caplog: pytest.LogCaptureFixture
) -> None:
    server = make_sshd(add_known_host=False)
    caplog.set_level(logging.WARNING, logger="sshpool")
    async with Pool(state_dir=tmp_path, host_key_policy="off") as p:
        assert (await p.start(dsn("off", server, test_user))).state == "up"
    assert "host-key checking is off" in caplog.text
