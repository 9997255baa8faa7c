"""The house rules of the layout (docs/architecture.md), checked on the code itself.

Imports flow models ← ingest ← detect and models ← router, all ← api; no two modules import each other
even through others; no module outgrows 500 lines; the app only assembles; and every worker of the
running system is constructed in the wiring package (api/wiring/, a module per role).
"""

from __future__ import annotations

import ast
import inspect
from collections.abc import Iterator
from pathlib import Path

import pytest

from api.app import create_app
from tests.conftest import REPO

PACKAGES = ("models", "ingest", "detect", "router", "api")
#: What each package may import besides itself. The analysis runtime in detect/ reads ingest's frames.
ALLOWED = {
    "models": set(),
    "ingest": {"models"},
    "detect": {"models", "ingest"},
    "router": {"models"},
    "api": {"models", "ingest", "detect", "router"},
}
#: The running system's workers: constructed in api/wiring/ and nowhere else.
WORKERS = frozenset(
    {
        "AnalysisNode",
        "DetectionBatcher",
        "ClipEncoder",
        "OfflineWatch",
        "InProcessLink",
        "Routing",
        "EventWriter",
        "Intake",
        "Broadcaster",
        "OutboxRelay",
        "OutboxBell",
        "Escalator",
        "Notifier",
        "Casework",
        "CameraRegistry",
        "WebRTCHub",
        "Verifier",
        "RosterWatch",
        "Handover",
        "RosterDesk",
        "CameraEventFeed",
        "MqttLink",
        "MqttRelay",
        "RobotNotifier",
        "GbPlatform",
        "GbDesk",
        "UpperLink",
        "UpperReporter",
        "HeartbeatPublisher",
        "LinkMonitor",
        "LinkProblems",
    }
)
#: The wiring package (one module per role) builds every worker; nothing else does.
WIRING = "api.wiring"


def _is_wiring(module: str) -> bool:
    return module == WIRING or module.startswith(WIRING + ".")


def _modules() -> Iterator[tuple[str, Path]]:
    for package in PACKAGES:
        for path in sorted((REPO / package).rglob("*.py")):
            parts = path.relative_to(REPO).with_suffix("").parts
            yield ".".join(parts[:-1] if parts[-1] == "__init__" else parts), path


MODULES = dict(_modules())


def _imports(path: Path) -> set[str]:
    """The project modules a file imports, anywhere in it (a lazy import inside a function counts too)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            # `from a.b import c` imports module a.b.c when there is one, else a name of a.b.
            names = [f"{node.module}.{a.name}" if f"{node.module}.{a.name}" in MODULES else node.module
                     for a in node.names]  # fmt: skip
        else:
            continue
        found.update(name for name in names if name in MODULES)
    return found


GRAPH = {module: _imports(path) for module, path in MODULES.items()}


def test_imports_flow_one_way_between_packages() -> None:
    wrong = sorted(
        f"{module} imports {target}"
        for module, targets in GRAPH.items()
        for target in targets
        if target.split(".")[0] != module.split(".")[0]
        and target.split(".")[0] not in ALLOWED[module.split(".")[0]]
    )
    assert wrong == []


def test_no_module_imports_itself_through_others() -> None:
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    cycles: list[list[str]] = []

    def visit(module: str) -> None:  # Tarjan's strongly connected components
        index[module] = low[module] = len(index)
        stack.append(module)
        for target in GRAPH[module]:
            if target not in index:
                visit(target)
                low[module] = min(low[module], low[target])
            elif target in stack:
                low[module] = min(low[module], index[target])
        if low[module] == index[module]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == module:
                    break
            # A package's __init__ re-exporting its submodules is not a cycle of responsibilities.
            if len(component) > 1 and not _package_reexport(component):
                cycles.append(sorted(component))

    for module in GRAPH:
        if module not in index:
            visit(module)
    assert cycles == []


def _package_reexport(component: list[str]) -> bool:
    return any(all(m == p or m.startswith(p + ".") for m in component) for p in component)


#: Written from the OpenAPI spec by api/client/gen.py (which is held to the limit); tests/api/test_client.py
#: keeps them in sync with the spec.
GENERATED = frozenset({"api.client.models", "api.client.v1"})


@pytest.mark.parametrize("module", sorted(set(MODULES) - GENERATED))
def test_no_module_is_over_500_lines(module: str) -> None:
    lines = MODULES[module].read_text(encoding="utf-8").count("\n")
    assert lines <= 500, f"{module} has {lines} lines: split it by responsibility"


def test_create_app_only_assembles() -> None:
    assert len(inspect.getsource(create_app).splitlines()) < 100


def test_every_worker_is_built_in_the_wiring_module() -> None:
    built_elsewhere = sorted(
        f"{module}:{node.lineno} builds {name}"
        for module, path in MODULES.items()
        if not _is_wiring(module)
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(node, ast.Call)
        and (name := getattr(node.func, "id", getattr(node.func, "attr", ""))) in WORKERS
    )
    assert built_elsewhere == []
    built = {
        getattr(n.func, "id", "")
        for module, path in MODULES.items()
        if _is_wiring(module)
        for n in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(n, ast.Call)
    }
    assert built >= WORKERS
