"""The remote-ops helpers over any Runner (no asyncssh, HTTP or threads here): each helper works
the same on a direct connection and on a daemon's channel."""

from sshpool.connection.helpers import (
    PANDAS_HINT,
    AliasRunner,
    AsFrame,
    AsyncConnection,
    FileRunner,
    PasswordPrompt,
    Runner,
    as_table,
    ask_password,
)
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
    "as_table",
    "ask_password",
]
