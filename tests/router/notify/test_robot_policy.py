"""Chat-robot policy (pure): what a group is told of, the send window, digests, and what a card says."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from router.notify.formats import digest_markdown, webhook_body, wecom_body
from router.notify.robots import SendWindow, plan, robot_change
from tests.router.notify.test_formats import notice

T0 = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("topic", "payload", "change"),
    [
        ("incident.opened", {}, "opened"),
        ("incident.escalated", {"timer": "accept"}, "escalated"),
        ("incident.reopened", {"state": "reopened"}, "reopened"),
        ("incident.updated", {"state": "closed"}, "closed"),
        ("incident.updated", {"state": "rejected"}, "closed"),
        ("incident.updated", {"event_id": "e"}, None),  # a sighting
        ("incident.updated", {"camera_event": "x"}, None),  # a camera's own event attached
        ("incident.updated", {"state": "accepted"}, None),
        ("incident.verified", {"state": "verified"}, None),
    ],
)
def test_a_group_hears_of_openings_escalations_reopenings_and_closings_only(
    topic: str, payload: dict[str, str], change: str | None
) -> None:
    assert robot_change(topic, payload) == change


def test_the_window_never_allows_more_than_the_limit_in_any_period() -> None:
    window = SendWindow(3)
    sent: list[datetime] = []
    now = T0
    for _ in range(600):  # ten minutes, a try every second
        if window.available(now):
            window.spend(now)
            sent.append(now)
        now += timedelta(seconds=1)
    assert len(sent) == 30
    assert max(sum(1 for u in sent if t <= u < t + timedelta(minutes=1)) for t in sent) == 3


def test_a_robots_too_fast_blocks_the_window_and_keeps_what_was_spent() -> None:
    window = SendWindow(3)
    window.spend(T0)
    window.exhaust(T0 + timedelta(seconds=10))
    assert window.available(T0 + timedelta(seconds=9)) == 0
    assert window.next_free(T0) == T0 + timedelta(seconds=10)
    assert window.available(T0 + timedelta(seconds=10)) == 2  # the send at T0 still counts to T0 + 1 min


def test_beyond_the_budget_each_grid_gets_digests_that_fit_and_the_rest_waits() -> None:
    notices = [notice(i, grid=f"g{i % 3}") for i in range(1, 31)]
    size = lambda group, items: 100 * len(items)  # noqa: E731
    messages, waiting = plan(notices[:4], 5, size=size, digest_bytes=1000)
    assert [len(m.notices) for m in messages] == [1, 1, 1, 1] and not waiting
    messages, waiting = plan(notices, 3, size=size, digest_bytes=500)
    assert [m.group for m in messages] == ["g1", "g1", "g2"]  # the grid of the oldest notice first
    assert [len(m.notices) for m in messages] == [5, 5, 5]
    sent = [n.outbox_id for m in messages for n in m.notices]
    assert sorted(sent + [n.outbox_id for n in waiting]) == list(range(1, 31))  # nothing dropped
    assert plan(notices, 0, size=size, digest_bytes=500) == ([], notices)


def test_the_card_says_kind_place_time_assignee_deadline_and_links_the_case() -> None:
    card = replace(notice(), resolve_by=notice().opened_at + timedelta(hours=4)).linked("https://gw.example/")
    content = wecom_body(card)["markdown"]["content"]
    for text in ("类型：占道", "城关街道 · 东关社区", "网格 379901001001001", "发现：11-23 10:00", "王芳",
                 "签收时限：11-23 10:30", "办结时限：11-23 14:00",
                 f"[查看案件](https://gw.example/?incident={card.incident_id})"):  # fmt: skip
        assert text in content, (text, content)
    assert webhook_body(card)["incident"]["url"] == f"https://gw.example/?incident={card.incident_id}"
    digest = digest_markdown("379901001001001", [card])
    assert "时限 11-23 10:30" in digest and f"?incident={card.incident_id}" in digest
    assert "责任人：未分派" in wecom_body(notice(phone=None))["markdown"]["content"]
