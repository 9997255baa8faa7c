"""``gridwatch onboard``: find a site's ONVIF cameras, report what each offers, store them as cameras."""

from __future__ import annotations

import asyncio
import ipaddress
import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from api.cli.common import app, audit_change, err, guard, out, progress, read_text, run_with_store, settings
from api.problems import UsageProblem
from ingest.camera_urls import IPNetwork, parse_subnets
from models.clock import SystemClock
from models.config import ConfigError, load_site_config
from models.store import Store

if TYPE_CHECKING:
    from ingest.onvif.models import DeviceReport, DeviceTarget

DEFAULT_PASSWORD_ENV = "GRIDWATCH_ONVIF_PASSWORD"


def _allowed_subnets(site: Path | None, allow: list[str], subnet: str | None) -> tuple[IPNetwork, ...]:
    configured: list[str] = list(allow)
    if site is not None:
        try:
            configured += load_site_config(site).site.camera_subnets
        except ConfigError as exc:
            raise UsageProblem(*exc.problems) from None
    try:
        networks = parse_subnets(configured)
        scan = ipaddress.ip_network(subnet, strict=False) if subnet else None
    except ValueError as exc:
        raise UsageProblem(f"bad subnet: {exc}") from None
    if scan is not None:
        if networks and not any(scan.version == n.version and scan.subnet_of(n) for n in networks):  # type: ignore[arg-type]
            raise UsageProblem(f"--subnet {scan} is not inside the site's camera subnets")
        return networks or (scan,)
    if not networks:
        raise UsageProblem("--hosts needs the camera subnets: give --site FILE or --allow CIDR")
    return networks


def _row(report: DeviceReport) -> list[str]:
    from ingest.onvif.onboarding import camera_id_for

    info = report.info
    main, sub = report.main, report.sub
    streams = [p for p in (main, sub) if p is not None]
    if main is sub:
        streams = streams[:1]
    status = "ok" if report.ok else str(report.failure or "no video profile")
    return [
        report.target.address,
        camera_id_for(report) if report.ok else "",
        f"{info.manufacturer} {info.model}" if info else "",
        info.firmware if info else "",
        ", ".join(p.name for p in report.profiles),
        " / ".join(p.encoding or "?" for p in streams),
        " / ".join(p.resolution for p in streams),
        " / ".join(f"{p.fps:g}" if p.fps else "?" for p in streams),
        " / ".join(str(p.gop) if p.gop else "?" for p in streams),
        f"{report.clock_skew_s:+.0f} s" if report.clock_skew_s is not None else "",
        "yes" if report.has_ptz else "no",
        status + ("; " + "; ".join(report.warnings) if report.warnings else ""),
    ]


def report_table(reports: list[DeviceReport]) -> Table:
    table = Table(title="ONVIF onboarding", show_lines=False)
    for column in ("device", "camera", "model", "firmware", "profiles", "codec", "resolution", "fps", "GOP",
                   "clock skew", "PTZ", "result"):  # fmt: skip
        table.add_column(column, overflow="fold")
    for report in reports:
        table.add_row(*_row(report))
    return table


@app.command("onboard")
def onboard_command(
    hosts: Annotated[
        Path | None, typer.Option(help="Lines of HOST:PORT id= name= lonlat=LON,LAT user= password_env=")
    ] = None,
    subnet: Annotated[str | None, typer.Option(help="Probe every address of this CIDR (at most /22)")] = None,
    site: Annotated[
        Path | None, typer.Option(help="Site YAML whose site.camera_subnets bound the probe")
    ] = None,
    allow: Annotated[list[str] | None, typer.Option(help="Camera subnet (CIDR) to allow; repeatable")] = None,
    user: Annotated[str, typer.Option(help="ONVIF user for devices without their own")] = "admin",
    password_env: Annotated[
        str, typer.Option(help="Environment variable holding that user's password")
    ] = DEFAULT_PASSWORD_ENV,
    port: Annotated[int, typer.Option(help="Device service port when a line gives none")] = 80,
    dry_run: Annotated[bool, typer.Option(help="Report only; store nothing")] = False,
) -> None:
    """Probe ONVIF devices, print what each offers and why any failed, store the working ones as cameras.

    Run it again at any time: known cameras keep their names, positions and zones.
    """

    def action() -> None:
        # The ONVIF stack (zeep, aiohttp) takes a quarter of a second to import: only this command pays it.
        from ingest.onvif.models import Credentials
        from ingest.onvif.onboarding import (
            TargetError,
            merge_cameras,
            onboard,
            parse_hosts,
            resolve_credentials,
            subnet_targets,
        )

        if (hosts is None) == (subnet is None):
            raise UsageProblem("give exactly one of --hosts FILE or --subnet CIDR")
        try:
            targets: list[DeviceTarget] = (
                parse_hosts(read_text(hosts), default_port=port) if hosts is not None
                else subnet_targets(subnet or "", port=port)
            )  # fmt: skip
        except TargetError as exc:
            raise UsageProblem(
                *(f"{hosts or '--subnet'}: {line}" for line in str(exc).splitlines())
            ) from None
        if not targets:
            raise UsageProblem(f"{hosts}: no devices listed")
        subnets = _allowed_subnets(site, allow or [], subnet)
        password = os.environ.get(password_env)
        default = Credentials(user, password, password_env) if password is not None else None
        if default is None:
            err.print(
                f"warning: {password_env} is not set; devices are probed without a password", markup=False
            )
        try:
            per_target = {t: resolve_credentials(t, default, os.environ) for t in targets}
        except TargetError as exc:
            raise UsageProblem(str(exc)) from None
        clock = SystemClock()

        with progress("probing") as bar:
            task = bar.add_task("probing", total=len(targets))
            reports = asyncio.run(
                onboard(targets, subnets, default, clock, environ=os.environ,
                        progress=lambda _: bar.advance(task))
            )  # fmt: skip
        out.print(report_table(reports))
        working = [(r, per_target[r.target]) for r in reports if r.ok]
        if dry_run or not working:
            out.print(f"{len(working)} of {len(reports)} devices onboarded (nothing stored)", markup=False)
            raise typer.Exit(1 if any(r.failure for r in reports) else 0)

        async def work(store: Store) -> int:
            existing = {c.id: c for c in await store.cameras.load()}
            cameras = merge_cameras(working, existing)
            await store.cameras.upsert(cameras)
            await audit_change(store, "onboard", "cameras", "onvif", ", ".join(c.id for c in cameras))
            return len(cameras)

        stored = run_with_store(settings(), work)
        out.print(f"{stored} of {len(reports)} devices onboarded and stored as cameras", markup=False)
        if any(r.failure for r in reports):
            raise typer.Exit(1)

    guard(action)
