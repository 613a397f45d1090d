"""The wire format of a command, both ways: what goes up (a JSON body, or the options in the query
string when stdin is streamed as the body) and what comes back (a Result, NDJSON records of live
output; a fan-out's events are :mod:`sshpool.client.fanout`'s). Shared by
:class:`~sshpool.client.asyncclient.AsyncDaemonClient` and the daemon runner, so the two cannot read
the daemon differently.
"""

from __future__ import annotations

import base64
import contextlib
import json
from collections.abc import AsyncGenerator, AsyncIterator, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Literal

import httpx

from sshpool.errors import SSHPoolError, error_from_code
from sshpool.inputs import StdinSource, is_streamed, stdin_of
from sshpool.outframes import CONTENT_TYPE, OUTCOME, STDERR, FrameDecoder
from sshpool.outframes import outcome_of as frame_outcome
from sshpool.result import Result
from sshpool.waits import COMMAND_TIMEOUT, MARGIN, NO_LIMIT, http_deadline

__all__ = [
    "ACCEPT_FRAMES",
    "ACCEPT_NDJSON",
    "COMMAND_TIMEOUT",
    "MARGIN",
    "NO_LIMIT",
    "STARTED",
    "TRANSFER_TIMEOUT",
    "CommandRequest",
    "CommandTimeout",
    "Done",
    "Output",
    "chunk_of",
    "command_body",
    "command_events",
    "command_request",
    "frame_events",
    "http_deadline",
    "http_timeout",
    "ndjson_docs",
    "outcome_of",
    "record_of",
    "started_of",
    "texts_of",
]

#: File transfers have no overall deadline (a big file on a slow link takes what it takes).
TRANSFER_TIMEOUT = httpx.Timeout(None, connect=10.0)
CommandTimeout = float | Literal["none"] | None
"""A command's timeout as it goes up: seconds, :data:`NO_LIMIT`, or None for the daemon's default."""
#: What a command's live output is asked as; an error still comes as problem+json.
ACCEPT_NDJSON = "application/x-ndjson, application/problem+json"
#: What one command's output is asked as (:mod:`sshpool.outframes`): bytes as they are, no JSON.
ACCEPT_FRAMES = f"{CONTENT_TYPE}, application/problem+json"
#: ``error`` codes of a command that started: these stay Results (``check()`` raises for them).
STARTED = frozenset({"timeout", "link_lost", "channel_stopped", "signal", "command_failed"})


@dataclass(frozen=True)
class Output:
    """A chunk of live output: ``stream`` is ``stdout`` or ``stderr``; ``alias`` is set in a fan-out."""

    stream: str
    data: bytes
    alias: str | None = None


@dataclass(frozen=True)
class Done:
    """One channel of a fan-out finished: a Result, or the error that kept its command from starting."""

    alias: str
    outcome: Result | SSHPoolError


@dataclass(frozen=True)
class CommandRequest:
    """One command as it goes up: a JSON body (``json``), or, with stdin streamed, the options as
    query ``params`` and ``stdin`` as the body."""

    json: dict[str, Any] | None = None
    params: list[tuple[str, str]] = field(default_factory=list)
    stdin: AsyncIterator[bytes] | None = None


def command_body(
    command: str,
    *,
    input: bytes | str | None,
    timeout: CommandTimeout,
    env: Mapping[str, str] | None,
    mode: str | None = None,
    pty: bool = False,
) -> dict[str, Any]:
    """The JSON body of a command, output byte-exact (``raw``), binary stdin as ``input_b64``."""
    body: dict[str, Any] = {"command": command, "raw": True}
    if mode is not None:
        body["mode"] = mode
    if pty:
        body["pty"] = True
    if timeout is not None:
        body["timeout"] = timeout
    if isinstance(input, str):
        body["input"] = input
    elif input is not None:
        body["input_b64"] = base64.b64encode(bytes(input)).decode("ascii")
    if env:
        body["env"] = dict(env)
    return body


def command_request(
    command: str,
    *,
    input: StdinSource | None,
    timeout: CommandTimeout,
    env: Mapping[str, str] | None,
    mode: str | None = None,
    pty: bool = False,
) -> CommandRequest:
    """JSON, or, when stdin is a stream (a file, an iterator), the streamed form: the body is stdin
    and the command and its options go in the query string."""
    if not is_streamed(input):
        data = input if isinstance(input, str) else stdin_of(input)
        assert data is None or isinstance(data, (str, bytes))
        return CommandRequest(json=command_body(command, input=data, timeout=timeout, env=env, mode=mode, pty=pty))
    params: list[tuple[str, str]] = [("command", command), ("raw", "true")]
    if mode is not None:
        params.append(("mode", mode))
    if pty:
        params.append(("pty", "true"))
    if timeout is not None:
        params.append(("timeout", NO_LIMIT if timeout == NO_LIMIT else repr(float(timeout))))
    params += [("env", f"{k}={v}") for k, v in (env or {}).items()]
    stdin = stdin_of(input)
    assert stdin is not None and not isinstance(stdin, bytes)
    return CommandRequest(params=params, stdin=stdin)


def http_timeout(deadline: float | None, connect: float = 10.0) -> float | httpx.Timeout:
    """The httpx timeout of a command's request. With no deadline (no limit) the answer is awaited
    as long as the command runs, but the connect still has ``connect`` seconds: a daemon that is
    not there is told at once, and one that dies mid-command closes the connection, which ends
    the wait too."""
    return deadline if deadline is not None else httpx.Timeout(None, connect=connect)


def outcome_of(d: dict[str, Any], alias: str, command: str | None = None) -> Result | SSHPoolError:
    """A streamed or fanned-out result: a Result when the command started, else the error that
    kept it from starting (unknown alias, channel unavailable...), as run() would raise it."""
    code = d.get("error")
    if code and code not in STARTED and d.get("exit_code") is None and not d.get("signal"):
        return error_from_code(str(code), str(d.get("exception") or code), alias=alias)
    return Result.from_dict(d, alias=alias, command=command)


async def ndjson_docs(chunks: AsyncIterator[bytes]) -> AsyncGenerator[dict[str, Any], None]:
    """The JSON objects of an NDJSON byte stream, split at ``\\n`` bytes only.

    A JSON string may hold U+2028, U+2029 or U+0085 raw (the daemon writes them so, and that is valid
    NDJSON), and most binary output holds such a character once decoded; ``str.splitlines`` and
    httpx's ``aiter_lines`` break lines there too and cut the record in two. A record may span
    many chunks; each byte is scanned once."""
    buf = bytearray()
    async for chunk in chunks:
        scanned = len(buf)
        buf += chunk
        start = 0
        while (end := buf.find(b"\n", scanned)) >= 0:
            if doc := record_of(buf[start:end]):
                yield doc
            start = scanned = end + 1
        if start:
            del buf[:start]
    if doc := record_of(buf):  # a last record with no newline after it
        yield doc


def record_of(line: bytes | bytearray) -> dict[str, Any] | None:
    """One NDJSON line as its object; None for a blank line or a value that is not an object."""
    if not line.strip():
        return None
    doc = json.loads(line)
    return doc if isinstance(doc, dict) else None


def chunk_of(record: dict[str, Any]) -> tuple[str, bytes]:
    """A live-output record as ``(stream, data)``: ``data_b64`` carries bytes, ``data`` text."""
    stream = "stderr" if record.get("stream") == "stderr" else "stdout"
    if "data_b64" in record:
        return stream, base64.b64decode(record["data_b64"])
    return stream, str(record.get("data", "")).encode()


def texts_of(stdout: bytes | bytearray, stderr: bytes | bytearray) -> dict[str, Any]:
    """The output fields of a Result from the bytes that streamed in (the final record has none)."""
    return {
        "stdout": stdout.decode("utf-8", errors="replace"),
        "stderr": stderr.decode("utf-8", errors="replace"),
        "stdout_bytes": bytes(stdout),
        "stderr_bytes": bytes(stderr),
    }


def started_of(resp: httpx.Response, fallback: str) -> dict[str, Any]:
    """The answer to adding or changing a channel: its alias as the daemon spells it (from
    ``Location``), and whether it connected (200) or is kept while retrying (202, ``message``)."""
    location = resp.headers.get("location", "")
    alias = location.rsplit("/", 1)[-1] if location.startswith("/channels/") else fallback
    return {
        "alias": alias,
        "connected": resp.status_code == 200,
        "status": resp.status_code,
        "message": resp.text.strip(),
    }


async def command_events(
    docs: AsyncGenerator[dict[str, Any], None], alias: str, command: str, *, keep: bool = True
) -> AsyncGenerator[tuple[str, bytes] | Result, None]:
    """One command's NDJSON records as ``(stream, data)`` chunks, then its Result with the output
    that streamed in (none with ``keep=False``); the error that kept it from starting is raised,
    as run() raises it. Ends early when the records do."""
    out: dict[str, bytearray] = {"stdout": bytearray(), "stderr": bytearray()}
    async with contextlib.aclosing(docs):
        async for doc in docs:
            if "stream" in doc:
                stream, data = chunk_of(doc)
                if keep:
                    out[stream] += data
                yield stream, data
                continue
            outcome = outcome_of(doc, alias, command)
            if isinstance(outcome, SSHPoolError):
                raise outcome
            yield replace(outcome, **texts_of(out["stdout"], out["stderr"]))
            return


async def frame_events(
    pieces: AsyncGenerator[bytes, None], alias: str, command: str, *, keep: bool = True
) -> AsyncGenerator[tuple[str, bytes] | Result, None]:
    """:func:`command_events` for a frames answer (:mod:`sshpool.outframes`): the same chunks
    and Result, read from the bytes as they came; ends early when the body does."""
    out: dict[str, bytearray] = {"stdout": bytearray(), "stderr": bytearray()}
    decoder = FrameDecoder()
    async with contextlib.aclosing(pieces):
        async for piece in pieces:
            for kind, payload in decoder.feed(piece):
                if kind == OUTCOME:
                    outcome = outcome_of(frame_outcome(payload), alias, command)
                    if isinstance(outcome, SSHPoolError):
                        raise outcome
                    yield replace(outcome, **texts_of(out["stdout"], out["stderr"]))
                    return
                stream = "stderr" if kind == STDERR else "stdout"
                data = bytes(payload)
                if keep:
                    out[stream] += data
                yield stream, data
