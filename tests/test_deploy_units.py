"""deploy/: the systemd units of docs/deploy.md parse, and each ExecStart is a command line that works:
gridwatch's with the real CLI's own parser (an unknown command or option fails here), nats-server's with
the example configuration it names, checked by ``nats-server -t``."""

from __future__ import annotations

import configparser
import re
import shlex
import subprocess
from pathlib import Path

import pytest
import typer.main

from api.cli import app
from api.nats.servers import server_binary
from tests.conftest import REPO

DEPLOY = REPO / "deploy"
UNITS = sorted((DEPLOY / "systemd").glob("*.service"))
#: What systemd puts for %i in the template unit.
INSTANCE = "hewan-1"


def _unit(path: Path) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(interpolation=None, strict=False)
    parser.optionxform = str  # type: ignore[assignment,method-assign]  # systemd keys are case-sensitive
    parser.read_string(path.read_text(encoding="utf-8"))
    return parser


def _examples() -> dict[str, str]:
    """The variables the example environment files set."""
    values: dict[str, str] = {}
    for path in (DEPLOY / "systemd").glob("*.env"):
        for line in path.read_text(encoding="utf-8").splitlines():
            key, sep, value = line.partition("=")
            if sep and not line.startswith("#"):
                values[key.strip()] = value.strip()
    return values


def _argv(unit: configparser.ConfigParser) -> list[str]:
    line = unit["Service"]["ExecStart"].replace("%i", INSTANCE)
    values = _examples()
    missing = [v for v in re.findall(r"\$\{(\w+)\}", line) if v not in values]
    assert not missing, f"ExecStart uses {missing}, which no example .env sets"
    return shlex.split(re.sub(r"\$\{(\w+)\}", lambda m: values[m.group(1)], line))


def test_every_role_has_a_unit() -> None:
    names = {path.name for path in UNITS}
    assert names == {
        "gridwatch-nats-hub.service",
        "gridwatch-nats-leaf.service",
        "gridwatch-node@.service",
        "gridwatch-centre.service",
    }


@pytest.mark.parametrize("path", UNITS, ids=[p.name for p in UNITS])
def test_the_unit_parses_and_runs_as_its_own_user(path: Path) -> None:
    unit = _unit(path)
    assert {"Unit", "Service", "Install"} <= set(unit.sections())
    assert unit["Install"]["WantedBy"] == "multi-user.target"
    assert unit["Service"]["User"] == "gridwatch"
    assert unit["Service"]["Restart"] == "on-failure"
    assert Path(_argv(unit)[0]).is_absolute()


@pytest.mark.parametrize("path", [p for p in UNITS if "nats" not in p.name], ids=lambda p: p.name)
def test_a_gridwatch_unit_runs_a_real_command_and_stops_it_cleanly(path: Path) -> None:
    unit = _unit(path)
    argv = _argv(unit)
    assert Path(argv[0]).name == "gridwatch"
    group = typer.main.get_command(app)
    ctx = group.context_class(group, info_name="gridwatch")
    name, rest = argv[1], argv[2:]
    command = group.get_command(ctx, name)  # type: ignore[attr-defined]
    assert command is not None and name in {"node", "centre"}, f"gridwatch has no command {name!r}"
    # The command's own parser: an option it does not have, or a missing required one, raises here.
    parsed = command.make_context(name, rest, parent=ctx)
    assert parsed.params["config"] == Path("/etc/gridwatch/site.yaml")
    if name == "node":
        assert parsed.params["name"] == INSTANCE
        assert parsed.params["township"] == _examples()["TOWNSHIP"]
        assert parsed.params["video_url"] == _examples()["VIDEO_URL"] and parsed.params["video_port"] == 8090
    # SIGINT stops gridwatch cleanly (KeyboardInterrupt); so does SIGTERM now, but the units keep SIGINT.
    assert unit["Service"]["KillSignal"] == "SIGINT"


@pytest.mark.parametrize("path", [p for p in UNITS if "nats" in p.name], ids=lambda p: p.name)
def test_a_nats_unit_names_a_configuration_nats_server_accepts(path: Path) -> None:
    argv = _argv(_unit(path))
    assert Path(argv[0]).name == "nats-server" and argv[1] == "-c"
    example = DEPLOY / "nats" / Path(argv[2]).name
    assert example.is_file(), f"{argv[2]} has no example in deploy/nats"
    checked = subprocess.run([server_binary(), "-t", "-c", str(example)], capture_output=True, text=True)
    assert checked.returncode == 0, checked.stderr
    text = example.read_text(encoding="utf-8")
    # The layout api/nats/servers.py starts and the nodes and centre expect: own domains, file stores.
    domain = re.search(r"domain: (\S+)", text)
    assert domain is not None
    assert domain.group(1) == "county" if "hub" in path.name else domain.group(1).startswith("t")
    assert "store_dir" in text and "max_payload: 8MB" in text
