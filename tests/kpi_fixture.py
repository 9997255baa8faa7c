"""32 cases with known timings, driven through the real store, casework and escalator on a fake clock.

Every case is a crowd incident (severity HIGH: accept within 10 min, arrive within 30, resolve within
4 h of its dispatch). Case ``i`` opens at T0 + 10·i minutes (10:00 to 15:10 Asia/Shanghai, 2026-11-23)
and runs its script, each step at a minute after its opening; the clock ends at T0 + 1 day, the
instant the KPIs are judged at (``AS_OF``). The expected figures are worked out by hand in
tests/api/test_kpis.py from the scripts below.
"""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import timedelta

from models.clock import ManualClock
from models.records import IncidentState, Post
from models.store import Store
from router.centre.casework import Step
from router.lifecycle import Action
from router.permissions import CAMERA, Actor
from tests.rig import T0, Rig, crowd_output

AS_OF = T0 + timedelta(days=1)

G1, G2, G3, G4 = "379901001001001", "379901001001002", "379901001002004", "379901002001001"
#: Each grid's worker (id, name as in the demo roster) and the department its cases go to.
GRIDS = {
    G1: ("w001", "王芳", "综治/公安"),
    G2: ("w003", "张伟", "综治/公安"),
    G3: ("w007", "赵敏", "市场监管"),
    G4: ("w015", "胡斌", "综治/公安"),
}

LEADER = Actor("leader", Post.GRID_LEADER, "w008")
COMMAND = Actor("command", Post.COUNTY_COMMAND)

#: Per case type: (minute after opening, who, step). "w" is the grid's worker; "camera" verifies through
#: the camera's store path; "escalator" runs the deadline worker once.
Script = list[tuple[int, str, Step | None]]
A: Script = [
    (5, "w", Step(Action.ACCEPT)),
    (8, "w", Step(Action.DEPART)),
    (20, "w", Step(Action.START)),
    (60, "w", Step(Action.RESOLVE)),
    (70, "leader", Step(Action.VERIFY)),
    (80, "command", Step(Action.CLOSE)),
]
A2: Script = [
    (2, "w", Step(Action.ACCEPT)),
    (3, "w", Step(Action.DEPART)),
    (28, "w", Step(Action.START)),
    (120, "w", Step(Action.RESOLVE)),
    (130, "leader", Step(Action.VERIFY)),
    (140, "command", Step(Action.CLOSE)),
]
B: Script = [  # accepted 5 minutes late
    (15, "w", Step(Action.ACCEPT)),
    (16, "w", Step(Action.DEPART)),
    (25, "w", Step(Action.START)),
    (100, "w", Step(Action.RESOLVE)),
    (110, "leader", Step(Action.VERIFY)),
    (120, "command", Step(Action.CLOSE)),
]
C: Script = [  # resolved an hour late
    (5, "w", Step(Action.ACCEPT)),
    (20, "w", Step(Action.START)),
    (300, "w", Step(Action.RESOLVE)),
    (310, "leader", Step(Action.VERIFY)),
    (320, "command", Step(Action.CLOSE)),
]
D: Script = [  # on the way, never arrived: arrive and resolve overdue at AS_OF
    (5, "w", Step(Action.ACCEPT)),
    (10, "w", Step(Action.DEPART)),
]
F: Script = [  # reopened by the county (rework), dispatched again, done on time
    (5, "w", Step(Action.ACCEPT)),
    (10, "w", Step(Action.START)),
    (30, "w", Step(Action.RESOLVE)),
    (40, "command", Step(Action.REOPEN, note="仍有人员聚集")),
    (45, "leader", Step(Action.DISPATCH, assignee_id="w")),
    (50, "w", Step(Action.ACCEPT)),
    (55, "w", Step(Action.START)),
    (90, "w", Step(Action.RESOLVE)),
    (95, "leader", Step(Action.VERIFY)),
    (100, "command", Step(Action.CLOSE)),
]
G: Script = [  # verified by the camera
    (5, "w", Step(Action.ACCEPT)),
    (10, "w", Step(Action.START)),
    (30, "w", Step(Action.RESOLVE)),
    (40, "camera", None),
    (60, "command", Step(Action.CLOSE)),
]
H: Script = [  # returned, dispatched again
    (5, "w", Step(Action.RETURN_, reason="missing_elements")),
    (20, "leader", Step(Action.DISPATCH, assignee_id="w")),
    (25, "w", Step(Action.ACCEPT)),
    (40, "w", Step(Action.START)),
    (80, "w", Step(Action.RESOLVE)),
    (90, "leader", Step(Action.VERIFY)),
    (100, "command", Step(Action.CLOSE)),
]
J: Script = [  # nobody accepted: escalated to the grid leader, who hands it to w002
    (12, "escalator", None),
    (15, "leader", Step(Action.REASSIGN, assignee_id="w002")),
    (20, "w002", Step(Action.ACCEPT)),
    (30, "w002", Step(Action.START)),
    (60, "w002", Step(Action.RESOLVE)),
    (70, "leader", Step(Action.VERIFY)),
    (80, "command", Step(Action.CLOSE)),
]
E: Script = []  # reported below the filing confidence, still waiting for review
R: Script = [(5, "leader", Step(Action.REJECT, reason="false_alarm"))]
DUP: Script = [(5, "leader", Step(Action.REJECT, reason="duplicate"))]

#: (grid, script, filed as it opened, repeat reports folded in by dedup), in opening order. J comes first:
#: its escalator run must find no other case's deadline due.
CASES: list[tuple[str, Script, bool, int]] = [
    (G1, J, True, 0),
    *[(G1, s, True, 0) for s in (A, A, A, B, C, D, F, G, H)],
    (G1, A, True, 2),  # "I": two more reports of the same crowd folded into it
    *[(G2, s, True, 0) for s in (A, A, B, C, C, D, F)],
    (G2, E, False, 0),
    (G2, R, False, 0),
    *[(G3, s, True, 0) for s in (A, A2, B, D, G)],
    (G3, DUP, False, 0),
    *[(G4, s, True, 0) for s in (A, C, D, F, H)],
    (G4, E, False, 0),
]


async def build(rig: Rig) -> list[uuid.UUID]:
    """Open and run every case; returns their ids in CASES order, with the clock left at AS_OF."""
    clock = rig.clock
    assert isinstance(clock, ManualClock)
    ids = []
    for index, (grid, script, filed, repeats) in enumerate(CASES):
        opened = T0 + timedelta(minutes=10 * index)
        clock.set(opened)
        incident_id = await _open(rig.store, rig, grid, opened, filed, repeats)
        worker = GRIDS[grid][0]
        for minute, who, step in script:
            clock.set(opened + timedelta(minutes=minute))
            if who == "escalator":
                assert await rig.centre.escalator.run_once()
                continue
            if who == "camera":
                # What the verifier does when the camera saw the zone clear for its window.
                incident = await rig.store.incidents.get(incident_id)
                await rig.centre.casework.take(incident, CAMERA, Step(Action.VERIFY, note="现场已恢复"))
                continue
            assert step is not None
            if step.assignee_id == "w":
                step = replace(step, assignee_id=worker)
            actor = {"leader": LEADER, "command": COMMAND}.get(who)
            if actor is None:
                ident = worker if who == "w" else who
                actor = Actor(ident, Post.GRID_WORKER, ident)
            await rig.centre.casework.take(await rig.store.incidents.get(incident_id), actor, step)
        ids.append(incident_id)
    clock.set(AS_OF)
    return ids


async def _open(store: Store, rig: Rig, grid: str, at: object, filed: bool, repeats: int) -> uuid.UUID:
    report = crowd_output(100)
    event = replace(report.event, id=uuid.uuid4(), started_at=at)  # type: ignore[arg-type]
    draft = rig.centre.routing.route(event, at=at)  # type: ignore[arg-type]
    worker, name, department = GRIDS[grid]
    opening = replace(
        draft.opening(),
        dedup_key=uuid.uuid4().hex,
        unit_code=grid,
        grid_code=grid,
        department=department,
        assignee_id=worker,
        assignee_name=name,
        state=IncidentState.DISPATCHED if filed else IncidentState.REPORTED,
    )
    incident_id, opened = await store.events.record(event, opening)
    assert opened
    for _ in range(repeats):
        again, new = await store.events.record(replace(event, id=uuid.uuid4()), opening)
        assert (again, new) == (incident_id, False)
    return incident_id
