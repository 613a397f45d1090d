"""The fan-out verbs of the REST client (``POST /run``): the rolling and grouping fields that go up
(``parallel``, ``halt``, ``group``, checked by the daemon, whose 400 names what is wrong), and what
comes back: each channel's outcome, live output events, and the groups."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncGenerator
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Literal, overload

import httpx

from sshpool.client.errors import ErrorMap
from sshpool.client.wire import (
    CommandRequest,
    CommandTimeout,
    Done,
    Output,
    chunk_of,
    command_body,
    http_deadline,
    http_timeout,
    outcome_of,
    texts_of,
)
from sshpool.errors import SSHPoolError, error_from_code
from sshpool.groups import Group
from sshpool.result import Result

__all__ = ["FanOut", "Grouped", "Halt", "fanout_events", "groups_of", "outcomes_of", "rollout_fields"]

Halt = int | Literal["first_failure"]
"""When a rolling fan-out stops starting channels: after this many failures, or the first."""


@dataclass(frozen=True)
class Grouped:
    """The last event of a grouped fan-out: each distinct answer once, biggest group first."""

    groups: list[Group[Result | SSHPoolError]]


def rollout_fields(parallel: int | None, halt: Halt | None, group: bool) -> dict[str, Any]:
    """The fields of a rolling or grouped fan-out; none at all for the plain one."""
    fields: dict[str, Any] = {}
    if parallel is not None:
        fields["parallel"] = parallel
    if halt is not None:
        fields["halt"] = halt
    if group:
        fields["group"] = True
    return fields


def outcomes_of(doc: dict[str, dict[str, Any]], command: str) -> dict[str, Result | SSHPoolError]:
    """A plain fan-out's answer: each alias's Result, or the error that kept its command from
    starting (a skipped channel's is :class:`~sshpool.errors.SkippedError`)."""
    return {alias: outcome_of(d, alias, command) for alias, d in doc.items()}


def groups_of(doc: dict[str, Any], command: str) -> list[Group[Result | SSHPoolError]]:
    """A grouped answer's groups, each with its first alias's outcome (output included)."""
    return [
        Group(tuple(g["aliases"]), outcome_of(g["result"], str(g["aliases"][0]), command))
        for g in doc.get("groups", [])
    ]


async def fanout_events(
    docs: AsyncGenerator[dict[str, Any], None], command: str
) -> AsyncGenerator[Output | Done | Grouped, None]:
    """A fan-out's NDJSON records as :class:`Output` chunks tagged by alias, a :class:`Done` as each
    channel finishes (a skipped one too), and, for a grouped one, :class:`Grouped` last; a failure of
    the whole fan-out is raised."""
    out: dict[tuple[str, str], bytearray] = {}
    async with contextlib.aclosing(docs):
        async for doc in docs:
            if "stream" in doc:
                stream, data = chunk_of(doc)
                alias = str(doc.get("alias"))
                out.setdefault((alias, stream), bytearray()).extend(data)
                yield Output(stream, data, alias)
            elif "result" in doc:
                alias = str(doc["alias"])
                outcome = outcome_of(doc["result"], alias, command)
                if isinstance(outcome, Result):
                    texts = texts_of(out.get((alias, "stdout"), b""), out.get((alias, "stderr"), b""))
                    outcome = replace(outcome, **texts)
                yield Done(alias, outcome)
            elif "results" in doc:
                if "groups" in doc:
                    yield Grouped(groups_of(doc, command))
                return
            elif "error" in doc:
                raise error_from_code(str(doc["error"]), str(doc.get("exception") or doc["error"]))


class FanOut:
    """:class:`~sshpool.client.asyncclient.AsyncDaemonClient`'s fan-out verbs, on its HTTP pool."""

    errors: ErrorMap
    timeout: float

    if TYPE_CHECKING:

        @property
        def http(self) -> httpx.AsyncClient: ...

        def _ndjson(
            self, path: str, request: CommandRequest, deadline: float | None, alias: str | None
        ) -> AsyncGenerator[dict[str, Any], None]: ...

    @overload
    async def run_many(
        self,
        command: str,
        channels: str | list[str] = ...,
        *,
        input: bytes | str | None = ...,
        timeout: CommandTimeout = ...,
        env: dict[str, str] | None = ...,
        mode: str | None = ...,
        parallel: int | None = ...,
        halt: Halt | None = ...,
        group: Literal[False] = ...,
    ) -> dict[str, Result | SSHPoolError]: ...

    @overload
    async def run_many(
        self,
        command: str,
        channels: str | list[str] = ...,
        *,
        input: bytes | str | None = ...,
        timeout: CommandTimeout = ...,
        env: dict[str, str] | None = ...,
        mode: str | None = ...,
        parallel: int | None = ...,
        halt: Halt | None = ...,
        group: Literal[True],
    ) -> list[Group[Result | SSHPoolError]]: ...

    async def run_many(
        self,
        command: str,
        channels: str | list[str] = "*",
        *,
        input: bytes | str | None = None,
        timeout: CommandTimeout = None,
        env: dict[str, str] | None = None,
        mode: str | None = None,
        parallel: int | None = None,
        halt: Halt | None = None,
        group: bool = False,
    ) -> dict[str, Result | SSHPoolError] | list[Group[Result | SSHPoolError]]:
        """Fan out: each channel's Result, or the error that kept its command from starting.
        ``parallel=N`` runs at most N at once, in alias order; ``halt="first_failure"`` (or K) starts
        no more once that many have failed, and the rest come back as SkippedError. ``group=True``
        answers each distinct result once instead: a list of :class:`~sshpool.groups.Group`, the
        biggest first."""
        body = {
            **command_body(command, input=input, timeout=timeout, env=env, mode=mode),
            "channels": channels,
            **rollout_fields(parallel, halt, group),
        }
        deadline = None if parallel is not None else http_deadline(timeout)  # a rolling run takes turns
        with self.errors.mapping(deadline, command=True):
            resp = await self.http.post("/run", json=body, timeout=http_timeout(deadline, self.timeout))
        await self.errors.check(resp)
        doc: dict[str, Any] = resp.json()
        return groups_of(doc, command) if group else outcomes_of(doc, command)

    async def stream_many(
        self,
        command: str,
        channels: str | list[str] = "*",
        *,
        input: bytes | str | None = None,
        timeout: CommandTimeout = None,
        env: dict[str, str] | None = None,
        mode: str | None = None,
        parallel: int | None = None,
        halt: Halt | None = None,
        group: bool = False,
    ) -> AsyncGenerator[Output | Done | Grouped, None]:
        """Fan out with live output: :class:`Output` chunks tagged by alias, a :class:`Done` as
        each channel finishes (a skipped one too); with ``group=True``, a
        :class:`~sshpool.client.fanout.Grouped` last. ``parallel`` and ``halt`` as :meth:`run_many`."""
        body = {
            **command_body(command, input=input, timeout=timeout, env=env, mode=mode),
            "channels": channels,
            **rollout_fields(parallel, halt, group),
        }
        deadline = None if parallel is not None else http_deadline(timeout)
        docs = self._ndjson("/run", CommandRequest(json=body), deadline, None)
        async with contextlib.aclosing(fanout_events(docs, command)) as events:
            async for event in events:
                yield event
