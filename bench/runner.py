"""``python -m bench [--quick] [--only NAME…]``: run the benchmarks, print them, write docs/benchmarks.md."""

from __future__ import annotations

import argparse
import importlib
import logging
import math
import shlex
import sys
import time
import traceback
from datetime import UTC, datetime
from pathlib import Path

from bench.common import Section
from bench.machine import machine, versions

#: Module names under bench/, in report order; each has ``run(quick: bool) -> Section``.
BENCHMARKS = (
    "detector",
    "decode",
    "static_mass",
    "capacity",
    "node_memory",
    "node_memory_fire",
    "router",
    "intake",
    "webrtc",
    "webrtc_relay",
    "stream_intake",
    "county",
    "outage",
)
#: Asked for by issue 7 but without a benchmark yet; said on the page rather than left out silently.
NOT_MEASURED: tuple[str, ...] = ()
DEFAULT_OUTPUT = Path(__file__).resolve().parent.parent / "docs" / "benchmarks.md"

logger = logging.getLogger(__name__)


def _cell(value: object) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        if math.isnan(value):
            return "n/a"
        if abs(value) >= 100:
            return f"{value:,.0f}"
        if abs(value) >= 1:
            return f"{value:.2f}"
        return f"{value:.3f}"
    return str(value)


def _table(columns: list[str], rows: list[list[object]]) -> list[str]:
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in rows]
    return lines


def render(sections: list[Section], command: str, started: datetime, seconds: float) -> str:
    lines = [
        "# Benchmarks",
        "",
        "Written by `python -m bench` (bench/runner.py); do not edit by hand, rerun it.",
        "",
        f"- command: `{command}`",
        f"- run: {started:%Y-%m-%d %H:%M} UTC, {seconds:.0f} s",
        *(f"- {k}: {v}" for k, v in machine().items()),
        "- versions: " + ", ".join(f"{k} {v}" for k, v in versions().items()),
        "",
        "The machine is shared with other work: absolute figures move from run to run, so every comparison "
        "is measured inside one run with the contenders interleaved, and figures are medians of the passes.",
        "",
        "## Summary",
        "",
        *_table(
            ["benchmark", "result", "target", "met"],
            [
                [s.title, s.headline, s.target, {True: "yes", False: "**no**", None: "—"}[s.met]]
                for s in sections
            ],
        ),
    ]
    for section in sections:
        lines += ["", f"## {section.title}", "", *_table(section.columns, section.rows), ""]
        lines += [f"- {note}" for note in section.notes]
    if NOT_MEASURED:
        lines += ["", "## Not measured yet", "", *(f"- {item}" for item in NOT_MEASURED)]
    return "\n".join(lines) + "\n"


def merge(existing: str, sections: list[Section], command: str, started: datetime, seconds: float) -> str:
    """``existing`` with these sections' summary rows and text replaced, or appended, and the rest kept: a run
    of some benchmarks (``--only``) updates their part of the page. Each says when, by what command and on
    what load it was measured, since the page's header describes another run."""
    where = machine()
    for section in sections:
        section.notes.append(
            f"Measured {started:%Y-%m-%d %H:%M} UTC by `{command}` ({seconds:.0f} s for the run), on "
            f"{where['cores']} cores with load average {where['load average at start']} at its start."
        )
    fresh = _blocks(render(sections, command, started, seconds))
    blocks = _blocks(existing)
    summary = blocks.pop("Summary", "").splitlines()
    rows = {_first_cell(line): line for line in summary[4:] if line.startswith("| ")}
    for line in fresh.pop("Summary").splitlines()[4:]:
        if line.startswith("| "):
            rows[_first_cell(line)] = line
    head = blocks.pop("", "")
    tail = blocks.pop("Not measured yet", None)
    blocks.update({title: text for title, text in fresh.items() if title})
    parts = [head, "\n".join([*summary[:4], *rows.values()]) + "\n"]
    parts += [text for title, text in blocks.items()]
    if tail is not None:
        parts.append(tail)
    return "\n## ".join(part.rstrip("\n") + "\n" for part in parts)


def _blocks(page: str) -> dict[str, str]:
    """The page's parts by heading ("" for what comes before the first), each from its title on."""
    head, *rest = page.split("\n## ")
    return {"": head} | {block.split("\n", 1)[0]: block for block in rest}


def _first_cell(row: str) -> str:
    return row.split("|")[1].strip()


def _failed(name: str, exc: BaseException) -> Section:
    return Section(
        key=name,
        title=name,
        columns=["error"],
        rows=[[f"{type(exc).__name__}: {exc}"]],
        headline="failed to run",
        target="",
        met=False,
        notes=["".join(traceback.format_exception_only(exc)).strip()],
    )


def run_benchmarks(names: list[str], quick: bool) -> list[Section]:
    sections: list[Section] = []
    for name in names:
        print(f"== {name} …", flush=True)
        module = importlib.import_module(f"bench.{name}")
        try:
            section = module.run(quick)
        except Exception as exc:  # one broken benchmark must not hide the others' figures
            logger.exception("benchmark %s failed", name)
            section = _failed(name, exc)
        print(f"   {section.headline} (target {section.target})", flush=True)
        sections.append(section)
    return sections


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer frames, events and passes (minutes)")
    parser.add_argument("--only", nargs="+", choices=BENCHMARKS, help="run only these benchmarks")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT, help="markdown report to write")
    parser.add_argument("--no-write", action="store_true", help="print only")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    started = datetime.now(UTC)
    began = time.monotonic()
    sections = run_benchmarks(list(args.only or BENCHMARKS), args.quick)
    command = "python -m bench " + shlex.join(sys.argv[1:] if argv is None else argv)
    report = render(sections, command.strip(), started, time.monotonic() - began)
    if args.only and args.output.exists():
        existing = args.output.read_text(encoding="utf-8")
        report = merge(existing, sections, command.strip(), started, time.monotonic() - began)
    if not args.no_write:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(report, encoding="utf-8")
        print(f"wrote {args.output}")
    return 0 if all(s.rows for s in sections) else 1
