"""KPIs (综合评价): the figures of router/kpis.py over the caller's scope, as JSON, CSV or XLSX."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo

from fastapi import APIRouter, HTTPException, Query
from fastapi.responses import Response

from api.deps import ContextDep, CurrentPrincipal
from api.responses import KpiTable
from router.kpis import COLUMNS, Grouping, compute, flat

router = APIRouter(tags=["kpis"])

#: The longest range one request may cover: a year, what an annual review looks at.
MAX_DAYS = 366
DEFAULT_DAYS = 30
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@dataclass(frozen=True, slots=True)
class Range:
    since: datetime
    until: datetime


def parse_range(start: str | None, end: str | None, tz: ZoneInfo, now: datetime) -> Range:
    """[since, until) from the query. A date (YYYY-MM-DD) is that local day, both ends included; an ISO
    instant with its UTC offset is taken as it is, ``to`` excluded. Without ``to`` the range ends today,
    without ``from`` it starts DEFAULT_DAYS days earlier. HTTPException 422 with the reason otherwise."""
    until = _instant(end, tz, "to", end_of_day=True) if end else _midnight(now.astimezone(tz).date(), tz, 1)
    since = _instant(start, tz, "from", end_of_day=False) if start else until - timedelta(days=DEFAULT_DAYS)
    if until <= since:
        raise HTTPException(422, f"the range is empty: 'to' ({end}) is not after 'from' ({start})")
    if until - since > timedelta(days=MAX_DAYS):
        raise HTTPException(422, f"the range covers more than {MAX_DAYS} days; ask for a year at most")
    return Range(since, until)


def _midnight(day: date, tz: ZoneInfo, plus_days: int = 0) -> datetime:
    return datetime.combine(day + timedelta(days=plus_days), time(0), tzinfo=tz)


def _instant(text: str, tz: ZoneInfo, name: str, *, end_of_day: bool) -> datetime:
    try:
        if len(text) == 10:
            return _midnight(date.fromisoformat(text), tz, 1 if end_of_day else 0)
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise HTTPException(
            422, f"'{name}' must be a date (2026-11-23) or an instant with its offset, not {text!r}"
        ) from None
    if parsed.tzinfo is None:
        raise HTTPException(422, f"'{name}' needs a UTC offset (2026-11-23T10:00+08:00), got {text!r}")
    return parsed


@router.get(
    "/api/kpis",
    response_model=KpiTable,
    responses={
        200: {
            "content": {
                "text/csv": {"schema": {"type": "string"}},
                XLSX: {"schema": {"type": "string", "format": "binary"}},
            }
        }
    },
)
async def kpis(
    ctx: ContextDep,
    principal: CurrentPrincipal,
    by: Grouping = Grouping.GRID,
    start: Annotated[
        str | None, Query(alias="from", max_length=40, description="First day (YYYY-MM-DD) or instant")
    ] = None,
    end: Annotated[
        str | None, Query(alias="to", max_length=40, description="Last day (included) or instant (excluded)")
    ] = None,
    format: Literal["json", "csv", "xlsx"] = "json",
) -> dict[str, Any] | Response:
    """KPIs per ``by`` of the cases opened in the range within the caller's scope, with their total.

    Every figure is defined in router/kpis.py; a ratio comes with its numerator and denominator.
    """
    now = ctx.clock.now()
    tz = ZoneInfo(ctx.routing.timezone)
    span = parse_range(start, end, tz, now)
    rows = await ctx.store.kpis.rows(principal.scope, span.since, span.until)
    groups, total = compute(rows, by, now)
    table = [flat(kpi) for kpi in groups]
    if format == "json":
        return {
            "by": by.value,
            "from": span.since.isoformat(),
            "to": span.until.isoformat(),
            "as_of": now.isoformat(),
            "columns": list(COLUMNS),
            "rows": table,
            "total": flat(total),
        }
    stem = f"kpis-{by.value}-{span.since.astimezone(tz).date()}-{span.until.astimezone(tz).date()}"
    body = [*table, flat(total)]
    if format == "csv":
        return Response(
            _csv(body),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{stem}.csv"'},
        )
    return Response(
        _xlsx(body, by, span, tz),
        media_type=XLSX,
        headers={"Content-Disposition": f'attachment; filename="{stem}.xlsx"'},
    )


def _csv(rows: list[dict[str, Any]]) -> bytes:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=COLUMNS, lineterminator="\r\n")
    writer.writeheader()
    writer.writerows(rows)
    # The byte-order mark makes Excel read the Chinese names as UTF-8.
    return out.getvalue().encode("utf-8-sig")


def _xlsx(rows: list[dict[str, Any]], by: Grouping, span: Range, tz: ZoneInfo) -> bytes:
    from openpyxl import Workbook  # only an export needs it

    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = f"by {by.value}"
    sheet.append(list(COLUMNS))
    for row in rows:
        sheet.append([row[column] for column in COLUMNS])
    # Shares stay fractions (what the JSON and the CSV say) and only display as percentages.
    for index, column in enumerate(COLUMNS, start=1):
        if column.endswith(("_rate", "_share")):
            for (cell,) in sheet.iter_rows(min_row=2, min_col=index, max_col=index):
                cell.number_format = "0.00%"
    sheet.freeze_panes = "C2"
    notes = book.create_sheet("range")
    notes.append(["from", span.since.astimezone(tz).isoformat()])
    notes.append(["to (excluded)", span.until.astimezone(tz).isoformat()])
    notes.append(["definitions", "router/kpis.py"])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
