"""How much of each scenario a run measures, and who plays in it: full, ``--quick`` and smoke."""

from __future__ import annotations

from dataclasses import dataclass, field

MB = 1024 * 1024

SCENARIOS = ("latency", "first", "throughput", "fanout", "output", "footprint", "recovery", "terminal", "ui")

LATENCY = (
    "sshpool-lib",
    "sshpool-sync",
    "sshpool-fast",
    "sshpoold-rest",
    "sshpoold-rest-fast",
    "sshpool-daemon-lib",
    "sshpoolctl",
    "sshpoolctl-shell",
    "python-floor",
    "asyncssh",
    "subshell-floor",
    "paramiko",
    "paramiko-nodelay",
    "fabric",
    "fabric-nodelay",
    "pssh",
    "pssh-nodelay",
    "ssh-controlmaster",
    "ssh",
)
#: A process per command: fewer samples. (ControlMaster starts one ``ssh`` per command too, but a
#: light one, and is sampled as the warm contenders are.)
SPAWNING = frozenset({"ssh", "sshpoolctl", "sshpoolctl-shell", "python-floor", "sshpoolctl-ssh"})
#: Contenders that need a running sshpoold.
ON_DAEMON = frozenset(
    {
        "sshpoold-rest",
        "sshpoold-rest-fast",
        "sshpoold-rest-frames",
        "sshpool-daemon-lib",
        "sshpool-terminal",
        "sshpool-ui",
        *(SPAWNING - {"ssh"}),
    }
)
FIRST = ("sshpool-lib", "sshpool-fast", "asyncssh")
THROUGHPUT = (
    "sshpool-lib",
    "sshpool-fast",
    "sshpoold-rest",
    "sshpoold-rest-fast",
    "sshpool-daemon-lib",
    "asyncssh",
    "subshell-floor",
    "paramiko-nodelay",
)
FANOUT = ("sshpoold-rest", "asyncssh", "pssh-nodelay", "fabric-nodelay")
OUTPUT = (
    "sshpool-lib",
    "sshpool-fast",
    "sshpoold-rest",
    "sshpoold-rest-fast",
    "sshpoold-rest-frames",
    "asyncssh",
    "paramiko-nodelay",
    "pssh-nodelay",
    "ssh-controlmaster",
)
FOOTPRINT = ("sshpoold-rest", "asyncssh", "paramiko-nodelay")
RECOVERY = ("sshpool-lib", "sshpool-fast", "sshpoold-rest", "sshpoold-rest-fast", "asyncssh", "paramiko-nodelay")
#: Time to the remote prompt (a new process on a new terminal each time) ...
PROMPT = ("sshpoolctl-ssh", "ssh", "ssh-controlmaster")
#: ... and a keystroke's echo in a shell at its prompt.
ECHO = ("sshpool-terminal", "asyncssh-pty")
TERMINAL = (*PROMPT, *ECHO)
#: The page, loaded with the fan-out's channels on the daemon (it runs in that phase).
UI = ("sshpool-ui",)


@dataclass(frozen=True)
class Plan:
    name: str = "full"
    latency_rounds: int = 10
    latency_batch: int = 30  # x rounds = samples per warm contender (>= 300)
    spawn_batch: int = 4  # x rounds = samples for contenders that start a process per command
    first_rounds: int = 5
    first_batch: int = 4
    throughput_rounds: int = 3
    throughput_total: int = 600
    callers: int = 64
    channel_counts: tuple[int, ...] = (1, 8)
    fanout_sizes: tuple[int, ...] = (10, 100, 200, 300)
    fanout_rounds: int = 3
    output_sizes: tuple[int, ...] = (1 * MB, 50 * MB, 100 * MB)
    output_rounds: int = 2
    recovery_rounds: int = 3
    prompt_rounds: int = 5
    prompt_batch: int = 4
    echo_rounds: int = 5
    echo_batch: int = 60
    ui_rounds: int = 5
    scenarios: tuple[str, ...] = SCENARIOS
    only: frozenset[str] = field(default_factory=frozenset)  # empty: every contender

    def plays(self, name: str) -> bool:
        return not self.only or name in self.only

    @property
    def footprint_n(self) -> int:
        return max(self.fanout_sizes)


FULL = Plan()
QUICK = Plan(
    name="quick",
    latency_rounds=4,
    latency_batch=15,
    spawn_batch=2,
    first_rounds=2,
    first_batch=3,
    throughput_rounds=1,
    throughput_total=200,
    fanout_sizes=(10, 50),
    fanout_rounds=2,
    output_sizes=(1 * MB, 50 * MB),  # 50 MB: the output targets are judged from there up
    output_rounds=1,
    recovery_rounds=1,
    prompt_rounds=2,
    prompt_batch=2,
    echo_rounds=2,
    echo_batch=30,
    ui_rounds=2,
)
SMOKE = Plan(
    name="smoke",
    latency_rounds=1,
    latency_batch=5,
    spawn_batch=1,
    first_rounds=1,
    first_batch=1,
    throughput_rounds=1,
    throughput_total=40,
    callers=8,
    channel_counts=(1, 2),
    fanout_sizes=(3,),
    fanout_rounds=1,
    output_sizes=(64 * 1024,),
    output_rounds=1,
    recovery_rounds=1,
    prompt_rounds=1,
    prompt_batch=2,
    echo_rounds=1,
    echo_batch=10,
    ui_rounds=1,
    only=frozenset(
        {
            "sshpool-lib",
            "sshpool-fast",
            "sshpoold-rest",
            "sshpoold-rest-fast",
            "sshpoold-rest-frames",
            "sshpool-daemon-lib",
            "sshpoolctl",
            "sshpoolctl-shell",
            "python-floor",
            "asyncssh",
            "subshell-floor",
            "ssh-controlmaster",
            "ssh",
            "sshpoolctl-ssh",
            "sshpool-terminal",
            "asyncssh-pty",
            "sshpool-ui",
        }
    ),
)
