"""sshpool connects the way the user's own OpenSSH does: ~/.ssh/config, agent, passwords, jumps."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from sshpool import DSN, Pool
from sshpool.core.target import resolve
from sshpool.defaults import Settings


async def test_host_alias_supplies_hostname_user_port_and_key(
    tmp_path: Path, ssh_home: Any, sshd: Any, test_user: Any
) -> None:
    ssh_home.add_host_block(
        "webby",
        HostName="127.0.0.1",
        Port=str(sshd.port),
        User=test_user.name,
        IdentityFile=str(sshd.client_key),
        IdentitiesOnly="yes",
        ServerAliveInterval="7",
    )
    target = resolve(DSN.parse("w://webby"), Settings())
    assert (target.host, target.port, target.user, target.keepalive_interval) == (
        "127.0.0.1",
        sshd.port,
        test_user.name,
        7.0,
    )
    async with Pool(state_dir=tmp_path) as p:
        info = await p.start("w://webby")
        assert info.state == "up", info.last_error
        assert (await p.run("w", "whoami")).stdout.strip() == test_user.name
        assert info.to_dict()["host"] == "webby" and info.port == sshd.port


async def test_the_dsn_wins_over_the_config(tmp_path: Path, ssh_home: Any, sshd: Any, test_user: Any) -> None:
    ssh_home.add_host_block("wrongport", HostName="127.0.0.1", Port="1", User="nobody")
    target = resolve(DSN.parse(f"x://{test_user.name}@wrongport:{sshd.port}"), Settings())
    assert (target.user, target.port) == (test_user.name, sshd.port)
    async with Pool(state_dir=tmp_path) as p:
        info = await p.start(f"x://{test_user.name}@wrongport:{sshd.port}")
        assert info.state == "up", info.last_error


async def test_ciphers_from_the_config_replace_the_default_offer(
    tmp_path: Path, ssh_home: Any, sshd: Any, test_user: Any
) -> None:
    ssh_home.add_host_block(
        "ctr", HostName="127.0.0.1", Port=str(sshd.port), User=test_user.name, Ciphers="aes128-ctr,aes192-ctr"
    )
    ssh_home.add_host_block(
        "plus", HostName="127.0.0.1", Port=str(sshd.port), User=test_user.name, Ciphers="^aes192-ctr"
    )
    async with Pool(state_dir=tmp_path) as p:
        for alias, host, cipher in (("c", "ctr", "aes128-ctr"), ("q", "plus", "aes192-ctr")):
            info = await p.start(f"{alias}://{host}")
            assert info.state == "up", info.last_error
            assert p.get(alias)._links[0].conn.get_extra_info("send_cipher") == cipher


def test_explicit_keepalive_flags_beat_the_config(ssh_home: Any, sshd: Any) -> None:
    ssh_home.add_host_block("ka", HostName="127.0.0.1", ServerAliveInterval="7", ServerAliveCountMax="9")
    t = resolve(DSN.parse("k://ka"), Settings(), keepalive_interval=1, keepalive_count_max=3)
    assert (t.keepalive_interval, t.keepalive_count_max) == (1, 3)
    t = resolve(DSN.parse("k://ka"), Settings())
    assert (t.keepalive_interval, t.keepalive_count_max) == (7, 9)


async def test_password_from_the_dsn(tmp_path: Path, ssh_home: Any, make_sshd: Any, test_user: Any) -> None:
    server = make_sshd(extra={"PubkeyAuthentication": "no"})
    async with Pool(state_dir=tmp_path) as p:
        info = await p.start(f"pw://{test_user.name}:{test_user.password}@{server.host}:{server.port}")
        assert info.state == "up", info.last_error
        assert info.to_dict()["pass"] == "****"
        assert test_user.password not in repr(p.get("pw")) and test_user.password not in str(info)
        bad = await p.start(f"pw2://{test_user.name}:not-it@{server.host}:{server.port}")
        assert bad.last_error_code == "auth_failed" and "not-it" not in (bad.last_error or "")


async def test_password_answers_keyboard_interactive(
    tmp_path: Path, ssh_home: Any, make_sshd: Any, test_user: Any
) -> None:
    server = make_sshd(use_pam=True, kbdint=True, password_auth=False, extra={"PubkeyAuthentication": "no"})
    async with Pool(state_dir=tmp_path) as p:
        info = await p.start(f"kb://{test_user.name}:{test_user.password}@{server.host}:{server.port}")
        assert info.state == "up", info.last_error
        assert (await p.run("kb", "echo via-kbdint")).stdout == "via-kbdint\n"


@pytest.fixture
def agent(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    key = tmp_path / "agent_key"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True, timeout=30)
    sock = tmp_path / "agent.sock"
    proc = subprocess.Popen(["ssh-agent", "-D", "-a", str(sock)], stdout=subprocess.DEVNULL)
    try:
        for _ in range(100):
            if sock.exists():
                break
            subprocess.run(["sleep", "0.05"], check=True)
        env = {**os.environ, "SSH_AUTH_SOCK": str(sock)}
        subprocess.run(["ssh-add", "-q", str(key)], env=env, check=True, timeout=30, capture_output=True)
        yield str(sock), key
    finally:
        proc.terminate()
        proc.wait(timeout=10)


async def test_a_key_held_only_by_the_agent(
    tmp_path: Path, ssh_home: Any, make_sshd: Any, test_user: Any, agent: tuple[str, Path], monkeypatch: Any
) -> None:
    sock, key = agent
    server = make_sshd(authorized_keys=[Path(str(key) + ".pub").read_text()])
    monkeypatch.setenv("SSH_AUTH_SOCK", sock)
    async with Pool(state_dir=tmp_path) as p:
        info = await p.start(f"ag://{test_user.name}@{server.host}:{server.port}")
        assert info.state == "up", info.last_error
    monkeypatch.delenv("SSH_AUTH_SOCK")
    async with Pool(state_dir=tmp_path) as p:
        info = await p.start(f"ag://{test_user.name}@{server.host}:{server.port}")
        assert info.last_error_code == "auth_failed"


async def test_proxyjump_through_a_second_sshd(
    tmp_path: Path, ssh_home: Any, sshd: Any, make_sshd: Any, test_user: Any
) -> None:
    jump = make_sshd()
    ssh_home.add_host_block(
        "behind",
        HostName="127.0.0.1",
        Port=str(sshd.port),
        User=test_user.name,
        ProxyJump=f"{test_user.name}@127.0.0.1:{jump.port}",
    )
    t = resolve(DSN.parse("b://behind"), Settings())
    assert [(h.host, h.port) for h in t.jump] == [("127.0.0.1", jump.port)]
    async with Pool(state_dir=tmp_path) as p:
        info = await p.start("b://behind")
        assert info.state == "up", info.last_error
        assert (await p.run("b", "echo through")).stdout == "through\n"
        # The hop is a real connection to the jump sshd.
        assert jump.session_pids()


async def test_jump_host_gets_the_same_host_key_policy(
    tmp_path: Path, ssh_home: Any, sshd: Any, make_sshd: Any, test_user: Any
) -> None:
    jump = make_sshd(add_known_host=False)
    ssh_home.add_host_block(
        "guarded",
        HostName="127.0.0.1",
        Port=str(sshd.port),
        User=test_user.name,
        ProxyJump=f"{test_user.name}@127.0.0.1:{jump.port}",
    )
    async with Pool(state_dir=tmp_path) as p:
        info = await p.start("g://guarded")
        assert info.last_error_code == "host_key_unknown"
        assert f"jump host for {test_user.name}@127.0.0.1:{sshd.port}" in (info.last_error or "") or (
            f"port {jump.port}" in (info.last_error or "")
        )
