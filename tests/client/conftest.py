"""The REST client's tests against a real sshpoold: discovery, errors, streams of any bytes."""
