"""The interactive shell of sshpoolctl: the classic intro, prompt, help and commands, plus
completion, history, live output, fan-out, Ctrl-D to leave and Ctrl-C to cancel a command.

Every command runs on one event loop (``asyncio.Runner``): Ctrl-C during a command cancels its
task, which closes the request, and the daemon signals the remote command; the shell stays.
Reading from a pipe (``sshpoolctl < script``) there is no intro, no prompt and no history.
"""

from __future__ import annotations

import argparse
import asyncio
import cmd
import contextlib
import shlex
import sys
import termios
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import IO, Any, TypeVar

from sshpool.client import AsyncDaemonClient
from sshpool.ctl.format import EXIT_ERROR, error_line, exit_status, fanout_status, result_note, status_lines
from sshpool.ctl.history import History
from sshpool.ctl.run import TERMINAL, Sink, chosen_channels, is_fanout, run_fanout, run_one, selector_tags, tags_of
from sshpool.errors import SSHPoolError

__all__ = ["COMMANDS", "OneShot", "Shell"]

T = TypeVar("T")
COMMANDS = ("exit", "help", "quit", "run", "start", "status", "stop")
INTRO = "==> Press Ctrl-C to exit <=="


def _echoes_ctrl_c() -> bool:
    """Whether the terminal on stdin echoes a Ctrl-C as ``^C`` itself (ECHO and ECHOCTL)."""
    try:
        lflag = termios.tcgetattr(sys.stdin.fileno())[3]
    except (termios.error, OSError, ValueError):
        return False
    return bool(lflag & termios.ECHO and lflag & termios.ECHOCTL)


@dataclass(frozen=True)
class OneShot:
    """The one-shot CLI's verbs, handed in by ``sshpoolctl`` (which builds its parser): ``parse``
    turns ``[verb, *words]`` into arguments, ``run`` runs them on a daemon client."""

    names: frozenset[str]
    parse: Callable[[list[str]], argparse.Namespace]
    run: Callable[[AsyncDaemonClient, argparse.Namespace], Awaitable[int]]


HELP = {
    "run": "run <alias> <cmd>\tRun arbitrary commands over a channel",
    "start": "start <dsn>\tAdd a new channel",
    "status": "status\t\tView status of started channels",
    "stop": "stop <alias>\tStop an existing channel",
    "exit": "exit\t\tExit sshpoolctl shell",
    "quit": "quit\t\tExit sshpoolctl shell",
}
_ALIAS_CACHE_SECONDS = 2.0


class Shell(cmd.Cmd):
    """The classic shell. ``status`` is the exit status of the last command, for ``sshpoolctl < script``."""

    prompt = "sshpool> "
    ruler = "~"
    doc_header = "Documented commands (type help <topic>):"

    def __init__(
        self,
        client: AsyncDaemonClient,
        *,
        interactive: bool,
        stdin: IO[str] | None = None,
        stdout: IO[str] | None = None,
        verbs: OneShot | None = None,
    ) -> None:
        super().__init__(stdin=stdin, stdout=stdout)
        self.client = client
        self.verbs = verbs
        self.interactive = interactive
        self.use_rawinput = interactive
        self.intro = INTRO if interactive else None
        if not interactive:
            self.prompt = ""
        self.status = 0
        self.runner = asyncio.Runner()
        self._aliases: tuple[float, list[str]] = (0.0, [])
        self._history: History | None = None

    def call(self, work: Callable[[], Awaitable[T]]) -> T:
        async def main() -> T:
            return await work()

        coro = main()
        try:
            return self.runner.run(coro)
        finally:
            coro.close()  # a Ctrl-C before the loop started it: no "never awaited" warning

    def preloop(self) -> None:
        if not self.interactive:
            return
        try:  # say at once when the daemon is down or the token wrong, not at the first command
            self.call(self.client.status)
        except SSHPoolError as exc:
            self.intro = f"{INTRO}\nerror: {error_line(exc)}"
        self._history = History.open()

    def precmd(self, line: str) -> str:
        if line == "EOF":  # Ctrl-D, or the end of a script
            if self.interactive:
                self.stdout.write("\n")
            return "exit"
        if line.lstrip().startswith("#"):
            return ""
        if self._history is not None:
            self._history.record(line)
        return line

    def postcmd(self, stop: bool, line: str) -> bool:
        """Output that ended mid-line (``printf x``) gets its line ended, so the prompt starts its own."""
        if self.interactive and TERMINAL.mid_line:
            sys.stdout.flush()
            self.stdout.write("\n")
            self.stdout.flush()
        TERMINAL.mid_line = False
        return stop

    def postloop(self) -> None:
        with contextlib.suppress(Exception):
            self.call(self.client.aclose)
        self.runner.close()

    def emptyline(self) -> bool:
        return False  # cmd.Cmd would repeat the last command: never for `run`

    def default(self, line: str) -> None:
        word = line.split()[0] if line.split() else line
        if self.verbs is not None and word in self.verbs.names:
            self.one_shot(line)
            return
        self.fail(f"unknown command {word!r}; the commands are {', '.join(COMMANDS)} (type help <topic>)")

    def one_shot(self, line: str) -> None:
        """A one-shot verb (``put``, ``get``, ``hostkey``, ``update``, ``doctor``, ``run`` with
        flags) as ``sshpoolctl VERB ...`` runs it, on this shell's daemon client; stdin stays the
        shell's (``-n``)."""
        assert self.verbs is not None
        try:
            words = shlex.split(line)
        except ValueError as exc:
            self.fail(f"cannot parse the line: {exc}")
            return
        try:
            args = self.verbs.parse(words)
        except SystemExit:  # argparse said why on stderr
            self.status = EXIT_ERROR
            return
        args.no_stdin = True
        verb = self.verbs.run
        self.guarded(lambda: verb(self.client, args))

    def fail(self, message: str, status: int = EXIT_ERROR) -> None:
        sys.stdout.flush()
        print(f"error: {message}", file=sys.stderr, flush=True)
        TERMINAL.saw(b"\n")
        self.status = status

    def guarded(self, work: Callable[[], Awaitable[int]]) -> None:
        """Run a command: SSHPool errors become one line, Ctrl-C cancels only this command."""
        try:
            self.status = self.call(work)
        except SSHPoolError as exc:
            self.fail(error_line(exc))
        except KeyboardInterrupt:
            sys.stdout.flush()
            caret = "" if _echoes_ctrl_c() else "^C"  # the terminal already showed it
            print(f"{caret}: cancelled; the daemon stopped the command", file=sys.stderr, flush=True)
            TERMINAL.saw(b"\n")
            self.status = 130
        sys.stdout.flush()

    def get_names(self) -> list[str]:
        return [f"do_{c}" for c in COMMANDS] + [f"help_{c}" for c in HELP]

    def _help(self, name: str) -> None:
        self.stdout.write(HELP[name] + "\n")

    def help_run(self) -> None:
        self._help("run")

    def help_start(self) -> None:
        self._help("start")

    def help_status(self) -> None:
        self._help("status")

    def help_stop(self) -> None:
        self._help("stop")

    def help_exit(self) -> None:
        self._help("exit")

    def help_quit(self) -> None:
        self._help("quit")

    def do_exit(self, arg: str) -> bool:
        """Leave the shell."""
        return True

    def do_quit(self, arg: str) -> bool:
        """Leave the shell."""
        return True

    def do_run(self, arg: str) -> None:
        """Run a command; the text after the alias is sent exactly as typed."""
        arg = arg.lstrip()
        if arg.startswith("-") and self.verbs is not None:  # run --timeout 5 --json web1 cmd
            self.one_shot("run " + arg)
            return
        head, _, command = arg.partition(" ")
        command = command.lstrip(" \t")
        if not head or not command:
            self.fail("usage: run <alias> <cmd>   (or run '*' <cmd> for every channel)")
            return
        try:
            target = shlex.split(head)[0] if head[0] in "'\"" else head
        except (ValueError, IndexError):
            target = head.strip("'\"")
        sink = Sink(progress=self.interactive and sys.stderr.isatty())
        if is_fanout(target):

            async def many() -> int:
                return fanout_status(await run_fanout(self.client, target, command, sink))

            self.guarded(many)
            return

        async def one() -> int:
            result = await run_one(self.client, target, command, sink)
            note = result_note(result)
            if note:
                if sink.last_out not in (b"", b"\n") and sink.out.isatty():
                    sink.write("stdout", b"\n")
                sink.note(note)
            return exit_status(result)

        self.guarded(one)

    def do_start(self, arg: str) -> None:
        """Add a channel from a DSN."""
        dsn = arg.strip()
        if not dsn:
            self.fail("usage: start <dsn>   e.g. start web1://deploy@10.0.0.5:22")
            return

        async def start() -> int:
            answer = await self.client.start(dsn)
            print(answer["message"], file=self.stdout if answer["connected"] else sys.stderr, flush=True)
            return 0 if answer["connected"] else EXIT_ERROR

        self.guarded(start)

    def do_status(self, arg: str) -> None:
        """Show the channels (or those an alias, glob or @tag selects), sorted and aligned."""
        alias = arg.strip()

        async def status() -> int:
            channels = await chosen_channels(self.client, alias or None)
            for line in status_lines(channels):
                self.stdout.write(line + "\n")
            if not channels and self.interactive:
                print("no channels yet; add one with `start <dsn>`", file=sys.stderr)
            return 0

        self.guarded(status)

    def do_stop(self, arg: str) -> None:
        """Stop a channel and forget it."""
        alias = arg.strip()
        if not alias:
            self.fail("usage: stop <alias>")
            return

        async def stop() -> int:
            await self.client.stop(alias)
            self.stdout.write("OK\n")
            return 0

        self.guarded(stop)

    def aliases(self) -> list[str]:
        """The aliases, then each tag in use as ``@tag`` (for what takes a selector), read from the
        daemon at most every two seconds."""
        stamp, names = self._aliases
        if time.monotonic() - stamp > _ALIAS_CACHE_SECONDS:
            try:
                known = tags_of(self.call(self.client.status))
                names = sorted(known, key=str.casefold) + selector_tags(known)
            except (SSHPoolError, KeyboardInterrupt):
                names = []
            self._aliases = (time.monotonic(), names)
        return names

    def _complete_alias(self, text: str, line: str, begidx: int, *, tags: bool = False) -> list[str]:
        if len(line[:begidx].split()) != 1:
            return []
        words = [a for a in self.aliases() if tags or not a.startswith("@")]
        return [a + " " for a in words if a.casefold().startswith(text.casefold())]

    def complete_run(self, text: str, line: str, begidx: int, endidx: int) -> list[str]:
        return self._complete_alias(text, line, begidx, tags=True)

    def complete_stop(self, text: str, line: str, begidx: int, endidx: int) -> list[str]:
        return self._complete_alias(text, line, begidx)

    def complete_status(self, text: str, line: str, begidx: int, endidx: int) -> list[str]:
        return self._complete_alias(text, line, begidx, tags=True)

    def completenames(self, text: str, *ignored: Any) -> list[str]:
        return [c + " " for c in COMMANDS if c.startswith(text)]

    def complete_help(self, *args: Any) -> list[str]:
        return [c for c in COMMANDS if c.startswith(args[0])]
