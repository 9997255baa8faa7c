"""serve's in-process link (api/link.py): the intake takes what has queued up as one batch, in order, and
the link's join waits until every message taken is settled."""

from __future__ import annotations

import asyncio

import pytest

from api.link import InProcessLink, LinkClosed
from models.link import AnalysisMessage
from tests.rig import crowd_output


async def test_what_queued_up_is_one_batch_in_order_and_join_waits_for_every_settlement() -> None:
    link = InProcessLink(maxsize=8)
    sent = [crowd_output(100 + i) for i in range(5)]
    for message in sent[:3]:
        await link.publish(message)
    batches = link.batches(most=2)
    first = await anext(batches)
    second = await anext(batches)
    assert (first, second) == (sent[:2], sent[2:3])  # at most ``most``, and no waiting to fill one

    joined = asyncio.create_task(link.join())
    for message in [*first, *second][:-1]:
        await link.settled(message, None)
    await asyncio.sleep(0.05)
    assert not joined.done()  # one message taken is not settled yet
    await link.settled(second[-1], RuntimeError("failed and logged"))  # a failure is settled too
    await asyncio.wait_for(joined, 1)

    for message in sent[3:]:
        await link.publish(message)
    await link.close()
    rest: list[AnalysisMessage] = [m async for batch in batches for m in batch]
    assert rest == sent[3:]  # the stream ends after what was queued before the close
    for message in rest:
        await link.settled(message, None)
    await asyncio.wait_for(link.join(), 1)
    with pytest.raises(LinkClosed):
        await link.publish(sent[0])
