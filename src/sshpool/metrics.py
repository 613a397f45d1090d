"""Prometheus metrics of one daemon, on a registry of its own (two apps in one process, as in
tests, never collide).

Labels hold only bounded, non-secret words: channel states, outcome codes, HTTP methods and
status codes. Never an alias-derived command, never user input.
"""

from __future__ import annotations

from collections import Counter as _Tally
from collections.abc import Iterator

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from .channel import STATES
from .pool import Pool
from .result import Result

__all__ = ["CONTENT_TYPE", "Metrics", "outcome"]

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
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

    def __init__(self, pool: Pool) -> None:
        self.pool = pool

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
        self.registry.register(_PoolCollector(pool))

    def observe(self, result: Result, elapsed: float, mode: str) -> None:
        self.commands.labels(outcome(result)).inc()
        self.modes.labels(mode).inc()
        self.latency.observe(result.duration)
        self.queue_wait.observe(max(0.0, elapsed - result.duration))

    def refused(self, code: str) -> None:
        """A command that never started (channel unavailable, shutting down...)."""
        self.commands.labels(code).inc()

    def render(self) -> bytes:
        return generate_latest(self.registry)
