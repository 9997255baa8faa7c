"""``gridwatch gb status``: the GB/T 28181 devices registered with ``serve`` (site ``gb28181:``), read from
the database: each device online or not with its keepalive age, its channels and their streams, and the
registrations refused lately."""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from typing import Annotated, Any

import typer

from api.cli.common import app, out, run_with_store, settings
from models.store import Store

gb = typer.Typer(help="GB/T 28181 devices and platforms.", no_args_is_help=True)
app.add_typer(gb, name="gb")


def _age(then: datetime | None, now: datetime) -> str:
    if then is None:
        return "never"
    seconds = max(0, int((now - then).total_seconds()))
    return f"{seconds} s ago" if seconds < 120 else f"{seconds // 60} min ago"


@gb.command("status")
def status(as_json: Annotated[bool, typer.Option("--json", help="One JSON document")] = False) -> None:
    """List registered devices, their channels, keepalive ages and streams, and recent refusals."""

    async def work(store: Store) -> dict[str, Any]:
        return {
            "devices": await store.gb28181.devices(),
            "channels": await store.gb28181.channels(),
            "refusals": await store.gb28181.refusals(),
        }

    found = run_with_store(settings(), work)
    now = datetime.now(UTC)
    if as_json:
        document = {
            key: [
                {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in vars_of(row).items()}
                for row in rows
            ]
            for key, rows in found.items()
        }
        sys.stdout.write(json.dumps(document, ensure_ascii=False, indent=1) + "\n")
        return
    if not found["devices"]:
        out.print("no GB/T 28181 device has registered", markup=False)
    for device in found["devices"]:
        state = "online" if device.online else f"offline ({device.offline_reason or 'unknown'})"
        out.print(
            f"{device.id}  {state}  {device.transport.lower()} {device.address}  "
            f"keepalive {_age(device.last_keepalive_at, now)}  registered {_age(device.registered_at, now)}",
            markup=False,
        )
        for channel in (c for c in found["channels"] if c.device_id == device.id):
            place = (
                f"{channel.lon:.6f},{channel.lat:.6f}"
                if channel.lon is not None and channel.lat is not None
                else "-"
            )
            camera = f"camera {channel.camera_id}" if channel.camera_id else "not a camera"
            out.print(
                f"  {channel.id}  {channel.name}  {place}  {channel.status or '-'}  {camera}  "
                f"stream {channel.stream or 'none'}",
                markup=False,
            )
    for refusal in found["refusals"]:
        out.print(
            f"refused {refusal.device_id} from {refusal.address}: {refusal.reason} ({_age(refusal.at, now)})",
            markup=False,
        )


def vars_of(row: Any) -> dict[str, Any]:
    return {name: getattr(row, name) for name in row.__slots__}
