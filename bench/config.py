"""What a worker needs to reach the bench's sshd and sshpoold: one JSON blob on its command line."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class Target:
    """The sshd under test, the client's key and known_hosts, and (when running) the daemon."""

    host: str
    port: int
    user: str
    key: str
    known_hosts: str
    home: str
    scratch: str
    daemon_url: str = ""
    daemon_token: str = ""
    daemon_pid: int = 0

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> Target:
        return cls(**json.loads(text))

    def dsn(self, alias: str) -> str:
        return f"{alias}://{self.user}@{self.host}:{self.port}"
