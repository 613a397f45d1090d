"""A lean HTTP/1.1 keep-alive client for the REST contender: the stdlib's ``http.client`` for
sequential calls, and a few lines over asyncio streams for concurrent ones.

The daemon is what is measured, not a client library: httpx alone costs ~1.5 ms of CPU per
request here (~3.5 ms at 64 in flight), more than an SSH command does, and would hide the
daemon's own figures. A curl loop or a Go client sees what this client sees.
"""

from __future__ import annotations

import asyncio
import http.client
import json
from typing import Any
from urllib.parse import urlsplit


class Client:
    """One keep-alive connection; ``post_json`` answers the status and the decoded body."""

    def __init__(self, url: str, token: str, timeout: float = 600) -> None:
        parts = urlsplit(url)
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 80
        self.headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        self.conn = http.client.HTTPConnection(self.host, self.port, timeout=timeout)

    def request(self, method: str, path: str, body: bytes | None = None) -> tuple[int, bytes]:
        """One request; a keep-alive connection the server closed while idle (uvicorn does after
        5 s) is reopened and the request sent once more, as browsers do: it was never received."""
        for attempt in (1, 2):
            try:
                self.conn.request(method, path, body=body, headers=self.headers)
                r = self.conn.getresponse()
                return r.status, r.read()
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
                self.conn.close()
                if attempt == 2:
                    raise
            except BaseException:
                self.conn.close()  # never leave the connection half-way through a request
                raise
        raise AssertionError("unreachable")

    def post_json(self, path: str, payload: Any) -> tuple[int, Any]:
        status, body = self.request("POST", path, json.dumps(payload).encode())
        try:
            return status, json.loads(body)
        except ValueError:
            return status, body.decode(errors="replace")

    def close(self) -> None:
        self.conn.close()


class AsyncClient:
    """One keep-alive connection over asyncio streams (Content-Length bodies, as sshpoold sends)."""

    def __init__(self, url: str, token: str) -> None:
        parts = urlsplit(url)
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 80
        self.token = token
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def post_json(self, path: str, payload: Any) -> tuple[int, Any]:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        assert self.reader is not None
        body = json.dumps(payload).encode()
        head = (
            f"POST {path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\nAuthorization: Bearer {self.token}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
        )
        self.writer.write(head.encode() + body)
        status_line = await self.reader.readline()
        length = 0
        while True:
            line = await self.reader.readline()
            if line in (b"\r\n", b""):
                break
            name, _, value = line.decode("latin-1").partition(":")
            if name.strip().lower() == "content-length":
                length = int(value)
        data = await self.reader.readexactly(length)
        return int(status_line.split()[1]), json.loads(data)

    async def aclose(self) -> None:
        if self.writer is not None:
            self.writer.close()
            await self.writer.wait_closed()
