"""The core's tests: a real Pool and its channels against real OpenSSH servers (links that break, hang
and come back; host keys; ssh_config), without the daemon."""
