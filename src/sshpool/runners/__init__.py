"""The Runner implementations behind a Connection: ``direct`` (a channel of a private Pool) and
``remote`` (a channel of sshpoold); ``connect`` picks one. Neither runner imports the other.
"""
