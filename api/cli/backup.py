"""``gridwatch backup`` / ``gridwatch restore``: the whole installation in one archive, and back.

The database holds everything, evidence included (models/db/backup.py says how the archive is made and
checked). A restore also walks the audit chains, so a restored installation is known to be the one that
was saved, and records itself in the trail.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated

import typer

from api.cli.common import app, audit_change, guard, out, settings
from api.problems import UsageProblem
from models.db import open_database
from models.db.backup import BackupProblem, create_backup, restore_backup
from models.settings import Settings
from models.store import Store

DataDir = Annotated[
    Path | None, typer.Option(help="Where the embedded database is (default: $GRIDWATCH_DATA_DIR)")
]
Demo = Annotated[bool, typer.Option("--demo", help="The database `gridwatch demo` keeps")]


def _where(data_dir: Path | None, demo: bool) -> Settings:
    current = settings()
    base = data_dir or current.data_dir
    return current.model_copy(update={"data_dir": base / "demo" if demo else base})


@app.command()
def backup(
    archive: Annotated[Path, typer.Argument(help="The archive to write (a .tar)")],
    data_dir: DataDir = None,
    demo: Demo = False,
) -> None:
    """Write the database (incidents, evidence, audit trail, users, registry) to one checked archive."""
    current = _where(data_dir, demo)

    def action() -> None:
        if current.database_url is None and not (current.data_dir / "pg" / "PG_VERSION").is_file():
            raise UsageProblem(f"no database in {current.data_dir / 'pg'}: pass --data-dir (or --demo)")
        database = open_database(current.database_url, current.data_dir)
        try:
            manifest = create_backup(database.url, archive)
        except BackupProblem as exc:
            raise UsageProblem(str(exc)) from None
        finally:
            database.close()
        counts = ", ".join(f"{n} {t}" for t, n in manifest.counts.items())
        out.print(
            f"backup written to {archive}: schema {manifest.schema_version}, "
            f"{manifest.database_bytes / 1e6:.1f} MB, {counts}",
            markup=False,
        )

    guard(action)


@app.command()
def restore(
    archive: Annotated[Path, typer.Argument(help="An archive written by `gridwatch backup`")],
    data_dir: DataDir = None,
    demo: Demo = False,
    replace: Annotated[
        bool, typer.Option("--replace", help="Overwrite a database that already holds an installation")
    ] = False,
) -> None:
    """Check an archive and load it into the (embedded or configured) database; exit 1 if its audit
    chains do not hold after loading."""
    current = _where(data_dir, demo)
    intact: list[bool] = []

    def action() -> None:
        if not archive.is_file():
            raise UsageProblem(f"{archive}: no such file")
        database = open_database(current.database_url, current.data_dir)
        try:
            try:
                manifest = restore_backup(database.url, archive, replace=replace)
            except BackupProblem as exc:
                raise UsageProblem(str(exc)) from None

            async def check() -> bool:
                store = await Store.connect(database.url)
                try:
                    report = await store.audit.verify()
                    await audit_change(
                        store, "restore", "installation", archive.name, reason=f"made {manifest.created_at}"
                    )
                    for found in report.breaks:
                        out.print(f"audit chain broken: {found}", markup=False)
                    return report.intact
                finally:
                    await store.close()

            intact.append(asyncio.run(check()))
        finally:
            database.close()
        counts = ", ".join(f"{n} {t}" for t, n in manifest.counts.items())
        out.print(
            f"restored {archive} (made {manifest.created_at}, schema {manifest.schema_version}): {counts}; "
            f"audit chains {'intact' if intact[0] else 'BROKEN'}",
            markup=False,
        )

    guard(action)
    if not intact[0]:
        raise typer.Exit(1)
