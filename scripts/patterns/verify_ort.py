#!/usr/bin/env python3
"""Verify the onnxruntime pattern library (ort.json) against onnxruntime on the CPU EP.

For every pattern and every near miss it builds the ONNX model our exporter (Sources/ONNX/Export.swift)
would emit for a concrete instance of the pattern (graph inputs for "x"/"input", initializers for
"const"/"const:V" and helper tensors, our node k's first output named vN), optimizes it with
`SessionOptions.optimized_model_filepath` at the pattern's level, and applies the FORMAT.md ort
detector: our node k is rewritten if no node of the same op_type and domain produces its first output
name in the optimized model. It also runs the unoptimized (ORT_DISABLE_ALL) and the optimized session
on random inputs and prints the max abs difference (information; a large one would be an ORT bug).

Exit status 1 if any pattern (in any of its dtypes) does not fire exactly as its `rewritten` says.
Near misses are reported (fired or not), never fail the run.

Usage: verify_ort.py [ort.json] [-k substring] [-v]
"""
import copy
import json
import os
import sys
import tempfile
import warnings

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper

warnings.filterwarnings("ignore")
ort.set_default_logger_severity(3)

HERE = os.path.dirname(os.path.abspath(__file__))
OPSET = 20
MS = "com.microsoft"

ELEM = {
    "f32": TensorProto.FLOAT, "f16": TensorProto.FLOAT16, "bf16": TensorProto.BFLOAT16,
    "f64": TensorProto.DOUBLE, "i32": TensorProto.INT32, "i64": TensorProto.INT64,
    "bool": TensorProto.BOOL, "i8": TensorProto.INT8, "u8": TensorProto.UINT8,
}
NP = {"f32": np.float32, "f16": np.float16, "f64": np.float64, "i32": np.int32, "i64": np.int64,
      "bool": np.bool_, "i8": np.int8, "u8": np.uint8}
try:
    import ml_dtypes
    NP["bf16"] = ml_dtypes.bfloat16
except ImportError:  # pragma: no cover
    pass
FROM_ELEM = {v: k for k, v in ELEM.items()}
FLOATS = {"f16", "bf16", "f32", "f64"}
LEVELS = {
    "basic": ort.GraphOptimizationLevel.ORT_ENABLE_BASIC,
    "extended": ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED,
    "layout": ort.GraphOptimizationLevel.ORT_ENABLE_LAYOUT,
    "all": ort.GraphOptimizationLevel.ORT_ENABLE_ALL,
}

UNARY = {
    "relu": "Relu", "sigmoid": "Sigmoid", "hard_swish": "HardSwish", "tanh": "Tanh", "gelu": "Gelu",
    "erf": "Erf", "exp": "Exp", "log": "Log", "sqrt": "Sqrt", "reciprocal": "Reciprocal", "abs": "Abs",
    "neg": "Neg", "sin": "Sin", "cos": "Cos", "atan": "Atan", "asin": "Asin", "sinh": "Sinh",
    "floor": "Floor", "ceil": "Ceil", "round": "Round", "sign": "Sign", "softplus": "Softplus",
    "softsign": "Softsign",
}
BINARY = {
    "add": "Add", "sub": "Sub", "mul": "Mul", "div": "Div", "pow": "Pow", "min": "Min", "max": "Max",
    "equal": "Equal", "less": "Less", "less_equal": "LessOrEqual", "greater": "Greater",
    "greater_equal": "GreaterOrEqual", "logical_and": "And", "logical_or": "Or", "logical_xor": "Xor",
}
NO_BF16 = {"Elu", "Selu", "HardSigmoid", "HardSwish", "Sin", "Cos", "Atan", "Asin", "Sinh", "Round",
           "Softplus", "Softsign", "Conv", "ConvTranspose", "MaxPool", "AveragePool", "GlobalAveragePool"}
SELU_ALPHA = 1.67326319217681884765625
SELU_GAMMA = 1.05070102214813232421875
HARD_SIGMOID_ALPHA = 0.20000000298023224

# Defaults of attributes as in ops.txt (those without a default must be given by the pattern/example).
DEFAULTS = {
    "leaky_relu": {"alpha": 0.01}, "elu": {"alpha": 1.0}, "clip": {"min": 0.0, "max": 6.0},
    "cast": {"to": "f32"},
    "gemm": {"alpha": 1.0, "beta": 1.0, "trans_a": 0, "trans_b": 0},
    "conv1d": {"strides": [1], "pads": [0, 0], "dilations": [1], "group": 1},
    "conv2d": {"strides": [1, 1], "pads": [0, 0, 0, 0], "dilations": [1, 1], "group": 1},
    "max_pool1d": {"kernel_shape": [1], "strides": [1], "pads": [0, 0], "dilations": [1]},
    "max_pool2d": {"kernel_shape": [1, 1], "strides": [1, 1], "pads": [0, 0, 0, 0], "dilations": [1, 1]},
    "avg_pool1d": {"kernel_shape": [1], "strides": [1], "pads": [0, 0], "count_include_pad": 0},
    "avg_pool2d": {"kernel_shape": [1, 1], "strides": [1, 1], "pads": [0, 0, 0, 0], "count_include_pad": 0},
    "batch_norm": {"epsilon": 1e-5}, "layer_norm": {"axis": -1, "epsilon": 1e-5},
    "softmax": {"axis": -1}, "log_softmax": {"axis": -1},
    "reduce_sum": {"axes": [0], "keepdims": 1}, "reduce_mean": {"axes": [0], "keepdims": 1},
    "reduce_max": {"axes": [0], "keepdims": 1}, "reduce_min": {"axes": [0], "keepdims": 1},
    "reduce_prod": {"axes": [0], "keepdims": 1},
    "argmax": {"axis": 0, "keepdims": 1}, "argmin": {"axis": 0, "keepdims": 1},
    "flatten": {"axis": 1}, "unsqueeze": {"axis": 0}, "concat": {"axis": 0},
    "split": {"axis": 0, "num_outputs": "2"},
    "slice": {"axis": 0, "start": 0, "end": 1, "step": 1},
    "pad": {"mode": "constant", "value": 0.0}, "gather": {"axis": 0},
    "cumsum": {"axis": 0, "exclusive": 0, "reverse": 0},
    "quantize_linear": {"axis": 1, "requant": "onnx"}, "dequantize_linear": {"axis": 1},
    "qlinear_conv2d": {"strides": [1, 1], "pads": [0, 0, 0, 0], "dilations": [1, 1], "group": 1,
                       "weight_bits": "8", "requant": "onnx"},
    "qlinear_matmul": {"requant": "onnx"},
}

# Operand roles: (name, kind) with kind "data" (a value of the node's dtype), "weight" (constant of
# the node's dtype), or a fixed/special dtype rule.
def roles(op):
    if op in UNARY or op in ("leaky_relu", "elu", "selu", "hard_sigmoid", "clip", "cast", "logical_not"):
        return [("x", "data")]
    if op in BINARY or op in ("concat",):
        return [("a", "data"), ("b", "data")]
    return {
        "where": [("cond", "bool"), ("a", "data"), ("b", "data")],
        "matmul": [("a", "data"), ("b", "data")],
        "gemm": [("A", "data"), ("B", "weight"), ("C", "weight")],
        "conv1d": [("x", "data"), ("w", "weight")],
        "conv2d": [("x", "data"), ("w", "weight")],
        "batch_norm": [("x", "data"), ("scale", "weight"), ("bias", "weight"), ("mean", "weight"),
                       ("var", "weight")],
        "layer_norm": [("x", "data"), ("scale", "weight"), ("bias", "weight")],
        "gather": [("data", "data"), ("indices", "i64w")],
        "quantize_linear": [("x", "f32"), ("scale", "f32w"), ("zero_point", "qw")],
        "dequantize_linear": [("q", "q"), ("scale", "f32w"), ("zero_point", "qw")],
        "qlinear_conv2d": [("x", "q"), ("x_scale", "f32w"), ("x_zero_point", "qw"), ("w", "i8w"),
                           ("w_scale", "f32w"), ("w_zero_point", "i8w"), ("y_scale", "f32w"),
                           ("y_zero_point", "qw"), ("bias", "i32w")],
        "qlinear_matmul": [("a", "q"), ("a_scale", "f32w"), ("a_zero_point", "qw"), ("b", "i8w"),
                           ("b_scale", "f32w"), ("b_zero_point", "i8w"), ("y_scale", "f32w"),
                           ("y_zero_point", "qw")],
    }.get(op, [("x", "data")])


class Model:
    """Accumulates an ONNX graph the way Export.swift's Emitter does."""

    def __init__(self):
        self.nodes, self.inits, self.inputs = [], [], []
        self.types = {}  # name -> (dtype, shape)
        self.values = {}  # constant name -> ndarray
        self.next_id = 0

    def new_name(self):
        n = f"v{self.next_id}"
        self.next_id += 1
        return n

    def add_input(self, dtype, shape, name=None):
        name = name or self.new_name()
        self.inputs.append(helper.make_tensor_value_info(name, ELEM[dtype], shape))
        self.types[name] = (dtype, list(shape))
        return name

    def add_const(self, dtype, arr, name=None):
        name = name or self.new_name()
        arr = np.asarray(arr).astype(NP[dtype])
        t = numpy_helper.from_array(arr, name)
        self.inits.append(t)
        self.types[name] = (dtype, list(arr.shape))
        self.values[name] = arr
        return name

    def ints(self, name, values, scalar=False):
        arr = np.array(values[0] if scalar else values, dtype=np.int64)
        return self.add_const("i64", arr, name)

    def scalar(self, name, value, dtype):
        return self.add_const(dtype, np.array(value, dtype=np.float64), name)

    def node(self, op, ins, outs, domain="", **attrs):
        n = helper.make_node(op, ins, outs, name=f"n{len(self.nodes)}_{op}", domain=domain, **attrs)
        self.nodes.append(n)
        return outs

    def op(self, op, ins, outs, dtype, **attrs):
        if dtype != "bf16" or op not in NO_BF16:
            return self.node(op, ins, outs, **attrs)
        tag = outs[0]
        casted = [self.node("Cast", [v], [f"{tag}_in{k}_f32"], to=TensorProto.FLOAT)[0] for k, v in enumerate(ins)]
        temps = [f"{o}_f32" for o in outs]
        self.node(op, casted, temps, **attrs)
        for t, o in zip(temps, outs):
            self.node("Cast", [t], [o], to=TensorProto.BFLOAT16)
        return outs

    def model(self, outputs):
        outs = [helper.make_tensor_value_info(o, ELEM[self.types[o][0]], self.types[o][1]) for o in outputs]
        g = helper.make_graph(self.nodes, "dlsmith", self.inputs, outs, self.inits)
        opsets = [helper.make_opsetid("", OPSET)]
        if any(n.domain == MS for n in self.nodes):
            opsets.append(helper.make_opsetid(MS, 1))
        m = helper.make_model(g, opset_imports=opsets, producer_name="dlsmith")
        m.ir_version = 9
        return m

    def infer(self, outs):
        """Shapes/dtypes of `outs` by ONNX shape inference on the partial graph."""
        m = self.model([])
        m = onnx.shape_inference.infer_shapes(m, strict_mode=True)
        known = {vi.name: vi for vi in list(m.graph.value_info) + list(m.graph.output)}
        for o in outs:
            vi = known[o]
            tt = vi.type.tensor_type
            self.types[o] = (FROM_ELEM[tt.elem_type], [d.dim_value for d in tt.shape.dim])


def emit(m, op, ins, outs, a, t):
    """Mirror of ONNXExport.emit (+ emitLowBit) for the operators the patterns use."""
    tag = outs[0]
    dtype = t[0][0] if t else "f32"
    if op in UNARY:
        return m.op(UNARY[op], ins, outs, dtype)
    if op in BINARY:
        if dtype == "bool" and BINARY[op] in ("Less", "LessOrEqual", "Greater", "GreaterOrEqual"):
            c = [m.node("Cast", [v], [f"{tag}_in{k}_i32"], to=TensorProto.INT32)[0] for k, v in enumerate(ins)]
            return m.node(BINARY[op], c, outs)
        return m.node(BINARY[op], ins, outs)
    if op == "leaky_relu":
        return m.op("LeakyRelu", ins, outs, dtype, alpha=float(a["alpha"]))
    if op == "elu":
        return m.op("Elu", ins, outs, dtype, alpha=float(a["alpha"]))
    if op == "selu":
        return m.op("Selu", ins, outs, dtype, alpha=SELU_ALPHA, gamma=SELU_GAMMA)
    if op == "hard_sigmoid":
        return m.op("HardSigmoid", ins, outs, dtype, alpha=HARD_SIGMOID_ALPHA, beta=0.5)
    if op == "clip":
        lo = m.scalar(f"{tag}_min", a["min"], dtype)
        hi = m.scalar(f"{tag}_max", a["max"], dtype)
        return m.node("Clip", [ins[0], lo, hi], outs)
    if op == "logical_not":
        return m.node("Not", ins, outs)
    if op == "where":
        return m.node("Where", ins, outs)
    if op == "cast":
        return m.node("Cast", ins, outs, to=ELEM[a["to"]])
    if op == "matmul":
        return m.node("MatMul", ins, outs)
    if op == "gemm":
        return m.node("Gemm", ins, outs, alpha=float(a["alpha"]), beta=float(a["beta"]),
                      transA=int(a["trans_a"]), transB=int(a["trans_b"]))
    if op in ("conv1d", "conv2d"):
        return m.op("Conv", ins, outs, dtype, kernel_shape=t[1][1][2:], strides=a["strides"], pads=a["pads"],
                    dilations=a["dilations"], group=int(a["group"]))
    if op in ("max_pool1d", "max_pool2d"):
        return m.op("MaxPool", ins, outs, dtype, kernel_shape=a["kernel_shape"], strides=a["strides"],
                    pads=a["pads"], dilations=a["dilations"], ceil_mode=0)
    if op in ("avg_pool1d", "avg_pool2d"):
        return m.op("AveragePool", ins, outs, dtype, kernel_shape=a["kernel_shape"], strides=a["strides"],
                    pads=a["pads"], count_include_pad=int(a["count_include_pad"]), ceil_mode=0)
    if op == "global_avg_pool":
        return m.op("GlobalAveragePool", ins, outs, dtype)
    if op == "batch_norm":
        return m.node("BatchNormalization", ins, outs, epsilon=float(a["epsilon"]))
    if op == "layer_norm":
        rank = len(t[0][1])
        axis = a["axis"] + rank if a["axis"] < 0 else a["axis"]
        normalized = t[0][1][axis:]
        params = [ins[1], ins[2]]
        shape_name = None
        for k in range(2):
            if t[1 + k][1] != normalized:
                shape_name = shape_name or m.ints(f"{tag}_norm_shape", normalized)
                params[k] = m.node("Reshape", [params[k], shape_name], [f"{tag}_{'scale' if k == 0 else 'bias'}"])[0]
        return m.node("LayerNormalization", [ins[0]] + params, outs, axis=int(a["axis"]),
                      epsilon=float(a["epsilon"]))
    if op in ("softmax", "log_softmax"):
        return m.node("Softmax" if op == "softmax" else "LogSoftmax", ins, outs, axis=int(a["axis"]))
    if op in ("reduce_sum", "reduce_mean", "reduce_max", "reduce_min", "reduce_prod"):
        onnx_op = {"reduce_sum": "ReduceSum", "reduce_mean": "ReduceMean", "reduce_max": "ReduceMax",
                   "reduce_min": "ReduceMin", "reduce_prod": "ReduceProd"}[op]
        axes = m.ints(f"{tag}_axes", a["axes"])
        return m.node(onnx_op, [ins[0], axes], outs, keepdims=int(a["keepdims"]))
    if op in ("argmax", "argmin"):
        return m.node("ArgMax" if op == "argmax" else "ArgMin", ins, outs, axis=int(a["axis"]),
                      keepdims=int(a["keepdims"]), select_last_index=0)
    if op == "reshape":
        return m.node("Reshape", [ins[0], m.ints(f"{tag}_shape", a["shape"])], outs)
    if op == "flatten":
        return m.node("Flatten", ins, outs, axis=int(a["axis"]))
    if op == "transpose":
        return m.node("Transpose", ins, outs, perm=a["perm"])
    if op == "squeeze":
        return m.node("Squeeze", [ins[0], m.ints(f"{tag}_axes", a["axes"])], outs)
    if op == "unsqueeze":
        return m.node("Unsqueeze", [ins[0], m.ints(f"{tag}_axes", [a["axis"]])], outs)
    if op == "concat":
        return m.node("Concat", ins, outs, axis=int(a["axis"]))
    if op == "split":
        return m.node("Split", ins, outs, axis=int(a["axis"]), num_outputs=int(a["num_outputs"]))
    if op == "slice":
        return m.node("Slice", [ins[0], m.ints(f"{tag}_starts", [a["start"]]), m.ints(f"{tag}_ends", [a["end"]]),
                                m.ints(f"{tag}_axes", [a["axis"]]), m.ints(f"{tag}_steps", [a["step"]])], outs)
    if op == "pad":
        inputs = [ins[0], m.ints(f"{tag}_pads", list(a["pads_begin"]) + list(a["pads_end"]))]
        if a["mode"] == "constant":
            inputs.append(m.scalar(f"{tag}_value", a.get("value", 0.0), dtype))
        return m.node("Pad", inputs, outs, mode=a["mode"])
    if op == "expand":
        return m.node("Expand", [ins[0], m.ints(f"{tag}_shape", a["shape"])], outs)
    if op == "tile":
        return m.node("Tile", [ins[0], m.ints(f"{tag}_repeats", a["repeats"])], outs)
    if op == "gather":
        return m.node("Gather", ins, outs, axis=int(a["axis"]))
    if op == "cumsum":
        return m.node("CumSum", [ins[0], m.ints(f"{tag}_axis", [a["axis"]], scalar=True)], outs,
                      exclusive=int(a["exclusive"]), reverse=int(a["reverse"]))
    if op in ("quantize_linear", "dequantize_linear"):
        return m.node("QuantizeLinear" if op == "quantize_linear" else "DequantizeLinear", ins, outs,
                      axis=int(a["axis"]))
    if op == "qlinear_conv2d":
        return m.node("QLinearConv", ins, outs, kernel_shape=t[3][1][2:], strides=a["strides"], pads=a["pads"],
                      dilations=a["dilations"], group=int(a["group"]))
    if op == "qlinear_matmul":
        return m.node("QLinearMatMul", ins, outs)
    raise ValueError(f"no emitter for {op}")


def n_outputs(op, a):
    return int(a["num_outputs"]) if op == "split" else 1


def default_shape(op, i, attrs, known, ex):
    """Dims of a fresh operand i of `op` when neither the pattern nor the example pins them."""
    def shp(j):
        return known[j][1] if known[j] is not None else None
    if op in BINARY or op in ("concat", "matmul"):
        other = shp(1 - i)
        if op == "matmul" and i == 1:
            return [shp(0)[-1], ex.get("N", 4)]
        if other is not None:
            return list(other)
    if op == "where":
        for j in (1, 2, 0):
            if j != i and shp(j) is not None:
                return list(shp(j))
    if op == "gemm":
        a_shape = shp(0)
        k = a_shape[0] if attrs["trans_a"] else a_shape[1]
        n = ex.get("N", 4)
        if i == 1:
            return [n, k] if attrs["trans_b"] else [k, n]
        if i == 2:
            return [n]
    if op in ("conv1d", "conv2d") and i == 1:
        c = shp(0)[1] // attrs["group"]
        return [ex.get("O", 4), c] + [3] * (len(shp(0)) - 2)
    if op == "batch_norm" and i > 0:
        return [shp(0)[1]]
    if op == "layer_norm" and i > 0:
        r = len(shp(0))
        ax = attrs["axis"] + r if attrs["axis"] < 0 else attrs["axis"]
        return shp(0)[ax:]
    if op in ("quantize_linear", "dequantize_linear") and i > 0:
        return []
    if op == "gather" and i == 1:
        return []
    if op == "qlinear_conv2d" and i in (1, 2, 4, 5, 6, 7):
        return []
    if op == "qlinear_conv2d" and i == 8:
        return [known[3][1][0]]
    raise ValueError(f"{op} operand {i}: give its shape in the example")


def operand_dtype(kind, node_dtype, ex_dt):
    if ex_dt:
        return ex_dt
    return {"data": node_dtype, "weight": node_dtype, "bool": "bool", "i64w": "i64", "f32": "f32",
            "f32w": "f32", "q": "u8", "qw": "u8", "i8w": "i8", "i32w": "i32"}[kind]


def random_values(rng, dtype, shape, kind, rng_range):
    if dtype == "bool":
        return rng.random(shape) < 0.5
    if dtype in ("i8", "u8", "i32", "i64"):
        lo, hi = rng_range or {"i8": (-20, 20), "u8": (100, 156), "i32": (-50, 50), "i64": (0, 2)}[dtype]
        return rng.integers(lo, hi + 1, size=shape)
    lo, hi = rng_range or ((0.01, 0.05) if kind == "f32w" else (-1.0, 1.0))
    return rng.uniform(lo, hi, size=shape)


def resolve_dim(d, m, outs_of, xname):
    if isinstance(d, int):
        return d
    if isinstance(d, str) and d.lstrip("-").isdigit():
        return int(d)
    if d.startswith("#"):
        k, i = d[1:].rstrip("]").split("[")
        return m.types[outs_of[int(k)][0]][1][int(i)]
    if d.startswith("x["):
        return m.types[xname][1][int(d[2:-1])]
    raise ValueError(f"cannot resolve dim {d} (give it in the example)")


def build(pattern, dtype, ex, seed=0):
    """Builds the exported ONNX model of one concrete instance of `pattern` in `dtype`.
    Returns (model, our-node-index -> first output name, feeds)."""
    rng = np.random.default_rng(seed)
    m = Model()
    feeds = {}
    xdtype = ex.get("xdtype", dtype)
    xname = m.add_input(xdtype, ex["x"])  # v0
    feeds[xname] = random_values(rng, xdtype, ex["x"], "data", ex.get("xrange")).astype(NP.get(xdtype, np.float32)) \
        if xdtype in NP else None
    if ex.get("xprod"):
        # "x" is an intermediate value of the model (produced by a node), not a graph input.
        produced = m.new_name()
        m.node(ex["xprod"], [xname], [produced])
        m.infer([produced])
        xname = produced
    outs_of = []
    consumed = set()
    for k, node in enumerate(pattern["nodes"]):
        op = node["op"]
        attrs = dict(DEFAULTS.get(op, {}))
        attrs.update(ex.get("attrs", {}).get(str(k), {}))
        attrs.update(node.get("attributes", {}))
        rl = roles(op)
        ins = [None] * len(node["inputs"])
        # resolve existing operands first (their types decide fresh ones)
        known = [None] * len(node["inputs"])
        for i, operand in enumerate(node["inputs"]):
            if operand == "x":
                ins[i] = xname
            elif operand.startswith("#"):
                ref = operand[1:].split(".")
                ins[i] = outs_of[int(ref[0])][int(ref[1]) if len(ref) > 1 else 0]
                consumed.add(ins[i])
            if ins[i] is not None:
                known[i] = m.types[ins[i]]
        data_dtypes = [known[i][0] for i, (_, kind) in enumerate(rl[:len(known)]) if known[i] and kind == "data"]
        node_dtype = data_dtypes[0] if data_dtypes else dtype
        for i, operand in enumerate(node["inputs"]):
            if ins[i] is not None:
                continue
            key = f"{k}.{i}"
            kind = rl[i][1]
            if kind == "qw" and op == "dequantize_linear":
                odt = ex.get("dt", {}).get(key) or known[0][0]
            elif kind == "qw" and op == "qlinear_conv2d" and i == 2:
                odt = ex.get("dt", {}).get(key) or known[0][0]
            else:
                odt = operand_dtype(kind, node_dtype, ex.get("dt", {}).get(key))
            if str(i) in node.get("shapes", {}):
                shape = [resolve_dim(d, m, outs_of, xname) for d in node["shapes"][str(i)]]
                shape = [ex.get("free", 1) if d == "*" else d for d in shape]
            elif key in ex.get("shapes", {}):
                shape = list(ex["shapes"][key])
            else:
                shape = default_shape(op, i, attrs, known, ex)
            if operand.startswith("const"):
                if ":" in operand:
                    arr = np.full(shape, float(operand.split(":", 1)[1]))
                else:
                    arr = random_values(rng, odt, shape, kind, ex.get("ranges", {}).get(key))
                if kind == "weight" and op == "batch_norm" and i == 4 and key not in ex.get("ranges", {}):
                    arr = rng.uniform(0.5, 1.5, size=shape)
                ins[i] = m.add_const(odt, arr)
            else:  # "input" or "any"
                if operand == "any" and kind != "data":
                    arr = random_values(rng, odt, shape, kind, ex.get("ranges", {}).get(key))
                    ins[i] = m.add_const(odt, arr)
                else:
                    ins[i] = m.add_input(odt, shape)
                    if odt in NP:
                        feeds[ins[i]] = random_values(rng, odt, shape, kind, ex.get("ranges", {}).get(key)).astype(NP[odt])
            known[i] = m.types[ins[i]]
        outs = [m.new_name() for _ in range(n_outputs(op, attrs))]
        emit(m, op, ins, outs, attrs, [m.types[v] for v in ins])
        m.infer(outs)
        outs_of.append(outs)
    # Taps: a second consumer of #k. Every value no pattern node consumes goes to a sink consumer
    # (so the pattern's last node is not itself a graph output, as in a grafted model).
    graph_outputs = []
    taps = [int(t[1:].split(".")[0]) for t in pattern.get("tap", [])]
    sink = ex.get("sink", "auto")

    def add_sink(v):
        dt = m.types[v][0]
        op = {"bool": "Not", "i8": None, "u8": None}.get(dt, "Neg") if sink == "auto" else sink
        if op is None:
            graph_outputs.append(v)
            return
        o = f"{v}_sink{len(graph_outputs)}"
        m.node(op, [v], [o])
        m.infer([o])
        graph_outputs.append(o)

    for k in taps:
        add_sink(outs_of[k][0])
    for outs in outs_of:
        for v in outs:
            if v not in consumed:
                add_sink(v)
    model = m.model(graph_outputs)
    onnx.checker.check_model(model)
    return model, {k: outs[0] for k, outs in enumerate(outs_of)}, {k: v for k, v in feeds.items() if v is not None}


def producers(model):
    return {o: (n.op_type, n.domain or "") for n in model.graph.node for o in n.output}


def run_pattern(pattern, dtype, ex, level, seed=0):
    model, first_outs, feeds = build(pattern, dtype, ex, seed)
    before = producers(model)
    with tempfile.TemporaryDirectory() as d:
        src = os.path.join(d, "m.onnx")
        dst = os.path.join(d, "opt.onnx")
        onnx.save(model, src)
        so = ort.SessionOptions()
        so.graph_optimization_level = LEVELS[level]
        so.optimized_model_filepath = dst
        sess = ort.InferenceSession(src, so, providers=["CPUExecutionProvider"])
        opt = onnx.load(dst)
        so0 = ort.SessionOptions()
        so0.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
        ref = ort.InferenceSession(src, so0, providers=["CPUExecutionProvider"])
    after = {}
    for n in opt.graph.node:
        for o in n.output:
            after.setdefault(o, set()).add((n.op_type, n.domain or ""))
    rewritten = []
    for k, v in first_outs.items():
        if before[v] not in after.get(v, set()):
            rewritten.append(k)
    diff = None
    if dtype != "bf16" and len(feeds) == len(sess.get_inputs()):
        try:
            a = sess.run(None, feeds)
            b = ref.run(None, feeds)
            # max abs difference, in units of each output's tolerance (so integer outputs may differ by 1)
            diff = 0.0
            for x, y in zip(a, b):
                if x.size:
                    xf, yf = x.astype(np.float64), y.astype(np.float64)
                    same = (xf == yf) | (np.isnan(xf) & np.isnan(yf))  # NaN matches only NaN
                    d = float(np.max(np.where(same, 0.0, np.abs(xf - yf)))) if not same.all() else 0.0
                    if np.isnan(d):
                        d = float("inf")
                    tol = TOL_BY_NP.get(x.dtype.name, 1e-3)
                    diff = max(diff, d if tol == 0 else d * (TOL.get(dtype, 1e-3) / tol))
        except Exception as e:  # noqa: BLE001
            diff = f"run failed: {e}"
    if os.environ.get("DUMP"):
        print(onnx.printer.to_text(model.graph))
        print(onnx.printer.to_text(opt.graph))
    casts_before = sum(n.op_type == "Cast" for n in model.graph.node)
    casts_after = sum(n.op_type == "Cast" for n in opt.graph.node)
    if casts_after > casts_before:
        new_ops = ["(casts inserted)"]
    else:
        new_ops = []
    new_ops += sorted({f"{n.domain + '.' if n.domain else ''}{n.op_type}" for n in opt.graph.node})
    return rewritten, diff, new_ops, model


def note(new_ops):
    return " [ORT inserted Casts: f16/bf16 kernels missing, the detector may report renamed outputs as rewrites]" \
        if new_ops and new_ops[0] == "(casts inserted)" else ""


def apply_near_miss(pattern, nm):
    p = copy.deepcopy(pattern)
    for k, attrs in nm.get("attributes", {}).items():
        p["nodes"][int(k)].setdefault("attributes", {}).update(attrs)
    for key, operand in nm.get("inputs", {}).items():
        k, i = key.split(".")
        p["nodes"][int(k)]["inputs"][int(i)] = operand
    for k, shapes in nm.get("shapes", {}).items():
        p["nodes"][int(k)].setdefault("shapes", {}).update(shapes)
    if "tap" in nm:
        p["tap"] = nm["tap"]
    if "dtypes" in nm:
        p["dtypes"] = nm["dtypes"]
    return p


TOL_BY_NP = {"float32": 1e-3, "float64": 1e-9, "float16": 0.1, "int8": 1, "uint8": 1, "int32": 1, "int64": 1, "bool": 1}
TOL = {"f32": 1e-3, "f64": 1e-9, "f16": 0.1, "bf16": 1.0, "i8": 1, "u8": 1, "i32": 0, "i64": 0, "bool": 0}


def main():
    args = sys.argv[1:]
    verbose = "-v" in args
    filt = None
    if "-k" in args:
        filt = args[args.index("-k") + 1]
    paths = [a for a in args if a.endswith(".json")]
    path = paths[0] if paths else os.path.join(HERE, "..", "..", "Patterns", "ort.json")
    sys.path.insert(0, HERE)
    from ort_examples import EXAMPLES  # concrete instances (shapes, free attributes) per pattern

    lib = json.load(open(path))
    patterns = lib["patterns"]
    names = [p["name"] for p in patterns]
    assert len(names) == len(set(names)), "duplicate names"
    failures, nm_fired, big = [], [], []
    counts = {}
    for p in patterns:
        if filt and filt not in p["name"]:
            continue
        counts[p["level"]] = counts.get(p["level"], 0) + 1
        ex_all = EXAMPLES[p["name"]]
        dtypes = p.get("dtypes", ["f16", "bf16", "f32", "f64"])
        want = sorted(p["rewritten"])
        for dt in dtypes:
            try:
                got, diff, new_ops, model = run_pattern(p, dt, ex_all, p["level"])
                ok = got == want
                status = "fired" if ok else ("NOT FIRED" if not got else "WRONG")
            except Exception as e:  # noqa: BLE001
                got, diff, new_ops, ok, status = None, None, [], False, f"ERROR {str(e).splitlines()[0][:200]}"
            if not ok:
                failures.append(f"{p['name']} [{dt}]")
            if isinstance(diff, float) and diff > TOL.get(dt, 1e-3):
                big.append(f"{p['name']} [{dt}] diff {diff:.3g}")
            dstr = f"{diff:.3g}" if isinstance(diff, float) else str(diff)
            print(f"{'OK  ' if ok else 'FAIL'} {p['name']:<40} {dt:<4} {p['level']:<8} {status:<9} "
                  f"rewritten={got} want={want} maxdiff={dstr}" + note(new_ops) + (f" ops={new_ops}" if verbose else ""))
        for nm in p.get("nearMisses", []):
            q = apply_near_miss(p, nm)
            ex = copy.deepcopy(ex_all)
            for key, val in ex_all.get("nm", {}).get(nm["name"], {}).items():
                if isinstance(val, dict) and isinstance(ex.get(key), dict):
                    ex[key].update(val)
                else:
                    ex[key] = val
            for dt in q.get("dtypes", dtypes)[:1] if "dtypes" not in nm else nm["dtypes"]:
                try:
                    got, diff, new_ops, _ = run_pattern(q, dt, ex, p["level"])
                    status_note = note(new_ops)
                    fired = bool(set(got) & set(want))
                    status = "FIRES ANYWAY" if fired else "not fired"
                    if fired:
                        nm_fired.append(f"{p['name']}/{nm['name']} [{dt}] rewritten={got}")
                except Exception as e:  # noqa: BLE001
                    got, diff, status, status_note = None, None, f"error: {str(e).splitlines()[0][:200]}", ""
                if isinstance(diff, float) and diff > TOL.get(dt, 1e-3):
                    big.append(f"{p['name']}/{nm['name']} [{dt}] diff {diff:.3g}")
                dstr = f"{diff:.3g}" if isinstance(diff, float) else str(diff)
                print(f"  nm {p['name'] + '/' + nm['name']:<52} {dt:<4} {status:<12} rewritten={got} maxdiff={dstr}{status_note}")
    print()
    print("summary:", len([p for p in patterns if not filt or filt in p["name"]]), "patterns;",
          ", ".join(f"{k} {v}" for k, v in sorted(counts.items())))
    print(f"pattern failures: {len(failures)}" + (": " + "; ".join(failures) if failures else ""))
    print(f"near misses that fire anyway: {len(nm_fired)}")
    for s in nm_fired:
        print("   ", s)
    print(f"optimized vs unoptimized differences above tolerance: {len(big)}")
    for s in big:
        print("   ", s)
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
