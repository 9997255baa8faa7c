"""``gridwatch cluster``: a hub, two township leaf servers, three nodes and a centre on this machine
(api/cluster.py), until Ctrl-C. ``./run cluster`` runs it."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Annotated

import typer

from api.cli.common import app, guard, log_progress


@app.command()
def cluster(
    port: Annotated[int, typer.Option(help="The wall's port (the centre's API)")] = 8000,
    directory: Annotated[
        Path | None,
        typer.Option(
            "--dir",
            help="Where the site file, NATS stores, databases and logs go (default: a new temporary one, "
            "removed at the end)",
        ),
    ] = None,
) -> None:
    """Run the demo county as real processes: a NATS hub, two township leaves, three nodes, a centre."""
    from api.cli.running import check_port_free
    from api.cluster import run
    from api.nats.servers import ServerProblem, server_binary
    from api.problems import UsageProblem
    from api.site import demo_video

    log_progress()

    def start() -> None:
        check_port_free("127.0.0.1", port)
        try:
            server_binary()
        except ServerProblem as exc:
            raise UsageProblem(str(exc)) from None
        video = demo_video()
        where = directory or Path(tempfile.mkdtemp(prefix="gridwatch-cluster-"))
        run(where.resolve(), port, video)
        if directory is None:
            shutil.rmtree(where, ignore_errors=True)

    guard(start)
