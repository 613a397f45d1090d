"""A config file read once answers every host exactly as asyncssh's own parser does, and a file
changed on disk is read again."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from asyncssh.config import ConfigParseError, SSHClientConfig

from sshpool.core.configfiles import load_client_config

OPTIONS = (
    "Hostname",
    "User",
    "Port",
    "IdentityFile",
    "IdentitiesOnly",
    "ProxyCommand",
    "ProxyJump",
    "ServerAliveInterval",
    "ServerAliveCountMax",
    "ForwardAgent",
    "Ciphers",
    "UserKnownHostsFile",
    "SendEnv",
    "SetEnv",
    "Compression",
    "HostKeyAlias",
    "CertificateFile",
    "RequestTTY",
    "RemoteCommand",
)

MAIN = """\
# a comment
Host web1 web2
    HostName 10.0.0.%h
    User=deploy
    Port = 2201
    IdentityFile ~/.ssh/id_%r_%h
    SendEnv LANG LC_*
Host web*  !web3
    ServerAliveInterval 7
    Ciphers +aes128-cbc
Host "quoted host" db1
    HostName db.internal
    ProxyCommand ssh -W %h:%p bastion "with quotes"
    ProxyJump jump1,jump2
Match originalhost db1 user root
    Port 2222
Match host db.internal
    ServerAliveCountMax 9
Match exec "true" !localuser nobody
    ForwardAgent yes
Include {included}
Include extra/*.conf
Host *
    User fallback
    Compression yes
    SetEnv A=1 B=2
    RequestTTY force
"""


@pytest.fixture
def config(tmp_path: Path) -> Path:
    (tmp_path / "extra").mkdir()
    (tmp_path / "extra" / "b.conf").write_text("Host cache*\n  HostKeyAlias cachekey\n")
    (tmp_path / "extra" / "a.conf").write_text("Host cache1\n  Port 3333\n  RemoteCommand echo  two  spaces\n")
    (tmp_path / "inc").write_text("Host db1\n  IdentitiesOnly yes\n  CertificateFile %d/cert\n")
    main = tmp_path / "config"
    main.write_text(MAIN.format(included=tmp_path / "inc").replace("extra/", f"{tmp_path}/extra/"))
    return main


def answers(config: SSHClientConfig) -> dict[str, object]:
    return {option: config.get(option) for option in OPTIONS}


@pytest.mark.parametrize("host", ["web1", "web2", "web3", "web9", "db1", "quoted host", "cache1", "other"])
@pytest.mark.parametrize("user", [(), "root"])
def test_every_host_gets_what_asyncssh_itself_reads(config: Path, host: str, user: str | tuple[()]) -> None:
    theirs = SSHClientConfig.load(None, [str(config)], False, False, False, "me", user, host, ())
    for _ in range(2):  # read once, then from what was kept
        ours = load_client_config([str(config)], "me", user, host, ())
        assert answers(ours) == answers(theirs)


def test_a_file_changed_on_disk_is_read_again(tmp_path: Path) -> None:
    path = tmp_path / "config"
    path.write_text("Host a\n  Port 1\n")
    assert load_client_config([str(path)], "me", (), "a", ()).get("Port") == 1
    path.write_text("Host a\n  Port 22\n")
    os.utime(path, ns=(1, 1))  # even if the clock did not move
    assert load_client_config([str(path)], "me", (), "a", ()).get("Port") == 22


@pytest.mark.parametrize(
    "text",
    ["Host a\n  User 'unclosed\n", "Host a\n  Port\n", "Host a\n  Port 1 2\n", "Match nosuch x\n"],
    ids=["unclosed quote", "missing value", "extra data", "bad match"],
)
def test_a_broken_line_fails_as_asyncssh_fails_it(tmp_path: Path, text: str) -> None:
    path = tmp_path / "config"
    path.write_text(text)
    with pytest.raises(ConfigParseError) as theirs:
        SSHClientConfig.load(None, [str(path)], False, False, False, "me", (), "a", ())
    with pytest.raises(ConfigParseError) as ours:
        load_client_config([str(path)], "me", (), "a", ())
    assert str(ours.value) == str(theirs.value)
