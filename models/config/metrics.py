"""``metrics:``: how Prometheus is let in to ``/metrics`` without a person's sign-in."""

from __future__ import annotations

from pydantic import Field

from models.config.base import ConfigModel, EnvName


class MetricsSection(ConfigModel):
    """The scrape key: Prometheus sends it as ``Authorization: Bearer KEY`` (or ``?key=KEY``). The key
    itself stays out of this file; it is read from the environment variable named here."""

    api_key_env: EnvName | None = Field(
        default="GRIDWATCH_METRICS_KEY",
        title="Scrape key variable",
        description="Environment variable holding the scrape key (at least 16 characters); unset or "
        "empty: only admins (signed in, or with an admin API key) may read /metrics.",
    )
