"""The seed's "Working with Droplets via SSH" examples, run as written (the import line aside,
``print(...)`` for Python 3) against a droplet whose address is the test sshd.

Around them, with no network: a loopback DigitalOcean API with a droplet named ``test``; an
ssh_config block for its address; sessions whose PATH starts with a remote venv and an
``apt-get`` shim (sshd's SetEnv); pip finding ``flask`` in a local wheel directory; git's
``insteadOf`` sending github.com to a local bare repository; ``/path/to/requirements.txt``.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
import pytest

from tests.support.library import SHIM_LOG

pytestmark = pytest.mark.timeout(90)

SEED_EXAMPLES = """
import poseidon.api as po
client = po.connect()
droplet = client.droplets.by_name('test')
ssh = droplet.connect(interactive=True)

ssh.close()

cmd = 'echo foo'
stdin, stdout, stderr = ssh.exec_command(cmd)

output = ssh.wait('echo foo') # output=='foo\\n'

ssh.nohup('python start_server.py')

ssh.apt('git python-pip')

ssh.git('changhiskhan', 'test')

ssh.pip('flask')

print ssh.pip_freeze()

ssh.pip_r('/path/to/requirements.txt')

result = ssh.ps()

result = ssh.top()
"""


def as_python3(code: str) -> str:
    code = code.replace("import poseidon.api as po", "import sshpool.digitalocean as po")
    return code.replace("print ssh.pip_freeze()", "print(ssh.pip_freeze())")


def test_the_seed_examples_run_as_written(poseidon_world: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> None:
    namespace: dict[str, Any] = {}
    exec(compile(as_python3(SEED_EXAMPLES), "seed-003", "exec"), namespace)  # noqa: S102  (the seed's own code)
    ssh = namespace["ssh"]
    server_pids: list[int] = []
    try:
        assert namespace["output"] == "foo\n"
        assert namespace["stdout"].read() == b"foo\n"
        top = namespace["result"]
        assert isinstance(top, pd.DataFrame) and list(top.columns) == ["%CPU", "%MEM", "USER", "COMMAND"]
        procs = ssh.ps()
        server_pids = [int(p) for p in procs[procs["CMD"] == "python start_server.py"]["PID"]]
        assert len(server_pids) == 1
        assert ssh.wait("cat test/README.md") == "the seed's test repository\n"
        frozen = ssh.pip_freeze()
        assert "flask==3.0.0" in frozen.lower() and "itsdangerous==2.2.0" in frozen.lower()
        log = (poseidon_world["shims"] / SHIM_LOG).read_text()
        assert "uid=0" in log and "frontend=noninteractive args=install -y git python-pip" in log
        out = capsys.readouterr().out
        assert "$ echo foo" in out and "foo\n" in out  # interactive: commands and output echoed
        assert "flask==3.0.0" in out.lower()  # print(ssh.pip_freeze())
    finally:
        for pid in server_pids:
            ssh.wait(f"kill -- -{pid}", raise_on_error=False)
        ssh.wait("pip uninstall -y flask itsdangerous", raise_on_error=False)
        ssh.close()
