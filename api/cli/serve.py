"""``gridwatch serve`` and ``gridwatch demo``: both roles in one process, with the HTTP server over them.

What they run lives in api/cli/running.py, imported when a command starts: the detectors, the web stack
and the wiring take a second to import, which no other command should pay.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from api.cli.common import app, fail, guard, log_progress, settings


@app.command()
def serve(
    config: Annotated[Path | None, typer.Option(help="Site YAML (default: $GRIDWATCH_CONFIG)")] = None,
    host: Annotated[str | None, typer.Option(help="Listen address")] = None,
    port: Annotated[int | None, typer.Option(help="Listen port")] = None,
) -> None:
    """Run ingest → detect → router → api for the configured site and serve the web UI."""
    from api.cli.running import run_site

    log_progress()
    current = settings()
    path = config or current.config
    if path is None:
        fail(["no site config: pass --config FILE or set GRIDWATCH_CONFIG (or try `gridwatch demo`)"])
    guard(lambda: run_site(current, path, host=host or current.host, port=port or current.port))


@app.command()
def demo(
    host: Annotated[str, typer.Option(help="Listen address")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Listen port")] = 8000,
    data_dir: Annotated[Path | None, typer.Option(help="Where the demo keeps its database")] = None,
    policies: Annotated[
        Path | None,
        typer.Option(help="YAML whose policies: section the demo runs by (a site file will do)"),
    ] = None,
) -> None:
    """Run the 青河县 demo county: its grids, roster and a camera playing vtest.avi at real time."""
    from api.cli.running import run_demo

    log_progress()
    current = settings()
    if data_dir is not None:
        current = current.model_copy(update={"data_dir": data_dir})
    guard(lambda: run_demo(current, host=host, port=port, policies=policies))
