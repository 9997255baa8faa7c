"""The wire format of models/link.py: versioned JSON with explicit fields, never pickle across machines.

An envelope ``{"v": 1, "type": "<record name>", "body": {...}}`` carries one message. The body holds each
dataclass field by its own name: enums by value, datetimes as ISO 8601 with their offset, UUIDs as text,
bytes as base64. A decoder refuses another version or an unknown type with ``WireError`` (the intake acks
and logs such a message rather than looping on it); a field the sender lacks takes its default, a field the
receiver does not know is ignored, so adding a field with a default needs no new version. An UPDATE or
END carries its event without boxes or evidence references: the centre only refreshes the stored event.
"""

from __future__ import annotations

import base64
import collections.abc
import dataclasses
import enum
import hashlib
import json
import typing
import uuid
from datetime import datetime
from typing import Any

import msgspec

from models.link import (
    AnalysisMessage,
    CameraCommand,
    CameraEventReport,
    ClipReport,
    EventReport,
    NodeHeartbeat,
    RunCamera,
    StopCamera,
    SuppressRegion,
    WatchZone,
    ZoneReport,
)
from models.records import EventPhase

VERSION = 1

_MESSAGES: dict[str, type] = {
    t.__name__: t for t in (EventReport, ClipReport, ZoneReport, CameraEventReport, NodeHeartbeat)
}
_COMMANDS: dict[str, type] = {t.__name__: t for t in (RunCamera, StopCamera, WatchZone, SuppressRegion)}


class WireError(ValueError):
    """Bytes that are not a message of this version: a newer sender, or not ours at all."""


def encode(message: AnalysisMessage | CameraCommand | NodeHeartbeat) -> bytes:
    """One message as bytes: deterministic (sorted keys), so equal messages encode equal."""
    if isinstance(message, EventReport) and message.phase is not EventPhase.START:
        # An UPDATE or END only refreshes the stored event (count, confidence, end): its boxes stay on the
        # node, which halves what a township uplink carries and what the centre decodes for them.
        message = dataclasses.replace(
            message, event=dataclasses.replace(message.event, detections=(), evidence=()), evidence=()
        )
    envelope = {"v": VERSION, "type": type(message).__name__, "body": _to_json(message)}
    return json.dumps(envelope, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def decode_message(data: bytes) -> AnalysisMessage:
    message = _decode(data, _MESSAGES)
    if isinstance(message, NodeHeartbeat):
        # Heartbeats travel on plain subjects (api/nats/health.py): one in the stream is not the intake's.
        raise WireError("a NodeHeartbeat is not an event for the intake")
    result: AnalysisMessage = message
    return result


def decode_heartbeat(data: bytes) -> NodeHeartbeat:
    message = _decode(data, _MESSAGES)
    if not isinstance(message, NodeHeartbeat):
        raise WireError(f"expected a NodeHeartbeat, got {type(message).__name__}")
    return message


def decode_command(data: bytes) -> CameraCommand:
    command: CameraCommand = _decode(data, _COMMANDS)
    return command


def message_id(message: AnalysisMessage) -> str:
    """The JetStream ``Nats-Msg-Id``: the message's own identity, equal for a message published twice.

    START and END are one per event; an event's UPDATEs differ by content, so the encoded bytes' digest
    tells a republished UPDATE from the next one; a clip is named by its bytes' sha256.
    """
    if isinstance(message, EventReport):
        if message.phase is not EventPhase.UPDATE:
            return f"{message.event.id}.{message.phase.value}"
        return f"{message.event.id}.update.{hashlib.sha256(encode(message)).hexdigest()[:16]}"
    if isinstance(message, ClipReport):
        return f"{message.event_id}.clip.{message.clip.sha256}"
    if isinstance(message, CameraEventReport):
        # A camera's own event has no id of its own: what it said and when tells a republish from the next.
        return f"{message.event_id}.camera.{hashlib.sha256(encode(message)).hexdigest()[:16]}"
    return f"{message.watch_id}.zone"


class _Envelope(msgspec.Struct):
    v: Any = None
    type: Any = None
    body: msgspec.Raw = msgspec.Raw(b"null")


_ENVELOPE = msgspec.json.Decoder(_Envelope)


def _decode(data: bytes, known: dict[str, type]) -> Any:
    try:
        envelope = _ENVELOPE.decode(data)
    except msgspec.ValidationError:
        raise WireError("not an envelope: a JSON object with v, type and body") from None
    except (msgspec.DecodeError, UnicodeDecodeError) as exc:
        raise WireError(f"not JSON: {exc}") from None
    if envelope.v != VERSION or isinstance(envelope.v, bool):
        raise WireError(f"wire version {envelope.v!r}, this process reads {VERSION}")
    cls = known.get(str(envelope.type))
    if cls is None:
        raise WireError(f"unknown message type {envelope.type!r}")
    try:
        message = _body_decoder(cls).decode(envelope.body)
    except (msgspec.ValidationError, msgspec.DecodeError, TypeError, ValueError) as exc:
        raise WireError(f"bad {cls.__name__}: {exc}") from None
    naive = _naive_field(cls, message)
    if naive is not None:
        raise WireError(f"bad {cls.__name__}: naive datetime at {naive or 'the top'}")
    return message


def _to_json(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _to_json(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise WireError("a naive datetime cannot cross machines")
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    if isinstance(value, tuple | list):
        return [_to_json(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _to_json(v) for k, v in value.items()}
    if value is None or isinstance(value, bool | int | float | str):
        return value
    raise WireError(f"{type(value).__name__} has no wire form")


_HINTS: dict[type, dict[str, Any]] = {}


def _hints(cls: type) -> dict[str, Any]:
    if cls not in _HINTS:
        _HINTS[cls] = typing.get_type_hints(cls)
    return _HINTS[cls]


#: One msgspec decoder per message type, built once: the centre decodes every message of the county
#: stream, and decoding in Python (per field, per box) was half of the intake's time (102 µs a message
#: against msgspec's 8; bench/stream_intake.py, 2026-12-05). msgspec holds the wire's rules: every field
#: typed, a missing field takes its default, an unknown one is ignored, an int may stand for a float.
_BODY_DECODERS: dict[type, msgspec.json.Decoder[Any]] = {}


def _body_decoder(cls: type) -> msgspec.json.Decoder[Any]:
    found = _BODY_DECODERS.get(cls)
    if found is None:
        found = _BODY_DECODERS[cls] = msgspec.json.Decoder(cls)
    return found


#: Where a datetime without an offset would hide in a message: one checker per type, built once (None for a
#: type with no datetime in it, so a START's boxes are never walked).
_Naive = typing.Callable[[Any], "str | None"]
_CHECKERS: dict[Any, _Naive | None] = {}


def _naive_field(tp: Any, value: Any) -> str | None:
    """Where ``value`` (a decoded message) holds a datetime without an offset ("" for itself), or None:
    a time that cannot be placed on the county's clock must never reach deadlines."""
    check = _checker(tp)
    return check(value) if check is not None else None


def _checker(tp: Any) -> _Naive | None:
    if tp not in _CHECKERS:
        _CHECKERS[tp] = None  # a type that contains itself stops here
        _CHECKERS[tp] = _build_checker(tp)
    return _CHECKERS[tp]


def _build_checker(tp: Any) -> _Naive | None:
    if tp is datetime:
        return lambda value: "" if value is not None and value.utcoffset() is None else None
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        hints = _hints(tp)
        fields = [(f.name, c) for f in dataclasses.fields(tp) if (c := _checker(hints[f.name])) is not None]
        if not fields:
            return None

        def record(value: Any) -> str | None:
            for name, check in fields:
                found = check(getattr(value, name)) if value is not None else None
                if found is not None:
                    return f".{name}{found}"
            return None

        return record
    args = [a for a in typing.get_args(tp) if a is not Ellipsis and a is not type(None)]
    origin = typing.get_origin(tp)
    if origin in (dict, collections.abc.Mapping) and len(args) == 2:
        item = _checker(args[1])
        if item is None:
            return None
        return lambda value: next(
            (f"[{k!r}]{f}" for k, v in (value or {}).items() if (f := item(v)) is not None), None
        )
    checks = [_checker(a) for a in args]
    if not any(c is not None for c in checks):
        return None
    if origin is tuple and len(args) > 1 and Ellipsis not in typing.get_args(tp):

        def fixed(value: Any) -> str | None:
            for i, (check, item) in enumerate(zip(checks, value or (), strict=False)):
                found = check(item) if check is not None else None
                if found is not None:
                    return f"[{i}]{found}"
            return None

        return fixed
    if origin in (tuple, frozenset, list):
        member = checks[0]
        assert member is not None
        return lambda value: next(
            (f"[{i}]{f}" for i, v in enumerate(value or ()) if (f := member(v)) is not None), None
        )
    # A union: the value is whichever option it decoded as; each checker passes what is not its own.
    options = [c for c in checks if c is not None]
    if len(options) == 1:
        return options[0]  # an optional field: every checker passes None
    return lambda value: next((f for c in options if (f := c(value)) is not None), None)
