"""What the Prometheus scrape reads (issue 15): incidents opened, escalated and late by kind and township,
the event-to-incident latency, the outbox and the deliveries per channel.

Counted from the tables on each scrape rather than in process memory: every process of a centre reports
the same totals, the totals survive restarts (so a counter never goes down), and incident_log, timers and
deliveries only grow. The queries scan incidents and timers; at county scale (10⁶ incidents) a scrape costs
a few hundred milliseconds, which a 30 s scrape interval absorbs.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from models.store.base import Repository

#: A township's unit code is the first 9 digits of every code below it (models.records.POST_LEVEL).
TOWNSHIP_DIGITS = 9
#: Upper bounds, in seconds, of the event → incident latency buckets.
LATENCY_BUCKETS: tuple[float, ...] = (0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 300.0)

_TOWNSHIP = (
    f"CASE WHEN length(coalesce(i.grid_code, i.unit_code)) >= {TOWNSHIP_DIGITS}"
    f" THEN left(coalesce(i.grid_code, i.unit_code), {TOWNSHIP_DIGITS}) ELSE '' END"
)


@dataclass(frozen=True, slots=True)
class IncidentCounts:
    kind: str
    township: str
    opened: int
    escalated: int
    late: int


@dataclass(frozen=True, slots=True)
class LatencyHistogram:
    kind: str
    #: Cumulative counts per bound of LATENCY_BUCKETS, then the total (+Inf).
    buckets: tuple[int, ...]
    total_seconds: float


@dataclass(frozen=True, slots=True)
class ChannelCounts:
    channel: str
    pending: int
    #: Attempts that did not deliver (error answers, timeouts, rate limits).
    failed_attempts: int
    #: Deliveries given up on after their last attempt.
    given_up: int


class PrometheusRepository(Repository):
    async def incident_counts(self) -> list[IncidentCounts]:
        """Per kind and township: incidents opened, deadlines escalated, deadlines missed (late: a timer
        fired with its step not taken, whether or not someone above was there to escalate to)."""
        rows = await self.pool.fetch(
            f"WITH opened AS (SELECT i.kind, {_TOWNSHIP} AS township, count(*) AS n FROM incidents i"
            "  GROUP BY 1, 2),"
            f" missed AS (SELECT i.kind, {_TOWNSHIP} AS township,"
            "  count(*) FILTER (WHERE t.outcome = 'escalated') AS escalated,"
            "  count(*) FILTER (WHERE t.outcome IN ('escalated', 'late')) AS late"
            "  FROM timers t JOIN incidents i ON i.id = t.incident_id WHERE t.fired_at IS NOT NULL"
            "  GROUP BY 1, 2)"
            " SELECT o.kind, o.township, o.n AS opened, coalesce(m.escalated, 0) AS escalated,"
            " coalesce(m.late, 0) AS late FROM opened o LEFT JOIN missed m USING (kind, township)"
            " ORDER BY 1, 2"
        )
        return [IncidentCounts(**dict(row)) for row in rows]

    async def latency(self, buckets: Sequence[float] = LATENCY_BUCKETS) -> list[LatencyHistogram]:
        """Per kind, from the first event's start to the incident's opening, once per incident."""
        counts = ", ".join(f"count(*) FILTER (WHERE s <= {float(b)!r})" for b in buckets)
        rows = await self.pool.fetch(
            f"SELECT kind, {counts}, count(*), coalesce(sum(s), 0) FROM ("
            " SELECT i.kind, greatest(0, extract(epoch FROM i.opened_at - e.first))::float8 AS s"
            " FROM incidents i JOIN LATERAL (SELECT min(started_at) AS first FROM events"
            "  WHERE incident_id = i.id) e ON e.first IS NOT NULL) l GROUP BY kind ORDER BY kind"
        )
        return [
            LatencyHistogram(row[0], tuple(int(v) for v in row[1 : len(buckets) + 2]), float(row[-1]))
            for row in rows
        ]

    async def outbox_depth(self) -> int:
        """Outbox rows the live feed has not delivered yet."""
        depth: int = await self.pool.fetchval("SELECT count(*) FROM outbox WHERE delivered_at IS NULL")
        return depth

    async def channel_counts(self) -> list[ChannelCounts]:
        rows = await self.pool.fetch(
            "SELECT c.name AS channel,"
            " count(d.outbox_id) FILTER (WHERE d.delivered_at IS NULL AND d.failed_at IS NULL) AS pending,"
            " coalesce(sum(d.attempts), 0) - count(d.outbox_id) FILTER (WHERE d.delivered_at IS NOT NULL)"
            "  AS failed_attempts,"
            " count(d.outbox_id) FILTER (WHERE d.failed_at IS NOT NULL) AS given_up"
            " FROM delivery_channels c LEFT JOIN deliveries d ON d.channel = c.name"
            " GROUP BY c.name ORDER BY 1"
        )
        return [ChannelCounts(**dict(row)) for row in rows]
