"""The one-shot verbs of sshpoolctl (``run``, ``status``, ``start``, ...), each a coroutine on a
daemon client and its parsed arguments that prints its answer and returns the exit status.

The interactive shell runs the same functions for the verbs it takes as they are
(:data:`SHELL_VERBS`), so a verb prints the same whichever way it was typed.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path, PurePosixPath
from typing import Any, BinaryIO, Literal

from sshpool.client import AsyncDaemonClient
from sshpool.ctl.doctor import verb_doctor
from sshpool.ctl.format import (
    EXIT_ERROR,
    exit_status,
    fanout_status,
    fanout_summary,
    fingerprint_in,
    result_note,
    shown_state,
    status_lines,
    status_table,
)
from sshpool.ctl.imports import verb_import
from sshpool.ctl.input import stdin_stream
from sshpool.ctl.run import Sink, chosen_channels, is_fanout, ordered, run_fanout, run_one, selection, tags_of
from sshpool.ctl.say import emit_json, say
from sshpool.errors import SSHPoolError
from sshpool.result import Result
from sshpool.selectors import expand, terms
from sshpool.trees import Step

__all__ = ["SHELL_VERBS", "VERBS", "Verb", "run_verb"]

Verb = Callable[[AsyncDaemonClient, argparse.Namespace], Awaitable[int]]

#: Reasons a retry cannot cure: the user must act, so start says so with status 255.
_NEEDS_YOU = frozenset({"auth_failed", "host_key_unknown", "host_key_changed"})


def _result_doc(result: Result) -> dict[str, Any]:
    return {"alias": result.alias, **result.to_dict()}


def _outcome_doc(outcome: Result | SSHPoolError, *, alias: bool = True) -> dict[str, Any]:
    """One channel's outcome for --json; ``alias=False`` for a group's, whose aliases say whose."""
    if isinstance(outcome, SSHPoolError):
        doc = {"alias": outcome.alias, "error": outcome.code, "exception": str(outcome)}
    else:
        doc = _result_doc(outcome)
    return doc if alias else {k: v for k, v in doc.items() if k != "alias"}


async def verb_run(client: AsyncDaemonClient, args: argparse.Namespace) -> int:
    command = " ".join(args.command)
    if not command.strip():
        say("usage: sshpoolctl run ALIAS COMMAND...   e.g. sshpoolctl run web1 uptime")
        return EXIT_ERROR
    try:
        command.encode("utf-8")
    except UnicodeEncodeError as exc:  # argv bytes that are not UTF-8 arrive as lone surrogates
        byte = command[exc.start].encode("utf-8", "surrogateescape")
        say(
            f"the command holds a byte that is not UTF-8 (0x{byte.hex()} at position {exc.start}); commands go "
            f"as UTF-8 text: let the remote shell make the byte, e.g. \"$(printf '\\{byte[0]:03o}')\""
        )
        return EXIT_ERROR
    if args.wait:
        await _wait_up(client, args.alias, args.wait)
    if is_fanout(args.alias) or rolled(args):
        return await _fan_out(client, args, command)
    streamed = None if args.no_stdin else stdin_stream(force=args.stdin)
    if args.json:
        result = await client.run(args.alias, command, timeout=args.timeout, input=streamed, mode=args.mode)
        emit_json(_result_doc(result))
    else:
        result = await run_one(
            client, args.alias, command, Sink(), timeout=args.timeout, input=streamed, mode=args.mode
        )
        if result.error is not None or result.signal:
            say(result_note(result) or result.describe())
    return exit_status(result)


def rolled(args: argparse.Namespace) -> bool:
    """``--parallel``, ``--halt`` or ``--group``: a fan-out, even over one alias."""
    return args.parallel is not None or args.halt is not None or args.group


async def _fan_out(client: AsyncDaemonClient, args: argparse.Namespace, command: str) -> int:
    """``run`` on many channels: alias-prefixed lines (or the groups), then the summary line."""
    stdin = sys.stdin.buffer.read() if args.stdin else None
    options: dict[str, Any] = {"timeout": args.timeout, "input": stdin, "mode": args.mode}
    options.update(parallel=args.parallel, halt=args.halt)
    if args.json and args.group:
        groups = await client.run_many(command, selection(args.alias), group=True, **options)
        shown = [
            {"aliases": list(g.aliases), "folded": g.folded, "result": _outcome_doc(g.outcome, alias=False)}
            for g in groups
        ]
        emit_json({"groups": shown})
        return fanout_status({a: g.outcome for g in groups for a in g.aliases})
    if args.json:
        outcomes = await client.run_many(command, selection(args.alias), group=False, **options)
        emit_json({a: _outcome_doc(o) for a, o in ordered(outcomes).items()})
        return fanout_status(outcomes)
    sink = Sink(progress=sys.stderr.isatty())
    outcomes = await run_fanout(client, args.alias, command, sink, group=args.group, **options)
    summary = fanout_summary(ordered(outcomes))
    if summary:
        say(summary)
    return fanout_status(outcomes)


async def verb_status(client: AsyncDaemonClient, args: argparse.Namespace) -> int:
    shown = 0
    while True:
        channels = await chosen_channels(client, args.alias)
        if args.json:
            one = args.alias and not is_fanout(args.alias)
            doc: Any = channels[args.alias] if one else channels
            print(json.dumps(doc, sort_keys=True) if args.watch else json.dumps(doc, indent=2, sort_keys=True))
        else:
            if args.watch and sys.stdout.isatty():
                sys.stdout.write("\x1b[H\x1b[2J")
            if args.watch:
                print(f"Every {args.interval:g}s: sshpoolctl status\t{time.strftime('%Y-%m-%d %H:%M:%S')}")
            # A person at a terminal gets a header and a readable uptime; a script the classic tab layout.
            for line in (status_table if sys.stdout.isatty() else status_lines)(channels):
                print(line)
            if not channels and not args.watch:
                say("no channels yet; add one with `sshpoolctl start DSN`")
        sys.stdout.flush()
        shown += 1
        if not args.watch or (args.count is not None and shown >= args.count):
            return _checked(channels) if args.check else 0
        await asyncio.sleep(args.interval)


def _not_up(channels: dict[str, Any]) -> dict[str, str]:
    return {a: str(info.get("state")) for a, info in channels.items() if info.get("state") != "up"}


def _checked(channels: dict[str, Any]) -> int:
    """``status --check`` for monitoring: 0 when every channel listed is up, else 1 and the others."""
    down = _not_up(channels)
    if down:
        say("not up: " + ", ".join(f"{a} ({shown_state(state)})" for a, state in sorted(down.items())))
        return 1
    return 0


async def _wait_up(client: AsyncDaemonClient, target: str, seconds: float) -> None:
    """Until every channel ``target`` names is up, or ``seconds`` pass; then the command is sent
    as usual (a channel still down answers with its own error). Nothing runs twice: the command
    has not been sent yet."""
    deadline = time.monotonic() + seconds
    chosen = terms(target)
    while True:
        known = await client.status()
        try:
            picked = {a: known[a] for a in expand(chosen, tags_of(known)) if a in known}
        except SSHPoolError:
            return  # a glob that matches nothing: the run names it
        if not _not_up(picked) or time.monotonic() >= deadline:
            return
        await asyncio.sleep(min(0.2, max(0.0, deadline - time.monotonic())))


async def verb_start(client: AsyncDaemonClient, args: argparse.Namespace) -> int:
    answer = await client.start(args.dsn, wait=args.wait, tags=args.tags)
    if args.json:
        emit_json(answer)
    return await _started(client, answer, json_out=args.json)


async def _started(client: AsyncDaemonClient, answer: dict[str, Any], *, json_out: bool = False) -> int:
    """0 when the channel is up, or kept and retried for a reason that may pass (a refused or
    timed-out connect: a warning); 255 when it waits on the user (an unknown host key, a refused
    login)."""
    if answer["connected"]:
        if not json_out:
            print(answer["message"])
        return 0
    code = None
    with contextlib.suppress(SSHPoolError):
        code = (await client.info(answer["alias"])).get("last_error_code")
    if code in _NEEDS_YOU:
        if not json_out:
            say(answer["message"])
        return EXIT_ERROR
    if not json_out:
        say("warning: " + answer["message"])
    return 0


async def verb_update(client: AsyncDaemonClient, args: argparse.Namespace) -> int:
    answer = await client.update(args.alias, args.dsn)
    if args.json:
        emit_json(answer)
    return await _started(client, answer, json_out=args.json)


async def verb_tag(client: AsyncDaemonClient, args: argparse.Namespace) -> int:
    """``tag ALIAS`` shows a channel's tags; ``tag ALIAS web,prod`` gives it those in place of its
    own (``''`` clears them) without touching its links. One line either way: ``ALIAS<TAB>web,prod``."""
    if args.tags is not None:
        await client.update(args.alias, tags=args.tags)
    info = await client.info(args.alias)
    tags = [str(t) for t in info.get("tags") or ()]
    if args.json:
        emit_json({"alias": args.alias, "tags": tags})
    else:
        print(f"{args.alias}\t{','.join(tags)}")
    return 0


async def verb_stop(client: AsyncDaemonClient, args: argparse.Namespace) -> int:
    await client.stop(args.alias)
    if args.json:
        emit_json({"alias": args.alias, "stopped": True})
    else:
        print("OK")
    return 0


async def verb_hostkey(client: AsyncDaemonClient, args: argparse.Namespace) -> int:
    """One line in one format whatever the answer: ``ALIAS<TAB>KEYTYPE<TAB>SHA256:...<TAB>STATE``,
    STATE one of trusted, unknown, changed or unchecked (``-`` for what is not known yet)."""
    info = await client.info(args.alias)
    code = info.get("last_error_code")
    problem = code in ("host_key_unknown", "host_key_changed") and info.get("state") != "up"
    key = _key_parts(info.get("host_key") or fingerprint_in(info.get("last_error")))
    if args.action == "accept":
        fingerprint = await client.accept_host_key(args.alias)
        kind = key[0] if key[1] == fingerprint else "-"
        if args.json:
            emit_json({"alias": args.alias, "fingerprint": fingerprint, "key_type": kind, "trusted": True})
        else:
            print(f"{args.alias}\t{kind}\t{fingerprint}\ttrusted")
        return 0
    if problem:
        word = "unknown" if code == "host_key_unknown" else "changed"
    else:
        word = "trusted" if info.get("state") == "up" else "unchecked"
    if args.json:
        emit_json(
            {
                "alias": args.alias,
                "fingerprint": key[1] if key[1] != "-" else None,
                "key_type": key[0] if key[0] != "-" else None,
                "trusted": word == "trusted",
                "state": info.get("state"),
                "key_state": word,
            }
        )
        return 0
    print(f"{args.alias}\t{key[0]}\t{key[1]}\t{word}")
    if problem:
        say(f"if that fingerprint is right, trust it with `sshpoolctl hostkey accept {args.alias}`")
    elif word == "unchecked":
        say(f"{args.alias} is {shown_state(str(info.get('state')))}: its host key is checked when it connects")
    return 0


def _key_parts(text: str | None) -> tuple[str, str]:
    """``ssh-ed25519 SHA256:...`` as (type, fingerprint); ``-`` for a part not known."""
    kind, _, fp = (text or "").strip().rpartition(" ")
    return kind or "-", fp or "-"


async def verb_put(client: AsyncDaemonClient, args: argparse.Namespace) -> int:
    local = Path(args.local)
    if args.recursive:
        remote = args.remote or "."
        tell = _progress(args, f"{args.alias}:", "")
        return await _transfer(
            args,
            "put",
            local,
            remote,
            lambda: client.put_file(args.alias, local, remote, recursive=True, progress=tell),
        )
    remote = args.remote or local.name
    return await _transfer(args, "put", local, remote, lambda: client.put_file(args.alias, local, remote))


async def verb_get(client: AsyncDaemonClient, args: argparse.Namespace) -> int:
    local: Path | BinaryIO
    if args.recursive:
        if args.local == "-":
            say("get -r copies a directory to a local directory, not to stdout (-): give a path, or leave it out")
            return EXIT_ERROR
        into = Path(args.local or ".")
        tell = _progress(args, "", f"{args.alias}:")
        return await _transfer(
            args,
            "get",
            into,
            args.remote,
            lambda: client.get_file(args.alias, args.remote, into, recursive=True, progress=tell),
        )
    if args.local == "-":  # to stdout, as cat would; the byte count goes to stderr
        local = sys.stdout.buffer
    else:
        local = Path(args.local or PurePosixPath(args.remote).name)
        if local.is_dir():  # into it, as cp and scp do
            local = local / PurePosixPath(args.remote).name
    return await _transfer(args, "get", local, args.remote, lambda: client.get_file(args.alias, args.remote, local))


def _progress(args: argparse.Namespace, to: str, source: str) -> Callable[[Step], None]:
    """One note on stderr per file of a tree (none with --json): ``source -> target (N bytes)``."""

    def tell(step: Step) -> None:
        if args.json:
            return
        if step.size is None:
            say(f"skipped {source}{step.source}: {step.note}")
        else:
            say(f"{source}{step.source} -> {to}{step.target} ({step.size} bytes)")

    return tell


async def _transfer(
    args: argparse.Namespace,
    way: Literal["put", "get"],
    local: Path | BinaryIO,
    remote: str,
    copy: Callable[[], Awaitable[int]],
) -> int:
    """Files stream through ``/channels/<alias>/files``, as ``sshpool.connect(alias, daemon=True)``
    moves them; ``copy`` moves the bytes and gives their count. ``local`` is a path, or stdout for
    ``get ALIAS PATH -``."""
    shown = str(local) if isinstance(local, Path) else "-"
    try:
        size = await copy()
    except OSError as exc:
        there = f"{args.alias}:{remote}"
        source, target = (shown, there) if way == "put" else (there, shown)
        why = exc.strerror or str(exc)
        if isinstance(exc, IsADirectoryError) and not args.recursive:
            why = f"{source} is a directory: add -r to copy it with all it holds"
        say(f"cannot copy {source} to {target}: {why}")
        if args.json:
            emit_json({"error": "file_error", "exception": str(exc), "alias": args.alias})
        return EXIT_ERROR
    if args.json and isinstance(local, Path):
        emit_json({"alias": args.alias, "local": shown, "remote": remote, "size": size})
    elif isinstance(local, Path):
        print(f"{size} bytes")
    else:
        say(f"{size} bytes")  # stdout holds the file
    return 0


VERBS: dict[str, Verb] = {
    "doctor": verb_doctor,
    "run": verb_run,
    "status": verb_status,
    "start": verb_start,
    "stop": verb_stop,
    "tag": verb_tag,
    "update": verb_update,
    "hostkey": verb_hostkey,
    "put": verb_put,
    "get": verb_get,
    "import": verb_import,
}

#: The one-shot verbs the interactive shell takes as they are, beside its classic commands.
SHELL_VERBS = frozenset({"put", "get", "hostkey", "update", "doctor", "tag"})


async def run_verb(client: AsyncDaemonClient, args: argparse.Namespace) -> int:
    """The verb ``args.verb`` names, as ``sshpoolctl VERB ...`` or the shell runs it."""
    return await VERBS[args.verb](client, args)
