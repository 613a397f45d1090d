"""Running commands: on one channel (JSON, NDJSON live output, or output frames; stdin in the body
or streamed), and on many at once (POST /run), with the channel selection rule of :mod:`sshpool.selectors`
and the rolling and grouping rules of :mod:`sshpool.daemon.rolling`."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from fastapi import Request
from fastapi.responses import Response
from starlette.types import Receive

from sshpool.daemon.answers import json_answer
from sshpool.daemon.bodies import COMMAND_FIELDS, Body, CommandSpec, command_spec, query_body, read_body
from sshpool.daemon.endpoints import Endpoints, client_key
from sshpool.daemon.framestream import FrameStream
from sshpool.daemon.rolling import ROLLOUT_FIELDS, answer_of, roll, rollout
from sshpool.daemon.streaming import Disconnected, NDJSONStream, OutputLines, StreamedBody, until_disconnect
from sshpool.errors import RequestError, SSHPoolError
from sshpool.outframes import CONTENT_TYPE as FRAMES
from sshpool.result import OutputCallback, Result
from sshpool.selectors import FORMS, expand, terms

__all__ = ["RunEndpoints"]

log = logging.getLogger("sshpool")


class RunEndpoints(Endpoints):
    """POST /channels/<alias> and POST /run."""

    async def run_command(self, request: Request, alias: str) -> Response:
        """Run a command on a channel."""
        self.refuse_while_draining()
        channel = self.pool.get(alias)
        watch = request.receive
        ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if ctype == "application/octet-stream":  # the body is the command's stdin, streamed
            stdin = StreamedBody(request.receive)
            spec = replace(command_spec(query_body(list(request.query_params.multi_items()))), input=stdin)
            watch = stdin.receive_after
        else:
            spec = command_spec(await read_body(request, "command", COMMAND_FIELDS))
        client = client_key(request)
        rid = request.scope["state"].get("request_id", "")
        if FRAMES in request.headers.get("accept", ""):
            return self._framed(request, channel.alias, spec, client, rid, watch)
        if "application/x-ndjson" in request.headers.get("accept", ""):

            async def produce(emit: Callable[[dict[str, Any]], None]) -> None:
                chunks = OutputLines(emit, spec.raw, None)
                result = await self._run_or_error(request, channel.alias, spec, client, on_output=chunks)
                chunks.flush()
                emit(result.to_dict(raw=spec.raw, output=False))

            return NDJSONStream(produce, rid, watch)
        try:
            result = await until_disconnect(watch, self._run_one(request, channel.alias, spec, client))
        except Disconnected:
            log.info("client went away during request %s on %s: command cancelled", rid, channel.alias)
            self.audit(request, "run", alias=channel.alias, command=spec.command, error="client_disconnected")
            return Response(status_code=499)
        return await json_answer(result.to_dict(raw=spec.raw), output_bytes=_output_bytes(result))

    def _framed(
        self, request: Request, alias: str, spec: CommandSpec, client: str, rid: str, watch: Receive
    ) -> FrameStream:
        """The framed answer (:mod:`sshpool.outframes`): the output bytes as they come, then the
        outcome, which is the NDJSON stream's last line (a refusal too is an outcome, with its code)."""

        async def produce(on_output: OutputCallback) -> dict[str, Any]:
            result = await self._run_or_error(request, alias, spec, client, on_output=on_output)
            return result.to_dict(raw=spec.raw, output=False)

        return FrameStream(produce, rid, watch)

    async def _run_one(
        self,
        request: Request,
        alias: str,
        spec: CommandSpec,
        client: str,
        on_output: Callable[[str, bytes], None] | None = None,
        keep_output: bool | None = None,
    ) -> Result:
        """Run and account for one command (metrics, audit log, the drain's wait); a refusal
        (unknown alias, channel unavailable...) raises, and the app answers it as an error."""
        started = time.monotonic()
        with self.draining_waits():
            try:
                mode = self.pool.get(alias).effective_mode(spec.mode, spec.input, spec.pty)
                result = await self.pool.run(
                    alias,
                    spec.command,
                    input=spec.input,
                    timeout=spec.timeout,
                    env=spec.env,
                    pty=spec.pty,
                    on_output=on_output,
                    client=client,
                    mode=spec.mode,
                    # a streamed answer has sent every byte already (unless the caller compares them)
                    keep_output=on_output is None if keep_output is None else keep_output,
                )
            except SSHPoolError as exc:
                self.metrics.refused(exc.code, alias)
                self.audit(
                    request,
                    "run",
                    alias=alias,
                    command=spec.command,
                    error=exc.code,
                    duration=round(time.monotonic() - started, 6),
                )
                raise
        if result.error == "channel_stopped" and self.state.draining:
            result = replace(result, exception="sshpoold is shutting down: the command was signalled before it ended")
        self.metrics.observe(result, time.monotonic() - started, mode, alias)
        self.audit(
            request,
            "run",
            alias=alias,
            command=spec.command,
            exit_code=result.exit_code,
            error=result.error,
            signal=result.signal,
            duration=round(result.duration, 6),
        )
        return result

    async def _run_or_error(
        self,
        request: Request,
        alias: str,
        spec: CommandSpec,
        client: str,
        on_output: Callable[[str, bytes], None] | None = None,
        keep_output: bool | None = None,
    ) -> Result:
        """:meth:`_run_one` for the answers that are already under way or hold many results
        (NDJSON streams, fan-out): a refusal becomes a Result with its ``error`` code."""
        try:
            return await self._run_one(request, alias, spec, client, on_output, keep_output)
        except SSHPoolError as exc:
            return Result(error=exc.code, exception=exc.message, alias=alias)

    async def fan_out(self, request: Request) -> Response:
        """Run a command on many channels at once, or a few at a time (``parallel``), stopping at a
        ``halt``; ``group`` answers each distinct result once (:mod:`sshpool.daemon.rolling`)."""
        self.refuse_while_draining()
        body = await read_body(request, "command", (*COMMAND_FIELDS, "channels", *ROLLOUT_FIELDS))
        if "channels" not in body.fields:
            raise RequestError('field "channels" is required: a list of aliases, "*" or a glob like "web*"; send JSON')
        plan = rollout(body.fields)
        aliases = self._select(body.fields["channels"])
        own = {k: v for k, v in body.fields.items() if k != "channels" and k not in ROLLOUT_FIELDS}
        spec = command_spec(Body(body.text, own))
        client = client_key(request)
        rid = request.scope["state"].get("request_id", "")

        async def one(alias: str, on_output: Callable[[str, bytes], None] | None = None) -> Result:
            if alias not in self.pool:
                return Result(error="unknown_alias", exception=f"unknown alias {alias!r}", alias=alias)
            keep = plan.group or on_output is None  # a group compares the output
            return await self._run_or_error(request, alias, spec, client, on_output, keep_output=keep)

        if "application/x-ndjson" in request.headers.get("accept", ""):

            async def produce(emit: Callable[[dict[str, Any]], None]) -> None:
                async def streamed(alias: str) -> Result:
                    chunks = OutputLines(emit, spec.raw, alias)
                    result = await one(alias, chunks)
                    chunks.flush()
                    return result

                def done(alias: str, result: Result) -> None:
                    emit({"alias": alias, "result": result.to_dict(raw=spec.raw, output=False)})

                results = await roll(aliases, streamed, plan, self.state.fanout_limit, done)
                final = answer_of(results, plan, spec.raw, output=False)
                emit(final if plan.group else {"results": final})

            return NDJSONStream(produce, rid)

        try:
            results = await until_disconnect(request.receive, roll(aliases, one, plan, self.state.fanout_limit))
        except Disconnected:
            return Response(status_code=499)
        return await json_answer(
            answer_of(results, plan, spec.raw), output_bytes=sum(map(_output_bytes, results.values()))
        )

    def _select(self, channels: Any) -> list[str]:
        """The aliases a ``channels`` field names: a comma-separated list or a JSON array of
        terms, each an alias, a glob, ``@tag`` or ``@tag1+tag2`` (:mod:`sshpool.selectors`). A
        glob or tag term that matches nothing is a 404 naming it, a term no form reads a 400; a
        plain alias that is not there is answered in its own result."""
        if isinstance(channels, str):
            chosen = terms(channels)
        elif isinstance(channels, list) and channels and all(isinstance(c, str) for c in channels):
            chosen = list(channels)
        else:
            chosen = []
        if not chosen:
            raise RequestError(f'field "channels" must be a non-empty list of terms, each {FORMS}, or "*"')
        return expand(chosen, self.pool.tagged())


def _output_bytes(result: Result) -> int:
    return len(result.stdout) + len(result.stderr)
