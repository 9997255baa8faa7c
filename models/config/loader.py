"""Reading a site file and saying what is wrong with it: every problem at once, each with its line.

A problem reads ``site.yaml:12: cameras[0].zonez: unknown key (did you mean 'zones'?)``: the line is found
by walking the YAML node tree along the same path the message names.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from models.config.document import SiteConfig
from models.config.hints import Loc, document_path, reachable_models, unknown_key
from models.config.policies import PoliciesSection


class LocatedProblem(Protocol):
    """What a check beyond the schema reports (router.imports.Problem fits)."""

    @property
    def where(self) -> str: ...

    @property
    def message(self) -> str: ...


#: A check that needs more than the schema (geometry, homography fits); it runs on a valid config.
ConfigCheck = Callable[[SiteConfig], Iterable[LocatedProblem]]


class PoliciesFile(BaseModel):
    """A YAML file read only for its ``policies:`` section (``gridwatch demo --policies``): a whole site file
    will do, its other sections unread."""

    model_config = ConfigDict(extra="ignore", allow_inf_nan=False, frozen=True)

    policies: PoliciesSection = Field(title="Policies", description="The policies: section of a site file.")


class ConfigError(Exception):
    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(self.problems))


# describe_errors also explains errors of one section validated alone (a camera sent to the registry API);
# pydantic names the model it validated in the error's title.
_SCHEMAS: dict[str, type[BaseModel]] = {model.__name__: model for model in reachable_models(SiteConfig)}


def dotted(loc: Loc) -> str:
    """('cameras', 0, 'zones', 1) -> 'cameras[0].zones[1]'."""
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else part)
    return text


def _parse_dotted(where: str) -> Loc:
    return tuple(int(i) if i else k for k, i in re.findall(r"([A-Za-z_]\w*)|\[(\d+)\]", where))


def _line_of(root: yaml.Node | None, loc: Loc) -> int | None:
    """The 1-based line of the deepest node of loc that exists in the YAML (a missing key: its parent)."""
    if root is None:
        return None
    node, line = root, root.start_mark.line + 1
    for part in loc:
        if isinstance(node, yaml.MappingNode) and isinstance(part, str):
            match = next(((k, v) for k, v in node.value if k.value == part), None)
            if match is None:
                break
            line, node = match[0].start_mark.line + 1, match[1]
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
            node = node.value[part]
            line = node.start_mark.line + 1
        else:
            break
    return line


def _duplicate_keys(node: yaml.Node, loc: Loc = ()) -> Iterable[tuple[Loc, str]]:
    if isinstance(node, yaml.MappingNode):
        seen: set[Any] = set()
        for key, value in node.value:
            if key.value in seen:
                yield (*loc, key.value), "duplicate key: the later value would silently win"
            seen.add(key.value)
            yield from _duplicate_keys(value, (*loc, key.value))
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            yield from _duplicate_keys(item, (*loc, index))


def _error_text(schema: type[BaseModel] | None, error: Mapping[str, Any]) -> tuple[Loc, str]:
    raw: Loc = tuple(error["loc"])
    kind, message = error["type"], str(error["msg"])
    if kind == "extra_forbidden":
        where, model = document_path(schema, raw[:-1]) if schema is not None else (raw[:-1], None)
        key = str(raw[-1])
        return (*where, raw[-1]), unknown_key(schema, model, key) if schema and model else "unknown key"
    loc = document_path(schema, raw)[0] if schema is not None else raw
    if kind == "missing":
        return loc, "required key is missing"
    if kind in ("union_tag_invalid", "union_tag_not_found"):
        loc += (str(error["ctx"]["discriminator"]).strip("'"),)
    return loc, message.removeprefix("Value error, ")


def describe_errors(error: ValidationError, schema: type[BaseModel] | None = None) -> list[tuple[Loc, str]]:
    """Each pydantic error as (path in the document, message a person can act on).

    schema is the model that was validated; by default the one the error names, if it is SiteConfig or
    one of its sections.
    """
    root = schema if schema is not None else _SCHEMAS.get(error.title)
    return [_error_text(root, e) for e in error.errors()]


M = TypeVar("M", bound=BaseModel)


def _validate(
    path: Path, checks: Sequence[Callable[[M], Iterable[LocatedProblem]]], schema: type[M]
) -> tuple[M | None, list[str]]:
    name = path.name
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        return None, [f"{path}: cannot read: {error}"]
    loader = yaml.SafeLoader(text)
    try:
        root = loader.get_single_node()
        data = loader.construct_document(root) if root is not None else None
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark
        where = f"{name}:{mark.line + 1}:{mark.column + 1}" if mark is not None else name
        # The context mark is where the unclosed bracket or block began: usually the line to fix.
        began = error.context_mark
        context = f" ({error.context} at line {began.line + 1}, column {began.column + 1})" if began else ""
        return None, [f"{where}: malformed YAML: {error.problem}{context}"]
    except yaml.YAMLError as error:
        return None, [f"{name}: malformed YAML: {error}"]
    finally:
        loader.dispose()
    if not isinstance(data, dict):
        return None, [
            f"{name}: expected a mapping with site, cameras, detectors, notifications; "
            f"got {type(data).__name__}"
        ]

    def located(loc: Loc, message: str) -> str:
        line = _line_of(root, loc)
        prefix = f"{name}:{line}" if line is not None else name
        return f"{prefix}: {dotted(loc)}: {message}" if loc else f"{prefix}: {message}"

    problems = [located(loc, message) for loc, message in _duplicate_keys(root)] if root is not None else []
    try:
        config = schema.model_validate(data, context={"base_dir": path.parent})
    except ValidationError as error:
        problems += [located(loc, message) for loc, message in describe_errors(error, schema)]
        return None, problems
    for check in checks:
        problems += [located(_parse_dotted(p.where), p.message) for p in check(config)]
    return (None if problems else config), problems


def config_problems(path: Path, *, checks: Sequence[ConfigCheck] = ()) -> list[str]:
    """Every problem of the site file, each like ``site.yaml:12: cameras[0].zonez: unknown key``."""
    return _validate(path, checks, SiteConfig)[1]


def load_site_config(path: Path, *, checks: Sequence[ConfigCheck] = ()) -> SiteConfig:
    """The validated site config; raises ConfigError listing every problem."""
    config, problems = _validate(path, checks, SiteConfig)
    if config is None:
        raise ConfigError(problems)
    return config


def load_policies_file(
    path: Path, *, checks: Sequence[Callable[[PoliciesFile], Iterable[LocatedProblem]]] = ()
) -> PoliciesSection:
    """The validated policies: section of a YAML file; raises ConfigError listing every problem."""
    document, problems = _validate(path, checks, PoliciesFile)
    if document is None:
        raise ConfigError(problems)
    return document.policies
