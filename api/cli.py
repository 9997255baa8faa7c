"""The ``gridwatch`` command line. Bad input exits 2 with one line per problem; nothing is half-imported."""

from __future__ import annotations

import asyncio
import json
import logging
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated, NoReturn, TypeVar, cast

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

from models.db import open_database
from models.settings import Settings
from models.store import Store
from router.imports.problems import ImportRejected

app = typer.Typer(
    name="gridwatch",
    help="Cameras in, complete, deduplicated, owned incidents out.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
err = Console(stderr=True, highlight=False, soft_wrap=True)
out = Console(highlight=False, soft_wrap=True)
T = TypeVar("T")


class UsageProblem(Exception):
    """A problem with what the user gave us: printed as one line per problem, exit status 2."""

    def __init__(self, *problems: str) -> None:
        super().__init__("\n".join(problems))
        self.problems = list(problems)


def fail(problems: list[str] | tuple[str, ...]) -> NoReturn:
    for problem in problems:
        err.print(f"error: {problem}", markup=False)
    raise typer.Exit(2)


def read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise UsageProblem(f"{path}: no such file") from None
    except IsADirectoryError:
        raise UsageProblem(f"{path}: is a directory, expected a file") from None
    except UnicodeDecodeError as exc:
        raise UsageProblem(f"{path}: not UTF-8 text (byte {exc.start})") from None
    except OSError as exc:
        raise UsageProblem(f"{path}: {exc.strerror}") from None


def run_with_store(settings: Settings, work: Callable[[Store], Awaitable[T]]) -> T:
    """Open the configured (or embedded) database, migrate, run ``work``, close everything."""
    database = open_database(settings.database_url, settings.data_dir)

    async def main() -> T:
        store = await Store.connect(database.url)
        try:
            return await work(store)
        finally:
            await store.close()

    try:
        return asyncio.run(main())
    finally:
        database.close()


def _settings() -> Settings:
    return Settings()


def _guard(action: Callable[[], None]) -> None:
    try:
        action()
    except UsageProblem as exc:
        fail(exc.problems)
    except ImportRejected as exc:
        fail([str(p) for p in exc.problems])


def _progress(label: str) -> Progress:
    return Progress(
        TextColumn(label),
        BarColumn(),
        MofNCompleteColumn(),
        console=err,
        transient=True,
        disable=not err.is_terminal,
    )


@app.command()
def migrate() -> None:
    """Create or update the database schema."""
    settings = _settings()

    async def work(store: Store) -> dict[str, int]:
        return await store.counts()

    counts = run_with_store(settings, work)
    out.print(f"schema up to date ({', '.join(f'{k} {v}' for k, v in counts.items())})")


@app.command("check-config")
def check_config(file: Annotated[Path, typer.Argument(help="Site YAML file")]) -> None:
    """Validate a site YAML: every problem with its place in the file; exit 2 if any."""
    from models.config import config_problems
    from router.imports.cameras import site_camera_problems

    def action() -> None:
        read_text(file)  # existence and encoding first, with the same messages as the importers
        problems = config_problems(file, checks=[site_camera_problems])
        if problems:
            raise UsageProblem(*problems)
        out.print(f"{file}: OK")

    _guard(action)


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
        with _progress("grids") as progress:
            task = progress.add_task("grids", total=None)

            def tick(done: int, total: int) -> None:
                progress.update(task, completed=done, total=total)

            grids = parse_grids(text, crs=crs, progress=tick)

        async def work(store: Store) -> None:
            await store.replace_grids(grids)

        run_with_store(_settings(), work)
        out.print(f"imported {len(grids)} grids from {file}")

    _guard(action)


@app.command("import-roster")
def import_roster(file: Annotated[Path, typer.Argument(help="Duty roster CSV")]) -> None:
    """Replace the duty roster with FILE (all or nothing); units must exist (import grids first)."""
    from router.imports.roster import parse_roster

    def action() -> None:
        text = read_text(file)

        async def work(store: Store) -> int:
            shifts = parse_roster(text, known_units=await store.unit_codes())
            await store.replace_roster(shifts)
            return len(shifts)

        count = run_with_store(_settings(), work)
        out.print(f"imported {count} roster rows from {file}")

    _guard(action)


@app.command("import-cameras")
def import_cameras(
    file: Annotated[Path, typer.Argument(help="Cameras JSON with calibration and zones")],
) -> None:
    """Add or update the cameras of FILE with their calibration and zones (all or nothing)."""
    from router.imports.cameras import parse_cameras

    def action() -> None:
        _, cameras = parse_cameras(read_text(file))

        async def work(store: Store) -> None:
            await store.upsert_cameras(cameras)

        run_with_store(_settings(), work)
        out.print(f"imported {len(cameras)} cameras from {file}")

    _guard(action)


@app.command()
def serve(
    config: Annotated[Path | None, typer.Option(help="Site YAML (default: $GRIDWATCH_CONFIG)")] = None,
    host: Annotated[str | None, typer.Option(help="Listen address")] = None,
    port: Annotated[int | None, typer.Option(help="Listen port")] = None,
) -> None:
    """Run ingest → detect → router → api for the configured site and serve the web UI."""
    from api.runner import run_site

    log_progress()
    settings = _settings()
    path = config or settings.config
    if path is None:
        fail(["no site config: pass --config FILE or set GRIDWATCH_CONFIG (or try `gridwatch demo`)"])
    _guard(lambda: run_site(settings, path, host=host or settings.host, port=port or settings.port))


@app.command()
def demo(
    host: Annotated[str, typer.Option(help="Listen address")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Listen port")] = 8000,
    data_dir: Annotated[Path | None, typer.Option(help="Where the demo keeps its database")] = None,
) -> None:
    """Run the 青河县 demo county: its grids, roster and a camera playing vtest.avi at real time."""
    from api.runner import run_demo

    log_progress()
    settings = _settings()
    if data_dir is not None:
        settings = settings.model_copy(update={"data_dir": data_dir})
    _guard(lambda: run_demo(settings, host=host, port=port))


@app.command()
def incidents(
    limit: Annotated[int, typer.Option(min=1, max=200)] = 20,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON document")] = False,
) -> None:
    """List the newest incidents."""
    from api.schemas import incident_json

    async def work(store: Store) -> list[dict[str, object]]:
        rows, _ = await store.list_incident_rows(limit=limit)
        return [incident_json(r) for r in rows]

    items = run_with_store(_settings(), work)
    if as_json:
        sys.stdout.write(json.dumps(items, ensure_ascii=False, indent=1) + "\n")
        return
    for item in items:
        assignee = cast(dict[str, str], item["assignee"] or {})
        out.print(
            f"{item['opened_at']}  {item['state']:<10} {item['title']}  → {assignee.get('name', '—')}",
            markup=False,
        )


def log_progress() -> None:
    """Long-running commands narrate at INFO; one-shot commands keep stderr for problems alone."""
    logging.getLogger().setLevel(logging.INFO)


def main() -> None:
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    app()


# Command groups live in their own modules; importing them registers them on `app`.
from api import (  # noqa: E402
    cli_auth,  # noqa: F401
    cli_eval,  # noqa: F401  (registers eval)
    cli_ingest,  # noqa: F401  (registers onboard)
    cli_router,  # noqa: F401
)
