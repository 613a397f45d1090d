"""sshpoold's tests: the REST contract in process, and a real daemon process on loopback (its CLI,
state, files, secrets and the fault matrix)."""
