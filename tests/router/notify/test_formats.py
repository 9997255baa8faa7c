"""Notification formats, signatures and retry policy (pure)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import uuid
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, unquote_plus, urlsplit

import pytest

from router.notify.formats import digest_markdown, dingtalk_body, webhook_body, wecom_body
from router.notify.notice import Notice
from router.notify.retry import Outcome, backoff, classify
from router.notify.signing import dingtalk_sign, dingtalk_signed_url, verify_webhook, webhook_signature

AT = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)


def notice(
    outbox_id: int = 7, phone: str | None = "13800000001", grid: str | None = "379901001001001"
) -> Notice:
    return Notice(
        outbox_id,
        "incident.opened",
        uuid.UUID(int=outbox_id % 3),
        "占道 occupation · 东关一网格",
        "occupation",
        "dispatched",
        2,
        "城管",
        grid or "379901001",
        grid,
        "城关街道 · 东关社区",
        (118.63, 35.79),
        AT,
        3,
        False,
        "王芳" if phone else None,
        phone,
        AT + timedelta(minutes=30),
    )


def test_webhook_signature_covers_timestamp_and_body() -> None:
    body = b'{"id":7}'
    signature = webhook_signature("s3cret", 1700000000, body)
    expected = hmac.new(b"s3cret", b"1700000000." + body, hashlib.sha256).hexdigest()
    assert signature == f"sha256={expected}"
    assert verify_webhook("s3cret", 1700000000, body, signature)
    assert not verify_webhook("s3cret", 1700000001, body, signature)
    assert not verify_webhook("other", 1700000000, body, signature)


def test_dingtalk_sign_follows_the_robot_recipe() -> None:
    secret, stamp = "SECabc", 1700000000123
    raw = hmac.new(secret.encode(), f"{stamp}\n{secret}".encode(), hashlib.sha256).digest()
    assert unquote_plus(dingtalk_sign(secret, stamp)) == base64.b64encode(raw).decode()
    url = dingtalk_signed_url("https://oapi.dingtalk.com/robot/send?access_token=T", secret, stamp)
    query = parse_qs(urlsplit(url).query)
    assert query["access_token"] == ["T"] and query["timestamp"] == [str(stamp)]
    assert query["sign"] == [base64.b64encode(raw).decode()]


def test_dingtalk_markdown_mentions_the_on_duty_phone_in_text_and_at() -> None:
    body = dingtalk_body(notice())
    assert body["msgtype"] == "markdown"
    assert body["at"] == {"atMobiles": ["13800000001"], "isAtAll": False}
    assert "@13800000001" in body["markdown"]["text"] and "东关社区" in body["markdown"]["text"]
    assert dingtalk_body(notice(phone=None))["at"]["atMobiles"] == []


def test_wecom_markdown_and_webhook_json() -> None:
    content = wecom_body(notice())["markdown"]["content"]
    assert content.startswith("### 新事件") and "13800000001" in content and "10:30" in content
    body = webhook_body(notice())
    assert body["id"] == 7 and body["incident"]["assignee"] == {"name": "王芳", "phone": "13800000001"}


def test_digest_lists_each_incident_once_in_its_newest_state() -> None:
    text = digest_markdown("379901001001001", [notice(1), notice(4), notice(2)])
    assert "2 件，3 条通知" in text and text.count("- ") == 2


@pytest.mark.parametrize(
    ("attempt", "seconds"), [(1, 1), (2, 2), (3, 4), (6, 32), (7, 60), (50, 60), (10_000, 60)]
)
def test_backoff_doubles_then_caps(attempt: int, seconds: float) -> None:
    assert backoff(attempt, timedelta(seconds=1), timedelta(seconds=60)) == timedelta(seconds=seconds)


def test_backoff_jitter_only_shortens() -> None:
    assert backoff(3, timedelta(seconds=1), timedelta(seconds=60), jitter=0.5) == timedelta(seconds=2)
    with pytest.raises(ValueError):
        backoff(0, timedelta(seconds=1), timedelta(seconds=60))


@pytest.mark.parametrize(
    ("status", "body", "outcome"),
    [
        (200, b"", Outcome.DELIVERED),
        (204, b"", Outcome.DELIVERED),
        (200, b'{"errcode":0,"errmsg":"ok"}', Outcome.DELIVERED),
        (200, b'{"errcode":45009,"errmsg":"api freq out of limit"}', Outcome.RATE_LIMITED),
        (200, b'{"errcode":130101,"errmsg":"send too fast"}', Outcome.RATE_LIMITED),
        (
            200,
            b'{"errcode":660026,"errmsg":"send too fast, exceed 20 times per minute"}',
            Outcome.RATE_LIMITED,
        ),
        (200, b'{"errcode":310000,"errmsg":"sign not match"}', Outcome.REJECTED),
        (429, b"", Outcome.RATE_LIMITED),
        (503, b"", Outcome.RETRY),
        (408, b"", Outcome.RETRY),
        (404, b"", Outcome.REJECTED),
    ],
)
def test_classify(status: int, body: bytes, outcome: Outcome) -> None:
    assert classify(status, body) is outcome


@pytest.mark.parametrize("kind", ["occupation", "fire", "crowd"])
def test_every_text_carries_the_catalogue_class(kind: str) -> None:
    """Acceptance 5: the 数字城管 class/sub-class in the webhook JSON, WeCom, DingTalk and digest text."""
    from dataclasses import replace

    from models.catalogue import CATALOGUE

    entry = CATALOGUE.of(kind)
    n = replace(notice(), kind=kind)
    assert webhook_body(n)["incident"]["catalogue"] == {
        "major": entry.major,
        "minor": entry.minor,
        "code": entry.code or None,
        "detail": entry.detail,
        "version": CATALOGUE.version,
        "occupant": None,
    }
    assert f"分类：{entry.path}" in wecom_body(n)["markdown"]["content"]
    assert f"分类：{entry.path}" in dingtalk_body(n)["markdown"]["text"]
    assert entry.path in digest_markdown("379901001001001", [n])


@pytest.mark.parametrize(
    ("occupant", "path"),
    [
        ("vehicle", "街面秩序/机动车乱停放（消防通道占用） 0505"),
        ("debris", "街面秩序/乱堆物堆料 0507"),
        (None, "街面秩序/占道经营"),
    ],
)
def test_an_occupation_text_shows_its_occupants_class(occupant: str | None, path: str) -> None:
    from dataclasses import replace

    n = replace(notice(), kind="occupation", occupant=occupant)
    assert webhook_body(n)["incident"]["catalogue"]["occupant"] == occupant
    assert webhook_body(n)["incident"]["catalogue"]["minor"] == path.split("/")[1].split("（")[0].split()[0]
    assert webhook_body(n)["incident"]["catalogue"]["code"] == (path.split()[1] if " " in path else None)
    for text in (
        wecom_body(n)["markdown"]["content"],
        dingtalk_body(n)["markdown"]["text"],
        digest_markdown("379901001001001", [n]),
    ):
        assert path in text
