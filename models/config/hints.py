"""Unknown keys explained from the schema itself, so the hints cannot drift from the sections they describe.

Pydantic says only "Extra inputs are not permitted" at a path. Walking the schema along that path finds the
model the key was written in; the key is compared with that model's own fields. The same walk drops the
values pydantic inserts into the path of a tagged union member (``zones[1].line.min_persons``): people never
write those as keys. No section, zone kind or tag is listed here by hand.
"""

from __future__ import annotations

import difflib
import types
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Annotated, Any, Literal, TypeGuard, Union, get_args, get_origin

from pydantic import AliasChoices, BaseModel
from pydantic.fields import FieldInfo

Loc = tuple[str | int, ...]

_UNIONS: tuple[Any, ...] = (Union, types.UnionType)
_SEQUENCES: tuple[Any, ...] = (list, tuple, set, frozenset, Sequence)
_MAPPINGS: tuple[Any, ...] = (dict, Mapping)
# difflib's own default: close enough to be the key the writer meant.
_CLOSE = 0.6
# A key that another section or zone kind has as written is more likely put in the wrong place than
# misspelt, so a field here must resemble it much more to be suggested instead: every_seconds on a camera
# means fire_every_seconds (0.84), but min_seconds on a line zone does not mean cooldown_seconds (0.67).
_CLOSE_BESIDE_ELSEWHERE = 0.8


@dataclass(frozen=True, slots=True)
class Place:
    """Where a model sits in the document."""

    model: type[BaseModel]
    #: The path with [] for any list index, e.g. 'cameras[].zones[]'; '' for the document itself.
    path: str
    #: For a member of a tagged union, (discriminator key, the value that picks this member).
    tag: tuple[str, str] | None = None


def _is_model(tp: Any) -> TypeGuard[type[BaseModel]]:
    return isinstance(tp, type) and issubclass(tp, BaseModel)


def _discriminator(field: FieldInfo) -> str | None:
    # A callable Discriminator cannot be read from the schema; its members are then matched by class name.
    return field.discriminator if isinstance(field.discriminator, str) else None


def _unwrap(tp: Any, discriminator: str | None) -> tuple[Any, str | None]:
    """Strip Annotated (keeping the discriminator it declares) and the None of an Optional."""
    while True:
        origin = get_origin(tp)
        if origin is Annotated:
            tp, *metadata = get_args(tp)
            for item in metadata:
                if isinstance(item, FieldInfo) and _discriminator(item) is not None:
                    discriminator = _discriminator(item)
        elif origin in _UNIONS and len(_members(tp)) == 1:
            tp = _members(tp)[0]
        else:
            return tp, discriminator


def _members(union: Any) -> tuple[Any, ...]:
    return tuple(member for member in get_args(union) if member is not type(None))


def _tags(member: type[BaseModel], discriminator: str | None) -> tuple[str, ...]:
    field = member.model_fields.get(discriminator) if discriminator is not None else None
    if field is None:
        return ()
    annotation, _ = _unwrap(field.annotation, None)
    return tuple(str(v) for v in get_args(annotation)) if get_origin(annotation) is Literal else ()


def _member(union: Any, discriminator: str | None, part: str | int) -> type[BaseModel] | None:
    """The member a path part picks: its tag for a tagged union, its class name for a plain one."""
    for member in _members(union):
        if _is_model(member) and (part in _tags(member, discriminator) or part == member.__name__):
            return member
    return None


def _keys(model: type[BaseModel]) -> dict[str, str]:
    """Every key the input may use for a field of model (its name and any other accepted name) -> field."""
    keys: dict[str, str] = {}
    for name, field in model.model_fields.items():
        keys[name] = name
        alias = field.validation_alias or field.alias
        for choice in alias.choices if isinstance(alias, AliasChoices) else [alias]:
            if isinstance(choice, str):
                keys.setdefault(choice, name)
    return keys


def _item(container: Any, index: int) -> Any:
    args = get_args(container)
    if get_origin(container) is tuple and not (len(args) == 2 and args[1] is Ellipsis):
        return args[index] if index < len(args) else None
    return args[0] if args else None


def document_path(root: type[BaseModel], loc: Loc) -> tuple[Loc, type[BaseModel] | None]:
    """loc as the document writes it (union tags dropped), and the model it ends in (None: no model)."""
    tp: Any = root
    discriminator: str | None = None
    path: list[str | int] = []
    for part in loc:
        tp, discriminator = _unwrap(tp, discriminator)
        origin = get_origin(tp)
        if origin in _UNIONS:
            member = _member(tp, discriminator, part)
            if member is not None:
                tp, discriminator = member, None
                continue
            tp = None
        elif _is_model(tp) and isinstance(part, str) and part in _keys(tp):
            field = tp.model_fields[_keys(tp)[part]]
            tp, discriminator = field.annotation, _discriminator(field)
        elif origin in _SEQUENCES and isinstance(part, int):
            tp = _item(tp, part)
        elif origin in _MAPPINGS:
            tp = get_args(tp)[1] if get_args(tp) else None
        else:
            tp = None
        path.append(part)
    tp, _ = _unwrap(tp, discriminator)
    return tuple(path), tp if _is_model(tp) else None


@cache
def places(root: type[BaseModel]) -> tuple[Place, ...]:
    """Every model reachable from root, each with where it first appears, in schema order."""
    found: dict[type[BaseModel], Place] = {}

    def visit(tp: Any, path: str, discriminator: str | None, tag: tuple[str, str] | None) -> None:
        tp, discriminator = _unwrap(tp, discriminator)
        origin = get_origin(tp)
        if origin in _UNIONS:
            for member in _members(tp):
                tags = _tags(member, discriminator) if _is_model(member) else ()
                visit(member, path, None, (discriminator, tags[0]) if discriminator and tags else None)
        elif _is_model(tp):
            if tp in found:
                return
            found[tp] = Place(tp, path, tag)
            for name, field in tp.model_fields.items():
                visit(field.annotation, f"{path}.{name}" if path else name, _discriminator(field), None)
        elif origin in _SEQUENCES or origin in _MAPPINGS:
            for arg in get_args(tp)[-1:] if origin in _MAPPINGS else get_args(tp):
                if arg is not Ellipsis:
                    # A mapping's value sits under a name the file chooses (a grid kind, an exclusive type).
                    visit(arg, f"{path}.<name>" if origin in _MAPPINGS else f"{path}[]", discriminator, None)

    visit(root, "", None, None)
    return tuple(found.values())


def reachable_models(root: type[BaseModel]) -> tuple[type[BaseModel], ...]:
    return tuple(place.model for place in places(root))


def _either(values: Sequence[str]) -> str:
    return values[0] if len(values) == 1 else f"{', '.join(values[:-1])} or {values[-1]}"


def _where(found: Sequence[Place]) -> str:
    """'cameras[].zones[] of kind crowd, occupation or fire; clips': members of one union said once."""
    groups: dict[tuple[str, str | None], list[str]] = {}
    for place in found:
        key, value = place.tag if place.tag is not None else (None, None)
        values = groups.setdefault((place.path or "the top level", key), [])
        if value is not None:
            values.append(value)
    return "; ".join(
        f"{path} of {key} {_either(values)}" if key and values else path
        for (path, key), values in groups.items()
    )


def unknown_key(root: type[BaseModel], model: type[BaseModel], key: str) -> str:
    """What to tell someone who wrote key in model, which does not have it."""
    fields = list(model.model_fields)
    other_name = _keys(model).get(key, key)
    if other_name != key:
        # Only an accepted second name ends up here: the field came under its own name as well.
        return f"old name of {other_name}, which is given too: keep only {other_name}"
    if f"{key}_env" in fields:
        return (
            "unknown key; secrets are never written here: put it in an environment variable "
            f"and name that variable with {key}_env"
        )
    elsewhere = [p for p in places(root) if p.model is not model and key in p.model.model_fields]
    cutoff = _CLOSE_BESIDE_ELSEWHERE if elsewhere else _CLOSE
    near = difflib.get_close_matches(key, fields, n=1, cutoff=cutoff)
    if near:
        return f"unknown key (did you mean {near[0]!r}?)"
    if elsewhere:
        return f"unknown key here (other sections or zone kinds have it: {_where(elsewhere)})"
    secret_keys = [p for p in places(root) if f"{key}_env" in p.model.model_fields]
    if secret_keys:
        # secret on a WeCom target: it takes no such secret, and the value must not be written anyway.
        return (
            "unknown key here; secrets are never written in this file, and only "
            f"{_where(secret_keys)} take one, named by {key}_env"
        )
    return "unknown key"
