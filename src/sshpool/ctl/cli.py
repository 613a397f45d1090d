"""``sshpoolctl``: the classic interactive shell, and the same verbs as one-shot subcommands for
scripts (``sshpoolctl run web1 uptime``, ``sshpoolctl status --json``).

Exit statuses follow SPEC.md: the remote code, 124 for a timeout, 128+N for a signal, 255 for any
local or daemon-side error; a fan-out gives the highest remote code, or 255 if a channel failed.
Output goes to stdout, errors and notes to stderr, one line each.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass

from sshpool._version import __version__
from sshpool.client import NO_LIMIT, AsyncDaemonClient, CommandTimeout, Halt, find_daemon
from sshpool.clihelp import ClassicHelpFormatter
from sshpool.ctl.complete import SHELLS, completion_script
from sshpool.ctl.format import EXIT_ERROR, error_line
from sshpool.ctl.imports import IMPORT_SOURCES
from sshpool.ctl.run import selector_tags, tags_of
from sshpool.ctl.say import emit_json, reader_gone, say
from sshpool.ctl.shell import OneShot, Shell
from sshpool.ctl.terminal import ssh
from sshpool.ctl.verbs import SHELL_VERBS, run_verb
from sshpool.defaults import MODES, Settings
from sshpool.dsn import unique_tags
from sshpool.errors import DSNError, SSHPoolError

__all__ = ["Grammar", "build_parser", "daemon_url", "grammar", "main"]


@dataclass(frozen=True)
class Grammar:
    """sshpoolctl's parser, with the words the completion scripts offer, read off the parser as it
    is built so that a new verb or flag cannot be left out of them: the top-level ``options`` (as
    ``-h`` lists them) and the ``subcommands`` with their ``-h`` help, in ``-h`` order."""

    parser: argparse.ArgumentParser
    options: tuple[str, ...]
    subcommands: dict[str, str]


def grammar() -> Grammar:
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
    top = [
        g.add_argument("-h", "--help", action="help", help="show this help message and exit"),
        g.add_argument("--host", help="SSHPool interface (default: 127.0.0.1)"),
        g.add_argument("--port", type=_port, help="SSHPool listening port (default: 8877)"),
        g.add_argument("--json", action="store_true", default=False, help="machine-readable output"),
        g.add_argument("--version", action="version", version=f"sshpoolctl {__version__}"),
        g.add_argument(
            "--print-completion", choices=sorted(SHELLS), metavar="{bash,zsh}", help="print a shell completion script"
        ),
        g.add_argument("--complete-aliases", action="store_true", help=argparse.SUPPRESS),
        g.add_argument("--complete-selectors", action="store_true", help=argparse.SUPPRESS),
    ]
    subs = parser.add_subparsers(dest="verb", title="commands", metavar="COMMAND")

    def sub(name: str, help_text: str) -> argparse.ArgumentParser:
        p = subs.add_parser(
            name, prog=f"sshpoolctl {name}", help=help_text, description=help_text, formatter_class=ClassicHelpFormatter
        )
        p.add_argument("--json", action="store_true", default=argparse.SUPPRESS, help="machine-readable output")
        return p

    run = sub("run", "run a command on a channel, or on many: '*', 'web*' or web1,db1")
    run.add_argument(
        "--timeout",
        type=_command_timeout,
        metavar="SECONDS",
        help="seconds the command may run; 0 or none: no limit (default: the daemon's --command-timeout)",
    )
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
    run.add_argument(
        "--parallel",
        type=_count,
        metavar="N",
        help="a rolling run: at most N channels at once, started in alias order (default: all at once)",
    )
    run.add_argument(
        "--halt",
        type=_halt,
        metavar="first_failure|K",
        help="start no more channels after the first failure, or after K; the rest are skipped",
    )
    run.add_argument(
        "--group",
        action="store_true",
        help="print each distinct answer once under its hosts (web[01-03] (3)), as clush -b",
    )
    run.add_argument("alias", help="alias, glob ('*', 'web*'), @tag, @tag1+tag2, or a comma-separated list of them")
    run.add_argument("command", nargs=argparse.REMAINDER, help="the command; everything after the alias")

    status = sub("status", "show the channels, sorted: alias, user:pass@host:port, state, uptime")
    status.add_argument("alias", nargs="?", help="only these channels: an alias, a glob, @tag or a list, as run takes")
    status.add_argument("--watch", action="store_true", help="refresh until Ctrl-C")
    status.add_argument("--interval", type=_seconds, default=2.0, help="seconds between refreshes (default: 2)")
    status.add_argument("--count", type=int, help="stop after this many refreshes")
    status.add_argument(
        "--check", action="store_true", help="exit 1, naming them on stderr, when a channel listed is not up"
    )

    start = sub("start", "add a channel from a DSN alias://user:pass@host:port")
    start.add_argument("--wait", type=_seconds, help="seconds to wait for the first connect (default: the daemon's)")
    start.add_argument("--tags", type=_tags, metavar="TAG,...", help="tags for the channel, beside its DSN's ?tags")
    start.add_argument("dsn")

    update = sub("update", "change a channel's DSN (a new password, port or user), keeping its alias")
    update.add_argument("alias")
    update.add_argument("dsn")

    tag = sub("tag", "show a channel's tags, or give it new ones in place of its own ('' clears them)")
    tag.add_argument("alias")
    tag.add_argument("tags", nargs="?", type=_tags, metavar="TAG,...", help="e.g. web,prod; without it: show them")

    stop = sub("stop", "stop a channel")
    stop.add_argument("alias")

    put = sub("put", "copy a local file to a channel's host (streamed; the remote path is relative to the login dir)")
    put.add_argument("-r", "--recursive", action="store_true", help="copy a directory and all it holds, as scp -r")
    put.add_argument("alias")
    put.add_argument("local")
    put.add_argument("remote", nargs="?", help="default: the local file's name (with -r: into the login dir)")

    get = sub("get", "copy a file from a channel's host to here")
    get.add_argument("-r", "--recursive", action="store_true", help="copy a directory and all it holds, as scp -r")
    get.add_argument("alias")
    get.add_argument("remote")
    get.add_argument(
        "local", nargs="?", help="default: the remote file's name, in the current directory; - for stdout (a file only)"
    )

    imp = sub("import", "add channels from an inventory: ssh-config [PATH], ansible FILE (- for stdin), digitalocean")
    imp.add_argument("source", choices=IMPORT_SOURCES)
    imp.add_argument("file", nargs="?", help="ssh-config: a file under the daemon user's ~/.ssh; ansible: the JSON")
    imp.add_argument("--replace", action="store_true", help="replace the channels the inventory points elsewhere")
    imp.add_argument("--with-passwords", action="store_true", help="ansible: take ansible_password (never shown)")
    imp.add_argument("--tag", help="digitalocean: only the droplets with this tag")

    sub("doctor", "say how sshpoolctl finds the daemon and its token, and whether it answers")

    ssh = sub("ssh", "an interactive terminal on a channel, as ssh host (~. disconnects)")
    ssh.add_argument("alias")
    ssh.add_argument("command", nargs=argparse.REMAINDER, help="run this in the terminal instead of a login shell")

    hostkey = sub("hostkey", "show the host key a channel's host offers, or accept it")
    hostkey.add_argument("action", choices=("show", "accept"))
    hostkey.add_argument("alias")

    options = tuple(flag for action in top if action.help != argparse.SUPPRESS for flag in action.option_strings)
    commands = {name: p.description or "" for name, p in subs.choices.items()}
    return Grammar(parser, options, commands)


def build_parser() -> argparse.ArgumentParser:
    return grammar().parser


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


def _count(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"invalid number of channels {text!r}: give a whole number, 1 or more")
    return int(text)


def _tags(text: str) -> list[str]:
    """``web,prod`` as its names, each checked by the tag grammar; ``''`` as none."""
    names = [t.strip() for t in text.split(",") if t.strip()]
    try:
        return list(unique_tags(names))
    except DSNError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _halt(text: str) -> Halt:
    if text == "first_failure":
        return "first_failure"
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(
            f"invalid halt {text!r}: give first_failure, or a whole number of failures, 1 or more"
        )
    return int(text)


def _command_timeout(text: str) -> CommandTimeout:
    """``--timeout``, read by sshpoold's own rule for --command-timeout (:meth:`Settings.parse`):
    seconds, or 0, none or off for no limit, which goes to the daemon as ``"none"``."""
    try:
        seconds = Settings.parse("command_timeout", text)
    except ValueError as exc:  # a negative number is refused as the daemon refuses it; any other text:
        why = str(exc) if text.strip().startswith("-") else f"invalid number of seconds {text!r}"
        raise argparse.ArgumentTypeError(why if "no limit" in why else f"{why} (0, none or off: no limit)") from None
    return NO_LIMIT if seconds is None or seconds == math.inf else float(seconds)


def daemon_url(args: argparse.Namespace) -> str | None:
    """SPEC.md's order: SSHPOOL_URL, then --host/--port, then the client's own search (daemon.json,
    then 127.0.0.1:8877). SSHPOOL_URL is read by the client's rule (:func:`find_daemon`) and handed
    back as the client's address, so that it wins over the flags; None leaves the search to the
    client."""
    found = find_daemon()
    if found.source == "SSHPOOL_URL":
        return f"unix:{found.socket}" if found.socket else found.url
    if args.host or args.port:
        host = args.host or "127.0.0.1"
        host = f"[{host}]" if ":" in host and not host.startswith("[") else host
        return f"http://{host}:{args.port or 8877}"
    return None


async def _one_shot(client: AsyncDaemonClient, args: argparse.Namespace) -> int:
    try:
        return await run_verb(client, args)
    finally:
        await client.aclose()


def _complete_aliases(client: AsyncDaemonClient, *, tags: bool = False) -> int:
    """The aliases, one a line (and with ``tags``, then each tag in use as ``@tag``), for the
    completion scripts."""

    async def names() -> list[str]:
        try:
            known = await client.status()
        finally:
            await client.aclose()
        words = sorted(known, key=str.casefold)
        return words + (selector_tags(tags_of(known)) if tags else [])

    try:
        print("\n".join(asyncio.run(names())))
    except SSHPoolError:
        pass
    return 0


def _shell(client: AsyncDaemonClient, parser: argparse.ArgumentParser) -> int:
    verbs = OneShot(SHELL_VERBS, parser.parse_args, run_verb)
    shell = Shell(client, interactive=sys.stdin.isatty(), verbs=verbs)
    try:
        shell.cmdloop()
    except KeyboardInterrupt:  # Ctrl-C at the prompt: the intro's way out
        print(file=shell.stdout)
        shell.postloop()
        return 0
    return shell.status


def main(argv: Sequence[str] | None = None) -> int:
    words = grammar()
    try:
        args = words.parser.parse_args(argv)
    except SystemExit as exc:  # a usage error is a local error: 255, never a remote code such as 2
        return EXIT_ERROR if exc.code == 2 else int(exc.code or 0)
    if args.print_completion:
        sys.stdout.write(completion_script(args.print_completion, words.subcommands, words.options))
        return 0
    try:
        client = AsyncDaemonClient(daemon_url(args), client_id=f"sshpoolctl-{os.getpid()}")
    except SSHPoolError as exc:
        say(error_line(exc))
        return EXIT_ERROR
    if args.complete_aliases or args.complete_selectors:
        return _complete_aliases(client, tags=args.complete_selectors)
    if args.verb is None:
        return _shell(client, words.parser)
    if args.verb == "ssh":  # here only with what the lean path leaves (an https daemon, flags after the verb)
        address = (client.endpoint.url, client.endpoint.socket, client.endpoint.source, "")
        return ssh(address, client.auth_headers(), args.alias, args.command)
    try:
        return asyncio.run(_one_shot(client, args))
    except SSHPoolError as exc:
        if args.json:
            emit_json({"error": exc.code, "exception": str(exc), "alias": exc.alias})
        say(error_line(exc))
        return EXIT_ERROR
    except KeyboardInterrupt:
        say("interrupted: the command was cancelled")
        return 130
    except BrokenPipeError:
        return reader_gone()
