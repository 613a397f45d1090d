"""sshpoold's framed output: ``POST /channels/<alias>`` with ``Accept: application/x-sshpool-frames``.
The answer is a run of frames, each 1 type byte, a 4-byte big-endian length and the payload:
``1`` a chunk of stdout, ``2`` a chunk of stderr, ``=`` the outcome as JSON (the last frame).
Decoded here in a few lines, so the bench reads what the daemon sends, not what a client module
makes of it. A daemon that answers anything else cannot play: setup says why (N/A, not a failure).
"""

from __future__ import annotations

import http.client
import json
import struct
import time
from typing import Any
from urllib.parse import urlsplit

from ..config import Target
from .common import ECHO, ECHO_OUT, output_command
from .sshpool_rest import start_channel

FRAMES = "application/x-sshpool-frames"
HEAD = struct.Struct(">cI")


class NotFramed(Exception):
    """The daemon answered, but not in frames."""


class SshpooldRestFrames:
    name = "sshpoold-rest-frames"
    alias = "frames"

    def __init__(self, target: Target) -> None:
        self.t = target
        parts = urlsplit(target.daemon_url)
        self.conn = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port or 80, timeout=600)
        self.headers = {
            "Authorization": f"Bearer {target.daemon_token}",
            "Content-Type": "application/json",
            "Accept": FRAMES,
        }

    def extra_pids(self) -> list[int]:
        return [self.t.daemon_pid]

    def setup(self) -> str | None:
        start_channel(self.t, self.t.dsn(self.alias))
        try:
            out, err, outcome = self._run(ECHO)
        except NotFramed as exc:
            return f"sshpoold does not answer {FRAMES} yet ({exc})"
        if out != ECHO_OUT or outcome.get("exit_code") != 0:
            raise RuntimeError(f"`{ECHO}` in frames: stdout {out!r}, stderr {err!r}, outcome {outcome}")
        return None

    def close(self) -> None:
        self.conn.close()

    def _run(self, command: str) -> tuple[bytes, bytes, dict[str, Any]]:
        """stdout, stderr and the outcome of one command, read frame by frame."""
        body = json.dumps({"command": command}).encode()
        # A new connection per command: one left idle past uvicorn's keep-alive (5 s) is closed by
        # the server, and http.client would write the next request into it (BrokenPipeError).
        self.conn.close()
        try:
            self.conn.request("POST", f"/channels/{self.alias}", body=body, headers=self.headers)
            r = self.conn.getresponse()
            kind = r.getheader("Content-Type", "")
            if r.status != 200 or not kind.startswith(FRAMES):
                body = r.read()
                said = "" if r.status == 200 else f": {body[:160].decode(errors='replace')}"
                raise NotFramed(f"it answered {r.status} {kind or 'with no Content-Type'}{said}")
            out: list[bytes] = []
            err: list[bytes] = []
            while True:
                head = r.read(HEAD.size)
                if len(head) < HEAD.size:
                    raise RuntimeError(f"the frames ended without an outcome (after {sum(map(len, out))} bytes)")
                what, length = HEAD.unpack(head)
                payload = r.read(length)
                if len(payload) < length:
                    raise RuntimeError("a frame was cut short")
                if what == b"1":
                    out.append(payload)
                elif what == b"2":
                    err.append(payload)
                elif what == b"=":
                    r.read()  # the end of the answer, so the connection can be kept
                    return b"".join(out), b"".join(err), json.loads(payload)
                else:
                    raise RuntimeError(f"unknown frame type {what!r}")
        except BaseException:
            self.conn.close()  # never reuse a connection left half-way through an answer
            raise

    def output(self, size: int) -> dict[str, Any]:
        started = time.perf_counter()
        out, _, outcome = self._run(output_command(size))
        elapsed = time.perf_counter() - started
        failed = int(len(out) != size or outcome.get("exit_code") != 0)
        return {"seconds": elapsed, "bytes": len(out), "failed": failed}


PEERS = {"sshpoold-rest-frames": SshpooldRestFrames}
