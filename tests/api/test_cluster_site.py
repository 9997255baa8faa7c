"""The local cluster's site file (api/cluster.py): a valid site file that splits the demo county over its two
townships, each camera looking at ground in its own township; and ``gridwatch cluster``'s bad input."""

from __future__ import annotations

import json
import socket
from pathlib import Path

from shapely.geometry import Point, shape

from api.cluster import COPIES, NODES, TOWNSHIPS, write_site
from api.site import configured_site
from tests.servers import run_cli


def test_the_cluster_site_places_two_cameras_in_each_township(tmp_path: Path, vtest: Path) -> None:
    site, detectors = configured_site(write_site(tmp_path, vtest))
    assert site.townships == tuple(TOWNSHIPS)
    assert sorted(site.camera_townships.values()) == ["379901001", "379901001", "379901002", "379901002"]
    assert site.camera_pins == {}  # the nodes share them all by leases
    assert sorted(NODES.values()) == ["379901001", "379901001", "379901002"]
    assert not detectors.fire.enabled
    grids = json.loads((tmp_path / "grids.geojson").read_text(encoding="utf-8"))["features"]
    for camera in site.cameras:
        assert camera.source == str(vtest)
        township = site.camera_townships[camera.id]
        # Every ground point of its calibration lies in a grid of its own township.
        for point in camera.calibration:
            inside = [
                g["properties"]["code"] for g in grids if shape(g["geometry"]).contains(Point(point.lonlat))
            ]
            assert len(inside) == 1 and inside[0].startswith(township), (camera.id, point, inside)
    assert {c.id for c in site.cameras} == {"cam-dongguan-road", *COPIES}


def test_a_taken_port_exits_2_with_one_line() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        result = run_cli("cluster", "--port", str(taken.getsockname()[1]))
    assert result.returncode == 2, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(lines) == 1 and "cannot listen" in lines[0], result.stderr


def test_demo_users_are_refused_off_loopback(tmp_path: Path, vtest: Path) -> None:
    site = write_site(tmp_path, vtest)
    result = run_cli("centre", "--config", str(site), "--demo-users", "--host", "0.0.0.0")
    assert result.returncode == 2, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(lines) == 1 and "--demo-users signs in with a public password" in lines[0], result.stderr
