"""The directory ``chdir`` set, when a command cannot be run in it: the OSError ``os.chdir``
would raise, naming the directory, in place of a shell's ``cd: ...: No such file or directory``.

A command runs as ``cd DIR 2>/dev/null || exit 211; COMMAND`` (:func:`sshpool.commands.in_directory`).
Status 211 with no output is then asked about once (:func:`sshpool.commands.directory_problem`):
only a directory that is really missing, not a directory, or closed to the user raises, so a
command that exits 211 itself still comes back as its Result.
"""

from __future__ import annotations

import errno

from sshpool.commands import CD_FAILED, directory_problem
from sshpool.connection.runner import Runner
from sshpool.result import Result

__all__ = ["directory_error", "may_be_directory_error"]

_PROBLEMS: dict[str, tuple[type[OSError], int, str]] = {
    "missing": (FileNotFoundError, errno.ENOENT, "does not exist"),
    "not_a_directory": (NotADirectoryError, errno.ENOTDIR, "is not a directory"),
    "denied": (PermissionError, errno.EACCES, "cannot be entered (permission denied)"),
}


def may_be_directory_error(result: Result, cwd: str) -> bool:
    """The Result of a command whose ``cd`` into ``cwd`` may have failed."""
    return (
        cwd != "~"
        and result.exit_code == CD_FAILED
        and result.error is None
        and not result.stdout
        and not result.stderr
    )


async def directory_error(runner: Runner, cwd: str, name: str) -> OSError | None:
    """Why ``cwd`` on ``name`` cannot be entered, as an OSError; None when it can."""
    probe = await runner.run(directory_problem(cwd), timeout=30)
    problem = _PROBLEMS.get(probe.stdout.strip())
    if problem is None:
        return None
    cls, number, what = problem
    text = f"the directory chdir() set on {name} {what}; the command did not run (create it, or chdir to another)"
    return cls(number, text, cwd)  # "[Errno 2] the directory ... : '/srv/app'", as os.chdir says it
