"""``GET /api/v1/metrics``: metric families built from the agent's numbers when read.

Services count into plain numbers (``core/tally.py``, counters in dicts);
``api/request_metrics.py`` counts the API's own requests. Each app has a
registry of its own (tests run several agents in one process: nothing is
global).

A custom collector (prometheus_client's ``Collector``): nothing is counted
through prometheus_client on a request's path, so a scrape reads the plain
numbers the services keep and the API's :class:`RequestStats`. It runs on a
worker thread (psutil and file sizes block); what it reads is copied first
(``list()`` of a dict, a tally's :meth:`~Tally.snapshot`), so writers on the
loop go on meanwhile.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from datetime import UTC, datetime

import psutil
from prometheus_client import CollectorRegistry
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

from atom_desktop.api.context import AgentContext
from atom_desktop.api.rate_limit import RateLimiter
from atom_desktop.api.request_metrics import RequestStats
from atom_desktop.core.errors import AtomError
from atom_desktop.core.statuses import RUN_FINISHED, RunStatus
from atom_desktop.core.tally import TallySnapshot


def add_tally(family: HistogramMetricFamily, labels: list[str], tally: TallySnapshot) -> None:
    """One labelled histogram from a tally's snapshot."""
    buckets = [
        (_bound(bound), float(count))
        for bound, count in zip(tally.bounds, tally.cumulative, strict=False)
    ]
    buckets.append(("+Inf", float(tally.cumulative[-1])))
    family.add_metric(labels, buckets, tally.total)


def _bound(value: float) -> str:
    return repr(float(value))


class AgentCollector(Collector):
    """Every family of ``GET /api/v1/metrics``."""

    def __init__(
        self, agent: AgentContext, requests: RequestStats, limiter: RateLimiter | None
    ) -> None:
        self._agent = agent
        self._requests = requests
        self._limiter = limiter
        self._process = psutil.Process()

    def collect(self) -> Iterator[Metric]:
        """The families, each present even with no samples yet."""
        yield from self._http()
        yield from self._runs()
        yield from self._automations()
        yield from self._sync()
        yield from self._store()
        yield from self._process_families()
        yield GaugeMetricFamily(
            "atom_event_bus_subscribers",
            "Listeners subscribed to the agent's event bus.",
            value=self._agent.bus.subscriber_count,
        )

    def _http(self) -> Iterator[Metric]:
        labels = ["method", "route", "status"]
        count = CounterMetricFamily("atom_http_requests", "API requests answered.", labels=labels)
        duration = HistogramMetricFamily(
            "atom_http_request_duration_seconds",
            "Time from the end of a request's security checks to the end of its answer.",
            labels=labels,
        )
        for (method, route, status), tally in list(self._requests.series.items()):
            snapshot = tally.snapshot()
            values = [method, route, str(status)]
            count.add_metric(values, snapshot.cumulative[-1])
            add_tally(duration, values, snapshot)
        limited = CounterMetricFamily(
            "atom_rate_limited_requests",
            "Requests answered 429, by the bucket that was empty.",
            labels=["bucket"],
        )
        if self._limiter is not None:
            for kind, refused in dict(self._limiter.refused).items():
                limited.add_metric([kind], refused)
        sessions = CounterMetricFamily(
            "atom_websocket_sessions",
            "WebSocket sessions ended, by route and status: 101 accepted, else the "
            "status the handshake was refused with.",
            labels=["route", "status"],
        )
        for (route, status), ended in list(self._requests.websockets.items()):
            sessions.add_metric([route, str(status)], ended)
        open_now = GaugeMetricFamily(
            "atom_websocket_sessions_open",
            "WebSocket sessions accepted and not yet ended.",
            value=self._requests.websockets_open,
        )
        yield from (count, duration, limited, sessions, open_now)

    def _runs(self) -> Iterator[Metric]:
        runner = self._agent.runner
        counts = dict(runner.status_counts)
        yield CounterMetricFamily(
            "atom_runs_started",
            "Runs that started since the agent did.",
            value=counts.get(RunStatus.RUNNING, 0),
        )
        ended = CounterMetricFamily(
            "atom_runs_ended", "Runs that ended, by outcome.", labels=["outcome"]
        )
        for outcome in sorted(RUN_FINISHED):
            ended.add_metric([str(outcome)], counts.get(outcome, 0))
        yield ended
        yield GaugeMetricFamily(
            "atom_runs_running", "Runs running now.", value=runner.running_count
        )
        yield GaugeMetricFamily(
            "atom_runs_queued", "Runs waiting for a slot now.", value=runner.queued_count
        )
        output = CounterMetricFamily(
            "atom_run_output_bytes", "Output bytes read from runs, by stream.", labels=["stream"]
        )
        for stream, size in sorted(dict(runner.output_bytes).items()):
            output.add_metric([stream], size)
        yield output

    def _automations(self) -> Iterator[Metric]:
        automations = self._agent.automations
        fires = CounterMetricFamily(
            "atom_automation_fires", "Automation fires, by trigger kind.", labels=["trigger"]
        )
        for kind, fired in sorted(dict(automations.fires).items()):
            fires.add_metric([kind], fired)
        yield fires
        lateness = HistogramMetricFamily(
            "atom_automation_fire_lateness_seconds",
            "How long after its scheduled time each scheduled fire was handled.",
        )
        add_tally(lateness, [], automations.fire_lateness.snapshot())
        yield lateness

    def _sync(self) -> Iterator[Metric]:
        status = self._agent.sync.status
        oldest = status.oldest_pending
        lag = (datetime.now(UTC) - oldest).total_seconds() if status.pending and oldest else 0.0
        yield GaugeMetricFamily(
            "atom_sync_enabled",
            "1 when a sync server is configured.",
            value=int(bool(status.server)),
        )
        yield GaugeMetricFamily(
            "atom_sync_queue_depth", "Local changes waiting to be pushed.", value=status.pending
        )
        yield GaugeMetricFamily(
            "atom_sync_lag_seconds",
            "Age of the oldest change waiting to be pushed (0 when none waits).",
            value=max(0.0, lag),
        )

    def _store(self) -> Iterator[Metric]:
        size = GaugeMetricFamily(
            "atom_store_size_bytes", "The encrypted database's files.", labels=["file"]
        )
        wait = HistogramMetricFamily(
            "atom_store_write_wait_seconds",
            "How long each write waited for its turn at the single writer.",
        )
        try:
            database = self._agent.store.database
        except AtomError:
            database = None  # not open (starting or stopping): sizes and waits unknown
        if database is not None:
            for label, suffix in (("database", ""), ("wal", "-wal")):
                try:
                    file = database.path.with_name(database.path.name + suffix)
                    size.add_metric([label], file.stat().st_size)
                except OSError:
                    size.add_metric([label], 0)
            add_tally(wait, [], database.write_waits.snapshot())
        yield from (size, wait)

    def _process_families(self) -> Iterator[Metric]:
        process = self._process
        with process.oneshot():
            times = process.cpu_times()
            rss = process.memory_info().rss
            threads = process.num_threads()
            if sys.platform == "win32":
                descriptors = process.num_handles()
            else:
                descriptors = process.num_fds()
        yield GaugeMetricFamily(
            "process_resident_memory_bytes", "Resident memory size in bytes.", value=rss
        )
        yield CounterMetricFamily(
            "process_cpu_seconds",
            "User and system CPU time spent in seconds.",
            value=times.user + times.system,
        )
        yield GaugeMetricFamily(
            "process_open_fds",
            "Open file descriptors (handles on Windows).",
            value=descriptors,
        )
        yield GaugeMetricFamily("process_threads", "Threads of the process.", value=threads)


def agent_registry(
    agent: AgentContext, requests: RequestStats, limiter: RateLimiter | None
) -> CollectorRegistry:
    """A registry of the app's own with the agent's collector in it."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(AgentCollector(agent, requests, limiter))
    return registry
