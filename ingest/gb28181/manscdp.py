"""MANSCDP, the XML in GB/T 28181 MESSAGE bodies (Annex A): what gridwatch reads and writes.

Devices declare GB2312 and often send it, sometimes send UTF-8 under a GB2312 declaration, and a few
write ``<item>`` for ``<Item>``. Bodies are decoded as UTF-8 when they are valid UTF-8 (GB2312 Chinese
text practically never is) and as GB18030, GB2312's superset, otherwise; element names are matched
without regard to case. A body that is not MANSCDP, or not XML, is a ``SipError`` with the status to send.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from datetime import datetime, tzinfo
from xml.sax.saxutils import escape

from ingest.gb28181.sip import SipError
from models.gb28181 import Alarm, CatalogItem

__all__ = ["CONTENT_TYPE", "Alarm", "CatalogItem", "CatalogPage", "Document"]

CONTENT_TYPE = "Application/MANSCDP+xml"
_DECLARATION = re.compile(rb"^\s*<\?xml[^>]*?\?>", re.S)
_ENCODING = re.compile(rb"""encoding\s*=\s*["']([A-Za-z0-9_.-]+)["']""")
_KNOWN_ENCODINGS = {"gb2312", "gbk", "gb18030", "utf-8", "utf8"}


@dataclass(frozen=True, slots=True)
class Document:
    root: str
    cmd_type: str
    sn: int
    device_id: str
    element: ET.Element


@dataclass(frozen=True, slots=True)
class CatalogPage:
    device_id: str
    sn: int
    sum_num: int
    items: tuple[CatalogItem, ...] = ()


def decode(body: bytes) -> str:
    """The body as text, without its XML declaration; SipError 415 for an encoding gridwatch does not read."""
    declared = _DECLARATION.match(body)
    if declared is not None:
        found = _ENCODING.search(declared.group(0))
        if found is not None and found.group(1).decode().lower() not in _KNOWN_ENCODINGS:
            raise SipError(415, f"body encoding {found.group(1).decode()!r} (only GB2312/GBK/GB18030, UTF-8)")
        body = body[declared.end() :]
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        pass
    try:
        return body.decode("gb18030")
    except UnicodeDecodeError:
        raise SipError(400, "body is neither UTF-8 nor GB2312/GB18030") from None


def read(content_type: str | None, body: bytes) -> Document:
    """A MESSAGE body as a MANSCDP document; SipError 415 for another content type, 400 for bad XML."""
    if content_type is None or "manscdp+xml" not in content_type.lower():
        raise SipError(415, f"content type {content_type!r} is not {CONTENT_TYPE}")
    text = decode(body)
    if "<!DOCTYPE" in text.upper() or "<!ENTITY" in text.upper():
        raise SipError(400, "DTDs and entities are refused")
    try:
        root = ET.fromstring(text)
    except ET.ParseError as exc:
        raise SipError(400, f"body is not XML: {exc}") from None
    cmd_type = child_text(root, "CmdType")
    sn_text = child_text(root, "SN")
    device_id = child_text(root, "DeviceID")
    if not cmd_type or not sn_text.isdigit() or not device_id:
        raise SipError(400, "MANSCDP body without CmdType, SN or DeviceID")
    return Document(root.tag, cmd_type, int(sn_text), device_id, root)


def child(element: ET.Element, name: str) -> ET.Element | None:
    lower = name.lower()
    return next((c for c in element if c.tag.lower() == lower), None)


def child_text(element: ET.Element, name: str) -> str:
    found = child(element, name)
    return (found.text or "").strip() if found is not None else ""


def _coordinate(text: str, bound: float) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    # Unset positions are written 0 by most devices; -180..180 / -90..90 otherwise.
    return value if value == value and 0.0 < abs(value) <= bound else None


def catalog_page(doc: Document) -> CatalogPage:
    listing = child(doc.element, "DeviceList")
    items: list[CatalogItem] = []
    for item in listing if listing is not None else ():
        item_id = child_text(item, "DeviceID")
        if not item_id:
            continue
        items.append(
            CatalogItem(
                id=item_id,
                name=child_text(item, "Name") or item_id,
                parent_id=child_text(item, "ParentID") or None,
                longitude=_coordinate(child_text(item, "Longitude"), 180.0),
                latitude=_coordinate(child_text(item, "Latitude"), 90.0),
                status=child_text(item, "Status"),
                manufacturer=child_text(item, "Manufacturer"),
                model=child_text(item, "Model"),
                civil_code=child_text(item, "CivilCode"),
            )
        )
    sum_text = child_text(doc.element, "SumNum")
    return CatalogPage(
        doc.device_id, doc.sn, int(sum_text) if sum_text.isdigit() else len(items), tuple(items)
    )


def _int(text: str) -> int | None:
    return int(text) if text.isdigit() else None


def alarm(doc: Document, tz: tzinfo) -> Alarm:
    """An Alarm notification; AlarmType is read where 2016 puts it (Info/AlarmType) and at the top level."""
    info = child(doc.element, "Info")
    type_text = child_text(doc.element, "AlarmType") or (
        child_text(info, "AlarmType") if info is not None else ""
    )
    method = _int(child_text(doc.element, "AlarmMethod"))
    if method is None:
        raise SipError(400, "Alarm without AlarmMethod")
    time_text = child_text(doc.element, "AlarmTime").replace(" ", "T")
    try:
        at: datetime | None = datetime.fromisoformat(time_text) if time_text else None
    except ValueError:
        at = None
    if at is not None and at.tzinfo is None:
        at = at.replace(tzinfo=tz)  # GB/T 28181 times are local, without an offset
    return Alarm(
        device_id=doc.device_id,
        sn=doc.sn,
        priority=_int(child_text(doc.element, "AlarmPriority")) or 4,
        method=method,
        type=_int(type_text),
        at=at,
        description=child_text(doc.element, "AlarmDescription"),
        longitude=_coordinate(child_text(doc.element, "Longitude"), 180.0),
        latitude=_coordinate(child_text(doc.element, "Latitude"), 90.0),
    )


def _xml(root: str, cmd_type: str, sn: int, device_id: str, body: str = "") -> bytes:
    text = (
        f'<?xml version="1.0" encoding="GB2312"?>\r\n<{root}>\r\n<CmdType>{cmd_type}</CmdType>\r\n'
        f"<SN>{sn}</SN>\r\n<DeviceID>{escape(device_id)}</DeviceID>\r\n{body}</{root}>\r\n"
    )
    return text.encode("gb18030")


def catalog_query(sn: int, device_id: str) -> bytes:
    return _xml("Query", "Catalog", sn, device_id)


def keepalive(sn: int, device_id: str) -> bytes:
    return _xml("Notify", "Keepalive", sn, device_id, "<Status>OK</Status>\r\n")


def alarm_notify(
    sn: int,
    device_id: str,
    *,
    priority: int,
    method: int,
    type_: int | None,
    at: datetime,
    description: str,
    longitude: float | None = None,
    latitude: float | None = None,
    alarm_id: str | None = None,
) -> bytes:
    """An Alarm notification (A.2.5.3); the 2016 edition puts AlarmType under Info, as written here."""
    parts = [
        f"<AlarmPriority>{priority}</AlarmPriority>",
        f"<AlarmMethod>{method}</AlarmMethod>",
        f"<AlarmTime>{at.strftime('%Y-%m-%dT%H:%M:%S')}</AlarmTime>",
        f"<AlarmDescription>{escape(description)}</AlarmDescription>",
    ]
    if longitude is not None and latitude is not None:
        parts += [f"<Longitude>{longitude:.6f}</Longitude>", f"<Latitude>{latitude:.6f}</Latitude>"]
    if alarm_id is not None:
        parts.append(f"<AlarmID>{escape(alarm_id)}</AlarmID>")
    if type_ is not None:
        parts.append(f"<Info><AlarmType>{type_}</AlarmType></Info>")
    return _xml("Notify", "Alarm", sn, device_id, "\r\n".join(parts) + "\r\n")


def catalog_response(sn: int, device_id: str, items: list[CatalogItem], total: int) -> bytes:
    rows = []
    for item in items:
        place = ""
        if item.longitude is not None and item.latitude is not None:
            place = f"<Longitude>{item.longitude:.6f}</Longitude><Latitude>{item.latitude:.6f}</Latitude>"
        rows.append(
            f"<Item><DeviceID>{escape(item.id)}</DeviceID><Name>{escape(item.name)}</Name>"
            f"<Manufacturer>gridwatch</Manufacturer><Model>analysis</Model><Owner>0</Owner>"
            f"<CivilCode>{escape(item.civil_code)}</CivilCode><Parental>0</Parental>"
            f"<ParentID>{escape(item.parent_id or device_id)}</ParentID><SafetyWay>0</SafetyWay>"
            f"<RegisterWay>1</RegisterWay><Secrecy>0</Secrecy><Status>{item.status or 'ON'}</Status>"
            f"{place}</Item>"
        )
    listing = f'<SumNum>{total}</SumNum>\r\n<DeviceList Num="{len(items)}">\r\n' + "\r\n".join(rows)
    return _xml("Response", "Catalog", sn, device_id, listing + "\r\n</DeviceList>\r\n")
