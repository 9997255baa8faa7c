"""``gridwatch incidents``: the newest incidents, from the database, as a list or as JSON."""

from __future__ import annotations

import json
import sys
from typing import Annotated, cast

import typer

from api.cli.common import app, out, run_with_store, settings
from models.store import Store


@app.command()
def incidents(
    limit: Annotated[int, typer.Option(min=1, max=200)] = 20,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON document")] = False,
) -> None:
    """List the newest incidents."""
    from api.schemas import incident_json

    async def work(store: Store) -> list[dict[str, object]]:
        found, _ = await store.incidents.page(limit=limit)
        return [incident_json(i) for i in found]

    items = run_with_store(settings(), work)
    if as_json:
        sys.stdout.write(json.dumps(items, ensure_ascii=False, indent=1) + "\n")
        return
    for item in items:
        assignee = cast(dict[str, str], item["assignee"] or {})
        out.print(
            f"{item['opened_at']}  {item['state']:<10} {item['title']}  → {assignee.get('name', '—')}",
            markup=False,
        )
