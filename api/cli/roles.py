"""``gridwatch node`` and ``gridwatch centre``: the two roles as processes of their own, joined by NATS.

``serve`` and ``demo`` stay one process with no NATS. What these run lives in api/cli/county.py, imported when
a command starts (the detectors, the web stack and the NATS client take a second to import).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from api.cli.common import app, guard, log_progress, settings

NATS_URL = "nats://127.0.0.1:4222"


@app.command()
def node(
    township: Annotated[str, typer.Option(help="The township whose cameras this node analyses (its code)")],
    nats: Annotated[str, typer.Option(help="The township's leaf server (or the one server)")] = NATS_URL,
    hub_domain: Annotated[
        str, typer.Option(help="The hub's JetStream domain; empty: one server, no leaf nodes")
    ] = "county",
    camera: Annotated[
        list[str] | None, typer.Option(help="Run only this camera (repeatable; default: all the township's)")
    ] = None,
    config: Annotated[
        Path | None, typer.Option(help="Site YAML: detectors, clips, policies (default: the demo's)")
    ] = None,
    name: Annotated[
        str | None,
        typer.Option(
            help="This node's name: the id its leases carry, and what the site file pins cameras to"
        ),
    ] = None,
    video_port: Annotated[
        int | None,
        typer.Option(
            help="Serve the centre's wall live video of this node's cameras here (WHEP; needs "
            "GRIDWATCH_VIDEO_TOKEN, the same at the centre)"
        ),
    ] = None,
    video_host: Annotated[str, typer.Option(help="Address the video port listens on")] = "127.0.0.1",
    video_url: Annotated[
        str | None, typer.Option(help="The URL the centre reaches that port at (default http://HOST:PORT)")
    ] = None,
) -> None:
    """Analyse the township's cameras and publish their events to its JetStream stream."""
    from api.cli.county import run_node_command

    log_progress()
    guard(
        lambda: run_node_command(
            nats,
            township,
            hub_domain=hub_domain or None,
            cameras=camera or [],
            config=config,
            name=name,
            video_port=video_port,
            video_host=video_host,
            video_url=video_url,
        )
    )


@app.command()
def centre(
    township: Annotated[
        list[str] | None,
        typer.Option(
            help="A township the county stream sources: CODE or CODE=DOMAIN (repeatable; default: the "
            "site file's townships:)"
        ),
    ] = None,
    nats: Annotated[str, typer.Option(help="The hub server")] = NATS_URL,
    hub_domain: Annotated[
        str, typer.Option(help="The hub's JetStream domain; empty: one server, no leaf nodes")
    ] = "county",
    camera: Annotated[
        list[str] | None,
        typer.Option(help="CAMERA=TOWNSHIP: which township runs a camera (default: where it looks)"),
    ] = None,
    config: Annotated[Path | None, typer.Option(help="Site YAML (default: the demo county)")] = None,
    host: Annotated[str, typer.Option(help="Listen address")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Listen port")] = 8000,
    demo_users: Annotated[
        bool, typer.Option(help="Also sign in the demo's users (loopback only; ./run cluster)")
    ] = False,
) -> None:
    """Run the county centre and the API over the townships' events."""
    from api.cli.county import parse_placements, parse_townships, run_centre_command

    log_progress()
    current = settings()

    def run() -> None:
        townships = parse_townships(township or [], hub_domain or None, required=config is None)
        placements = parse_placements(camera or [])
        run_centre_command(
            current,
            nats,
            townships,
            placements=placements,
            config=config,
            host=host,
            port=port,
            hub_domain=hub_domain or None,
            demo_users=demo_users,
        )

    guard(run)
