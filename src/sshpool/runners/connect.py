"""``open_connection``: the one place that picks a runner, so neither runner imports the other."""

from __future__ import annotations

import os
from typing import Any

from sshpool.connection import AsyncConnection, PasswordPrompt
from sshpool.defaults import Settings
from sshpool.runners.direct import open_direct_connection
from sshpool.runners.remote import open_daemon_connection

__all__ = ["open_connection"]


async def open_connection(
    target: str,
    *,
    user: str | None = None,
    port: int | None = None,
    password: str | None = None,
    interactive: bool = False,
    host_key_policy: str | None = None,
    forward_agent: bool = False,
    state_dir: str | os.PathLike[str] | None = None,
    password_prompt: PasswordPrompt | None = None,
    daemon: bool | str | None = None,
    token: str | None = None,
    **settings: Any,
) -> AsyncConnection:
    """Connect and return an :class:`AsyncConnection`. ``settings`` are the tunables of
    :class:`~sshpool.defaults.Settings` (``command_timeout=``, ``connect_timeout=``...).

    ``daemon=True`` (or the daemon's URL) goes through sshpoold instead: ``target`` is then the
    alias of one of its channels (or a DSN to start one), and ``token`` its API token when
    ``SSHPOOL_TOKEN`` and the state dir's ``token`` file do not give it."""
    Settings.check_names(settings)
    if daemon:
        local_only = [n for n, v in (("host_key_policy", host_key_policy), ("forward_agent", forward_agent)) if v]
        if local_only:
            raise TypeError(f"{', '.join(local_only)} is set on sshpoold (its flags), not per connection")
        return await open_daemon_connection(
            target,
            daemon=daemon,
            token=token,
            user=user,
            port=port,
            password=password,
            interactive=interactive,
            state_dir=state_dir,
            password_prompt=password_prompt,
            **settings,
        )
    if token is not None:
        raise TypeError("token= is the daemon's API token: pass daemon=True (or its URL) with it")
    return await open_direct_connection(
        target,
        user=user,
        port=port,
        password=password,
        interactive=interactive,
        host_key_policy=host_key_policy,
        forward_agent=forward_agent,
        state_dir=state_dir,
        password_prompt=password_prompt,
        **settings,
    )
