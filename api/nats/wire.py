"""The wire format of models/link.py: versioned JSON with explicit fields, never pickle across machines.

An envelope ``{"v": 1, "type": "<record name>", "body": {...}}`` carries one message. The body holds each
dataclass field by its own name: enums by value, datetimes as ISO 8601 with their offset, UUIDs as text,
bytes as base64. A decoder refuses another version or an unknown type with ``WireError`` (the intake acks
and logs such a message rather than looping on it); a field the sender lacks takes its default, a field the
receiver does not know is ignored, so adding a field with a default needs no new version.
"""

from __future__ import annotations

import base64
import collections.abc
import dataclasses
import enum
import hashlib
import json
import types
import typing
import uuid
from datetime import datetime
from typing import Any, Union

from models.link import (
    AnalysisMessage,
    CameraCommand,
    CameraEventReport,
    ClipReport,
    EventReport,
    RunCamera,
    StopCamera,
    SuppressRegion,
    WatchZone,
    ZoneReport,
)
from models.records import EventPhase

VERSION = 1

_MESSAGES: dict[str, type] = {t.__name__: t for t in (EventReport, ClipReport, ZoneReport, CameraEventReport)}
_COMMANDS: dict[str, type] = {t.__name__: t for t in (RunCamera, StopCamera, WatchZone, SuppressRegion)}


class WireError(ValueError):
    """Bytes that are not a message of this version: a newer sender, or not ours at all."""


def encode(message: AnalysisMessage | CameraCommand) -> bytes:
    """One message as bytes: deterministic (sorted keys), so equal messages encode equal."""
    envelope = {"v": VERSION, "type": type(message).__name__, "body": _to_json(message)}
    return json.dumps(envelope, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def decode_message(data: bytes) -> AnalysisMessage:
    message: AnalysisMessage = _decode(data, _MESSAGES)
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


def _decode(data: bytes, known: dict[str, type]) -> Any:
    try:
        envelope = json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise WireError(f"not JSON: {exc}") from None
    if not isinstance(envelope, dict) or envelope.get("v") != VERSION:
        version = envelope.get("v") if isinstance(envelope, dict) else None
        raise WireError(f"wire version {version!r}, this process reads {VERSION}")
    cls = known.get(str(envelope.get("type")))
    if cls is None:
        raise WireError(f"unknown message type {envelope.get('type')!r}")
    try:
        return _from_json(cls, envelope.get("body"))
    except (KeyError, TypeError, ValueError) as exc:
        raise WireError(f"bad {cls.__name__}: {exc}") from None


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


def _from_json(tp: Any, value: Any) -> Any:
    origin = typing.get_origin(tp)
    if origin in (Union, types.UnionType):
        options = [a for a in typing.get_args(tp) if a is not type(None)]
        if value is None:
            return None
        if len(options) != 1:
            raise TypeError(f"ambiguous union {tp}")
        return _from_json(options[0], value)
    if tp is Any:
        return value
    if origin is tuple:
        args = typing.get_args(tp)
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_from_json(args[0], v) for v in value)
        return tuple(_from_json(a, v) for a, v in zip(args, value, strict=True))
    if origin in (dict, collections.abc.Mapping):
        key, item = typing.get_args(tp)
        return {_from_json(key, k): _from_json(item, v) for k, v in value.items()}
    if origin is frozenset:
        return frozenset(_from_json(typing.get_args(tp)[0], v) for v in value)
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        if not isinstance(value, dict):
            raise TypeError(f"{tp.__name__} needs an object")
        hints = _hints(tp)
        fields = {
            f.name: _from_json(hints[f.name], value[f.name])
            for f in dataclasses.fields(tp)
            if f.init and f.name in value
        }
        return tp(**fields)
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        return tp(value)
    if tp is datetime:
        parsed = datetime.fromisoformat(value)
        if parsed.tzinfo is None:
            raise ValueError("naive datetime")
        return parsed
    if tp is uuid.UUID:
        return uuid.UUID(value)
    if tp is bytes:
        return base64.b64decode(value, validate=True)
    if tp is float:
        if not isinstance(value, int | float) or isinstance(value, bool):
            raise TypeError(f"{value!r} is not a number")
        return float(value)
    if tp in (int, str, bool):
        if not isinstance(value, tp) or (tp is int and isinstance(value, bool)):
            raise TypeError(f"{value!r} is not {tp.__name__}")
        return value
    raise TypeError(f"no wire form for {tp}")
