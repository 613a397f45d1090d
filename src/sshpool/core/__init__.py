"""The pool itself: asyncio and asyncssh only, no web framework, HTTP client, pandas or threads.

``pool`` holds channels by alias; a ``channel`` is one supervised SSH link to one host (``link``,
``target``, ``hostkeys``), and ``modes`` is the seam for how a channel runs one command.
"""
