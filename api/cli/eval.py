"""``gridwatch eval``: detection quality on a labelled folder, per split, with per-file JSON records."""

from __future__ import annotations

import dataclasses
import enum
import json
import logging
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated

import typer

from api.cli.common import app, guard, out, progress
from api.problems import UsageProblem
from detect.evaluation.dataset import EvalDataError, EvalItem, Split, load_items, split_of
from detect.evaluation.judge import Judgement, Thresholds, judge
from detect.evaluation.observe import Observation, observe_all
from detect.evaluation.score import Scores, score
from detect.port import Detector
from detect.registry import ResolvedModel


class FireBackend(enum.StrEnum):
    ULTRALYTICS = "ultralytics"
    OPENVINO = "openvino"
    ONNXRUNTIME = "onnxruntime"


#: Thresholds tried by --sweep, from the fire detector's confidence floor up.
SWEEP = tuple(round(0.10 + 0.02 * i, 2) for i in range(26))


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f}"


def _ultralytics_logs_to_stderr() -> None:
    """Ultralytics logs model loading to stdout, which must carry nothing but the JSON document."""
    from ultralytics.utils import LOGGER

    for handler in LOGGER.handlers:
        if isinstance(handler, logging.StreamHandler):
            handler.setStream(sys.stderr)


def _load_detectors(fire_backend: str = "ultralytics") -> tuple[list[object], list[str]]:
    from detect.backends.factory import model_dirs
    from detect.errors import ModelError
    from detect.registry import resolve_fire_model, resolve_person_model
    from detect.tiling import tiled
    from models.config.detectors import PersonDetectorConfig

    try:
        person = resolve_person_model(None, model_dirs())
        fire = resolve_fire_model(None, model_dirs())
        if fire is None:
            raise UsageProblem("eval needs the fire/smoke model: pip install fire-detector==1.0.3")
        detectors: list[object] = [
            # The service's tiled pass for dense crowds (detectors.person.tiles_above_persons, default).
            tiled(_person_detector(person), PersonDetectorConfig().tiles_above_persons),
            _fire_detector(fire, fire_backend),
        ]
    except ModelError as exc:
        raise UsageProblem(*str(exc).splitlines()) from None
    names = [f"{m.name} (sha256 {'verified' if m.sha256_verified else 'unknown'})" for m in (person, fire)]
    if fire_backend != "ultralytics":
        names[1] += f", its {fire_backend} export"
    return detectors, names


def _fire_detector(fire: ResolvedModel, backend: str) -> Detector:
    """The fire model on Ultralytics (the .pt), or its export on a torch-free runtime as a node runs it."""
    from detect.rules.fire import DETECTOR_CONFIDENCE_FLOOR

    if backend in ("openvino", "onnxruntime"):
        from detect.backends.fire_native import native_fire_detector

        return native_fire_detector(fire, backend, confidence=DETECTOR_CONFIDENCE_FLOOR)  # type: ignore[arg-type]
    from detect.backends.ultralytics import UltralyticsDetector

    return UltralyticsDetector.from_resolved(fire, confidence=DETECTOR_CONFIDENCE_FLOOR)


def _person_detector(person: ResolvedModel) -> Detector:
    """The resolved person model on the runner it needs (the npm COCO model is not a YOLO file)."""
    if person.runner == "centernet":
        from detect.backends.centernet import CenterNetDetector

        return CenterNetDetector(person.weights / "centernet.json", name=person.name)
    from detect.backends.ultralytics import UltralyticsDetector

    return UltralyticsDetector.from_resolved(person)


def _occupation(
    root: Path, split: Split, person: object, footage: Path | None = None
) -> tuple[dict[str, object], list[str]]:
    """The occupation scenes of detect/evaluation/occupation.py on this machine, scored per half."""
    from detect.evaluation.occupation import Seen, available, run_scene, summary

    scenes = [s for s in available(root, footage=footage) if split is Split.ALL or s.split is split]
    seen: Seen = {}
    results = [run_scene(scene, root, person, seen, footage) for scene in scenes]  # type: ignore[arg-type]
    parts = [split] if split is not Split.ALL else [Split.TUNE, Split.HOLDOUT, Split.ALL]
    summaries = {
        str(part): summary([r for r in results if part in (Split.ALL, r.scene.split)]) for part in parts
    }
    lines = []
    for part, figures in summaries.items():
        recall = figures["recall"]
        lines.append(
            f"[{part}] occupation: recall {_pct(recall if isinstance(recall, float) else None)} "
            f"({figures['found']}/{figures['positives']} set-down objects, one event in its window); "
            f"{figures['events_from_passing']} events from people passing "
            f"in {figures['passing_seconds']:.0f} s"
        )
    return {"summary": summaries, "scenes": [r.as_json() for r in results]}, lines


def _evaluate(
    items: Sequence[EvalItem], observations: Sequence[Observation], thresholds: Thresholds
) -> tuple[list[Judgement], Scores]:
    judgements = [judge(o, thresholds) for o in observations]
    return judgements, score(items, judgements, [o.duration_s for o in observations])


def _subset(
    split: Split, items: Sequence[EvalItem], observations: Sequence[Observation]
) -> tuple[list[EvalItem], list[Observation]]:
    halves = split_of(items)
    chosen = [i for i, item in enumerate(items) if split is Split.ALL or halves[item.scene] is split]
    return [items[i] for i in chosen], [observations[i] for i in chosen]


def _summary_lines(split: Split, scores: Scores) -> list[str]:
    both = scores.fire_or_smoke
    lines = [
        f"[{split}] {scores.files} files",
        f"  fire or smoke, image level: precision {_pct(both.precision)} "
        f"({both.true_pos}/{both.true_pos + both.false_pos})  recall {_pct(both.recall)} "
        f"({both.true_pos}/{both.true_pos + both.false_neg})",
        "  per kind: "
        + "; ".join(
            f"{kind} precision {_pct(c.precision)} recall {_pct(c.recall)}"
            for kind, c in sorted(scores.per_kind.items())
        ),
    ]
    ok = sum(c.ok for c in scores.crowds)
    error = scores.crowd_mean_abs_error
    lines.append(
        f"  crowds of ≥ 10: {ok}/{len(scores.crowds)} counted within ±25 %"
        + ("" if error is None else f", mean count error {error:.0%}")
        + (
            ": " + ", ".join(f"{Path(c.file).name} {c.counted}/{c.rough}" for c in scores.crowds)
            if scores.crowds
            else ""
        )
    )
    rate = scores.false_alarms_per_hour
    lines.append(
        f"  negative video: {scores.negative_video_alarms} fire/smoke/fall alarms in "
        f"{scores.negative_video_seconds:.0f} s" + ("" if rate is None else f" ({rate:.0f} per hour)")
    )
    alarms = scores.unlabelled_still_alarms
    lines.append(f"  unlabelled street stills raising fire/smoke: {', '.join(alarms) if alarms else 'none'}")
    lines.append(
        f"  acceptance (P ≥ 0.8, R ≥ 0.8, crowds within ±25 %): "
        f"{'met' if scores.meets_acceptance() else 'MISSED'}"
    )
    return lines


@app.command("eval")
def eval_command(
    dataset_dir: Annotated[
        Path, typer.Argument(help="Folder with items.json, laid out like shared/data/eval")
    ],
    as_json: Annotated[bool, typer.Option("--json", help="One JSON document with per-file records")] = False,
    split: Annotated[
        Split, typer.Option(help="Which half: tune (thresholds chosen on it), holdout, or all")
    ] = Split.ALL,
    sweep: Annotated[
        bool, typer.Option(help="Also search fire/smoke thresholds on the tuning half (needs --split all)")
    ] = False,
    occupation: Annotated[
        bool, typer.Option(help="Also run the occupation scenes: objects set down in real video (minutes)")
    ] = False,
    footage: Annotated[
        Path | None,
        typer.Option(
            help="A checkout of intel-iot-devkit/sample-videos: the occupation scenes filmed there",
            exists=True,
            file_okay=False,
        ),
    ] = None,
    fire_backend: Annotated[
        FireBackend,
        typer.Option(help="Run the fire model as a .pt (ultralytics) or its export (as a torch-free node)"),
    ] = FireBackend.ULTRALYTICS,
) -> None:
    """Precision/recall of fire and smoke, crowd counts and false alarms per hour on DATASET_DIR."""

    def action() -> None:
        # Every START logs a warning for the operator; over a dataset that is hundreds of lines of noise.
        logging.getLogger("detect.rules").setLevel(logging.ERROR)
        _ultralytics_logs_to_stderr()
        try:
            items = load_items(dataset_dir)
        except EvalDataError as exc:
            raise UsageProblem(*exc.problems) from None
        halves = split_of(items)
        chosen = [item for item in items if split is Split.ALL or halves[item.scene] is split]
        detectors, model_names = _load_detectors(str(fire_backend))
        with progress("eval") as bar:
            task = bar.add_task("eval", total=len(chosen))

            def tick(done: int, total: int, item: EvalItem) -> None:
                bar.update(task, completed=done, description=item.file)

            try:
                observations = observe_all(chosen, dataset_dir, detectors, progress=tick)  # type: ignore[arg-type]
            except EvalDataError as exc:
                raise UsageProblem(*exc.problems) from None
        thresholds = Thresholds()
        reports = [split] if split is not Split.ALL else [Split.TUNE, Split.HOLDOUT, Split.ALL]
        summaries = {}
        for part in reports:
            part_items, part_observations = _subset(part, chosen, observations)
            summaries[part] = _evaluate(part_items, part_observations, thresholds)[1]
        judgements, _ = _evaluate(chosen, observations, thresholds)
        sweeps = _sweep(chosen, observations) if sweep else {}
        occupied, occupation_lines = (
            _occupation(dataset_dir, split, detectors[0], footage) if occupation else ({}, [])
        )
        if as_json:
            document = {
                "dataset": str(dataset_dir),
                "models": model_names,
                "thresholds": dataclasses.asdict(thresholds),
                "split_of_scene": {scene: str(half) for scene, half in sorted(halves.items())},
                "summary": {str(part): s.as_json() for part, s in summaries.items()},
                "sweep": sweeps,
                "occupation": occupied,
                "files": [{"file": j.file, "kinds": list(j.kinds), "persons": j.persons} for j in judgements],
            }
            sys.stdout.write(json.dumps(document, ensure_ascii=False, indent=1) + "\n")
            return
        lines = [
            f"models: person {model_names[0]}; fire/smoke {model_names[1]}",
            f"thresholds: fire ≥ {thresholds.fire_min_confidence}, "
            f"smoke ≥ {thresholds.smoke_min_confidence}, "
            f"crowd ≥ {thresholds.crowd_min_persons} persons for {thresholds.crowd_min_seconds:g} s",
        ]
        for part, scores in summaries.items():
            lines += _summary_lines(part, scores)
        if sweeps:
            best = sweeps["best"]
            lines.append(
                f"sweep on the tuning half: best fire ≥ {best['fire_min_confidence']}, "  # type: ignore[index]
                f"smoke ≥ {best['smoke_min_confidence']} (tuning F1 {sweeps['tune_f1']:.3f}); "  # type: ignore[index]
                "figures at those thresholds are in --json under sweep.figures"
            )
        lines += occupation_lines
        for line in lines:
            out.print(line, markup=False)

    guard(action)


def _tuning_f1(scores: Scores) -> float:
    """F1 where alarms on unlabelled street stills and negative video count as false positives too."""
    both = scores.fire_or_smoke
    false = both.false_pos + scores.negative_video_alarms + len(scores.unlabelled_still_alarms)
    precision = both.true_pos / (both.true_pos + false) if both.true_pos + false else 0.0
    recall = both.recall or 0.0
    return 2 * precision * recall / (precision + recall) if precision + recall else 0.0


def _sweep(items: Sequence[EvalItem], observations: Sequence[Observation]) -> dict[str, object]:
    """Fire and smoke thresholds with the best ``_tuning_f1`` on the tuning half; ties go to higher ones."""
    tune_items, tune_observations = _subset(Split.TUNE, items, observations)
    candidates = []
    for fire in SWEEP:
        for smoke in SWEEP:
            thresholds = Thresholds(fire_min_confidence=fire, smoke_min_confidence=smoke)
            scores = _evaluate(tune_items, tune_observations, thresholds)[1]
            candidates.append((_tuning_f1(scores), fire + smoke, thresholds))
    f1, _, best = max(candidates, key=lambda c: (c[0], c[1]))
    figures = {}
    for part in (Split.TUNE, Split.HOLDOUT, Split.ALL):
        part_items, part_observations = _subset(part, items, observations)
        figures[str(part)] = _evaluate(part_items, part_observations, best)[1].as_json()
    return {"best": dataclasses.asdict(best), "tune_f1": f1, "figures": figures}
