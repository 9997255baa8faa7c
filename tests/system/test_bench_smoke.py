"""Smoke: each benchmark runs in quick mode and yields well-formed numbers. Never a timing assertion."""

from __future__ import annotations

import math

import pytest

from bench import runner, webrtc
from bench.common import Section

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


@pytest.mark.parametrize(
    "name",
    [
        "decode",
        "static_mass",
        "router",
        "intake",
        "detector",
        "capacity",
        "node_memory",
        "webrtc",
        "webrtc_relay",
        "stream_intake",
        "county",
        "outage",
    ],
)
def test_benchmark_runs_and_reports_numbers(name: str) -> None:
    if name.startswith("webrtc") and (reason := webrtc.gi_missing_reason()) is not None:
        pytest.skip(reason)
    section: Section = __import__(f"bench.{name}", fromlist=["run"]).run(True)
    assert section.rows and all(len(row) == len(section.columns) for row in section.rows)
    assert section.figures
    assert all(isinstance(v, float) and (math.isnan(v) or v >= 0) for v in section.figures.values())
    # Latencies are NaN when no incident fell inside a short window; the headline figures never are.
    assert any(not math.isnan(v) for v in section.figures.values())
    if name in {"stream_intake", "county", "outage"}:  # every event arrived once, whatever the speed
        assert section.figures["complete"] == 1.0, section.headline


def test_report_renders_every_section() -> None:
    section = Section("k", "Title", ["a", "b"], [[1.5, None]], "1.5×", "≥ 3×", False, ["why"], {"x": 1.5})
    text = runner.render([section], "python -m bench --quick", __import__("datetime").datetime.now(), 1.0)
    assert "## Title" in text and "| 1.50 | — |" in text and "**no**" in text and "python" in text


def test_a_partial_run_replaces_its_own_sections_and_keeps_the_others() -> None:
    now = __import__("datetime").datetime.now()
    one = Section("a", "One", ["x"], [[1.0]], "1", "≥ 1", True, [], {})
    two = Section("b", "Two", ["y"], [[2.0]], "2", "≥ 2", True, [], {})
    page = runner.render([one, two], "python -m bench", now, 1.0)
    again = Section("b", "Two", ["y"], [[3.0]], "3", "≥ 2", True, [], {})
    merged = runner.merge(page, [again], "python -m bench --only b", now, 1.0)
    assert merged.count("## Two") == 1 and "| 3.00 |" in merged and "| 2.00 |" not in merged
    assert "## One" in merged and "| 1.00 |" in merged and "| Two | 3 | ≥ 2 | yes |" in merged
    assert "by `python -m bench --only b`" in merged and "load average" in merged
