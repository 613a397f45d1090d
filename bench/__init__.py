"""sshpool against its peers, side by side in one run.

``python -m bench`` (``make bench``) starts a throwaway sshd, a throwaway non-root user and a real
``sshpoold``, then measures sshpool and the tools people use instead — a fresh ``ssh``, OpenSSH
ControlMaster, asyncssh, paramiko, Fabric and parallel-ssh — round by round, so that machine noise
lands on every contender alike. Each contender lives in its own worker process (``bench.worker``):
parallel-ssh brings gevent, paramiko brings threads, and none of them may share a loop or a CPU
count with another. The results go to ``bench/results/latest.md``, ``latest.json`` and
``latest.png``, with each target marked PASS or MISS.
"""
