"""sshpoolctl's tests: its one-shot verbs and its interactive shell, as a user types them, against a
real daemon."""
