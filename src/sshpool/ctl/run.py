"""Running commands for sshpoolctl: live output for one channel, alias-prefixed lines for a
fan-out (or, grouped, each distinct answer once under its hosts), stdout and stderr kept apart.
Shared by the shell and the one-shot ``run``."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, BinaryIO, TextIO

from sshpool.client import AsyncDaemonClient, CommandTimeout, Done, Grouped, Halt, Output
from sshpool.ctl.format import error_line, group_header, result_note
from sshpool.errors import SkippedError, SSHPoolError
from sshpool.groups import Group
from sshpool.inputs import StdinSource
from sshpool.result import Result
from sshpool.selectors import expand, selects_many, terms

__all__ = [
    "TERMINAL",
    "LineEnd",
    "Sink",
    "chosen_channels",
    "is_fanout",
    "ordered",
    "run_fanout",
    "run_one",
    "selection",
    "selector_tags",
    "show_groups",
    "tags_of",
]


def is_fanout(target: str) -> bool:
    """``*``, ``web*``, ``@web`` or ``web1,db1`` address many channels; a plain alias one."""
    return selects_many(target)


def tags_of(channels: Mapping[str, Mapping[str, Any]]) -> dict[str, list[str]]:
    """Each alias's tags, from the daemon's channel info, as :func:`sshpool.selectors.expand` takes them."""
    return {a: [str(t) for t in info.get("tags") or ()] for a, info in channels.items()}


def selector_tags(tags: Mapping[str, list[str]]) -> list[str]:
    """Every tag in use, once (case-insensitively), sorted, as the ``@tag`` terms that select them."""
    seen: dict[str, str] = {}
    for name in (t for ts in tags.values() for t in ts):
        seen.setdefault(name.casefold(), name)
    return [f"@{seen[k]}" for k in sorted(seen)]


async def chosen_channels(client: AsyncDaemonClient, target: str | None) -> dict[str, dict[str, Any]]:
    """The channel info of what ``target`` selects (every channel for None): one alias asks for its
    own (an unknown one is the daemon's 404); a selector picks from the list, and one that selects
    nothing is an UnknownAliasError naming it."""
    if target and not is_fanout(target):
        return {target: await client.info(target)}
    known = await client.status()
    if not target:
        return dict(known)
    return {a: known[a] for a in expand(terms(target), tags_of(known)) if a in known}


def selection(target: str) -> str | list[str]:
    """``web1,db*`` as its terms; one alias or glob as itself."""
    parts = terms(target)
    return parts if len(parts) > 1 or "," in target else target


@dataclass
class LineEnd:
    """Whether what sshpoolctl last wrote, to either stream, ended mid-line: the shell starts a
    line before its prompt then, so ``run web1 printf x`` does not leave ``xsshpool>``."""

    mid_line: bool = False

    def saw(self, data: bytes) -> None:
        if data:
            self.mid_line = not data.endswith(b"\n")


#: The terminal this process writes to: every Sink reports what it wrote.
TERMINAL = LineEnd()


@dataclass
class Sink:
    """Where output goes. ``progress`` writes a ``done/total`` line to stderr (a terminal only)."""

    out: BinaryIO = field(default_factory=lambda: sys.stdout.buffer)
    err: BinaryIO = field(default_factory=lambda: sys.stderr.buffer)
    progress: bool = False
    notes: TextIO = field(default_factory=lambda: sys.stderr)
    _status_shown: bool = False
    #: The last byte written to ``out``: a note after output that ends mid-line starts a line first.
    last_out: bytes = b""

    def write(self, stream: str, data: bytes) -> None:
        self.clear_progress()
        target = self.err if stream == "stderr" else self.out
        if target is self.out and data:
            self.last_out = data[-1:]
        target.write(data)
        target.flush()
        TERMINAL.saw(data)

    def note(self, text: str) -> None:
        self.clear_progress()
        self.notes.write(text + "\n")
        self.notes.flush()
        TERMINAL.saw(b"\n")

    def show_progress(self, text: str) -> None:
        if self.progress:
            self.notes.write("\r\x1b[K" + text)
            self.notes.flush()
            self._status_shown = True

    def clear_progress(self) -> None:
        if self._status_shown:
            self.notes.write("\r\x1b[K")
            self.notes.flush()
            self._status_shown = False


async def run_one(
    client: AsyncDaemonClient,
    alias: str,
    command: str,
    sink: Sink,
    *,
    timeout: CommandTimeout = None,
    input: StdinSource | None = None,
    mode: str | None = None,
) -> Result:
    """Stream one command's output as it arrives, keeping none of it (output of any size); the Result
    comes last."""
    events = client.stream(alias, command, timeout=timeout, input=input, mode=mode, keep=False)
    async with contextlib.aclosing(events):
        async for event in events:
            if isinstance(event, Result):
                return event
            sink.write(*event)
    raise AssertionError("the stream always ends with a Result")  # pragma: no cover


class _Lines:
    """Whole lines per (alias, stream), each prefixed with its alias, so channels never interleave
    inside a line."""

    def __init__(self, sink: Sink, width: int) -> None:
        self.sink = sink
        self.width = width
        self.partial: dict[tuple[str, str], bytes] = {}

    def feed(self, alias: str, stream: str, data: bytes) -> None:
        buf = self.partial.get((alias, stream), b"") + data
        *whole, rest = buf.split(b"\n")
        self.partial[(alias, stream)] = rest
        for line in whole:
            self.emit(alias, stream, line)

    def flush(self, alias: str) -> None:
        for stream in ("stdout", "stderr"):
            rest = self.partial.pop((alias, stream), b"")
            if rest:
                self.emit(alias, stream, rest)

    def emit(self, alias: str, stream: str, line: bytes) -> None:
        self.sink.write(stream, f"{alias:<{self.width}}: ".encode() + line + b"\n")


async def run_fanout(
    client: AsyncDaemonClient,
    target: str,
    command: str,
    sink: Sink,
    *,
    timeout: CommandTimeout = None,
    input: bytes | None = None,
    notes: bool = True,
    mode: str | None = None,
    parallel: int | None = None,
    halt: Halt | None = None,
    group: bool = False,
) -> dict[str, Result | SSHPoolError]:
    """Run on every matching channel, lines prefixed by alias, a note per channel that failed (none
    for one a halt skipped: the summary names those); ``parallel`` and ``halt`` roll it out a few at
    a time. ``group`` prints each distinct answer once at the end, under its folded host list."""
    chosen = selection(target)
    known = tags_of(await client.status())
    names = expand([chosen] if isinstance(chosen, str) else chosen, known)
    width = max((len(a) for a in names), default=0)
    lines = _Lines(sink, width)
    outcomes: dict[str, Result | SSHPoolError] = {}
    sink.show_progress(f"0/{len(names)} done")
    events = client.stream_many(
        command, chosen, timeout=timeout, input=input, mode=mode, parallel=parallel, halt=halt, group=group
    )
    async with contextlib.aclosing(events):
        async for event in events:
            if isinstance(event, Output) and not group:
                lines.feed(event.alias or "?", event.stream, event.data)
            elif isinstance(event, Done):
                lines.flush(event.alias)
                outcomes[event.alias] = event.outcome
                if notes and not group:
                    _note_outcome(sink, event.alias, event.outcome, width)
                sink.show_progress(f"{len(outcomes)}/{len(names)} done")
            elif isinstance(event, Grouped):
                sink.clear_progress()
                show_groups(sink, event.groups)
    sink.clear_progress()
    return outcomes


def show_groups(sink: Sink, groups: list[Group[Result | SSHPoolError]]) -> None:
    """Each group once, as ``clush -b`` prints it: the header, the output (stderr apart), and a note
    for an answer that was not a plain success."""
    for g in groups:
        sink.write("stdout", group_header(g.folded, len(g.aliases)).encode())
        outcome = g.outcome
        if isinstance(outcome, SSHPoolError):
            sink.note(f"[{outcome.code}] {error_line(outcome)}")
            continue
        sink.write("stdout", outcome.stdout_bytes if outcome.stdout_bytes is not None else outcome.stdout.encode())
        sink.write("stderr", outcome.stderr_bytes if outcome.stderr_bytes is not None else outcome.stderr.encode())
        if sink.last_out not in (b"", b"\n"):
            sink.write("stdout", b"\n")
        note = result_note(outcome)
        if note:
            sink.note(note)


def _note_outcome(sink: Sink, alias: str, outcome: Result | SSHPoolError, width: int) -> None:
    if isinstance(outcome, SkippedError):
        return
    if isinstance(outcome, SSHPoolError):
        sink.note(f"{alias:<{width}}: error: {error_line(outcome)}")
        return
    note = result_note(outcome)
    if note:
        sink.note(f"{alias:<{width}}: {note}")


def ordered(outcomes: Mapping[str, Result | SSHPoolError]) -> dict[str, Result | SSHPoolError]:
    return {a: outcomes[a] for a in sorted(outcomes, key=str.casefold)}
