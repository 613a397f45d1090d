"""An idle channel costs about what asyncssh's own connection costs: the pool adds little on top."""

from __future__ import annotations

import gc
import tracemalloc
from pathlib import Path
from typing import Any

import asyncssh

from sshpool import Pool

N = 20


def allocated() -> int:
    gc.collect()
    return tracemalloc.get_traced_memory()[0]


async def test_idle_channel_memory_stays_near_a_bare_asyncssh_connection(
    tmp_path: Path, ssh_home: Any, sshd: Any, test_user: Any
) -> None:
    tracemalloc.start()
    try:
        before = allocated()
        conns = [
            await asyncssh.connect(
                sshd.host,
                sshd.port,
                username=test_user.name,
                client_keys=[str(ssh_home.key)],
                known_hosts=str(ssh_home.known_hosts),
            )
            for _ in range(N)
        ]
        for c in conns:
            await c.run("true")  # the same warm-up a channel does
        bare = (allocated() - before) / N
        for c in conns:
            c.close()
            await c.wait_closed()
        del conns

        async with Pool(state_dir=tmp_path) as pool:
            before = allocated()
            for i in range(N):
                info = await pool.start(f"m{i}://{test_user.name}@{sshd.host}:{sshd.port}")
                assert info.state == "up", info.last_error
            ours = (allocated() - before) / N
            print(f"idle memory per connection: asyncssh {bare / 1024:.1f} KB, sshpool channel {ours / 1024:.1f} KB")
            assert ours <= bare * 1.5 + 16 * 1024, (bare, ours)
    finally:
        tracemalloc.stop()
