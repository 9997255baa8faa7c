"""Setting a site up: the database schema, checking the site file, importing grids, roster and cameras.

Bad input exits 2 with one line per problem; nothing is half-imported.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from api.cli.common import app, audit_change, guard, out, progress, read_text, run_with_store, settings
from api.problems import UsageProblem
from models.store import Store


@app.command()
def migrate() -> None:
    """Create or update the database schema."""

    async def work(store: Store) -> dict[str, int]:
        return await store.counts()

    counts = run_with_store(settings(), work)
    out.print(f"schema up to date ({', '.join(f'{k} {v}' for k, v in counts.items())})")


@app.command("check-config")
def check_config(file: Annotated[Path, typer.Argument(help="Site YAML file")]) -> None:
    """Validate a site YAML: every problem with its place in the file; exit 2 if any."""
    from models.config import config_problems
    from router.imports.cameras import site_camera_problems
    from router.policies import policy_problems

    def action() -> None:
        read_text(file)  # existence and encoding first, with the same messages as the importers
        problems = config_problems(file, checks=[site_camera_problems, policy_problems])
        if problems:
            raise UsageProblem(*problems)
        out.print(f"{file}: OK")

    guard(action)


@app.command("import-grids")
def import_grids(
    file: Annotated[Path, typer.Argument(help="GeoJSON FeatureCollection of grids")],
    crs: Annotated[
        str, typer.Option(help="CRS of the coordinates: EPSG:4326, EPSG:4490, GCJ-02, BD-09")
    ] = "EPSG:4326",
) -> None:
    """Replace the grid layer with FILE (all or nothing)."""
    from router.imports.grids import parse_grids

    def action() -> None:
        text = read_text(file)
        with progress("grids") as bar:
            task = bar.add_task("grids", total=None)

            def tick(done: int, total: int) -> None:
                bar.update(task, completed=done, total=total)

            grids = parse_grids(text, crs=crs, progress=tick)

        async def work(store: Store) -> None:
            await store.grids.replace(grids)
            await audit_change(store, "import", "grids", file.name, f"{len(grids)} grids")

        run_with_store(settings(), work)
        out.print(f"imported {len(grids)} grids from {file}")

    guard(action)


@app.command("import-roster")
def import_roster(
    file: Annotated[Path, typer.Argument(help="Duty roster CSV (optional leave columns: see FORMATS.md)")],
    tz: Annotated[str, typer.Option("--tz", help="Time zone of leave times written without an offset")] = (
        "Asia/Shanghai"
    ),
) -> None:
    """Replace the duty roster with FILE (all or nothing); units must exist (import grids first).

    A running service applies it at once (it hears the change from the database)."""
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    from router.imports.roster import parse_roster_file

    def action() -> None:
        text = read_text(file)
        try:
            ZoneInfo(tz)
        except (ZoneInfoNotFoundError, ValueError):
            raise UsageProblem(f"--tz {tz!r} is not an IANA time zone such as Asia/Shanghai") from None

        async def work(store: Store) -> tuple[int, int]:
            roster = parse_roster_file(text, known_units=await store.grids.unit_codes(), tz=tz)
            await store.roster.replace(roster.shifts, roster.absences)
            await audit_change(
                store,
                "import",
                "roster",
                file.name,
                f"{len(roster.shifts)} rows, {len(roster.absences)} absences",
            )
            return len(roster.shifts), len(roster.absences)

        shifts, absences = run_with_store(settings(), work)
        leave = f" and {absences} absences" if absences else ""
        out.print(f"imported {shifts} roster rows{leave} from {file}")

    guard(action)


@app.command("import-cameras")
def import_cameras(
    file: Annotated[Path, typer.Argument(help="Cameras JSON with calibration and zones")],
) -> None:
    """Add or update the cameras of FILE with their calibration and zones (all or nothing)."""
    from router.imports.cameras import parse_cameras

    def action() -> None:
        _, cameras = parse_cameras(read_text(file))

        async def work(store: Store) -> None:
            await store.cameras.upsert(cameras)
            await audit_change(store, "import", "cameras", file.name, ", ".join(c.id for c in cameras))

        run_with_store(settings(), work)
        out.print(f"imported {len(cameras)} cameras from {file}")

    guard(action)
