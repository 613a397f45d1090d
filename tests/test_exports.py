"""The public surface is declared once, in ``__init__``, and it agrees with what is there."""

from __future__ import annotations

import sshpool
import sshpool.errors


def test_all_names_exist_and_nothing_public_is_undeclared() -> None:
    for name in sshpool.__all__:
        assert hasattr(sshpool, name), name
    public = {n for n in dir(sshpool) if not n.startswith("_") and not isinstance(getattr(sshpool, n), type(sshpool))}
    assert public - set(sshpool.__all__) == set()


def test_every_error_is_exported_at_the_top_level() -> None:
    for name in sshpool.errors.__all__:
        if name[0].isupper():
            assert getattr(sshpool, name) is getattr(sshpool.errors, name)


def test_import_is_light() -> None:
    """sshpoolctl imports sshpool for its errors and results; the SSH stack comes with the first connection."""
    import subprocess
    import sys

    heavy = "('pandas', 'fastapi', 'uvicorn', 'asyncssh')"
    code = f"import sys, sshpool; print(','.join(m for m in {heavy} if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=30, check=True)
    assert out.stdout.strip() == ""


def test_the_daemon_clients_are_top_level_names_loaded_on_first_use() -> None:
    """``sshpool.DaemonClient`` and ``sshpool.AsyncDaemonClient`` bring httpx with them, not ``import sshpool``."""
    import subprocess
    import sys

    code = (
        "import sys, sshpool; before = 'httpx' in sys.modules; "
        "import sshpool.client; "
        "assert issubclass(sshpool.AsyncDaemonClient, sshpool.client.AsyncDaemonClient); "
        "print(before, sshpool.DaemonClient.__module__, sshpool.AsyncDaemonClient.__module__)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=30, check=True)
    assert out.stdout.split() == ["False", "sshpool.sync.daemonclient", "sshpool.runners.remote"]
