from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from models.settings import Settings


def test_defaults_bind_to_loopback(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("DATABASE_URL", "DATA_DIR", "HOST", "PORT", "CONFIG", "DEMO"):
        monkeypatch.delenv(f"GRIDWATCH_{name}", raising=False)
    settings = Settings()
    assert (settings.host, settings.port, settings.data_dir, settings.demo) == (
        "127.0.0.1",
        8000,
        Path("var"),
        False,
    )
    assert settings.database_url is None


@pytest.mark.parametrize(
    ("variable", "value", "field", "expected"),
    [
        ("GRIDWATCH_PORT", "9000", "port", 9000),
        ("GRIDWATCH_DEMO", "1", "demo", True),
        ("GRIDWATCH_DATA_DIR", "/srv/gridwatch", "data_dir", Path("/srv/gridwatch")),
        ("GRIDWATCH_CONFIG", "site.yaml", "config", Path("site.yaml")),
        ("GRIDWATCH_DATABASE_URL", "postgresql://gw@db/gw", "database_url", "postgresql://gw@db/gw"),
    ],
)
def test_environment_overrides(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str, field: str, expected: object
) -> None:
    monkeypatch.setenv(variable, value)
    assert getattr(Settings(), field) == expected


def test_bad_port_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GRIDWATCH_PORT", "70000")
    with pytest.raises(ValidationError, match="port"):
        Settings()
