"""store.cameras: zones stored as jsonb keep their line settings; older rows read as before."""

from __future__ import annotations

from models.records import Camera, LineDirection, Mount, StaticMassSettings, Zone, ZoneKind
from models.store import Store
from models.store.base import zones_json

ZONES = (
    Zone("road", ZoneKind.CROWD, ((0, 0), (100, 0), (100, 100)), min_persons=3),
    Zone(
        "entrance",
        ZoneKind.LINE,
        ((10, 50), (90, 50)),
        cooldown_seconds=20,
        direction=LineDirection.LEFT_TO_RIGHT,
        labels=("vehicle", "person"),
    ),
)
CAMERA = Camera("cam-1", "test", "test.avi", (640, 480), Mount((118.63, 35.79)), zones=ZONES)


async def test_line_zones_round_trip(store: Store) -> None:
    stored = zones_json(ZONES)
    assert stored[1]["direction"] == "left_to_right" and stored[1]["labels"] == ["vehicle", "person"]
    await store.cameras.upsert([CAMERA])
    assert await store.pool.fetchval("SELECT zones FROM cameras WHERE id = $1", CAMERA.id) == stored
    assert await store.cameras.get(CAMERA.id) == CAMERA
    assert await store.cameras.load() == [CAMERA]


async def test_rows_from_before_line_zones_keep_their_meaning(store: Store) -> None:
    old = [{k: v for k, v in z.items() if k not in ("direction", "labels")} for z in zones_json(ZONES[:1])]
    await store.cameras.upsert([CAMERA])
    await store.pool.execute("UPDATE cameras SET zones = $2 WHERE id = $1", CAMERA.id, old)
    camera = await store.cameras.get(CAMERA.id)
    assert camera is not None
    [zone] = camera.zones
    assert zone == ZONES[0]


async def test_a_deleted_camera_is_gone(store: Store) -> None:
    await store.cameras.upsert([CAMERA])
    assert await store.cameras.delete(CAMERA.id) is True
    assert await store.cameras.get(CAMERA.id) is None and await store.cameras.load() == []
    assert await store.cameras.delete(CAMERA.id) is False


async def test_occupation_zones_keep_their_static_mass_settings(store: Store) -> None:
    lane = Zone(
        "lane",
        ZoneKind.OCCUPATION,
        ((0, 0), (100, 0), (100, 100)),
        min_seconds=30,
        static_mass=StaticMassSettings(prohibited_hours=("22:00-06:00",), min_area_fraction=0.05),
    )
    camera = Camera("cam-2", "lane", "test.avi", (640, 480), Mount((118.63, 35.79)), zones=(lane, ZONES[0]))
    await store.cameras.upsert([camera])
    assert await store.cameras.get(camera.id) == camera
