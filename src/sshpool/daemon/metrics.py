"""Prometheus metrics of one daemon, on a registry of its own (two apps in one process, as in
tests, never collide).

Labels hold only bounded, non-secret words: channel states, outcome codes, HTTP methods, status
codes and the aliases of the channels that exist now (so "db1 is down" can be an alert; a stopped
channel's series go with it). Never a command, never other user input. No ``_created`` twins: they
double the series and no alert reads them.
"""

from __future__ import annotations

from collections import Counter as _Tally
from collections.abc import Iterator
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram, disable_created_metrics, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from sshpool.core.channel import STATES
from sshpool.core.pool import Pool
from sshpool.result import Result

__all__ = ["CONTENT_TYPE", "Metrics", "outcome"]

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
disable_created_metrics()  # type: ignore[no-untyped-call]
_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 600)


def outcome(result: Result) -> str:
    """One word per Result: ``ok``, ``exit_nonzero``, ``signal`` or the error code."""
    if result.error:
        return result.error
    if result.signal:
        return "signal"
    return "ok" if result.exit_code == 0 else "exit_nonzero"


class _PoolCollector(Collector):
    """Gauges read from the pool at scrape time, so they can never drift from its real state."""

    def __init__(self, pool: Pool, by_alias: dict[str, _Tally[str]]) -> None:
        self.pool = pool
        self.by_alias = by_alias

    def collect(self) -> Iterator[GaugeMetricFamily | CounterMetricFamily]:
        channels = list(self.pool.status().values())
        by_state = _Tally(c.state for c in channels)
        g = GaugeMetricFamily("sshpool_channels", "Channels by state", labels=["state"])
        for state in STATES:
            g.add_metric([state], by_state.get(state, 0))
        yield g
        yield GaugeMetricFamily(
            "sshpool_commands_running", "Commands running now", value=sum(c.running for c in channels)
        )
        yield GaugeMetricFamily(
            "sshpool_queue_length", "Commands waiting for a session", value=sum(c.queued for c in channels)
        )
        yield GaugeMetricFamily(
            "sshpool_connections", "Open SSH connections", value=sum(c.connections for c in channels)
        )
        yield GaugeMetricFamily(
            "sshpool_handshakes_in_flight", "SSH handshakes in progress", value=float(self.pool.limiter.in_flight)
        )
        reconnects = sum(self.pool.get(c.alias).reconnects for c in channels if c.alias in self.pool)
        yield CounterMetricFamily(
            "sshpool_reconnects", "Reconnects of the channels that exist now", value=float(reconnects)
        )
        yield from self._per_channel(channels)

    def _per_channel(self, channels: list[Any]) -> Iterator[GaugeMetricFamily | CounterMetricFamily]:
        up = GaugeMetricFamily("sshpool_channel_up", "1 when the channel is connected, else 0", labels=["alias"])
        state = GaugeMetricFamily(
            "sshpool_channel_state", "1 for the channel's current state", labels=["alias", "state"]
        )
        running = GaugeMetricFamily("sshpool_channel_commands_running", "Commands running now", labels=["alias"])
        queued = GaugeMetricFamily("sshpool_channel_queue_length", "Commands waiting for a session", labels=["alias"])
        reconnects = CounterMetricFamily("sshpool_channel_reconnects", "Reconnects", labels=["alias"])
        commands = CounterMetricFamily(
            "sshpool_channel_commands", "Commands answered, by outcome", labels=["alias", "outcome"]
        )
        live = {c.alias for c in channels}
        for gone in set(self.by_alias) - live:
            self.by_alias.pop(gone, None)
        for c in sorted(channels, key=lambda c: c.alias):
            up.add_metric([c.alias], 1.0 if c.state == "up" else 0.0)
            state.add_metric([c.alias, c.state], 1.0)
            running.add_metric([c.alias], float(c.running))
            queued.add_metric([c.alias], float(c.queued))
            if c.alias in self.pool:
                reconnects.add_metric([c.alias], float(self.pool.get(c.alias).reconnects))
            for word, n in sorted(self.by_alias.get(c.alias, {}).items()):
                commands.add_metric([c.alias, word], float(n))
        yield from (up, state, running, queued, reconnects, commands)


class Metrics:
    """Counters the API feeds, plus the pool's live gauges."""

    def __init__(self, pool: Pool) -> None:
        self.registry = CollectorRegistry()
        self.commands = Counter(
            "sshpool_commands", "Commands answered, by outcome", ["outcome"], registry=self.registry
        )
        self.modes = Counter(
            "sshpool_commands_by_mode",
            "Commands that ran, by the way they ran: exec (a session each) or shell (a warm shell)",
            ["mode"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "sshpool_command_duration_seconds", "Remote command run time", buckets=_BUCKETS, registry=self.registry
        )
        self.queue_wait = Histogram(
            "sshpool_queue_wait_seconds",
            "Time a command waited for a session before it started",
            buckets=_BUCKETS,
            registry=self.registry,
        )
        self.requests = Counter(
            "sshpool_http_requests", "HTTP requests answered", ["method", "status"], registry=self.registry
        )
        #: Outcomes per alias, pruned at each scrape to the channels that exist.
        self.by_alias: dict[str, _Tally[str]] = {}
        self.registry.register(_PoolCollector(pool, self.by_alias))
        # Each label set's child, looked up once: ``labels()`` validates and locks on every call.
        self._children: dict[tuple[Counter, tuple[str, ...]], Counter] = {}

    def _child(self, family: Counter, *values: str) -> Counter:
        key = (family, values)
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = family.labels(*values)
        return child

    def count_request(self, method: str, status: int) -> None:
        """One HTTP answer, by method and status code."""
        self._child(self.requests, method, str(status)).inc()

    def observe(self, result: Result, elapsed: float, mode: str, alias: str | None = None) -> None:
        word = outcome(result)
        self._child(self.commands, word).inc()
        if alias is not None:
            self.by_alias.setdefault(alias, _Tally())[word] += 1
        self._child(self.modes, mode).inc()
        self.latency.observe(result.duration)
        self.queue_wait.observe(max(0.0, elapsed - result.duration))

    def refused(self, code: str, alias: str | None = None) -> None:
        """A command that never started (channel unavailable, shutting down...)."""
        self._child(self.commands, code).inc()
        if alias is not None:
            self.by_alias.setdefault(alias, _Tally())[code] += 1

    def render(self) -> bytes:
        return generate_latest(self.registry)
