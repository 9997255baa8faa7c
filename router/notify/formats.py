"""Message bodies for each channel: our JSON webhook, WeCom and DingTalk group-robot markdown, digests."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from models.catalogue import CATALOGUE
from models.records import EventKind
from router.notify.notice import Notice
from router.pipeline import KIND_TITLES

_SEVERITY = {1: "低", 2: "中", 3: "高", 4: "紧急"}
_TOPIC = {
    "incident.opened": "新事件",
    "incident.updated": "事件更新",
    "incident.escalated": "超时升级",
    "incident.verified": "复核通过",
    "incident.reopened": "复核未通过，已重新打开",
}
#: An update that ends the case says so (the chat robots send no other update).
_ENDED = {"closed": "已结案", "rejected": "不予立案"}
_TZ = ZoneInfo("Asia/Shanghai")


def webhook_body(notice: Notice) -> dict[str, Any]:
    return {
        "id": notice.outbox_id,
        "topic": notice.topic,
        "incident": {
            "id": str(notice.incident_id),
            "title": notice.title,
            "kind": notice.kind,
            "catalogue": _catalogue(notice.kind, notice.occupant),
            "state": notice.state,
            "severity": notice.severity,
            "department": notice.department,
            "unit_code": notice.unit_code,
            "grid_code": notice.grid_code,
            "place": notice.place,
            "lonlat": list(notice.lonlat),
            "opened_at": notice.opened_at.isoformat(),
            "accept_by": notice.accept_by.isoformat() if notice.accept_by else None,
            "resolve_by": notice.resolve_by.isoformat() if notice.resolve_by else None,
            "url": notice.link,
            "event_count": notice.event_count,
            "late": notice.late,
            "assignee": _assignee(notice),
        },
    }


def catalogue_path(kind: str, occupant: str | None = None) -> str:
    """大类/小类 of the 数字城管 catalogue (models/catalogue.json), the kind itself when unknown; an
    occupation's is its occupant's (机动车乱停放 for a vehicle, 乱堆物堆料 for debris)."""
    try:
        return CATALOGUE.of(kind, occupant).path
    except ValueError:
        return kind


def _catalogue(kind: str, occupant: str | None = None) -> dict[str, str | None] | None:
    try:
        entry = CATALOGUE.of(kind, occupant)
    except ValueError:
        return None
    return {
        "major": entry.major,
        "minor": entry.minor,
        "code": entry.code or None,
        "detail": entry.detail,
        "version": entry.version,
        "occupant": occupant if kind == EventKind.OCCUPATION else None,
    }


def _assignee(notice: Notice) -> dict[str, str | None] | None:
    if notice.assignee_name is None:
        return None
    return {"name": notice.assignee_name, "phone": notice.assignee_phone}


def markdown(notice: Notice, tz: ZoneInfo = _TZ) -> str:
    """A card for a phone screen: what, where, how bad, who must act and by when."""
    lines = [
        f"### {_headline(notice)}：{notice.title}" + (" ⚠超时" if notice.late else ""),
        f"> 类型：{kind_title(notice.kind)}　状态：{notice.state}"
        f"　等级：{_SEVERITY.get(notice.severity, notice.severity)}",
        f"> 分类：{catalogue_path(notice.kind, notice.occupant)}",
        f"> 地点：{notice.place}（网格 {notice.grid_code or notice.unit_code}）",
        f"> 坐标：{notice.lonlat[0]:.6f}, {notice.lonlat[1]:.6f}",
        f"> 主管部门：{notice.department}",
        f"> 发现：{_local(notice.opened_at, tz)}，累计 {notice.event_count} 次",
    ]
    if notice.accept_by is not None:
        lines.append(f"> 签收时限：{_local(notice.accept_by, tz)}")
    if notice.resolve_by is not None:
        lines.append(f"> 办结时限：{_local(notice.resolve_by, tz)}")
    if notice.assignee_name:
        mention = f" @{notice.assignee_phone}" if notice.assignee_phone else ""
        lines.append(f"> 责任人：{notice.assignee_name}{mention}")
    else:
        lines.append("> 责任人：未分派")
    if notice.link:
        lines.append(f"> [查看案件]({notice.link})")
    return "\n".join(lines)


def _headline(notice: Notice) -> str:
    if notice.topic == "incident.updated" and notice.state in _ENDED:
        return _ENDED[notice.state]
    return _TOPIC.get(notice.topic, notice.topic)


def kind_title(kind: str) -> str:
    """The kind as a group reads it (占道, 火情…), its code when unknown."""
    try:
        return KIND_TITLES.get(EventKind(kind), kind)
    except ValueError:
        return kind


def wecom_body(notice: Notice) -> dict[str, Any]:
    """WeCom robot markdown. Its markdown cannot @ a phone number, only a WeCom userid, so the phone is
    written into the card and the robot's `text` mention list is not used (one message, one key)."""
    return {"msgtype": "markdown", "markdown": {"content": markdown(notice)}}


def dingtalk_body(notice: Notice) -> dict[str, Any]:
    """DingTalk robot markdown; the @phone must appear in the text *and* in at.atMobiles to ring."""
    phones = [notice.assignee_phone] if notice.assignee_phone else []
    return {
        "msgtype": "markdown",
        "markdown": {"title": notice.title, "text": markdown(notice)},
        "at": {"atMobiles": phones, "isAtAll": False},
    }


def digest_markdown(group: str, notices: Sequence[Notice], tz: ZoneInfo = _TZ) -> str:
    """One message standing for many while a channel rate-limits us: newest state of each incident."""
    latest: dict[str, Notice] = {}
    for notice in sorted(notices, key=lambda n: n.outbox_id):
        latest[str(notice.incident_id)] = notice
    lines = [f"### 网格 {group} 事件汇总（{len(latest)} 件，{len(notices)} 条通知）"]
    for notice in latest.values():
        who = notice.assignee_name or "未分派"
        late = " ⚠超时" if notice.late else ""
        due = f"｜时限 {_local(notice.accept_by, tz)}" if notice.accept_by else ""
        line = (
            f"- {notice.title}｜{catalogue_path(notice.kind, notice.occupant)}｜{notice.state}{late}｜{who}"
            f"｜{_local(notice.opened_at, tz)}{due}"
        )
        lines.append(f"{line}｜[查看]({notice.link})" if notice.link else line)
    return "\n".join(lines)


def digest_phones(notices: Sequence[Notice]) -> list[str]:
    return sorted({n.assignee_phone for n in notices if n.assignee_phone})


def _local(at: datetime, tz: ZoneInfo) -> str:
    return at.astimezone(tz).strftime("%m-%d %H:%M")


def channel_body(kind: str, notice: Notice) -> dict[str, Any]:
    """One notice as a channel of ``kind`` (webhook, wecom, dingtalk) wants it."""
    if kind == "wecom":
        return wecom_body(notice)
    if kind == "dingtalk":
        return dingtalk_body(notice)
    return webhook_body(notice)


def digest_body(kind: str, group: str, notices: Sequence[Notice]) -> dict[str, Any]:
    """Many notices of one grid as one message, for a channel that rate-limited us."""
    text = digest_markdown(group, notices)
    if kind == "wecom":
        return {"msgtype": "markdown", "markdown": {"content": text}}
    if kind == "dingtalk":
        phones = digest_phones(notices)
        mentions = "".join(f" @{p}" for p in phones)
        return {
            "msgtype": "markdown",
            "markdown": {"title": f"网格 {group} 事件汇总", "text": text + mentions},
            "at": {"atMobiles": phones, "isAtAll": False},
        }
    ids = [n.outbox_id for n in notices]
    return {"digest": group, "ids": ids, "items": [webhook_body(n) for n in notices]}
