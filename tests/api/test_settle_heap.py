"""serve, centre and node move their start-up objects out of the cyclic collector's sight once started."""

from __future__ import annotations

import subprocess
import sys


def test_settling_collects_garbage_and_freezes_what_is_alive() -> None:
    # In a process of its own: freezing is for the whole process, not for the test runner's.
    probe = (
        "import gc, weakref\n"
        "from api.cli.common import settle_heap\n"
        "class Cycle:\n"
        "    pass\n"
        "a = Cycle(); a.me = a; gone = weakref.ref(a); del a\n"  # garbage only the collector can free
        "before = gc.get_freeze_count()\n"
        "settle_heap()\n"
        "print(before, gc.get_freeze_count() > 1000, gone() is None)\n"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["0", "True", "True"]
