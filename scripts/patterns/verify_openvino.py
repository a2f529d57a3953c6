#!/usr/bin/env python3
"""Verify the OpenVINO pattern library (openvino.json beside this file).

For every pattern and every near miss: build the ONNX model DLSmith's exporter would emit for the
pattern alone (node names n<i>_<Op>, values v<N>, constants as initializers, helper tensors
v<N>_<what>), compile it with OpenVINO's CPU plugin in f32 (the `openvino` backend of
python/dlsmith_worker.py), apply the runtime detector and print one line. Exit 1 if a pattern's
runtime detection differs from its `rewritten` list.

Detectors (see openvino-notes.md):
- rt (the library's definition): F_k = friendly name of the OpenVINO op that produces node k's first
  output tensor `vN` after core.read_model (the ONNX frontend names it after the ONNX node,
  `n<i>_<Op>`, except that a node producing a graph output is named after that output, `vN`).
  Node k is rewritten iff
    gone:    F_k occurs in no runtime node's originalLayersNames (removed, or replaced by a new op:
             the replacement carries only the root's friendly name, not the matched nodes' names), or
    retyped: F_k is alone in a runtime node whose layerType is not one its op keeps (a replacement
             that took F_k, e.g. TransposeToReshape; checked only for the op types in KEEPS), or
    fused:   the runtime node holding F_k also holds F_j of another ONNX node j of the model.
  gone and retyped are reported together as "gone".
- moc (diagnostic): apply_moc_transformations on a fresh read of the model; node k is rewritten iff
  no op of the transformed model has friendly name F_k and the OpenVINO type it had after read_model
  (offline MOC runs on dynamic shapes, so shape-dependent eliminations do not show there).

Outputs are compared with onnxruntime (ORT_DISABLE_ALL) on random inputs; "maxdiff" is the max
absolute difference divided by max(1, max |reference|) (informational).

A near miss "FIRES" if each of the pattern's rewritten nodes is rewritten the same way (gone or
fused) as when the pattern itself was compiled.

Usage: verify_openvino.py [--only NAME_SUBSTRING] [--json PATH] [--dtype f16|f64]
"""
import argparse
import json
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

HERE = os.path.dirname(os.path.abspath(__file__))
OV_F32 = {"INFERENCE_PRECISION_HINT": "f32", "EXECUTION_MODE_HINT": "ACCURACY"}
NP = {"f32": np.float32, "f16": np.float16, "f64": np.float64, "i32": np.int32, "i64": np.int64,
      "bool": np.bool_, "i8": np.int8, "u8": np.uint8}
ONNX_T = {"f32": TensorProto.FLOAT, "f16": TensorProto.FLOAT16, "f64": TensorProto.DOUBLE,
          "bf16": TensorProto.BFLOAT16, "i32": TensorProto.INT32, "i64": TensorProto.INT64,
          "bool": TensorProto.BOOL, "i8": TensorProto.INT8, "u8": TensorProto.UINT8}

UNARY = {"relu": "Relu", "sigmoid": "Sigmoid", "hard_swish": "HardSwish", "tanh": "Tanh", "gelu": "Gelu",
         "erf": "Erf", "exp": "Exp", "log": "Log", "sqrt": "Sqrt", "reciprocal": "Reciprocal",
         "abs": "Abs", "neg": "Neg", "sin": "Sin", "cos": "Cos", "atan": "Atan", "asin": "Asin",
         "sinh": "Sinh", "floor": "Floor", "ceil": "Ceil", "round": "Round", "sign": "Sign",
         "softplus": "Softplus", "softsign": "Softsign"}
BINARY = {"add": "Add", "sub": "Sub", "mul": "Mul", "div": "Div", "pow": "Pow", "min": "Min",
          "max": "Max", "equal": "Equal", "less": "Less", "less_equal": "LessOrEqual",
          "greater": "Greater", "greater_equal": "GreaterOrEqual", "logical_and": "And",
          "logical_or": "Or", "logical_xor": "Xor"}
SELU_ALPHA, SELU_GAMMA = 1.67326319217681884765625, 1.05070102214813232421875
HARD_SIGMOID_ALPHA = 0.20000000298023224

# Verification-only choices: the shape of the graft point x per pattern (the generator solves it
# freely in real models), and concrete values for "*" dims of pinned operand shapes.
X_SHAPE = {
    "openvino.fc_bias": [2, 4, 8], "openvino.matmul_mul": [2, 4, 8], "openvino.matmul_relu": [2, 4, 8],
    "openvino.transpose_matmul": [2, 8, 8], "openvino.fc_weights_decompression": [2, 4, 8], "openvino.transpose_to_reshape": [2, 1, 8, 6],
}
DEFAULT_X = [2, 8, 6, 6]
STAR = 3
# Value kinds of fresh operands where random normal values would leave the operator's domain:
# (pattern name, node index) -> {input index: kind}, (pattern name, "x") -> kind.
VALUES = {}


class Builder:
    """Emits ONNX nodes the way Sources/ONNX/Export.swift does."""

    def __init__(self, dtype):
        self.dtype = dtype
        self.nodes, self.inits, self.inputs, self.feeds = [], [], [], {}
        self.next_id = 0
        self.rng = np.random.default_rng(7)
        self.shapes = {}  # value name -> shape
        self.dtypes = {}

    def fresh(self):
        name = f"v{self.next_id}"
        self.next_id += 1
        return name

    def node(self, op, ins, outs, **attrs):
        n = helper.make_node(op, ins, outs, name=f"n{len(self.nodes)}_{op}", **attrs)
        self.nodes.append(n)
        return outs

    def init(self, name, arr, dtype=None):
        arr = np.asarray(arr)
        self.inits.append(numpy_helper.from_array(arr.astype(NP[dtype]) if dtype else arr, name))
        self.shapes[name] = list(arr.shape)
        self.dtypes[name] = dtype
        return name

    def ints(self, name, values, scalar=False):
        return self.init(name, np.array(values[0] if scalar else values, dtype=np.int64))

    def scalar(self, name, value, dtype):
        return self.init(name, np.array(value), dtype)

    def graph_input(self, shape, dtype, kind="normal"):
        name = self.fresh()
        self.inputs.append(helper.make_tensor_value_info(name, ONNX_T[dtype], shape))
        self.feeds[name] = self.values(shape, dtype, kind)
        self.shapes[name], self.dtypes[name] = list(shape), dtype
        return name

    def values(self, shape, dtype, kind):
        r = self.rng
        if kind == "positive":
            v = r.uniform(0.5, 2.0, shape)
        elif kind == "away":  # |v| >= 0.5, for divisors
            v = r.uniform(0.5, 1.5, shape) * r.choice([-1.0, 1.0], shape)
        elif kind == "exponent":
            v = r.uniform(-3, 3, shape)
        elif kind == "scale":
            v = r.uniform(0.02, 0.1, shape)
        elif kind == "zp":
            v = r.integers(-10, 10, shape) if dtype == "i8" else r.integers(100, 140, shape)
        elif kind.startswith("indices:"):
            d = int(kind.split(":")[1])
            v = r.integers(-d, d, shape)
        else:
            v = r.standard_normal(shape)
        return np.asarray(v).astype(NP[dtype])

    def infer(self, outputs):
        """Shapes of every value so far (onnx shape inference on the partial graph)."""
        g = helper.make_graph(self.nodes, "p", self.inputs,
                              [helper.make_tensor_value_info(o, TensorProto.UNDEFINED, None) for o in outputs],
                              self.inits)
        m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 20)])
        m = onnx.shape_inference.infer_shapes(m, strict_mode=True)
        for vi in list(m.graph.value_info) + list(m.graph.output):
            t = vi.type.tensor_type
            self.shapes[vi.name] = [d.dim_value for d in t.shape.dim]
            self.dtypes[vi.name] = {v: k for k, v in ONNX_T.items()}.get(t.elem_type)


def build(pattern, nm=None, xshape=None):
    """The ONNX model of `pattern` (with near miss `nm` applied); returns (model, feeds, first outputs)."""
    nm = nm or {}
    dtype = (nm.get("dtypes") or pattern.get("dtypes") or ["f32"])[0]
    b = Builder(dtype)
    x = b.graph_input(xshape or X_SHAPE.get(pattern["name"], DEFAULT_X), dtype,
                      VALUES.get((pattern["name"], "x"), "normal"))
    outs = []  # outputs of each pattern node
    firsts = []
    for k, node in enumerate(pattern["nodes"]):
        op = node["op"]
        attrs = dict(node.get("attributes", {}))
        attrs.update(nm.get("attributes", {}).get(str(k), {}))
        operands = list(node["inputs"])
        for key, v in nm.get("inputs", {}).items():
            kk, i = key.split(".")
            if int(kk) == k:
                operands[int(i)] = v
        shapes_pin = node.get("shapes", {})
        kinds = VALUES.get((pattern["name"], k), {})
        names = []
        for i, operand in enumerate(operands):
            if operand == "x":
                names.append(x)
            elif operand.startswith("#"):
                ref = operand[1:]
                kk, j = (ref.split(".") + ["0"])[:2]
                names.append(outs[int(kk)][int(j)])
            else:
                names.append(None)  # fresh, made below once the others' shapes are known
        for i, operand in enumerate(operands):
            if names[i] is not None:
                continue
            if b.nodes:
                b.infer([o for os_ in outs for o in os_])
            shape = resolve_shape(b, op, i, names, shapes_pin.get(str(i)), outs, x, attrs)
            odt = operand_dtype(op, i, dtype, attrs)
            if op in BINARY:  # the other operand's dtype (e.g. after a cast)
                known = [b.dtypes.get(nn) for nn in names if nn is not None]
                odt = known[0] if known and known[0] else odt
            kind = kinds.get(str(i), default_kind(op, i, b, names, attrs))
            if operand == "input":
                names[i] = b.graph_input(shape, odt, kind)
            elif operand.startswith("const"):
                name = b.fresh()
                if ":" in operand:
                    arr = np.full(shape, float(operand.split(":", 1)[1]))
                else:
                    arr = b.values(shape, odt, kind)
                names[i] = b.init(name, arr, odt)
            else:
                raise ValueError(f"operand {operand!r}")
        nout = 1
        if op == "split":
            nout = int(attrs.get("num_outputs", "2"))
        o = [b.fresh() for _ in range(nout)]
        emit(b, op, names, o, attrs)
        outs.append(o)
        firsts.append(o[0])
    # Graph outputs: every value not consumed inside the pattern, plus taps (a second consumer).
    consumed = {i for n in b.nodes for i in n.input}
    result = [o for os_ in outs for o in os_ if o not in consumed]
    for t in nm.get("tap", []):
        kk, j = (t[1:].split(".") + ["0"])[:2]
        v = outs[int(kk)][int(j)]
        if v not in result:
            result.append(v)
    b.infer(result)
    g = helper.make_graph(b.nodes, "dlsmith", b.inputs,
                          [helper.make_tensor_value_info(r, ONNX_T[b.dtypes[r]], b.shapes[r]) for r in result],
                          b.inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 20)], ir_version=9,
                          producer_name="dlsmith")
    onnx.checker.check_model(m, full_check=True)
    return m, b.feeds, firsts


def operand_dtype(op, i, dtype, attrs):
    if op == "gather" and i == 1:
        return "i64"
    if op in ("quantize_linear", "dequantize_linear") and i == 1:
        return "f32"
    if op in ("quantize_linear", "dequantize_linear") and (i == 2 or (op == "dequantize_linear" and i == 0)):
        return attrs.get("zp_dtype", "u8")
    if op == "where" and i == 0:
        return "bool"
    return dtype


def default_kind(op, i, b, names, attrs):
    if op == "batch_norm" and i == 4:
        return "positive"
    if op == "div" and i == 1:
        return "away"
    if op == "pow" and i == 1:
        return "exponent"
    if op in ("quantize_linear", "dequantize_linear"):
        return {1: "scale", 2: "zp"}.get(i, "zp" if op == "dequantize_linear" else "normal")
    if op == "gather" and i == 1:
        data = b.shapes[names[0]]
        ax = attrs.get("axis", 0)
        return f"indices:{data[ax]}"
    return "normal"


def resolve_shape(b, op, i, names, pin, outs, x, attrs):
    if pin is not None:
        dims = []
        for d in pin:
            if isinstance(d, int) or str(d).lstrip("-").isdigit():
                dims.append(int(d))
            elif d == "*":
                dims.append(STAR)
            elif d.startswith("#"):
                kk, idx = d[1:].rstrip("]").split("[")
                dims.append(b.shapes[outs[int(kk)][0]][int(idx)])
            elif d.startswith("x["):
                dims.append(b.shapes[x][int(d[2:].rstrip("]"))])
            else:
                raise ValueError(d)
        return dims
    other = [b.shapes[n] for n in names if n is not None]
    first = other[0] if other else b.shapes[x]
    if op in BINARY or op == "where":
        return list(first)
    if op == "batch_norm":
        return [first[1]]
    if op == "matmul":
        return [first[-1], 5]
    if op == "gemm":
        return [first[-1], 5] if i == 1 else [5]
    if op == "layer_norm":
        ax = attrs.get("axis", -1)
        return list(first[ax:])
    if op in ("conv1d", "conv2d"):
        g = attrs.get("group", 1)
        return [first[1], first[1] // g] + [3] * (len(first) - 2)
    if op in ("quantize_linear", "dequantize_linear"):
        return []
    if op == "gather":
        return [2]
    return list(first)


def emit(b, op, ins, outs, a):
    tag = outs[0]
    dt = b.dtype
    if op in UNARY:
        b.node(UNARY[op], ins, outs)
    elif op in BINARY:
        b.node(BINARY[op], ins, outs)
    elif op == "leaky_relu":
        b.node("LeakyRelu", ins, outs, alpha=float(a.get("alpha", 0.01)))
    elif op == "elu":
        b.node("Elu", ins, outs, alpha=float(a.get("alpha", 1.0)))
    elif op == "selu":
        b.node("Selu", ins, outs, alpha=SELU_ALPHA, gamma=SELU_GAMMA)
    elif op == "hard_sigmoid":
        b.node("HardSigmoid", ins, outs, alpha=HARD_SIGMOID_ALPHA, beta=0.5)
    elif op == "clip":
        lo = b.scalar(f"{tag}_min", a.get("min", 0.0), dt)
        hi = b.scalar(f"{tag}_max", a.get("max", 6.0), dt)
        b.node("Clip", [ins[0], lo, hi], outs)
    elif op == "where":
        b.node("Where", ins, outs)
    elif op == "cast":
        b.node("Cast", ins, outs, to=ONNX_T[a.get("to", "f32")])
    elif op == "matmul":
        b.node("MatMul", ins, outs)
    elif op == "gemm":
        b.node("Gemm", ins, outs, alpha=float(a.get("alpha", 1.0)), beta=float(a.get("beta", 1.0)),
               transA=int(a.get("trans_a", 0)), transB=int(a.get("trans_b", 0)))
    elif op in ("conv1d", "conv2d"):
        s = 1 if op == "conv1d" else 2
        b.node("Conv", ins, outs, kernel_shape=b.shapes[ins[1]][2:], strides=a.get("strides", [1] * s),
               pads=a.get("pads", [0] * 2 * s), dilations=a.get("dilations", [1] * s), group=a.get("group", 1))
    elif op == "conv_transpose2d":
        b.node("ConvTranspose", ins, outs, kernel_shape=b.shapes[ins[1]][2:], strides=a.get("strides", [1, 1]),
               pads=a.get("pads", [0] * 4), dilations=a.get("dilations", [1, 1]),
               output_padding=a.get("output_padding", [0, 0]), group=a.get("group", 1))
    elif op in ("max_pool1d", "max_pool2d"):
        s = 1 if op == "max_pool1d" else 2
        b.node("MaxPool", ins, outs, kernel_shape=a.get("kernel_shape", [1] * s), strides=a.get("strides", [1] * s),
               pads=a.get("pads", [0] * 2 * s), dilations=a.get("dilations", [1] * s), ceil_mode=0)
    elif op in ("avg_pool1d", "avg_pool2d"):
        s = 1 if op == "avg_pool1d" else 2
        b.node("AveragePool", ins, outs, kernel_shape=a.get("kernel_shape", [1] * s),
               strides=a.get("strides", [1] * s), pads=a.get("pads", [0] * 2 * s),
               count_include_pad=a.get("count_include_pad", 0), ceil_mode=0)
    elif op == "global_avg_pool":
        b.node("GlobalAveragePool", ins, outs)
    elif op == "batch_norm":
        b.node("BatchNormalization", ins, outs, epsilon=float(a.get("epsilon", 1e-5)))
    elif op == "layer_norm":
        b.node("LayerNormalization", ins, outs, axis=a.get("axis", -1), epsilon=float(a.get("epsilon", 1e-5)))
    elif op in ("softmax", "log_softmax"):
        b.node("Softmax" if op == "softmax" else "LogSoftmax", ins, outs, axis=a.get("axis", -1))
    elif op.startswith("reduce_"):
        onnx_op = {"reduce_sum": "ReduceSum", "reduce_mean": "ReduceMean", "reduce_max": "ReduceMax",
                   "reduce_min": "ReduceMin", "reduce_prod": "ReduceProd"}[op]
        axes = b.ints(f"{tag}_axes", a.get("axes", [0]))
        b.node(onnx_op, [ins[0], axes], outs, keepdims=a.get("keepdims", 1))
    elif op in ("argmax", "argmin"):
        b.node("ArgMax" if op == "argmax" else "ArgMin", ins, outs, axis=a.get("axis", 0),
               keepdims=a.get("keepdims", 1), select_last_index=0)
    elif op == "reshape":
        b.node("Reshape", [ins[0], b.ints(f"{tag}_shape", a["shape"])], outs)
    elif op == "flatten":
        b.node("Flatten", ins, outs, axis=a.get("axis", 1))
    elif op == "transpose":
        b.node("Transpose", ins, outs, perm=a["perm"])
    elif op == "squeeze":
        b.node("Squeeze", [ins[0], b.ints(f"{tag}_axes", a["axes"])], outs)
    elif op == "unsqueeze":
        b.node("Unsqueeze", [ins[0], b.ints(f"{tag}_axes", [a.get("axis", 0)])], outs)
    elif op == "concat":
        b.node("Concat", ins, outs, axis=a.get("axis", 0))
    elif op == "split":
        b.node("Split", ins, outs, axis=a.get("axis", 0), num_outputs=int(a.get("num_outputs", "2")))
    elif op == "slice":
        b.node("Slice", [ins[0], b.ints(f"{tag}_starts", [a.get("start", 0)]), b.ints(f"{tag}_ends", [a.get("end", 1)]),
                         b.ints(f"{tag}_axes", [a.get("axis", 0)]), b.ints(f"{tag}_steps", [a.get("step", 1)])], outs)
    elif op == "pad":
        mode = a.get("mode", "constant")
        inputs = [ins[0], b.ints(f"{tag}_pads", a["pads_begin"] + a["pads_end"])]
        if mode == "constant":
            inputs.append(b.scalar(f"{tag}_value", a.get("value", 0.0), dt))
        b.node("Pad", inputs, outs, mode=mode)
    elif op == "expand":
        b.node("Expand", [ins[0], b.ints(f"{tag}_shape", a["shape"])], outs)
    elif op == "tile":
        b.node("Tile", [ins[0], b.ints(f"{tag}_repeats", a["repeats"])], outs)
    elif op == "gather":
        b.node("Gather", ins, outs, axis=a.get("axis", 0))
    elif op == "resize":  # only the exact case (the exporter's Resize form)
        shape = b.shapes[ins[0]]
        b.node("Resize", [ins[0], "", "", b.ints(f"{tag}_sizes", shape[:2] + a["sizes"])], outs,
               mode="nearest", coordinate_transformation_mode="asymmetric", nearest_mode="floor")
    elif op == "cumsum":
        b.node("CumSum", [ins[0], b.ints(f"{tag}_axis", [a.get("axis", 0)], scalar=True)], outs,
               exclusive=a.get("exclusive", 0), reverse=a.get("reverse", 0))
    elif op == "quantize_linear":
        b.node("QuantizeLinear", ins, outs, axis=a.get("axis", 1))
    elif op == "dequantize_linear":
        b.node("DequantizeLinear", ins, outs, axis=a.get("axis", 1))
    else:
        raise ValueError(f"no emitter for {op}")


# ---------------------------------------------------------------------------------------------
# Detectors.

def friendly_names(ov_model, firsts):
    """F_k: friendly name of the op producing tensor firsts[k], and that op's OpenVINO type."""
    by_tensor = {}
    for op in ov_model.get_ordered_ops():
        for o in op.outputs():
            for n in o.get_names():
                by_tensor.setdefault(n, (op.get_friendly_name(), op.get_type_name()))
    return [by_tensor[f] for f in firsts]


# OpenVINO op type -> the CPU runtime layer types it keeps when nothing rewrote it; a node alone in a
# runtime node of another layer type was replaced by a transformation that kept its friendly name.
KEEPS = {"Transpose": {"Transpose"}, "Reshape": {"Reshape"}, "Pad": {"Pad"}, "Tile": {"Tile"},
         "Broadcast": {"Broadcast"}, "Gather": {"Gather"}, "Concat": {"Concatenation"},
         "Split": {"Split"}, "Convolution": {"Convolution"}, "GroupConvolution": {"Convolution"},
         "MatMul": {"MatMul", "FullyConnected"}, "AvgPool": {"Pooling"}, "MaxPool": {"Pooling"},
         "Softmax": {"Softmax"}, "Slice": {"StridedSlice"}, "StridedSlice": {"StridedSlice"},
         "ReduceSum": {"Reduce"}, "ReduceMean": {"Reduce"}, "ReduceMax": {"Reduce"}}


def rt_detect(compiled, fnames, all_names, ftypes=None):
    groups = []
    for op in compiled.get_runtime_model().get_ordered_ops():
        rt = op.get_rt_info()
        names = set(rt["originalLayersNames"].astype(str).split(","))
        groups.append((names, rt["layerType"].astype(str)))
    gone, fused, where = set(), set(), {}
    for k, f in enumerate(fnames):
        holders = [(n, t) for n, t in groups if f in n]
        if not holders:
            gone.add(k)
            where[k] = "gone"
            continue
        others = set().union(*[n for n, _ in holders]) & (all_names - {f})
        if others:
            fused.add(k)
            where[k] = holders[0][1]
        elif ftypes and ftypes[k] in KEEPS and holders[0][1] not in KEEPS[ftypes[k]]:
            gone.add(k)  # replaced under the same friendly name (e.g. TransposeToReshape)
            where[k] = "retyped:" + holders[0][1]
    return gone, fused, where


def moc_detect(core, model_bytes, fnames_types):
    from openvino._offline_transformations import apply_moc_transformations
    m = core.read_model(model=model_bytes)
    sys.stdout.flush()
    saved = os.dup(1)  # the pass prints "MOCTransformations start..." on the C++ stdout
    with open(os.devnull, "w") as null:
        os.dup2(null.fileno(), 1)
        try:
            apply_moc_transformations(m, cf=False)
        finally:
            os.dup2(saved, 1)
            os.close(saved)
    have = {(op.get_friendly_name(), op.get_type_name()) for op in m.get_ordered_ops()}
    types = sorted({op.get_type_name() for op in m.get_ordered_ops()} - {"Parameter", "Result", "Constant"})
    return {k for k, ft in enumerate(fnames_types) if ft not in have}, types


def reference(model_bytes, feeds):
    import onnxruntime as ort
    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    s = ort.InferenceSession(model_bytes, so, providers=["CPUExecutionProvider"])
    return s.run(None, feeds)


def run_one(core, pattern, nm):
    import openvino as ov  # noqa: F401
    m, feeds, firsts = build(pattern, nm)
    data = m.SerializeToString()
    ovm = core.read_model(model=data)
    ft = friendly_names(ovm, firsts)
    all_names = {f for f, _ in friendly_names(ovm, [o for n in m.graph.node for o in n.output[:1]])}
    compiled = core.compile_model(ovm, "CPU", OV_F32)
    gone, fused, where = rt_detect(compiled, [f for f, _ in ft], all_names, [t for _, t in ft])
    moc, moc_types = moc_detect(core, data, ft)
    diff = None
    try:
        ref = reference(data, feeds)
        res = compiled([feeds[i.name] for i in m.graph.input])
        diffs = []
        for r, o in zip(ref, compiled.outputs):
            got = np.asarray(res[o])
            r = np.asarray(r)
            if r.dtype == np.bool_ or got.dtype == np.bool_:
                diffs.append(float(np.sum(r != got)))
                continue
            r, got = r.astype(np.float64), got.astype(np.float64)
            both_nan = np.isnan(r) & np.isnan(got)
            d = np.where(both_nan, 0.0, np.abs(r - got))
            d = np.where(np.isnan(d), np.inf, d)
            scale = max(1.0, float(np.nanmax(np.abs(np.where(np.isfinite(r), r, 0.0))))) if r.size else 1.0
            diffs.append(float(d.max()) / scale if d.size else 0.0)
        diff = max(diffs)
    except Exception as e:  # noqa: BLE001
        diff = f"reference failed: {type(e).__name__}: {str(e)[:120]}"
    return gone, fused, where, moc, moc_types, diff


def fires(p, gone, fused, kinds):
    """Whether a near miss still fires: each of the pattern's rewritten nodes is rewritten the way it
    was when the pattern itself was compiled (`kinds`: node -> "gone" or "fused"), so that a near miss
    whose nodes the CPU plugin merely fuses (Snippets Subgraph, Eltwise post-ops) is not mistaken for
    the transformation that removes them."""
    return all(k in (gone if kinds[k] == "gone" else fused) for k in p["rewritten"])


def fmtd(d):
    return f"{d:.3g}" if isinstance(d, float) else d


def fmt(s):
    return "{" + ",".join(str(k) for k in sorted(s)) + "}"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--only", default="")
    ap.add_argument("--json", default=os.path.join(HERE, "..", "..", "Patterns", "openvino.json"))
    ap.add_argument("--dtype", default="", help="compile every pattern (not its near misses) in this dtype instead")
    args = ap.parse_args()
    import openvino as ov
    core = ov.Core()
    lib = json.load(open(args.json))
    failures, count, nms, nm_fired = [], 0, 0, 0
    for p in lib["patterns"]:
        if args.only and args.only not in p["name"]:
            continue
        count += 1
        want = set(p["rewritten"])
        try:
            gone, fused, where, moc, types, diff = run_one(core, p, {"dtypes": [args.dtype]} if args.dtype else None)
        except Exception as e:  # noqa: BLE001
            print(f"FAIL {p['name']}: error {type(e).__name__}: {e}")
            failures.append(p["name"])
            continue
        ok = gone | fused == want
        kinds = {k: ("gone" if k in gone else "fused") for k in want}
        if not ok:
            failures.append(p["name"])
        print(f"{'PASS' if ok else 'FAIL'} {p['name']} [{p['level']}]: rt gone {fmt(gone)} fused {fmt(fused)} "
              f"(expected {fmt(want)}{'; ' if where else ''}{', '.join(f'{k}:{where[k]}' for k in sorted(where))}); "
              f"moc rewritten {fmt(moc)} ops {types}; maxdiff vs ort {fmtd(diff)}")
        for nm in p.get("nearMisses", []):
            nms += 1
            try:
                gone2, fused2, where2, moc2, types2, diff2 = run_one(core, p, nm)
            except Exception as e:  # noqa: BLE001
                print(f"    near {nm['name']}: error {type(e).__name__}: {e}")
                failures.append(p["name"] + "/" + nm["name"])
                continue
            fired = fires(p, gone2, fused2, kinds)
            nm_fired += fired
            print(f"    near {nm['name']}: {'FIRES' if fired else 'no fire'}; rt gone {fmt(gone2)} fused {fmt(fused2)} "
                  f"moc {fmt(moc2)} ops {types2}; maxdiff {fmtd(diff2)}")
    print(f"\nsummary: {count - len(failures)}/{count} patterns fire as `rewritten` says; "
          f"{nms} near misses, {nm_fired} of them still fire")
    if failures:
        print("failed: " + ", ".join(failures))
        sys.exit(1)


if __name__ == "__main__":
    main()
