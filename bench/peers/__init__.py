"""One module per family of contenders; each class answers the scenario verbs it can play
(``latency``, ``first``, ``throughput``, ``fanout``, ``output``, ``footprint``, ``recovery``)."""
