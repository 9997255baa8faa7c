"""The static-mass watch rides out occlusion only when the mass is the same before and after it.

Synthetic pictures at 2 fps (a textured ground, a textured object, a "person" box of fresh noise each
frame with its detection), so each case isolates one rule of detect/static_mass.py:

- an object hidden by a person 70 % of the time is still one mass about T after it was set down;
- the same place showing a different thing each time the person steps aside (one coat, then another) is
  no mass: the hidden time is dropped when what is seen again differs from what was seen before;
- an object hidden most of the time is reported only once it has been seen for a third of T;
- an object seen through the box of a person standing beside it (a box is mostly background) is seen.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import cv2
import numpy as np
import pytest

from detect.static_mass import StaticMass
from models.records import Detection, StaticMassSettings, Zone, ZoneKind

T = 30.0
FPS = 2.0
T0 = datetime(2026, 12, 5, 2, 0, tzinfo=UTC)
PLACE = (80, 80, 140, 140)
#: The person's box: wider than the object, so it hides all of it.
PERSON = (70, 40, 150, 150)


def _texture(seed: int, shape: tuple[int, int], contrast: float = 15.0) -> np.ndarray:
    """Blobs a few pixels wide around mid-grey: a ground (low contrast) or goods (high)."""
    noise = np.random.default_rng(seed).normal(0.0, 1.0, (*shape, 3)).astype(np.float32)
    blobs = cv2.GaussianBlur(noise, (0, 0), 3.0)
    return np.clip(128.0 + contrast * 60.0 * blobs, 0, 255).astype(np.uint8)


GROUND = _texture(1, (240, 240), contrast=0.5)
ZONE = Zone(
    "lane",
    ZoneKind.OCCUPATION,
    ((20.0, 20.0), (220.0, 20.0), (220.0, 220.0), (20.0, 220.0)),
    min_seconds=T,
    static_mass=StaticMassSettings(),
)

#: (object texture seed or None for none, person in front) at time t.
Script = Callable[[float], tuple[int | None, bool]]


def play(
    script: Script, seconds: float, zone: Zone = ZONE, body: tuple[int, int, int, int] = PERSON
) -> float | None:
    """When the first mass is reported, in seconds from the start; None if never. ``body``: the part of
    the person's box the person fills (fresh noise each frame); the whole box unless said."""
    watch = StaticMass(zone)
    rng = np.random.default_rng(7)
    h, w = PLACE[3] - PLACE[1], PLACE[2] - PLACE[0]
    for k in range(int(seconds * FPS)):
        t = k / FPS
        seed, covered = script(t)
        image = GROUND.copy()
        if seed is not None:
            image[PLACE[1] : PLACE[3], PLACE[0] : PLACE[2]] = _texture(seed, (h, w))
        found = []
        if covered:
            b1, c1, b2, c2 = body
            image[c1:c2, b1:b2] = rng.integers(0, 255, (c2 - c1, b2 - b1, 3), dtype=np.uint8)
            found = [Detection(xyxy=PERSON, confidence=0.8, label="person", class_id=0)]
        masses = watch.update(image, found, T0 + timedelta(seconds=t))
        if masses:
            labels.update(m.label for m in masses)
            return t
    return None


#: The labels of the masses the last ``play`` reported.
labels: set[str] = set()


def test_a_mass_is_debris_unless_the_zone_says_its_masses_are_goods() -> None:
    def set_down(t: float) -> tuple[int | None, bool]:
        return (5 if t >= 10 else None), False

    labels.clear()
    assert play(set_down, 60) is not None and labels == {"object"}
    shopfront = replace(ZONE, static_mass=StaticMassSettings(occupant="goods"))
    labels.clear()
    assert play(set_down, 60, shopfront) is not None and labels == {"goods"}


def test_an_object_hidden_by_a_person_most_of_the_time_is_one_mass_about_t_after_it_was_set_down() -> None:
    def hidden_seven_of_ten_seconds(t: float) -> tuple[int | None, bool]:
        return (5 if t >= 10 else None), (t >= 10 and (t - 10) % 10 >= 3)

    found = play(hidden_seven_of_ten_seconds, 80)
    assert found is not None and 10 + T <= found <= 10 + T + 12


def test_a_mass_seen_through_the_box_of_a_person_standing_beside_it_is_seen() -> None:
    # A shopkeeper stands beside his goods from 4 s after he set them down: his box covers all of them,
    # his body a quarter. Where the goods show through the box, unmoving and as they looked, they are
    # seen; counted as hidden, they would be no mass until he leaves at 75 s.
    def beside(t: float) -> tuple[int | None, bool]:
        return (5 if t >= 5 else None), 9 <= t < 75

    found = play(beside, 75, body=(70, 40, 95, 150))
    assert found is not None and 5 + T <= found <= 5 + T + 5


def test_a_different_thing_each_time_the_person_steps_aside_is_no_mass() -> None:
    # Four seconds of a coat in every ten, a different coat each time: static only while seen (about
    # 27 s of 90), where hidden time credited regardless of looks would make it one mass after T.
    def coats(t: float) -> tuple[int | None, bool]:
        if t < 10:
            return None, False
        cycle = int((t - 10) // 10)
        return 100 + cycle, (t - 10) % 10 >= 4

    assert play(coats, 100) is None


def test_a_mass_is_not_reported_before_it_was_seen_for_a_third_of_t_however_long_it_was_hidden() -> None:
    # Seen 3 s, hidden 47 s, then seen again: reported only after a third of T seen in all.
    def glimpsed(t: float) -> tuple[int | None, bool]:
        return (5 if t >= 10 else None), 13 <= t < 60

    found = play(glimpsed, 90)
    assert found is not None and found >= 60 + T / 3 - 3


def test_a_flat_faced_object_is_found_by_its_outline() -> None:
    # A plain box whose face is as bright as the ground, seen only by its 3 px rim in the ratio image: the
    # rim must survive the noise filter, and the mass's area is what the rim encloses (24 x 44 px is 3 %
    # of the zone, its rim alone under the 2 % a mass needs).
    ground = np.full((240, 240, 3), 128, np.uint8)
    box = np.full((44, 24, 3), 128, np.uint8)
    box[:3], box[-3:], box[:, :3], box[:, -3:] = 60, 60, 60, 60
    found = _set_down(ground, box, (100, 100), ZONE)
    assert found is not None and 10 + T <= found <= 10 + T + 3


def _set_down(ground: np.ndarray, piece: np.ndarray, at: tuple[int, int], zone: Zone) -> float | None:
    """When the first mass is reported on a still ``ground`` where ``piece`` is set down at 10 s, its top
    left corner at ``at`` (row, column); None within 60 s."""
    watch = StaticMass(zone)
    y, x = at
    for k in range(int(60 * FPS)):
        t = k / FPS
        image = ground.copy()
        if t >= 10:
            image[y : y + piece.shape[0], x : x + piece.shape[1]] = piece
        if watch.update(image, [], T0 + timedelta(seconds=t)):
            return t
    return None


Move = Callable[[float], tuple[float, float]]


def _shake(t: float) -> tuple[float, float]:
    """A camera swaying up to 4 px every few seconds (a pole in wind)."""
    return 4.0 * np.sin(2 * np.pi * t / 7.3), 3.0 * np.sin(2 * np.pi * t / 5.1 + 1.0)


def _lean(t: float) -> tuple[float, float]:
    """A slow lean of up to 5 px, held long enough for the short-term model to take it as the scene."""
    return 5.0 * np.sin(2 * np.pi * t / 47.0), 4.0 * np.sin(2 * np.pi * t / 61.0 + 1.0)


def _turn(t: float) -> tuple[float, float]:
    """A PTZ camera turned to another view at 20 s (40 px: more than a shake)."""
    return (40.0, 0.0) if t >= 20 else (0.0, 0.0)


def _first_mass(
    move: Move, set_down_at: float | None, seconds: float, contrast: float = 15.0, zone: Zone = ZONE
) -> float | None:
    # A ground with strong edges (kerbs, paving): a shift of a few pixels moves every one of them.
    ground = _texture(1, (400, 400), contrast=4.0)
    world = ground.copy()  # the object is set down in the world, and moves with it in the picture
    x1, y1, x2, y2 = (v + 80 for v in PLACE)
    world[y1:y2, x1:x2] = _texture(5, (y2 - y1, x2 - x1), contrast=contrast)
    watch = StaticMass(zone)
    for k in range(int(seconds * FPS)):
        t = k / FPS
        dx, dy = move(t)
        seen = world if set_down_at is not None and t >= set_down_at else ground
        view = np.array([[1.0, 0.0, dx - 80], [0.0, 1.0, dy - 80]], np.float32)
        image = cv2.warpAffine(seen, view, (240, 240))
        if watch.update(image, [], T0 + timedelta(seconds=t)):
            return t
    return None


def test_a_swaying_or_leaning_camera_is_no_mass() -> None:
    # Its edges move; the short-term model learns them as they come, and they never stay static for T.
    for move in (_shake, _lean):
        assert _first_mass(move, None, 120) is None, move.__name__
    # An object set down while the camera leans slowly is still one mass (later than on a still camera).
    found = _first_mass(_lean, 10, 60)
    assert found is not None and 10 + T <= found <= 10 + T + 10


def test_a_camera_turned_to_another_view_learns_it_and_reports_no_mass_for_the_change() -> None:
    assert _first_mass(_turn, None, 90) is None
    found = _first_mass(_turn, 40, 90)
    assert found is not None and 40 + T <= found <= 40 + T + 3


def _tour(t: float) -> tuple[float, float]:
    """A PTZ camera on a preset tour: another view from 20 s (60 px away), back to the first at 32 s."""
    return (60.0, 0.0) if 20 <= t < 32 else (0.0, 0.0)


def test_a_camera_back_at_a_view_it_watched_before_goes_on_where_it_left_off() -> None:
    # Goods set down at 5 s, watched 15 s; the camera looks elsewhere for 12 s and comes back. The view's
    # own reference and seconds are taken up again, so the goods are one mass about 15 s after the
    # return. Learned afresh on return, they would be part of the empty scene and never reported.
    # (Before, at this contrast: 61.5 s, T after the return.)
    found = _first_mass(_tour, 5, 90, contrast=8.0)
    assert found is not None and 5 + T + 12 - 2 <= found <= 5 + T + 12 + 5
    # Nothing set down: the tour itself is no mass, in either view.
    assert _first_mass(_tour, None, 90) is None


def test_a_turn_is_seen_with_large_high_contrast_goods_in_view(caplog: pytest.LogCaptureFixture) -> None:
    # The goods (9 % of the zone, four times the ground's contrast) bring the turn's correlation peak
    # from 0.64 to 0.18, under the bar for one look; it stays at the same shift look after look, which a
    # stray peak does not, and three such looks say the camera moved.
    with caplog.at_level(logging.INFO, logger="detect.static_mass"):
        _first_mass(_turn, 5, 40)
    assert "the picture moved" in caplog.text


def test_a_calibrated_zone_turned_to_another_view_learns_that_view(tmp_path: Path) -> None:
    # The calibration picture is of the first view only: the new view is learned from what is seen.
    ground = _texture(1, (400, 400), contrast=4.0)
    empty = cv2.warpAffine(ground, np.array([[1.0, 0.0, -80.0], [0.0, 1.0, -80.0]], np.float32), (240, 240))
    cv2.imwrite(str(tmp_path / "empty.png"), empty)
    settings = StaticMassSettings(reference_image=str(tmp_path / "empty.png"))
    calibrated = replace(ZONE, static_mass=settings)
    assert _first_mass(_turn, None, 90, zone=calibrated) is None
    # And it watches the new view: goods set down there are one mass T after (compared with the
    # calibration picture again and again, every look was a move and the zone went blind).
    found = _first_mass(_turn, 40, 90, zone=calibrated)
    assert found is not None and 40 + T <= found <= 40 + T + 3
    # Before any turn the calibration picture is the empty scene: goods already there at the first look
    # are one mass T later (learned from the first look instead, they would be part of the scene).
    still = _first_mass(lambda t: (0.0, 0.0), 0, 60, zone=calibrated)
    assert still is not None and T <= still <= T + 3
    assert _first_mass(lambda t: (0.0, 0.0), 0, 60) is None


def test_only_the_last_four_views_are_kept(caplog: pytest.LogCaptureFixture) -> None:
    # Six presets of 12 s each, then the first again (five views ago: let go, learned afresh), then the
    # last (kept: gone on with). What a zone keeps is bounded, about 0.9 MB a view.
    presets = [(0.0, 0.0), (40.0, 0.0), (-40.0, 0.0), (0.0, 40.0), (0.0, -40.0), (40.0, 40.0)]
    tour = [*presets, presets[0], presets[-1]]

    def touring(t: float) -> tuple[float, float]:
        return tour[min(int(t // 12), len(tour) - 1)]

    with caplog.at_level(logging.INFO, logger="detect.static_mass"):
        assert _first_mass(touring, None, 12 * len(tour)) is None
    said = [r.getMessage() for r in caplog.records if r.name == "detect.static_mass"]
    back = [m for m in said if "back at a view" in m]
    assert len(said) == len(tour) - 1 and len(back) == 1 and "back at a view" in said[-1], said


def _two_views(
    set_down_at: float | None, seconds: float, crowd: Callable[[float], bool] | None = None
) -> float | None:
    """A PTZ camera that turns at 20 s to a view 480 px away: the two views share not one pixel, so there is
    no shift to register. Goods set down in the second view at ``set_down_at``. ``crowd(t)``: an undetected
    crowd of fresh noise fills 60 % of the picture at t (the right and bottom 90 px, around the goods)."""
    world = _texture(1, (240, 800), contrast=4.0)
    x1, y1, x2, y2 = (v + 480 if i % 2 == 0 else v for i, v in enumerate(PLACE))
    goods = world.copy()
    goods[y1:y2, x1:x2] = _texture(5, (y2 - y1, x2 - x1))
    watch = StaticMass(ZONE)
    rng = np.random.default_rng(3)
    for k in range(int(seconds * FPS)):
        t = k / FPS
        seen = goods if set_down_at is not None and t >= set_down_at else world
        image = np.ascontiguousarray(seen[:, 480:720] if t >= 20 else seen[:, :240])
        if crowd is not None and crowd(t):
            image[:, 150:] = rng.integers(0, 255, (240, 90, 3), dtype=np.uint8)
            image[150:, :150] = rng.integers(0, 255, (90, 150, 3), dtype=np.uint8)
        if watch.update(image, [], T0 + timedelta(seconds=t)):
            return t
    return None


def test_a_turn_to_a_view_with_nothing_of_the_old_one_is_learned_not_reported(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # Every edge of the new view differs from the old reference; without the whole-picture test that is one
    # mass T after the turn (50.5 s), as it was for a turn of 150 px in a 200 px zone.
    with caplog.at_level(logging.INFO, logger="detect.static_mass"):
        assert _two_views(None, 90) is None
    assert "the whole picture changed at once" in caplog.text
    # And the new view is watched: goods set down in it are one mass T after.
    found = _two_views(40, 90)
    assert found is not None and 40 + T <= found <= 40 + T + 3


def test_a_crowd_or_a_lorry_in_front_of_much_of_the_picture_is_not_a_turn(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # An undetected crowd over 60 % of the picture for 10 s, after the turn: goods set down before it are
    # still one mass on time (a crowd taken for a turn would relearn them as the empty scene).
    with caplog.at_level(logging.INFO, logger="detect.static_mass"):
        found = _two_views(30, 90, crowd=lambda t: 40 <= t < 50)
    assert found is not None and 30 + T <= found <= 30 + T + 3
    assert caplog.text.count("the whole picture changed at once") == 1  # the turn alone
    # A lorry of high contrast filling a zone a third of the picture in one look: one mass T after.
    ground = _texture(1, (360, 480), contrast=4.0)
    lorry = _texture(9, (220, 280))
    zone = replace(ZONE, polygon_px=((100.0, 80.0), (380.0, 80.0), (380.0, 300.0), (100.0, 300.0)))
    reported = _set_down(ground, lorry, (80, 100), zone)
    assert reported is not None and 10 + T <= reported <= 10 + T + 3


def test_a_person_walking_out_of_their_box_as_a_turned_view_is_learned_leaves_no_ghost() -> None:
    # A detector's box is a few pixels off a walking person in a dark coat, and after a turn the short-term
    # model has no history to say they move: learned as the new view's empty scene, the strip of them
    # outside their box was one mass T after they left (52 s). The view settles for 10 s after the turn.
    world = _texture(1, (240, 800), contrast=4.0)
    watch = StaticMass(ZONE)
    reported = None
    for k in range(int(70 * FPS)):
        t = k / FPS
        image = np.ascontiguousarray(world[:, 480:720] if t >= 20 else world[:, :240])
        found = []
        if 20 <= t < 26:
            x = round(60 + 8 * (t - 20) * FPS)  # 8 px a look, left to right through the zone
            image[60:170, x : x + 40] = 40
            # The box misses the person's left 12 px.
            found = [
                Detection(xyxy=(x + 12.0, 60.0, x + 40.0, 170.0), confidence=0.8, label="person", class_id=0)
            ]
        if watch.update(image, found, T0 + timedelta(seconds=t)):
            reported = t
            break
    assert reported is None


def test_a_view_gone_back_to_soon_after_a_turn_keeps_its_goods() -> None:
    # Goods set down at 5 s in view A; at 20 s the camera turns to B (nothing in common), at 25 s back to
    # A, within B's 10 s of settling. A is a kept view: its goods are one mass about 15 s after the return,
    # not taken in as B's settling scene.
    world = _texture(1, (240, 800), contrast=4.0)
    goods = world.copy()
    x1, y1, x2, y2 = PLACE
    goods[y1:y2, x1:x2] = _texture(5, (y2 - y1, x2 - x1))
    watch = StaticMass(ZONE)
    reported = None
    for k in range(int(70 * FPS)):
        t = k / FPS
        seen = goods if t >= 5 else world
        image = np.ascontiguousarray(seen[:, 480:720] if 20 <= t < 25 else seen[:, :240])
        if watch.update(image, [], T0 + timedelta(seconds=t)):
            reported = t
            break
    assert reported is not None and 5 + T + 5 <= reported <= 5 + T + 12
