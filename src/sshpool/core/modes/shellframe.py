"""The text a warm shell runs and the framing of each command sent to it (pure, unit-testable).

A warm shell is one long-lived SSH session running the user's login shell with :data:`driver` as
its command: start-up files run once, then it reads one line per command from its stdin and runs
each in its own subshell (``cd``, ``exit``, ``set -e``, variables and traps stay inside), with
stdin from ``/dev/null``. After the subshell ends, the shell writes an end line with a random
token to stdout (carrying the exit status, whether the subshell died of a signal, and whether
processes it started are still alive) and the same token to stderr, so both streams are known to
be complete. A token is 128 random bits chosen per command and never visible to the command.

Job control (``set -m``) gives each command its own process group: a surviving member after the
subshell ends means a background job that may still hold the output pipes, and with job control
the shell reports how its job ended ("Exit 137" against "Killed"), which tells ``exit 137`` apart
from a death by signal. The shell's own stderr is that scratch file, emptied before each command:
a job report, whether bash writes it while waiting or earlier (a command that signals the shell
itself makes it report at once), never reaches the command's stderr, which is fd 3 kept aside.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from sshpool.commands import MARKER_VAR

__all__ = ["EndLine", "driver", "frame", "new_token", "parse_end", "stop_script"]

# the shell's own names, hidden from every command
_LOCALS = "__spq __spn __spx __spline __sps __spk __spl __spm"
_FUNCS = "__spe __spw __sph"


def new_token() -> str:
    return "sshpool-end-" + secrets.token_hex(16)


def _quote(text: str) -> str:
    return "'" + text.replace("'", "'\\''") + "'"


def _runner() -> str:
    """What runs a command held in ``$__spc`` with marker ``$__spr``, stored in the shell once so
    that each input line stays short (bash reads a pipe one byte at a time).

    The text is parsed only inside a subshell of its own, so a syntax error in it is the
    command's error, never the warm shell's. When the text parses as a whole (checked first
    without running any of it), the subshell is parsed as a whole: bash then replaces the subshell
    with the command's last program, as ``bash -c`` does, so a signal that kills that program is
    seen as such. Otherwise (a syntax error further down, ``extglob`` patterns after the ``shopt``
    that allows them, aliases defined in the command) ``eval`` runs it statement by statement,
    again as ``bash -c`` does. Either way the command text starts on line 2, as in exec mode."""
    export = f"export {MARKER_VAR}=$__spr$__nl"
    return (
        ': >"$__spn"; __spq=$!; '
        f'if __spw; then eval "( __sph; {export}$__spc$__nl) </dev/null 2>&3 3>&- &"; '
        f'else ( eval "__sph; {export}$__spc" ) </dev/null 2>&3 3>&- & fi'
    )


def driver(token: str) -> str:
    """The session command of a warm shell: reports ``token <pid>`` when ready, then serves commands.

    It is one line, so that a command's ``$LINENO`` and the line numbers in its error messages are
    the same as in ``exec`` mode (where the command text starts on line 2, after the marker)."""
    parts = [
        # the scratch file for job reports: in memory where possible (written after every command)
        "__spn=$(mktemp /dev/shm/sshpool-shell.XXXXXXXX 2>/dev/null || "
        'mktemp "${TMPDIR:-/tmp}/sshpool-shell.XXXXXXXX" 2>/dev/null) || __spn=/dev/null',
        'trap \'[ "$__spn" = /dev/null ] || rm -f "$__spn"\' EXIT',
        # the session's stderr is kept on fd 3 for commands and end lines; the shell's own
        # stderr (its job reports, whenever it writes them) goes to the scratch file
        'exec 3>&2 2>>"$__spn"',
        "__nl=$(printf '\\nx'); __nl=${__nl%x}",
        f"__spx={_quote(_runner())}",
        # the end lines: exit status, death by signal (from the job report), processes left behind
        "__spe() { "
        '__spk=0; __spm=; __spl=0; if [ "$!" = "$__spq" ]; then __sps=2; else '
        'wait "$!"; __sps=$?; '
        'if [ "$__sps" -gt 128 ] && [ -s "$__spn" ]; then IFS= read -r __spm <"$__spn"; '
        'case $__spm in *"Exit $__sps"*|*Done*) ;; *) __spk=1 ;; esac; fi; '
        'kill -0 -- "-$!" 2>/dev/null && __spl=1; fi; '
        'printf \'%s %s %s %s\\n\' "$1" "$__sps" "$__spk" "$__spl"; '
        "printf '%s\\n' \"$1\" >&3; }",
        # parses the command as a whole without running any of it: an ``if false`` is parsed
        # completely before it runs, and braces refuse a ``)`` that would close the subshell early
        "__spw() { case $__spc in *alias*) return 1 ;; esac; "
        'eval "if false; then { $__spc$__nl}$__nl fi" 2>/dev/null; }',
        # hides the shell's own names from a command (its values are already expanded by then)
        f"__sph() {{ unset {_LOCALS} __spc __spr __nl; unset -f {_FUNCS}; trap - EXIT; set +m; }}",
        "set -m",
        f"printf '%s %s\\n' {token} \"$$\"; printf '%s\\n' {token} >&3",
        'while IFS= read -r __spline; do eval "$__spline"; done',
    ]
    return "; ".join(parts)


def _single_quoted(text: str) -> str:
    """``text`` as one line of shell words: single-quoted pieces, newlines as ``"$__nl"``."""
    return '"$__nl"'.join(_quote(line) for line in text.split("\n"))


def frame(command: str, token: str, marker: str) -> bytes:
    """One input line: run ``command`` in a background subshell tagged with ``marker`` (see
    :func:`_runner`), then write the end lines for ``token``."""
    if "\x00" in command:
        raise ValueError("a command cannot contain a NUL character")
    line = f'__spc={_single_quoted(command)}; __spr={marker}; eval "$__spx"; __spe {token}\n'
    return line.encode("utf-8", "surrogateescape")


@dataclass(frozen=True)
class EndLine:
    status: int
    signalled: bool
    leftovers: bool


def parse_end(text: bytes) -> EndLine:
    """Parse ``<status> <signalled> <leftovers>`` (what follows the token on stdout)."""
    parts = text.split()
    if len(parts) != 3 or not all(p.isdigit() for p in parts):
        raise ValueError(f"malformed end line {text[:80]!r}")
    return EndLine(int(parts[0]), parts[1] == b"1", parts[2] == b"1")


def stop_script(shell_pid: int, kill_marked: str) -> str:
    """Stop a warm shell and all a command started under it: TERM the command's process groups
    (the shell's children), sweep the marker (TERM, then KILL), then KILL the groups and the shell."""
    kids = f"$(cat /proc/{shell_pid}/task/{shell_pid}/children 2>/dev/null)"
    return (
        f"for c in {kids}; do kill -TERM -- -$c 2>/dev/null; done; "
        f"( {kill_marked} ); "
        f"for c in {kids}; do kill -KILL -- -$c 2>/dev/null; done; "
        f"kill -KILL {shell_pid} 2>/dev/null; exit 0"
    )
