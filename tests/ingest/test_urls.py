from __future__ import annotations

import pytest

from ingest.urls import mask_url, redact

CANARY = "Canary-Pw-91d2e"


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (
            f"rtsp://admin:{CANARY}@10.0.0.7:554/Streaming/Channels/101",
            "rtsp://***:***@10.0.0.7:554/Streaming/Channels/101",
        ),
        ("rtsp://admin@10.0.0.7/live", "rtsp://***@10.0.0.7/live"),
        (f"rtsps://admin:{CANARY}@cam.example:322/s0", "rtsps://***:***@cam.example:322/s0"),
        ("rtsp://10.0.0.7:554/live", "rtsp://10.0.0.7:554/live"),
        # A password may itself contain '@' or ':' (percent-encoded or not).
        ("rtsp://admin:p%40ss:w@[fe80::1]:554/ch1", "rtsp://***:***@[fe80::1]:554/ch1"),
        ("rtsp://admin:p@ss@10.0.0.7/ch1", "rtsp://***:***@10.0.0.7/ch1"),
        (
            f"rtsp://10.0.0.7/cam/realmonitor?channel=1&user=admin&password={CANARY}",
            "rtsp://10.0.0.7/cam/realmonitor?channel=1&user=***&password=***",
        ),
        (
            "/usr/share/doc/opencv-doc/examples/data/vtest.avi",
            "/usr/share/doc/opencv-doc/examples/data/vtest.avi",
        ),
        ("rtsp://[::1/broken", "<unparseable url>"),
    ],
)
def test_mask_url(url: str, expected: str) -> None:
    assert mask_url(url) == expected


def test_mask_url_never_returns_the_password() -> None:
    masked = mask_url(f"rtsp://admin:{CANARY}@10.0.0.7/live?pwd={CANARY}")
    assert CANARY not in masked
    assert "admin" not in masked


def test_redact_replaces_the_url_inside_foreign_messages() -> None:
    url = f"rtsp://admin:{CANARY}@10.0.0.7/live"
    message = f"[Errno 825242872] Server returned 401 Unauthorized: '{url}'"
    assert (
        redact(message, url)
        == "[Errno 825242872] Server returned 401 Unauthorized: 'rtsp://***:***@10.0.0.7/live'"
    )


def test_redact_replaces_credentials_quoted_without_the_whole_url() -> None:
    url = f"rtsp://admin:{CANARY}@10.0.0.7/live"
    assert redact(f"tried admin:{CANARY}@10.0.0.7 twice", url) == "tried ***@10.0.0.7 twice"
