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
from collections.abc import Callable
from datetime import datetime
from typing import Any, Union

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
    return _decoder(tp)(value)


#: One decoding function per type, built once: the centre decodes every message of the county stream, and
#: inspecting the type hints anew for every field of every box cost about 1 ms a START (a third of intake).
_DECODERS: dict[Any, Callable[[Any], Any]] = {}


def _decoder(tp: Any) -> Callable[[Any], Any]:
    found = _DECODERS.get(tp)
    if found is None:
        found = _DECODERS[tp] = _build_decoder(tp)
    return found


def _build_decoder(tp: Any) -> Callable[[Any], Any]:
    origin = typing.get_origin(tp)
    if origin in (Union, types.UnionType):
        options = [a for a in typing.get_args(tp) if a is not type(None)]

        def optional(value: Any) -> Any:
            if value is None:
                return None
            if len(options) != 1:
                raise TypeError(f"ambiguous union {tp}")
            return _decoder(options[0])(value)

        return optional
    if tp is Any:
        return lambda value: value
    if origin is tuple:
        args = typing.get_args(tp)
        if len(args) == 2 and args[1] is Ellipsis:
            item = _decoder(args[0])
            return lambda value: tuple(item(v) for v in value)
        items = [_decoder(a) for a in args]
        return lambda value: tuple(d(v) for d, v in zip(items, value, strict=True))
    if origin in (dict, collections.abc.Mapping):
        key, item = (_decoder(a) for a in typing.get_args(tp))
        return lambda value: {key(k): item(v) for k, v in value.items()}
    if origin is frozenset:
        member = _decoder(typing.get_args(tp)[0])
        return lambda value: frozenset(member(v) for v in value)
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        return _dataclass_decoder(tp)
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        return tp
    if tp is datetime:
        return _datetime
    if tp is uuid.UUID:
        return uuid.UUID
    if tp is bytes:
        return lambda value: base64.b64decode(value, validate=True)
    if tp is float:
        return _float
    if tp in (int, str, bool):
        return lambda value: _exactly(tp, value)

    def none(value: Any) -> Any:
        raise TypeError(f"no wire form for {tp}")

    return none


def _dataclass_decoder(tp: type) -> Callable[[Any], Any]:
    fields: list[tuple[str, Callable[[Any], Any]]] = []

    def decode(value: Any) -> Any:
        if not isinstance(value, dict):
            raise TypeError(f"{tp.__name__} needs an object")
        return tp(**{name: field(value[name]) for name, field in fields if name in value})

    _DECODERS[tp] = decode  # registered before its fields: a type that contains itself finds it
    hints = _hints(tp)
    fields += [(f.name, _decoder(hints[f.name])) for f in dataclasses.fields(tp) if f.init]
    return decode


def _datetime(value: Any) -> datetime:
    parsed = datetime.fromisoformat(value)
    if parsed.tzinfo is None:
        raise ValueError("naive datetime")
    return parsed


def _float(value: Any) -> float:
    if not isinstance(value, int | float) or isinstance(value, bool):
        raise TypeError(f"{value!r} is not a number")
    return float(value)


def _exactly(tp: type, value: Any) -> Any:
    if not isinstance(value, tp) or (tp is int and isinstance(value, bool)):
        raise TypeError(f"{value!r} is not {tp.__name__}")
    return value
