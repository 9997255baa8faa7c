"""``townships:``: cameras placed in townships and pinned to nodes, every cross-reference checked."""

from __future__ import annotations

from pathlib import Path

from models.config import camera_pins, camera_townships, config_problems, load_site_config
from tests.models.config.site_file import edit, line_with

_EXAMPLE_BLOCK = "    cameras: []\n"


def test_the_example_places_its_camera_on_a_named_node(site: Path) -> None:
    config = load_site_config(site)
    assert camera_townships(config.townships) == {"cam-dongguan-road": "379901001"}
    assert camera_pins(config.townships) == {"cam-dongguan-road": "chengguan-1"}


def test_a_shared_camera_and_a_second_township(site: Path) -> None:
    edit(site, "        cameras: [cam-dongguan-road]", "        cameras: []")
    edit(site, _EXAMPLE_BLOCK, '    cameras: [cam-dongguan-road]\n  - code: "379901002"\n')
    config = load_site_config(site)
    assert camera_townships(config.townships) == {"cam-dongguan-road": "379901001"}
    assert camera_pins(config.townships) == {}
    assert [t.code for t in config.townships] == ["379901001", "379901002"]


def test_an_unknown_camera_is_refused_at_the_section(site: Path) -> None:
    edit(site, _EXAMPLE_BLOCK, "    cameras: [cam-nowhere]\n")
    line = line_with(site, "townships:")
    assert config_problems(site) == [
        f"site.yaml:{line}: townships: townships[0].cameras: no camera 'cam-nowhere' in cameras:"
    ]


def test_a_camera_placed_twice_is_refused(site: Path) -> None:
    edit(site, _EXAMPLE_BLOCK, "    cameras: [cam-dongguan-road]\n")
    (problem,) = config_problems(site)
    assert problem.endswith(
        "townships[0].nodes[0].cameras: camera 'cam-dongguan-road' is already placed at townships[0].cameras"
    )


def test_two_nodes_of_one_name_and_a_township_twice_are_refused(site: Path) -> None:
    text = site.read_text(encoding="utf-8")
    site.write_text(text + '  - code: "379901001"\n    nodes: [{name: chengguan-1}]\n', encoding="utf-8")
    (problem,) = config_problems(site)
    assert "townships[1].code: township 379901001 is listed twice" in problem
    assert "townships[1].nodes[0].name: node 'chengguan-1' is named twice" in problem


def test_a_node_name_must_be_one_token(site: Path) -> None:
    edit(site, "      - name: chengguan-1", "      - name: chengguan 1")
    (problem,) = config_problems(site)
    assert "townships[0].nodes[0].name" in problem
