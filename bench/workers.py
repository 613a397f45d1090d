"""The orchestrator's handle on one contender's worker process: send a request, wait (bounded)
for the reply, stop it by pid."""

from __future__ import annotations

import json
import queue
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any, BinaryIO

REPO = Path(__file__).resolve().parent.parent


class WorkerError(Exception):
    """A contender failed a request or stopped answering: reported as its failure, never hidden."""


class Worker:
    def __init__(self, name: str, env: dict[str, str], log_dir: Path) -> None:
        self.name = name
        self.log_path = log_dir / f"worker-{name}.log"
        self._log: BinaryIO = open(self.log_path, "wb")  # closed in stop()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "bench.worker", name],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._log,
            env=env,
            cwd=REPO,
        )
        self.dead: str | None = None
        self._replies: queue.Queue[bytes] = queue.Queue()
        threading.Thread(target=self._read, name=f"bench-{name}", daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self._replies.put(line)
        self._replies.put(b"")

    def call(self, op: str, timeout: float, **args: Any) -> dict[str, Any]:
        """The reply to ``op``: ``value``, ``cpu``, ``cpu_extra``, ``wall``. Raises WorkerError."""
        if self.dead:
            raise WorkerError(f"{self.name} is out of the run: {self.dead}")
        assert self.proc.stdin is not None
        try:
            self.proc.stdin.write((json.dumps({"op": op, "args": args}) + "\n").encode())
            self.proc.stdin.flush()
            line = self._replies.get(timeout=timeout)
        except queue.Empty:
            self.dead = f"no answer to {op} within {timeout:g} s"
            self.kill()
            raise WorkerError(f"{self.name}: {self.dead}") from None
        except OSError as exc:
            self.dead = f"its process is gone ({exc})"
            raise WorkerError(f"{self.name}: {self.dead}") from None
        if not line:
            self.dead = f"its process exited (see {self.log_path})"
            raise WorkerError(f"{self.name}: {self.dead}")
        reply: dict[str, Any] = json.loads(line)
        if not reply["ok"]:
            raise WorkerError(f"{self.name} {op}: {reply['error']}")
        return reply

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)

    def stop(self) -> None:
        """Ask the contender to close its connections, then make sure its process is gone."""
        if self.proc.poll() is None and not self.dead:
            try:
                self.call("close", timeout=30)
            except WorkerError:
                pass
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass
        self.kill()
        self._log.close()
