"""A test still running after TASK_DUMP_AFTER_S prints where each of its event loop's tasks waits.

Twice a fixture's teardown hung until pytest-timeout ended it (300 s), under load, and never when run
alone: the thread dump then shows only the event loop idling in its selector, not which coroutine it
waits for. This prints every task's stack, from inside the loop (the loop is idle, so the callback runs),
into the test's captured output, which the timeout's report shows.
"""

from __future__ import annotations

import asyncio
import gc
import os
import sys
import threading
import time
from collections.abc import Iterator

import pytest

TASK_DUMP_AFTER_S = float(os.environ.get("GRIDWATCH_TEST_TASK_DUMP_S", "240"))

_current: dict[str, object] = {}


def _awaiting(coro: object) -> Iterator[str]:
    """Where a coroutine waits, outermost first: Task.print_stack shows the outermost frame only."""
    while coro is not None:
        frame = (
            getattr(coro, "cr_frame", None)
            or getattr(coro, "ag_frame", None)
            or getattr(coro, "gi_frame", None)
        )
        if frame is None:
            return
        yield f"  {frame.f_code.co_filename}:{frame.f_lineno} in {frame.f_code.co_name}"
        inner = (
            getattr(coro, "cr_await", None)
            or getattr(coro, "ag_await", None)
            or getattr(coro, "gi_yieldfrom", None)
        )
        if inner is not None and not any(hasattr(inner, a) for a in ("cr_frame", "ag_frame", "gi_frame")):
            # ``await agen.__anext__()`` (a fixture's teardown) hides the generator: find it in the frame.
            inner = next(
                (v for v in frame.f_locals.values() if getattr(v, "ag_await", None) is not None), None
            )
        coro = inner


def _dump(loop: asyncio.AbstractEventLoop, nodeid: str) -> None:
    tasks = asyncio.all_tasks(loop)
    print(f"--- {nodeid}: {len(tasks)} tasks after {TASK_DUMP_AFTER_S:.0f} s ---", file=sys.stderr)
    for task in tasks:
        print(f"{task.get_name()}:", *_awaiting(task.get_coro()), sep="\n", file=sys.stderr)
    sys.stderr.flush()


def _watch() -> None:
    while True:
        time.sleep(min(5.0, TASK_DUMP_AFTER_S / 4))
        started, nodeid = _current.get("at"), _current.get("nodeid")
        if (
            not isinstance(started, float)
            or _current.get("dumped")
            or time.monotonic() - started < TASK_DUMP_AFTER_S
        ):
            continue
        _current["dumped"] = True
        loops = [o for o in gc.get_objects() if isinstance(o, asyncio.AbstractEventLoop) and o.is_running()]
        for loop in loops:
            loop.call_soon_threadsafe(_dump, loop, str(nodeid))


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item: pytest.Item) -> Iterator[None]:
    if "thread" not in _current:
        _current["thread"] = threading.Thread(target=_watch, name="hang-watch", daemon=True)
        _current["thread"].start()  # type: ignore[attr-defined]
    _current.update(at=time.monotonic(), nodeid=item.nodeid, dumped=False)
    try:
        yield
    finally:
        _current["at"] = None
