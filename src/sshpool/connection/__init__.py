"""The remote-ops helpers over any Runner (no asyncssh, HTTP or threads here): each helper works
the same on a direct connection and on a daemon's channel."""

from sshpool.connection.frames import PANDAS_HINT, AsFrame, as_table
from sshpool.connection.helpers import AsyncConnection
from sshpool.connection.runner import AliasRunner, FileRunner, PasswordPrompt, Runner, RunsByAlias, ask_password
from sshpool.connection.streams import Chunk, LivePrinter, OutputCallback, OutputFile, OutputStream

__all__ = [
    "PANDAS_HINT",
    "AliasRunner",
    "AsFrame",
    "AsyncConnection",
    "Chunk",
    "FileRunner",
    "LivePrinter",
    "OutputCallback",
    "OutputFile",
    "OutputStream",
    "PasswordPrompt",
    "Runner",
    "RunsByAlias",
    "as_table",
    "ask_password",
]
