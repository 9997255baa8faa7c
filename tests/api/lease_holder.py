"""A lease holder in a process of its own, for the test that kills one by SIGKILL (tests/api/test_leases.py).

``python -m tests.api.lease_holder URL NODE TOWNSHIP LEASE_S CAMERA...`` prints ``start|stop CAMERA T`` for
each camera it is told to start or stop, T being ``time.monotonic()`` (one clock for every process on the
machine), and runs until killed.
"""

from __future__ import annotations

import asyncio
import sys
import time

import nats

from api.nats.leases import CameraLeases, open_lease_bucket


def _say(what: str, camera: str) -> None:
    print(what, camera, repr(time.monotonic()), flush=True)


async def main(url: str, node: str, township: str, lease_s: float, cameras: list[str]) -> None:
    nc = await nats.connect(url, reconnect_time_wait=0.1, max_reconnect_attempts=-1)
    kv = await open_lease_bucket(nc.jetstream(), township, lease_s=lease_s)
    leases = CameraLeases(kv, node, township, cameras, lease_s=lease_s)
    await leases.run(lambda camera: _say("start", camera), lambda camera: _say("stop", camera))


if __name__ == "__main__":
    url, node, township, lease_s, *cameras = sys.argv[1:]
    asyncio.run(main(url, node, township, float(lease_s), cameras))
