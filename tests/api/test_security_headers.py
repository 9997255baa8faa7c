"""Every response carries the security headers (issue 15), the pages' policy allows no inline script, and
the pages hold none; the API's documentation pages allow exactly their own inline scripts, by hash."""

from __future__ import annotations

import base64
import hashlib
import re

import httpx
import pytest

from api.routes.pages import STATIC_DIR
from api.security_headers import PAGE_POLICY
from api.site import DEMO_PASSWORD
from models.store import Store
from tests.rig import demo_rig

PAGES = ("/", "/login", "/worker", "/kpis")


def _directives(policy: str) -> dict[str, list[str]]:
    return {d.split()[0]: d.split()[1:] for d in (part.strip() for part in policy.split(";")) if d}


def _check_common(response: httpx.Response) -> None:
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "no-referrer"
    assert response.headers["x-frame-options"] == "DENY"
    policy = _directives(response.headers["content-security-policy"])
    assert policy["frame-ancestors"] == ["'none'"]
    assert "'unsafe-inline'" not in policy["script-src"] and "'unsafe-eval'" not in policy["script-src"]


async def test_every_kind_of_response_carries_the_headers(store: Store) -> None:
    rig = await demo_rig(store)
    client = await rig.client()
    signed_in = await rig.client("command")
    responses = [
        *[await client.get(page) for page in PAGES],
        await client.get("/static/app.js"),
        await client.get("/static/style.css"),
        await client.get("/api/health"),
        await client.get("/api/incidents"),  # 401
        await signed_in.get("/api/incidents"),
        await signed_in.get("/api/incidents", params={"limit": "many"}),  # 422
        await client.get("/no/such/page"),  # 404
        await client.post("/api/auth/token", json={"username": "w001", "password": "nope"}),  # 401
        await client.post("/api/auth/token", json={"username": "w001", "password": DEMO_PASSWORD}),
    ]
    assert [r.status_code for r in responses[:4]] == [200] * 4
    assert {r.status_code for r in responses} >= {200, 401, 404, 422}
    for response in responses:
        _check_common(response)
        assert response.headers["content-security-policy"] == PAGE_POLICY
    await rig.stop()


async def test_the_docs_pages_allow_only_their_own_inline_scripts(store: Store) -> None:
    rig = await demo_rig(store)
    client = await rig.client()
    for path in ("/docs", "/redoc"):
        page = await client.get(path)
        assert page.status_code == 200
        _check_common(page)
        script_src = _directives(page.headers["content-security-policy"])["script-src"]
        inline = re.findall(r"<script(?![^>]*\bsrc=)[^>]*>(.*?)</script>", page.text, re.DOTALL)
        assert inline or path == "/redoc", "Swagger UI starts inline: the hash rule is exercised"
        hashes = {
            "'sha256-" + base64.b64encode(hashlib.sha256(s.encode()).digest()).decode() + "'" for s in inline
        }
        assert {s for s in script_src if s.startswith("'sha256-")} == hashes
        assert int(page.headers["content-length"]) == len(page.content)
    await rig.stop()


@pytest.mark.parametrize("page", sorted(p.name for p in STATIC_DIR.glob("*.html")))
def test_the_pages_hold_no_inline_script_or_handler(page: str) -> None:
    # The policy would block them; this says which page broke the rule before a browser does.
    html = (STATIC_DIR / page).read_text(encoding="utf-8")
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html, re.IGNORECASE), page
    assert not re.search(r"\son[a-z]+\s*=", html, re.IGNORECASE), page
    assert not re.search(r"\sstyle\s*=", html, re.IGNORECASE), page
    assert "javascript:" not in html.lower()
