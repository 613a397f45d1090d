"""What every group of endpoints shares: the pool, the state and the metrics, the audit log, the
store, and the bookkeeping a shutdown relies on (refuse new work, wait for running work)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterator
from typing import Any

from starlette.requests import HTTPConnection

from sshpool.core.pool import Pool
from sshpool.daemon.metrics import Metrics
from sshpool.daemon.state import ApiState
from sshpool.dsn import DSN
from sshpool.errors import ShuttingDownError

__all__ = ["Endpoints", "client_key"]

log = logging.getLogger("sshpool")


def client_key(request: HTTPConnection) -> str:
    """Who asked, for the audit log and the channels' round robin between clients:
    ``X-SSHPool-Client``, else the peer address."""
    given = request.headers.get("x-sshpool-client", "").strip()
    if given:
        return given[:128]
    return request.client.host if request.client else "local"


class Endpoints:
    """The base of the endpoint groups: one instance per group, all over the same pool and state."""

    def __init__(self, pool: Pool, state: ApiState, metrics: Metrics) -> None:
        self.pool = pool
        self.state = state
        self.metrics = metrics

    def audit(self, request: HTTPConnection, event: str, **fields: Any) -> None:
        """One audit line (for a request or a WebSocket); a failed write is logged, never the
        request's failure."""
        if self.state.audit is not None:
            try:
                rid = request.scope.get("state", {}).get("request_id")
                self.state.audit.write(event, request_id=rid, client=client_key(request), **fields)
            except OSError as exc:
                log.error("audit log write failed: %s", exc)

    @contextlib.contextmanager
    def draining_waits(self) -> Iterator[None]:
        """Work a shutdown waits for (up to --drain-timeout) before it closes the channels."""
        task = asyncio.current_task()
        if task is not None:
            self.state.in_flight.add(task)
        try:
            yield
        finally:
            if task is not None:
                self.state.in_flight.discard(task)

    def refuse_while_draining(self) -> None:
        if self.state.draining:
            self.metrics.refused("shutting_down")
            raise ShuttingDownError("sshpoold is shutting down; retry against the restarted daemon")

    async def persist(self, dsn: DSN, source: str = "api") -> None:
        """Remember the channel in the store, in a thread: a SQLite write waits for the disk."""
        if self.state.store is not None:
            await asyncio.to_thread(self.state.store.put, dsn, source)
