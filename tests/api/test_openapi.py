"""The spec is the contract the typed client and integrators build on: every JSON answer has a shape."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
import pytest

from api.app import create_app
from api.versioning import V1


def _spec() -> dict[str, Any]:
    # The spec needs no running system: create_app only stores the context.
    return create_app(None).openapi()  # type: ignore[arg-type]


def _resolve(spec: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        schema = spec["components"]["schemas"][name]
    return schema


def _untyped(spec: dict[str, Any], schema: dict[str, Any], where: str, seen: set[str]) -> list[str]:
    """Where ``schema`` (followed through refs, arrays and unions) says nothing about an answer's shape."""
    ref = schema.get("$ref")
    if ref is not None:
        if ref in seen:
            return []
        seen.add(ref)
    schema = _resolve(spec, schema)
    for union in ("anyOf", "oneOf", "allOf"):
        if union in schema:
            return [p for s in schema[union] for p in _untyped(spec, s, where, seen)]
    kind = schema.get("type")
    if kind is None and "const" not in schema and "enum" not in schema:
        return [f"{where}: no type"]
    if kind == "array":
        items = schema.get("items")
        return [f"{where}[]: untyped items"] if not items else _untyped(spec, items, f"{where}[]", seen)
    if kind == "object":
        properties = schema.get("properties")
        extra = schema.get("additionalProperties")
        if not properties and not isinstance(extra, dict):
            return [f"{where}: an object without properties"]
        problems = [
            p
            for name, s in (properties or {}).items()
            for p in _untyped(spec, s, f"{where}.{name}", seen)
            if name != "coordinates"  # GeoJSON: nested arrays of numbers, documented on the field
        ]
        if isinstance(extra, dict) and extra:
            problems += _untyped(spec, extra, f"{where}.*", seen)
        return problems
    return []


def test_every_json_answer_of_every_route_has_a_typed_schema() -> None:
    spec = _spec()
    problems: list[str] = []
    answers = 0
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            for status, response in operation["responses"].items():
                if not status.startswith("2"):
                    continue
                content = response.get("content")
                label = f"{method.upper()} {path} {status}"
                if status != "204" and not content:
                    problems.append(f"{label}: no content declared")
                    continue
                for media_type, body in (content or {}).items():
                    if "json" not in media_type:
                        continue
                    answers += 1
                    if not body.get("schema"):
                        problems.append(f"{label}: no schema")
                        continue
                    problems += _untyped(spec, body["schema"], label, set())
    assert problems == []
    assert answers >= 20


def test_the_spec_documents_api_v1_and_the_oauth2_password_flow() -> None:
    spec = _spec()
    api_paths = [p for p in spec["paths"] if p.startswith("/api")]
    assert api_paths and all(p.startswith(V1 + "/") for p in api_paths)
    flows = [s["flows"] for s in spec["components"]["securitySchemes"].values() if s["type"] == "oauth2"]
    assert flows == [{"password": {"scopes": {}, "tokenUrl": f"{V1}/auth/token"}}]
    token_body = spec["paths"][f"{V1}/auth/token"]["post"]["requestBody"]["content"]
    assert set(token_body) == {"application/json", "application/x-www-form-urlencoded"}
    assert token_body["application/json"]["schema"]["additionalProperties"] is False


def test_request_bodies_refuse_unknown_fields() -> None:
    spec = _spec()
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            for media_type, body in operation.get("requestBody", {}).get("content", {}).items():
                schema = _resolve(spec, body.get("schema", {}))
                if schema.get("type") == "object":
                    assert schema.get("additionalProperties") is False, (method, path, media_type)


def test_the_fuzzers_conformance_check_refuses_an_answer_off_the_spec() -> None:
    # tests/system/fuzz runs these checks on every answer; here they meet one right and one wrong answer.
    import schemathesis
    from schemathesis.checks import not_a_server_error
    from schemathesis.specs.openapi.checks import response_schema_conformance

    case = schemathesis.openapi.from_dict(_spec())[f"{V1}/site"]["GET"].Case()
    checks = [not_a_server_error, response_schema_conformance]

    def answer(body: object) -> httpx.Response:
        response = httpx.Response(200, json=body, request=httpx.Request("GET", f"http://gridwatch{V1}/site"))
        response.elapsed = timedelta(0)
        return response

    case.validate_response(answer({"timezone": "Asia/Shanghai"}), checks=checks)
    with pytest.raises(BaseException, match="Response violates schema"):
        case.validate_response(answer({"timezone": "Asia/Shanghai", "tz": 8}), checks=checks)
