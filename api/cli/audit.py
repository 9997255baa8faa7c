"""``gridwatch audit verify``: whether the audit trail and the incident log are as they were written.

Both tables are append-only and hash-chained (migration 0008). Exit 0 with one line when both chains
hold; exit 1 naming, per table, the first row that does not match; exit 2 with one line on bad input.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from api.cli.common import app, guard, out, run_with_store, settings
from api.problems import UsageProblem
from models.db import masked
from models.store import ChainReport, Store

audit = typer.Typer(help="The tamper-evident audit trail.", no_args_is_help=True)
app.add_typer(audit, name="audit")


@audit.command("verify")
def verify(
    data_dir: Annotated[
        Path | None, typer.Option(help="Where the embedded database is (default: $GRIDWATCH_DATA_DIR)")
    ] = None,
    demo: Annotated[bool, typer.Option("--demo", help="The database `gridwatch demo` keeps")] = False,
) -> None:
    """Walk the audit and incident-log hash chains; exit 1 naming the first row that does not match."""
    import asyncpg

    from models.store import TRANSIENT_DB_ERRORS

    current = settings()
    base = data_dir or current.data_dir
    if demo:
        base = base / "demo"
    current = current.model_copy(update={"data_dir": base})
    report: list[ChainReport] = []

    def action() -> None:
        if current.database_url is None and not (base / "pg" / "PG_VERSION").is_file():
            # Starting an embedded server here would create an empty database and call it intact.
            raise UsageProblem(
                f"no database in {base / 'pg'}: set GRIDWATCH_DATABASE_URL, or pass --data-dir (or --demo) "
                "where serve or demo keeps it"
            )

        async def work(store: Store) -> ChainReport:
            return await store.audit.verify()

        try:
            report.append(run_with_store(current, work))
        except (asyncpg.PostgresError, *TRANSIENT_DB_ERRORS) as exc:
            where = masked(current.database_url) if current.database_url else str(base / "pg")
            first_line = (str(exc) or type(exc).__name__).splitlines()[0]
            raise UsageProblem(f"cannot read the audit chains of {where}: {first_line}") from None

    guard(action)
    [result] = report
    counts = ", ".join(f"{table} {n} rows" for table, n in result.rows.items())
    if result.intact:
        out.print(f"audit chains intact: {counts}", markup=False)
        return
    for found in result.breaks:
        out.print(f"audit chain broken: {found}", markup=False)
    raise typer.Exit(1)
