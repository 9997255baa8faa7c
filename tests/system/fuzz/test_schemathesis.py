"""Property-based requests generated from gridwatch's own OpenAPI spec: no input causes a 5xx, and every
answer matches the schema the spec gives for its status (response-schema conformance).

One test per operation, so a failure names its route; GRIDWATCH_FUZZ_CASES sets the cases of the whole run
(default 10,400, spread evenly over the operations). The total is printed at the end of the session.
"""

from __future__ import annotations

import os
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from api.app import create_app
from tests.system.fuzz.conftest import CASES, InProcess


@schemathesis.serializer("application/sdp")
def _sdp(ctx, value) -> dict[str, bytes]:  # type: ignore[no-untyped-def]
    """WHEP offers are SDP text; the fuzzer sends whatever string it generated."""
    return {"data": str(value).encode("utf-8", "surrogatepass")}


@schemathesis.serializer("image/jpeg", "image/png")
def _photo(ctx, value) -> dict[str, bytes]:  # type: ignore[no-untyped-def]
    """Attachments are raw image bytes; the fuzzer sends whatever it generated (mostly not an image)."""
    return {"data": value if isinstance(value, bytes) else str(value).encode("utf-8", "surrogatepass")}


SPEC = create_app(None).openapi()  # type: ignore[arg-type]
SCHEMA = schemathesis.openapi.from_dict(SPEC)
#: Endless streams would never answer; their scoping and errors are tested directly elsewhere.
ENDLESS = ("/api/v1/stream", "/mjpeg")
OPERATIONS = {
    f"{op.method.upper()} {op.path}": op
    for op in (result.ok() for result in SCHEMA.get_all_operations())
    if not op.path.endswith(ENDLESS)
}
CASES_PER_RUN = int(os.environ.get("GRIDWATCH_FUZZ_CASES", "10400"))
#: Operations without any input have one case; each sign-in checks an argon2 hash (about 0.2 s on purpose),
#: so it gets a fixed share; the rest of the run is spread evenly over the others.
SIGN_IN = "POST /api/v1/auth/token"
SIGN_INS = 60
#: Changing one's password checks the current one against its argon2 hash too: the same fixed share.
PASSWORD = "POST /api/v1/auth/password"


def _has_input(label: str) -> bool:
    operation = SPEC["paths"][label.split(" ", 1)[1]][label.split(" ", 1)[0].lower()]
    return bool(operation.get("parameters") or operation.get("requestBody"))


FUZZED = [label for label in OPERATIONS if _has_input(label) and label not in (SIGN_IN, PASSWORD)]
EXAMPLES = {label: 1 for label in OPERATIONS} | {
    SIGN_IN: SIGN_INS,
    PASSWORD: SIGN_INS,
    **dict.fromkeys(FUZZED, max(5, -(-(CASES_PER_RUN - 2 * SIGN_INS) // len(FUZZED)))),
}


def _request(kwargs: dict[str, Any]) -> dict[str, Any]:
    """What schemathesis serialised for its requests transport, as httpx takes it."""
    out = {k: kwargs[k] for k in ("params", "headers", "cookies", "json") if kwargs.get(k) is not None}
    data = kwargs.get("data")
    if isinstance(data, bytes | str):
        out["content"] = data
    elif data is not None:
        out["data"] = data
    return out


def test_every_operation_is_fuzzed() -> None:
    assert len(OPERATIONS) >= 25 and len(FUZZED) >= 15, sorted(OPERATIONS)
    assert sum(EXAMPLES.values()) >= CASES_PER_RUN


@pytest.mark.parametrize("label", sorted(OPERATIONS))
def test_no_input_causes_a_server_error_or_an_answer_off_the_spec(
    label: str, served: InProcess, command_token: str
) -> None:
    operation = OPERATIONS[label]
    headers = {"Authorization": f"Bearer {command_token}"}
    ran: list[int] = []

    @given(case=operation.as_strategy())
    @settings(
        max_examples=EXAMPLES[label],
        deadline=None,
        suppress_health_check=list(HealthCheck),
        database=None,
        # A failure is reported as found: shrinking it would cost minutes on this route alone.
        phases=(Phase.explicit, Phase.generate),
    )
    def fuzz(case) -> None:  # type: ignore[no-untyped-def]
        kwargs = case.as_transport_kwargs(base_url="http://gridwatch", headers=headers)
        response = served.send(kwargs["method"], kwargs["url"], **_request(kwargs))
        CASES.append(str(response.status_code))
        ran.append(response.status_code)
        case.validate_response(response, checks=[not_a_server_error, response_schema_conformance])

    fuzz()
    # Hypothesis stops early only when the inputs allow fewer distinct cases (a path with one parameter).
    assert ran and (len(ran) >= EXAMPLES[label] // 2 or label not in FUZZED), len(ran)


def test_the_run_made_its_share_of_cases() -> None:
    """Runs last (pytest keeps the file's order): the run as a whole made the cases it was set to."""
    if len(CASES) < sum(EXAMPLES.values()) // 2:
        pytest.skip("only part of the fuzzing ran (a -k selection)")
    assert len(CASES) >= CASES_PER_RUN * 0.97, len(CASES)
