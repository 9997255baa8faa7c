"""The ``gridwatch`` command line: each command group in its own module, registered on one Typer app."""

from __future__ import annotations

import logging

from api.cli.common import app

# Each module registers its commands on `app` when imported; --help lists them in this order.
# isort: off
from api.cli import site, serve, incidents, users, eval, onboard, duty, audit, roles, backup, gb, cluster
# isort: on

COMMAND_MODULES = (site, serve, incidents, users, eval, onboard, duty, audit, roles, backup, gb, cluster)


def main() -> None:
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    app()
