"""Registry writes the Store does not cover: removing a camera (its events and incidents stay)."""

from __future__ import annotations

import asyncpg


async def delete_camera(pool: asyncpg.Pool, camera_id: str) -> bool:
    """Remove the camera row; returns whether there was one. History keeps its camera_id as text."""
    status: str = await pool.execute("DELETE FROM cameras WHERE id = $1", camera_id)
    return status.endswith(" 1")
