"""Twelve hosts for the fleet tests: one sshd listening on 127.0.0.2 to 127.0.0.13 (the same port),
so each channel lands on its own address and a command can tell the hosts apart by
``$SSH_CONNECTION``, as it would across a real fleet."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from tests.support.sshd import SSHServer, TestUser

ADDRESSES = tuple(f"127.0.0.{n}" for n in range(2, 14))


@dataclass(frozen=True)
class Fleet:
    server: SSHServer
    user: TestUser

    @property
    def hosts(self) -> tuple[str, ...]:
        return ADDRESSES

    def dsn(self, alias: str, host: str, tags: Sequence[str] = ()) -> str:
        """``alias://user@host:port``, with ``?tags=a,b`` when tags are given."""
        query = f"?tags={','.join(tags)}" if tags else ""
        return f"{alias}://{self.user.name}@{host}:{self.server.port}{query}"

    def where(self, stdout: str) -> str:
        """The server address in ``$SSH_CONNECTION`` (``client cport server sport``) as a command
        printed it: which host answered."""
        return stdout.split()[2]
