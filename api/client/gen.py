"""Generate the typed Python client (api/client/v1.py) from gridwatch's OpenAPI spec.

    python -m api.client.gen            rewrite api/client/v1.py from the app's spec
    python -m api.client.gen --check    exit 1 if the file differs from what the spec gives

Small on purpose: the spec uses a few JSON Schema forms (objects, arrays, unions, enums, refs) and the
client needs one pydantic model per component and one method per operation. openapi-python-client would
do it with attrs models and a package per client; this keeps the client in the distribution, on the
pydantic and httpx gridwatch already depends on. tests/api/test_client.py fails when the file is stale.
"""

from __future__ import annotations

import inspect
import keyword
import re
import sys
from pathlib import Path
from typing import Any

#: The generated modules: the models of the spec's components, and the client with one method per operation.
MODELS = Path(__file__).with_name("models.py")
TARGET = Path(__file__).with_name("v1.py")

_SCALARS = {"string": "str", "integer": "int", "number": "float", "boolean": "bool", "null": "None"}


def _ident(name: str) -> str:
    """A Python identifier for a JSON name (``from`` → ``from_``)."""
    cleaned = re.sub(r"\W", "_", name)
    if cleaned[:1].isdigit():
        cleaned = "_" + cleaned
    reserved = keyword.iskeyword(cleaned) or cleaned in ("json", "model_config")
    return cleaned + "_" if reserved else cleaned


def _class_name(ref: str) -> str:
    return _ident(ref.rsplit("/", 1)[-1])


def _snake(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")


class Generator:
    def __init__(self, spec: dict[str, Any]) -> None:
        self.spec = spec
        self.schemas: dict[str, Any] = spec.get("components", {}).get("schemas", {})

    # --- types ------------------------------------------------------------------------------------------

    def type_of(self, schema: dict[str, Any]) -> str:
        if not schema:
            return "Any"
        if "$ref" in schema:
            return _class_name(schema["$ref"])
        for union in ("anyOf", "oneOf"):
            if union in schema:
                members: list[str] = []
                for member in schema[union]:
                    t = self.type_of(member)
                    if t not in members:
                        members.append(t)
                return " | ".join(members)
        if "allOf" in schema and len(schema["allOf"]) == 1:
            return self.type_of(schema["allOf"][0])
        if "const" in schema:
            return f"Literal[{schema['const']!r}]"
        if "enum" in schema:
            return "Literal[" + ", ".join(repr(v) for v in schema["enum"]) + "]"
        kind = schema.get("type")
        if isinstance(kind, list):
            return " | ".join(self.type_of({**schema, "type": k}) for k in kind)
        if kind == "array":
            return f"list[{self.type_of(schema.get('items', {}))}]"
        if kind == "object":
            extra = schema.get("additionalProperties")
            if isinstance(extra, dict) and not schema.get("properties"):
                return f"dict[str, {self.type_of(extra)}]"
            return "dict[str, Any]"
        if kind == "string" and schema.get("format") == "date-time":
            return "datetime"
        if kind == "string" and schema.get("format") == "binary":
            return "bytes"
        return _SCALARS.get(str(kind), "Any")

    def model(self, name: str, schema: dict[str, Any]) -> str:
        cls = _ident(name)
        if schema.get("type") != "object" or "properties" not in schema:
            return f"{cls} = {self.type_of(schema)}\n"
        lines = [f"class {cls}(_Model):"]
        doc = schema.get("description")
        if doc:
            lines.append(f"    {_docstring(doc)}")
            lines.append("")
        required = set(schema.get("required", ()))
        for prop, sub in schema["properties"].items():
            field = _ident(prop)
            annotation = self.type_of(sub)
            arguments: list[str] = []
            if field != prop:
                arguments.append(f"alias={prop!r}")
            if prop not in required:
                default = sub.get("default")
                if isinstance(default, list | dict):
                    arguments.insert(0, f"default_factory={type(default).__name__}")
                else:
                    arguments.insert(0, f"default={default!r}")
                    if default is None and "None" not in annotation.split(" | "):
                        annotation += " | None"
            suffix = f" = Field({', '.join(arguments)})" if arguments else ""
            lines.append(f"    {field}: {annotation}{suffix}")
        if schema.get("additionalProperties") is False:
            lines.append("")
            lines.append('    model_config = ConfigDict(extra="forbid", populate_by_name=True)')
        return "\n".join(lines) + "\n"

    # --- operations -------------------------------------------------------------------------------------

    def operations(self) -> list[str]:
        methods: list[str] = []
        names: set[str] = set()
        for path, item in self.spec["paths"].items():
            for verb, operation in item.items():
                name = _snake(operation.get("summary") or operation["operationId"])
                if name in names:
                    raise ValueError(f"two operations would both be Client.{name}")
                names.add(name)
                methods.append(self.method(name, verb, path, operation))
        return methods

    def method(self, name: str, verb: str, path: str, operation: dict[str, Any]) -> str:
        positional: list[str] = []
        keywords: list[str] = []
        query: list[str] = []
        for parameter in operation.get("parameters", ()):
            if parameter["in"] not in ("path", "query"):
                continue
            arg = _ident(parameter["name"])
            annotation = self.type_of(parameter.get("schema", {}))
            if parameter["in"] == "path":
                positional.append(f"{arg}: {annotation}")
            else:
                if "None" not in annotation.split(" | "):
                    annotation += " | None"
                keywords.append(f"{arg}: {annotation} = None")
                query.append(f"{parameter['name']!r}: {arg}")
        body_kind = ""
        content = operation.get("requestBody", {}).get("content", {})
        if "application/json" in content:
            body_kind = "json"
            annotation = self.type_of(content["application/json"].get("schema", {}))
            plain = annotation in ("Any", "dict[str, Any]")
            positional.append(f"body: {annotation}" if plain else f"body: {annotation} | dict[str, Any]")
        elif content:
            body_kind = "raw"
            media_types = list(content)
            positional.append("content: bytes | str")
            keywords.insert(0, f"content_type: str = {media_types[0]!r}")
        answer, parse = self.answer(operation)
        args = ", ".join(["self", *positional, *(["*", *keywords] if keywords else [])])
        summary = operation.get("summary", name)
        description = inspect.cleandoc(operation.get("description", ""))
        doc = f"{verb.upper()} {path}: {summary}." + (f"\n\n{description}" if description else "")
        quoted = re.sub(r"\{(\w+)\}", lambda m: "{_q(" + _ident(m.group(1)) + ")}", path)
        request = [f"{verb.upper()!r}", f"f{quoted!r}" if quoted != path else repr(path)]
        if query:
            request.append("params={" + ", ".join(query) + "}")
        if body_kind == "json":
            request.append("json=_dump(body)")
        elif body_kind == "raw":
            request.append("content=content, content_type=content_type")
        lines = [
            f"    def {name}({args}) -> {answer}:",
            f"        {_docstring(doc, indent=8)}",
            f"        response = self._send({', '.join(request)})",
            f"        {parse}",
        ]
        return "\n".join(lines) + "\n"

    def answer(self, operation: dict[str, Any]) -> tuple[str, str]:
        ok = sorted(s for s in operation["responses"] if s.startswith("2"))
        if not ok or ok == ["204"]:
            return "None", "return None"
        content = operation["responses"][ok[0]].get("content", {})
        if "application/json" in content:
            annotation = self.type_of(content["application/json"].get("schema", {}))
            parse = f"return TypeAdapter({annotation}).validate_python(response.json())"
            if len(content) == 1:
                return annotation, parse
            # JSON or an export (CSV, XLSX), as the query asked: the model for JSON, else the response.
            media = 'response.headers.get("content-type", "").startswith("application/json")'
            return (
                f"{annotation} | httpx.Response",
                f"if not {media}:\n            return response\n        {parse}",
            )
        # Media (JPEG, clips, CSV, SDP, streams): the caller gets the response to read as it needs.
        return "httpx.Response", "return response"

    def render(self) -> dict[Path, str]:
        """The text of each generated module."""
        models = [self.model(name, schema) for name, schema in sorted(self.schemas.items())]
        names = [_ident(n) for n in sorted(self.schemas)]
        classes = [_ident(n) for n, s in sorted(self.schemas.items()) if "properties" in s]
        info = self.spec.get("info", {})
        title = f"{info.get('title', '')} API {info.get('version', '')}"
        return {
            MODELS: MODELS_HEADER.format(title=title)
            + "\n\n".join(models)
            + "\n\n"
            + "".join(f"{c}.model_rebuild()\n" for c in classes),
            TARGET: CLIENT_HEADER.format(title=title, names=", ".join(names))
            + CLIENT
            + "\n\n".join(self.operations()),
        }


def _docstring(text: str, indent: int = 4) -> str:
    text = text.replace("\\", "\\\\").replace('"""', "'''").strip()
    pad = " " * indent
    body = "\n".join((pad + line) if line.strip() else "" for line in text.splitlines())
    return '"""' + body.lstrip() + ("\n" + pad if "\n" in text else "") + '"""'


_DO_NOT_EDIT = (
    "Do not edit: run ``python -m api.client.gen``; tests/api/test_client.py fails when it is stale."
)
MODELS_HEADER = f'''"""The shapes of the {{title}}, generated from its OpenAPI spec by api/client/gen.py.

{_DO_NOT_EDIT}
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class _Model(BaseModel):
    # A newer server may add fields: the client keeps working and ignores them.
    model_config = ConfigDict(populate_by_name=True)


'''
CLIENT_HEADER = f'''"""Typed client of the {{title}}, generated from its OpenAPI spec by api/client/gen.py.

{_DO_NOT_EDIT}
"""

from __future__ import annotations

from typing import Any, Literal
from urllib.parse import quote

import httpx
from pydantic import BaseModel, TypeAdapter

from api.client.models import {{names}}


'''

CLIENT = '''class ApiError(Exception):
    """A 4xx or 5xx answer: ``status`` and the server's ``detail`` (a message or a list of problems)."""

    def __init__(self, status: int, detail: Any) -> None:
        super().__init__(f"{status}: {detail}")
        self.status = status
        self.detail = detail


def _q(value: object) -> str:
    return quote(str(value), safe="")


def _dump(body: Any) -> Any:
    if isinstance(body, BaseModel):
        return body.model_dump(mode="json", by_alias=True, exclude_unset=True)
    return body


class Client:
    """One gridwatch server: ``Client("https://gridwatch.example")``, then ``sign_in(user, password)``
    (or pass ``api_key=``) and call the methods, one per operation of the spec."""

    def __init__(
        self,
        base_url: str,
        *,
        api_key: str | None = None,
        timeout: float = 30,
        http: httpx.Client | None = None,
    ) -> None:
        self.http = http or httpx.Client(base_url=base_url, timeout=timeout)
        if api_key is not None:
            self.http.headers["X-API-Key"] = api_key

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def close(self) -> None:
        self.http.close()

    def sign_in(self, username: str, password: str) -> TokenOut:
        """The OAuth2 password grant; later calls carry the access token."""
        form = {"grant_type": "password", "username": username, "password": password}
        response = self._send("POST", "/api/v1/auth/token", data=form)
        tokens = TokenOut.model_validate(response.json())
        self.http.headers["Authorization"] = f"Bearer {tokens.access_token}"
        return tokens

    def _send(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        content_type: str | None = None,
        **kwargs: Any,
    ) -> httpx.Response:
        query = {k: v for k, v in (params or {}).items() if v is not None}
        headers = {"Content-Type": content_type} if content_type else None
        response = self.http.request(method, path, params=query, headers=headers, **kwargs)
        if response.status_code >= 400:
            try:
                detail = response.json().get("detail")
            except ValueError:
                detail = response.text
            raise ApiError(response.status_code, detail)
        return response

'''


def main(argv: list[str] | None = None) -> int:
    from api.app import create_app

    args = sys.argv[1:] if argv is None else argv
    modules = Generator(create_app(None).openapi()).render()  # type: ignore[arg-type]
    if "--check" in args:
        stale = [p for p, text in modules.items() if not p.exists() or p.read_text() != text]
        for path in stale:
            print(f"{path} is stale: run python -m api.client.gen", file=sys.stderr)
        return 1 if stale else 0
    for path, text in modules.items():
        path.write_text(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
