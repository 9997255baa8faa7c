"""Process settings from the environment (GRIDWATCH_*): where the database, data and site file are.

The site YAML says what to watch; these say how this process runs, so one site file serves a test
run, a demo and production alike.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="GRIDWATCH_", extra="forbid")

    database_url: str | None = Field(
        default=None,
        title="Database URL",
        description="postgresql:// URL; unset runs an embedded PostgreSQL under data_dir.",
    )
    data_dir: Path = Field(
        default=Path("./var"), title="Data directory", description="Evidence, embedded database and caches."
    )
    host: str = Field(default="127.0.0.1", title="Listen address", description="Address the API binds to.")
    port: int = Field(default=8000, ge=1, le=65535, title="Listen port", description="Port the API binds to.")
    config: Path | None = Field(default=None, title="Site file", description="Path to the site YAML.")
    demo: bool = Field(default=False, title="Demo mode", description="Load the demo county and its video.")
    secret_key: str | None = Field(
        default=None,
        title="Token signing key",
        description="Signs access and refresh tokens; at least 32 characters. Required by `serve`.",
    )
    access_token_minutes: int = Field(default=15, ge=1, le=240, title="Access token lifetime")
    refresh_token_hours: int = Field(default=12, ge=1, le=24 * 30, title="Refresh token lifetime")
