"""How a channel runs one command: ``exec`` (a new SSH session per command) or ``shell`` (warm
shells kept open and reused).
"""
