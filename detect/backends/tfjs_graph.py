"""A TensorFlow.js graph model (``model.json`` + weight shards) rebuilt for OpenVINO, without TensorFlow.

The only offline COCO detector with a compatible licence found in the registries gridwatch can reach is the
CenterNet/MobileNetV3 graph model shipped in the npm package ``@vladmandic/human`` (see
detect/PROVENANCE.md). Its graph uses a few dozen convolutional ops; this module translates exactly those
into OpenVINO ops (NHWC → NCHW once at the input) and refuses any other op by name, so a different model
fails loudly at start-up rather than computing nonsense.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import openvino as ov
import openvino.opset13 as ops

from detect.errors import ModelUnreadable

_DTYPES = {"float32": np.float32, "int32": np.int32}
#: NHWC axis → NCHW axis, for the axes TF ops name (Mean, ConcatV2).
_AXIS = {0: 0, 1: 2, 2: 3, 3: 1, -1: 1}


def read_weights(model_json: Path) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """The graph and its constants, dequantised (float16-stored weights come back as float32)."""
    try:
        document = json.loads(model_json.read_text())
        constants: dict[str, np.ndarray] = {}
        for group in document["weightsManifest"]:
            blob = b"".join((model_json.parent / p).read_bytes() for p in group["paths"])
            offset = 0
            for spec in group["weights"]:
                shape = [int(d) for d in spec["shape"]]
                count = int(np.prod(shape)) if shape else 1
                stored = (spec.get("quantization") or {}).get("dtype") or spec["dtype"]
                if stored == "float16":
                    raw = np.frombuffer(blob, np.float16, count, offset)
                    offset += 2 * count
                elif stored in _DTYPES:
                    raw = np.frombuffer(blob, _DTYPES[stored], count, offset)
                    offset += 4 * count
                else:
                    raise ModelUnreadable(model_json, f"weight {spec['name']} stored as {stored}")
                constants[spec["name"]] = raw.astype(_DTYPES[spec["dtype"]]).reshape(shape)
    except (OSError, KeyError, ValueError, json.JSONDecodeError) as exc:
        raise ModelUnreadable(model_json, f"not a readable TensorFlow.js graph model ({exc})") from exc
    return document, constants


def _strings(attr: Mapping[str, Any], key: str) -> list[str]:
    return [base64.b64decode(s).decode() for s in attr.get(key, {}).get("list", {}).get("s", [])]


def _string(attr: Mapping[str, Any], key: str) -> str:
    return base64.b64decode(attr[key]["s"]).decode()


def _ints(attr: Mapping[str, Any], key: str) -> list[int]:
    return [int(i) for i in attr.get(key, {}).get("list", {}).get("i", [])]


class _Builder:
    def __init__(self, document: Mapping[str, Any], constants: Mapping[str, np.ndarray], path: Path) -> None:
        self._nodes = {n["name"]: n for n in document["modelTopology"]["node"]}
        self._constants = constants
        self._path = path
        self._built: dict[str, Any] = {}
        self.parameters: list[Any] = []

    def const(self, name: str) -> np.ndarray:
        if name not in self._constants:
            raise ModelUnreadable(self._path, f"node {name} is not a constant")
        return self._constants[name]

    def value(self, name: str) -> Any:
        """The OpenVINO output for a graph tensor, NCHW where it is 4-D, built on first use."""
        name = name.split(":")[0]
        if name not in self._built:
            self._built[name] = self._build(self._nodes[name])
        return self._built[name]

    def _operand(self, name: str) -> Any:
        """A binary op's operand: a constant is laid out NCHW so it broadcasts like its NHWC original."""
        if name in self._constants:
            array = self._constants[name]
            if array.ndim == 1 and array.size > 1:
                array = array.reshape(1, -1, 1, 1)
            elif array.ndim == 4:
                array = array.transpose(0, 3, 1, 2)
            return ops.constant(np.ascontiguousarray(array))
        return self.value(name)

    def _conv(self, node: Mapping[str, Any], depthwise: bool) -> Any:
        attr = node["attr"]
        source, filter_name, *args = node["input"]
        strides = _ints(attr, "strides")[1:3]
        dilations = _ints(attr, "dilations")[1:3] or [1, 1]
        pad = {"SAME": "same_upper", "VALID": "valid"}[_string(attr, "padding")]
        weights = self.const(filter_name)
        if depthwise:  # H, W, C, multiplier → groups C, multiplier, 1, H, W
            h, w, c, mult = weights.shape
            kernel = weights.transpose(2, 3, 0, 1).reshape(c, mult, 1, h, w)
            out = ops.group_convolution(
                self.value(source),
                ops.constant(np.ascontiguousarray(kernel)),
                strides,
                [0, 0],
                [0, 0],
                dilations,
                pad,
            )
        else:  # H, W, in, out → out, in, H, W
            kernel = np.ascontiguousarray(weights.transpose(3, 2, 0, 1))
            out = ops.convolution(
                self.value(source), ops.constant(kernel), strides, [0, 0], [0, 0], dilations, pad
            )
        for fused in _strings(attr, "fused_ops"):
            if fused == "BiasAdd":
                out = ops.add(out, self._operand(args[0]))
            elif fused == "Relu":
                out = ops.relu(out)
            elif fused == "Relu6":
                out = ops.clamp(out, 0.0, 6.0)
            else:
                raise ModelUnreadable(self._path, f"unsupported fused op {fused} in {node['name']}")
        return out

    def _build(self, node: Mapping[str, Any]) -> Any:
        op = node["op"]
        attr = node.get("attr", {})
        inputs: Sequence[str] = node.get("input", [])
        if op == "Placeholder":
            shape = [int(d["size"]) for d in attr["shape"]["shape"]["dim"]]
            parameter = ops.parameter(shape, np.float32, name=node["name"])
            self.parameters.append(parameter)
            return ops.transpose(parameter, ops.constant(np.array([0, 3, 1, 2], np.int64)))
        if op in ("_FusedConv2D", "Conv2D"):
            return self._conv(node, depthwise=False)
        if op in ("FusedDepthwiseConv2dNative", "DepthwiseConv2dNative"):
            return self._conv(node, depthwise=True)
        binary: dict[str, Callable[[Any, Any], Any]] = {
            "Add": ops.add,
            "AddV2": ops.add,
            "Mul": ops.multiply,
            "Sub": ops.subtract,
        }
        if op in binary:
            return binary[op](self._operand(inputs[0]), self._operand(inputs[1]))
        if op == "Relu":
            return ops.relu(self.value(inputs[0]))
        if op == "Relu6":
            return ops.clamp(self.value(inputs[0]), 0.0, 6.0)
        if op == "Sigmoid":
            return ops.sigmoid(self.value(inputs[0]))
        if op == "Identity":
            return self.value(inputs[0])
        if op == "Mean":
            axes = sorted(_AXIS[int(a)] for a in np.atleast_1d(self.const(inputs[1])))
            keep = bool(attr.get("keep_dims", {}).get("b", False))
            return ops.reduce_mean(self.value(inputs[0]), ops.constant(np.array(axes, np.int64)), keep)
        if op == "ConcatV2":
            axis = _AXIS[int(self.const(inputs[-1]))]
            return ops.concat([self.value(i) for i in inputs[:-1]], axis)
        if op == "ResizeBilinear":
            if attr.get("align_corners", {}).get("b") or attr.get("half_pixel_centers", {}).get("b"):
                raise ModelUnreadable(self._path, f"{node['name']}: only asymmetric resizing is supported")
            size = np.array(self.const(inputs[1]), np.int64)
            return ops.interpolate(
                self.value(inputs[0]),
                ops.constant(size),
                "linear",
                "sizes",
                axes=ops.constant(np.array([2, 3], np.int64)),
                coordinate_transformation_mode="asymmetric",
            )
        raise ModelUnreadable(self._path, f"unsupported TensorFlow.js op {op} ({node['name']})")


def to_openvino(model_json: Path, outputs: Sequence[str]) -> ov.Model:
    """An OpenVINO model computing the named graph tensors (NCHW) from the graph's single NHWC input."""
    document, constants = read_weights(model_json)
    builder = _Builder(document, constants, model_json)
    try:
        results = [ops.result(builder.value(name)) for name in outputs]
    except KeyError as exc:
        raise ModelUnreadable(model_json, f"graph has no tensor {exc}") from exc
    return ov.Model(results, builder.parameters, model_json.stem)
