"""``sshpoolctl``: the classic interactive shell, and the same verbs as one-shot subcommands for
scripts (``sshpoolctl run web1 uptime``, ``sshpoolctl status --json``).

Exit statuses follow SPEC.md: the remote code, 124 for a timeout, 128+N for a signal, 255 for any
local or daemon-side error; a fan-out gives the highest remote code, or 255 if a channel failed.
Output goes to stdout, errors and notes to stderr, one line each.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import sys
import time
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path, PurePosixPath
from typing import Any, BinaryIO

from sshpool._version import __version__
from sshpool.client import AsyncDaemonClient, pid_alive
from sshpool.clihelp import ClassicHelpFormatter
from sshpool.ctl.complete import SHELLS, completion_script
from sshpool.ctl.format import (
    EXIT_ERROR,
    error_line,
    exit_status,
    fanout_status,
    fingerprint_in,
    result_note,
    shown_state,
    status_lines,
)
from sshpool.ctl.input import stdin_stream
from sshpool.ctl.run import Sink, is_fanout, ordered, run_fanout, run_one, selection
from sshpool.ctl.shell import OneShot, Shell
from sshpool.defaults import MODES, default_state_dir
from sshpool.errors import SSHPoolError
from sshpool.result import Result
from sshpool.selectors import expand, terms

__all__ = ["build_parser", "main"]

Verb = Callable[[AsyncDaemonClient, argparse.Namespace], Awaitable[int]]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sshpoolctl",
        usage="%(prog)s [-h] [--host HOST] [--port PORT] [COMMAND ...]",
        formatter_class=ClassicHelpFormatter,
        add_help=False,
        epilog="Without a COMMAND: the interactive shell (or, with commands on a pipe, each line run in turn). "
        "The daemon is found from SSHPOOL_URL, --host/--port, daemon.json in the state dir, then "
        "127.0.0.1:8877; the token from SSHPOOL_TOKEN, then the state dir's token file.",
    )
    g = parser.add_argument_group("optional arguments")
    g.add_argument("-h", "--help", action="help", help="show this help message and exit")
    g.add_argument("--host", help="SSHPool interface (default: 127.0.0.1)")
    g.add_argument("--port", type=_port, help="SSHPool listening port (default: 8877)")
    g.add_argument("--json", action="store_true", default=False, help="machine-readable output")
    g.add_argument("--version", action="version", version=f"sshpoolctl {__version__}")
    g.add_argument(
        "--print-completion", choices=sorted(SHELLS), metavar="{bash,zsh}", help="print a shell completion script"
    )
    g.add_argument("--complete-aliases", action="store_true", help=argparse.SUPPRESS)
    subs = parser.add_subparsers(dest="verb", title="commands", metavar="COMMAND")

    def sub(name: str, help_text: str) -> argparse.ArgumentParser:
        p = subs.add_parser(name, help=help_text, description=help_text)
        p.add_argument("--json", action="store_true", default=argparse.SUPPRESS, help="machine-readable output")
        return p

    run = sub("run", "run a command on a channel, or on many: '*', 'web*' or web1,db1")
    run.add_argument("--timeout", type=_seconds, help="seconds the command may run (default: the daemon's)")
    feed = run.add_mutually_exclusive_group()
    feed.add_argument(
        "--stdin",
        action="store_true",
        help="send this process's stdin to the command even from a terminal (a pipe or a file is sent anyway)",
    )
    feed.add_argument("-n", dest="no_stdin", action="store_true", help="send no stdin, as ssh -n")
    run.add_argument(
        "--mode",
        choices=MODES,
        help="exec: a session per command; shell: a warm shell (default: the channel's)",
    )
    run.add_argument(
        "--wait",
        type=_seconds,
        metavar="SECONDS",
        help="wait up to SECONDS for a channel that is (re)connecting instead of failing at once",
    )
    run.add_argument("alias", help="alias, glob ('*', 'web*') or comma-separated aliases")
    run.add_argument("command", nargs=argparse.REMAINDER, help="the command; everything after the alias")

    status = sub("status", "show the channels, sorted: alias, user:pass@host:port, state, uptime")
    status.add_argument("alias", nargs="?", help="only this channel")
    status.add_argument("--watch", action="store_true", help="refresh until Ctrl-C")
    status.add_argument("--interval", type=_seconds, default=2.0, help="seconds between refreshes (default: 2)")
    status.add_argument("--count", type=int, help="stop after this many refreshes")
    status.add_argument(
        "--check", action="store_true", help="exit 1, naming them on stderr, when a channel listed is not up"
    )

    start = sub("start", "add a channel from a DSN alias://user:pass@host:port")
    start.add_argument("--wait", type=_seconds, help="seconds to wait for the first connect (default: the daemon's)")
    start.add_argument("dsn")

    update = sub("update", "change a channel's DSN (a new password, port or user), keeping its alias")
    update.add_argument("alias")
    update.add_argument("dsn")

    stop = sub("stop", "stop a channel")
    stop.add_argument("alias")

    put = sub("put", "copy a local file to a channel's host (streamed; the remote path is relative to the login dir)")
    put.add_argument("alias")
    put.add_argument("local")
    put.add_argument("remote", nargs="?", help="default: the local file's name")

    get = sub("get", "copy a file from a channel's host to here")
    get.add_argument("alias")
    get.add_argument("remote")
    get.add_argument("local", nargs="?", help="default: the remote file's name, in the current directory; - for stdout")

    sub("doctor", "say how sshpoolctl finds the daemon and its token, and whether it answers")

    hostkey = sub("hostkey", "show the host key a channel's host offers, or accept it")
    hostkey.add_argument("action", choices=("show", "accept"))
    hostkey.add_argument("alias")
    return parser


def _port(text: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= 65535:
        raise argparse.ArgumentTypeError(f"invalid port {text!r}: use a number from 1 to 65535")
    return int(text)


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid number of seconds {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"{text!r}: give a number of seconds above 0")
    return value


def daemon_url(args: argparse.Namespace) -> str | None:
    """SPEC.md's order: SSHPOOL_URL, then --host/--port, then the client's own search."""
    if os.environ.get("SSHPOOL_URL"):
        return os.environ["SSHPOOL_URL"]
    if args.host or args.port:
        host = args.host or "127.0.0.1"
        host = f"[{host}]" if ":" in host and not host.startswith("[") else host
        return f"http://{host}:{args.port or 8877}"
    return None


def _say(text: str) -> None:
    sys.stdout.flush()
    print(f"sshpoolctl: {text}", file=sys.stderr, flush=True)


def _emit_json(doc: Any) -> None:
    print(json.dumps(doc, indent=2, sort_keys=True, ensure_ascii=False), flush=True)


def _result_doc(result: Result) -> dict[str, Any]:
    return {"alias": result.alias, **result.to_dict()}


def _outcome_doc(outcome: Result | SSHPoolError) -> dict[str, Any]:
    if isinstance(outcome, SSHPoolError):
        return {"alias": outcome.alias, "error": outcome.code, "exception": str(outcome)}
    return _result_doc(outcome)


# -- verbs


async def verb_run(client: AsyncDaemonClient, args: argparse.Namespace) -> int:
    command = " ".join(args.command)
    if not command.strip():
        _say("usage: sshpoolctl run ALIAS COMMAND...   e.g. sshpoolctl run web1 uptime")
        return EXIT_ERROR
    try:
        command.encode("utf-8")
    except UnicodeEncodeError as exc:  # argv bytes that are not UTF-8 arrive as lone surrogates
        byte = command[exc.start].encode("utf-8", "surrogateescape")
        _say(
            f"the command holds a byte that is not UTF-8 (0x{byte.hex()} at position {exc.start}); commands go "
            f"as UTF-8 text: let the remote shell make the byte, e.g. \"$(printf '\\{byte[0]:03o}')\""
        )
        return EXIT_ERROR
    if args.wait:
        await _wait_up(client, args.alias, args.wait)
    if is_fanout(args.alias):
        stdin = sys.stdin.buffer.read() if args.stdin else None
        if args.json:
            outcomes = await client.run_many(
                command, selection(args.alias), timeout=args.timeout, input=stdin, mode=args.mode
            )
            _emit_json({a: _outcome_doc(o) for a, o in ordered(outcomes).items()})
        else:
            sink = Sink(progress=sys.stderr.isatty())
            outcomes = await run_fanout(
                client, args.alias, command, sink, timeout=args.timeout, input=stdin, mode=args.mode
            )
            failed = [a for a, o in ordered(outcomes).items() if fanout_status({a: o}) != 0]
            if failed:
                _say(f"{len(failed)} of {len(outcomes)} channels failed: {', '.join(failed)}")
        return fanout_status(outcomes)
    streamed = None if args.no_stdin else stdin_stream(force=args.stdin)
    if args.json:
        result = await client.run(args.alias, command, timeout=args.timeout, input=streamed, mode=args.mode)
        _emit_json(_result_doc(result))
    else:
        result = await run_one(
            client, args.alias, command, Sink(), timeout=args.timeout, input=streamed, mode=args.mode
        )
        if result.error is not None or result.signal:
            _say(result_note(result) or result.describe())
    return exit_status(result)


async def verb_status(client: AsyncDaemonClient, args: argparse.Namespace) -> int:
    shown = 0
    while True:
        if args.alias:
            channels = {args.alias: await client.info(args.alias)}
        else:
            channels = await client.status()
        if args.json:
            doc: Any = channels[args.alias] if args.alias else channels
            print(json.dumps(doc, sort_keys=True) if args.watch else json.dumps(doc, indent=2, sort_keys=True))
        else:
            if args.watch and sys.stdout.isatty():
                sys.stdout.write("\x1b[H\x1b[2J")
            if args.watch:
                print(f"Every {args.interval:g}s: sshpoolctl status\t{time.strftime('%Y-%m-%d %H:%M:%S')}")
            for line in status_lines(channels):
                print(line)
            if not channels and not args.watch:
                _say("no channels yet; add one with `sshpoolctl start DSN`")
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
        _say("not up: " + ", ".join(f"{a} ({shown_state(state)})" for a, state in sorted(down.items())))
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
            picked = {a: known[a] for a in expand(chosen, known) if a in known}
        except SSHPoolError:
            return  # a glob that matches nothing: the run names it
        if not _not_up(picked) or time.monotonic() >= deadline:
            return
        await asyncio.sleep(min(0.2, max(0.0, deadline - time.monotonic())))


async def verb_start(client: AsyncDaemonClient, args: argparse.Namespace) -> int:
    answer = await client.start(args.dsn, wait=args.wait)
    if args.json:
        _emit_json(answer)
    return await _started(client, answer, json_out=args.json)


#: Reasons a retry cannot cure: the user must act, so start says so with status 255.
_NEEDS_YOU = frozenset({"auth_failed", "host_key_unknown", "host_key_changed"})


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
            _say(answer["message"])
        return EXIT_ERROR
    if not json_out:
        _say("warning: " + answer["message"])
    return 0


async def verb_update(client: AsyncDaemonClient, args: argparse.Namespace) -> int:
    answer = await client.update(args.alias, args.dsn)
    if args.json:
        _emit_json(answer)
    return await _started(client, answer, json_out=args.json)


async def verb_stop(client: AsyncDaemonClient, args: argparse.Namespace) -> int:
    await client.stop(args.alias)
    if args.json:
        _emit_json({"alias": args.alias, "stopped": True})
    else:
        print("OK")
    return 0


async def verb_hostkey(client: AsyncDaemonClient, args: argparse.Namespace) -> int:
    if args.action == "accept":
        fingerprint = await client.accept_host_key(args.alias)
        if args.json:
            _emit_json({"alias": args.alias, "fingerprint": fingerprint, "trusted": True})
        else:
            print(f"{args.alias}\t{fingerprint}\ttrusted")
        return 0
    info = await client.info(args.alias)
    code = info.get("last_error_code")
    problem = code in ("host_key_unknown", "host_key_changed") and info.get("state") != "up"
    shown_fp = fingerprint_in(info.get("last_error")) if problem else None
    word: str = ("unknown" if code == "host_key_unknown" else "changed") if problem else "trusted"
    if args.json:
        _emit_json({"alias": args.alias, "fingerprint": shown_fp, "trusted": not problem, "state": info.get("state")})
    elif problem:
        print(f"{args.alias}\t{shown_fp or '?'}\t{word}")
        _say(f"if that fingerprint is right, trust it with `sshpoolctl hostkey accept {args.alias}`")
    else:
        where = f"{info.get('host')}:{info.get('port')}"
        seen = word if info.get("state") == "up" else f"not checked yet: {info.get('state')}"
        print(f"{args.alias}\t{where}\t{seen}")
    return 0


async def verb_put(client: AsyncDaemonClient, args: argparse.Namespace) -> int:
    remote = args.remote or Path(args.local).name
    return await _transfer(client, args, "put", Path(args.local), remote)


async def verb_get(client: AsyncDaemonClient, args: argparse.Namespace) -> int:
    if args.local == "-":  # to stdout, as cat would; the byte count goes to stderr
        return await _transfer(client, args, "get", sys.stdout.buffer, args.remote)
    local = Path(args.local or PurePosixPath(args.remote).name)
    return await _transfer(client, args, "get", local, args.remote)


async def _transfer(
    client: AsyncDaemonClient, args: argparse.Namespace, way: str, local: Path | BinaryIO, remote: str
) -> int:
    """Files stream through ``/channels/<alias>/files``, as ``sshpool.connect(alias, daemon=True)``
    moves them. ``local`` is a path, or stdout for ``get ALIAS PATH -``."""
    shown = str(local) if isinstance(local, Path) else "-"
    try:
        if way == "put":
            assert isinstance(local, Path)
            size = await client.put_file(args.alias, local, remote)
        else:
            size = await client.get_file(args.alias, remote, local)
    except OSError as exc:
        source, target = (shown, f"{args.alias}:{remote}") if way == "put" else (f"{args.alias}:{remote}", shown)
        _say(f"cannot copy {source} to {target}: {exc.strerror or exc}")
        if args.json:
            _emit_json({"error": "file_error", "exception": str(exc), "alias": args.alias})
        return EXIT_ERROR
    if args.json and isinstance(local, Path):
        _emit_json({"alias": args.alias, "local": shown, "remote": remote, "size": size})
    elif isinstance(local, Path):
        print(f"{size} bytes")
    else:
        _say(f"{size} bytes")  # stdout holds the file
    return 0


async def verb_doctor(client: AsyncDaemonClient, args: argparse.Namespace) -> int:
    """Discovery, resolved: what a "not running" or a "refused the token" comes from."""
    state = default_state_dir()
    state_from = "SSHPOOL_STATE_DIR" if os.environ.get("SSHPOOL_STATE_DIR") else "default"
    source = client.endpoint.source
    if source == "argument":
        source = "SSHPOOL_URL" if os.environ.get("SSHPOOL_URL") else "--host/--port"
    report: dict[str, Any] = {
        "daemon": client.url,
        "daemon_from": source,
        "state_dir": str(state),
        "state_dir_from": state_from,
        "daemon_json": _daemon_json_state(state / "daemon.json"),
        "token_from": client.token_source if client.has_token else f"none: {client.token_source}",
    }
    ok = True
    try:
        health = await client.health()
        report["reachable"] = "yes" if health["alive"] else "answers, but not as a healthy sshpoold"
        report["channels"] = len(await client.status())
        report["token"] = "accepted"  # noqa: S105 (a word, not a secret)
    except SSHPoolError as exc:
        ok = False
        report.setdefault("reachable", "yes" if exc.code != "daemon_unavailable" else "no")
        report["problem"] = error_line(exc)
    if args.json:
        _emit_json(report)
    else:
        width = max(len(k) for k in report)
        for key, value in report.items():
            print(f"{key.replace('_', ' '):<{width}}  {value}")
    return 0 if ok else EXIT_ERROR


def _daemon_json_state(path: Path) -> str:
    try:
        info = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return f"{path}: none (no sshpoold has run with this state dir, or it stopped)"
    except (OSError, ValueError) as exc:
        return f"{path}: unreadable ({exc})"
    if not isinstance(info, dict):
        return f"{path}: not a daemon.json (no JSON object)"
    pid = info.get("pid")
    where = info.get("url") or (f"unix:{info['socket']}" if info.get("socket") else "?")
    alive = pid_alive(pid)
    return f"{path}: pid {pid} on {where}, " + ("running" if alive else "not running (left over)")


#: The one-shot verbs the interactive shell takes as they are, beside its classic commands.
SHELL_VERBS = ("put", "get", "hostkey", "update", "doctor")

VERBS: dict[str, Verb] = {
    "doctor": verb_doctor,
    "run": verb_run,
    "status": verb_status,
    "start": verb_start,
    "stop": verb_stop,
    "update": verb_update,
    "hostkey": verb_hostkey,
    "put": verb_put,
    "get": verb_get,
}


async def _one_shot(verb: Verb, client: AsyncDaemonClient, args: argparse.Namespace) -> int:
    try:
        return await verb(client, args)
    finally:
        await client.aclose()


def _complete_aliases(client: AsyncDaemonClient) -> int:
    async def names() -> list[str]:
        try:
            return sorted(await client.status(), key=str.casefold)
        finally:
            await client.aclose()

    try:
        print("\n".join(asyncio.run(names())))
    except SSHPoolError:
        pass
    return 0


def _shell(client: AsyncDaemonClient) -> int:
    interactive = sys.stdin.isatty()
    parser = build_parser()

    async def run_verb(c: AsyncDaemonClient, args: argparse.Namespace) -> int:
        return await VERBS[args.verb](c, args)

    verbs = OneShot(frozenset(SHELL_VERBS), parser.parse_args, run_verb)
    shell = Shell(client, interactive=interactive, verbs=verbs)
    try:
        shell.cmdloop()
    except KeyboardInterrupt:  # Ctrl-C at the prompt: the intro's way out
        print(file=shell.stdout)
        shell.postloop()
        return 0
    return shell.status


def main(argv: Sequence[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exc:  # a usage error is a local error: 255, never a remote code such as 2
        return EXIT_ERROR if exc.code == 2 else int(exc.code or 0)
    if args.print_completion:
        sys.stdout.write(completion_script(args.print_completion))
        return 0
    try:
        client = AsyncDaemonClient(daemon_url(args), client_id=f"sshpoolctl-{os.getpid()}")
    except SSHPoolError as exc:
        _say(error_line(exc))
        return EXIT_ERROR
    if args.complete_aliases:
        return _complete_aliases(client)
    if args.verb is None:
        return _shell(client)
    try:
        return asyncio.run(_one_shot(VERBS[args.verb], client, args))
    except SSHPoolError as exc:
        if args.json:
            _emit_json({"error": exc.code, "exception": str(exc), "alias": exc.alias})
        _say(error_line(exc))
        return EXIT_ERROR
    except KeyboardInterrupt:
        _say("interrupted: the command was cancelled")
        return 130
    except BrokenPipeError:
        return _reader_gone()


def _reader_gone() -> int:
    """stdout's reader went away (``| head``): the remote command was stopped when its stream
    closed; end quietly, as a filter does, and keep Python from failing again at exit on the
    flush of a dead pipe."""
    with contextlib.suppress(OSError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    return EXIT_ERROR
