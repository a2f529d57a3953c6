#!/usr/bin/env python3
"""Verify the TVM (Relax) pattern library /work/patterns/tvm.json.

For every pattern and near miss: build the ONNX model DLSmith's exporter would emit for it (graft
point `x` = graph input v0, node k's first output `vN`, node names `n<i>_<Op>`, helper initializers
`vN_<what>`, every unconsumed value a graph output), import it as the worker does
(relax.frontend.onnx.from_onnx, keep_params_in_input=False), run the detector for the pattern's level,
print which of our nodes were rewritten, compile and run it, and compare with onnxruntime
(ORT_DISABLE_ALL) on random inputs (max abs difference, informational).

Exit status 1 if a pattern does not fire exactly as its `rewritten` says (near misses are reported,
never fatal).

Levels and the pipeline each one is checked (and compiled) with:
  from_onnx         the imported module itself; compiled with tvm.compile(mod, target="llvm"), i.e.
                    exactly what dlsmith_worker.py does (0.27's default build pipeline: no fusion).
  FoldConstant,     LegalizeOps -> AnnotateTIROpPattern -> FoldConstant -> FuseOps (the legalize
  FuseOps           passes of relax.get_default_pipeline(llvm)); compiled with that pipeline.
  <other pass P>    P (then DeadCodeElimination) applied to the imported module, diffed binding by
                    binding; compiled with P + relax.get_default_pipeline(llvm).

Detector: every binding of the imported `main` is attributed to one of our nodes (the importer is
wrapped so that each node's result is bound to a var named after its ONNX output vN; the helper
bindings a converter emits belong to the node converted at that time). Node k is rewritten when
  - from_onnx: its output is a constant or an alias of another value after import (folded away);
  - FoldConstant/FuseOps: it was folded at import, or all its bindings vanish in FoldConstant, or one
    of its bindings lands in a fused (Primitive) function together with a binding of another node of
    the pattern;
  - other passes: one of its bindings is removed or gets a different value (op, attributes or
    arguments) after the pass.

Usage: verify_tvm.py [--only NAME_SUBSTRING] [--no-run] [--worker]   (--worker: also compile every
model with the worker's plain tvm.compile and compare that with onnxruntime too)
"""
import argparse
import json
import os
import re
import sys
import time
import warnings

import numpy as np
import onnx
from onnx import TensorProto as TP
from onnx import helper, numpy_helper

warnings.filterwarnings("ignore")
HERE = os.path.dirname(os.path.abspath(__file__))

# ---------------------------------------------------------------- concrete test instantiations
# x's shape (and, where the pattern leaves it free, the dtype) for each pattern's test model.
TEST = {
    "tvm.conv2d_add_relu": [1, 4, 8, 8], "tvm.conv1d_mul_sigmoid": [2, 4, 10],
    "tvm.matmul_add": [4, 24], "tvm.matmul_add_gelu": [4, 24], "tvm.gemm_relu": [4, 24],
    "tvm.silu_diamond": [3, 16], "tvm.elemwise_diamond": [3, 16], "tvm.broadcast_chain": [3, 16],
    "tvm.reduce_prologue": [3, 16, 5], "tvm.reduce_epilogue": [3, 16, 5],
    "tvm.manual_softmax": [3, 16, 5], "tvm.transpose_relu": [3, 4, 5],
    "tvm.reshape_add": [2, 3, 16], "tvm.concat_relu": [3, 16], "tvm.split_add": [3, 16],
    "tvm.slice_mul": [3, 16], "tvm.compare_select": [3, 16], "tvm.cast_roundtrip": [3, 16],
    "tvm.maxpool_relu": [1, 3, 8, 8], "tvm.global_avg_pool_relu": [2, 6, 5, 5],
    "tvm.min_reduction_prologue": [3, 16], "tvm.layer_norm_add": [3, 16], "tvm.relu_argmax": [3, 16, 5],
    "tvm.softmax_scale": [3, 16], "tvm.fold_unary_const": [3, 16], "tvm.fold_reduce_const": [3, 16],
    "tvm.fold_conv_weight_prep": [1, 4, 8, 8], "tvm.import_transpose_const": [4, 16],
    "tvm.import_binary_const": [3, 16], "tvm.import_pow_const": [3, 16],
    "tvm.import_reshape_const": [3, 2, 5, 16], "tvm.import_cast_const": [3, 16],
    "tvm.import_concat_const": [2, 16], "tvm.import_neg_abs_const": [3, 16],
    "tvm.import_unsqueeze_squeeze_const": [3, 16], "tvm.import_gather_const": [3, 16],
    "tvm.combine_parallel_matmul": [4, 16], "tvm.fold_batchnorm_to_conv2d": [1, 4, 8, 8],
    "tvm.decompose_batch_norm": [2, 4, 5, 5], "tvm.expand_matmul_of_sum": [4, 16],
    "tvm.adjust_matmul_order": [64, 8], "tvm.reorder_permute_dims_after_concat": [6, 4],
    "tvm.fuse_transpose_matmul": [4, 16], "tvm.cse_duplicate_ops": [3, 16],
    "tvm.reorder_take_after_matmul": [4, 16], "tvm.remove_redundant_reshape": [4, 24],
}
# Operand shapes a near miss changes (FORMAT.md has no shape field for near misses: these are the
# shapes the generator must solve for the changed operand; the test pins them).
NEAR_SHAPES = {
    ("tvm.adjust_matmul_order", "cheaper_as_is"): {"x": [2, 8], (0, 1): [8, 64], (1, 1): [64, 64]},
    ("tvm.reorder_take_after_matmul", "take_axis0"): {(0, 0): [16, 10], (0, 1): [16]},
}

NP = {"f16": np.float16, "f32": np.float32, "f64": np.float64, "i32": np.int32, "i64": np.int64,
      "bool": np.bool_}
ONNX_T = {"f16": TP.FLOAT16, "f32": TP.FLOAT, "f64": TP.DOUBLE, "i32": TP.INT32, "i64": TP.INT64,
          "bool": TP.BOOL, "bf16": TP.BFLOAT16}
UNARY = {"relu": "Relu", "sigmoid": "Sigmoid", "hard_swish": "HardSwish", "tanh": "Tanh",
         "gelu": "Gelu", "erf": "Erf", "exp": "Exp", "log": "Log", "sqrt": "Sqrt",
         "reciprocal": "Reciprocal", "abs": "Abs", "neg": "Neg", "sin": "Sin", "cos": "Cos",
         "atan": "Atan", "asin": "Asin", "sinh": "Sinh", "floor": "Floor", "ceil": "Ceil",
         "round": "Round", "sign": "Sign", "softplus": "Softplus", "softsign": "Softsign"}
BINARY = {"add": "Add", "sub": "Sub", "mul": "Mul", "div": "Div", "pow": "Pow", "min": "Min",
          "max": "Max", "equal": "Equal", "less": "Less", "less_equal": "LessOrEqual",
          "greater": "Greater", "greater_equal": "GreaterOrEqual", "logical_and": "And",
          "logical_or": "Or", "logical_xor": "Xor"}


class Builder:
    """Emits ONNX the way Sources/ONNX/Export.swift does (f32/f16/f64/int paths only)."""

    def __init__(self, rng):
        self.rng = rng
        self.next_id = 0
        self.nodes, self.inits, self.inputs, self.feeds = [], [], [], {}
        self.types = {}  # name -> (dtype, shape)
        self.consumed = set()

    def fresh(self):
        v = f"v{self.next_id}"
        self.next_id += 1
        return v

    def node(self, op, ins, outs, **attrs):
        self.nodes.append(helper.make_node(op, ins, outs, name=f"n{len(self.nodes)}_{op}", **attrs))
        self.consumed.update(i for i in ins if i)

    def init(self, name, arr):
        self.inits.append(numpy_helper.from_array(np.asarray(arr), name))
        self.types[name] = (None, list(np.shape(arr)))
        return name

    def ints(self, name, values, scalar=False):
        return self.init(name, np.array(values[0] if scalar else values, dtype=np.int64))

    def scalar(self, name, value, dtype):
        return self.init(name, np.array(value, dtype=NP[dtype]))

    def graph_input(self, dtype, shape, positive=False):
        v = self.fresh()
        self.inputs.append(helper.make_tensor_value_info(v, ONNX_T[dtype], shape))
        self.feeds[v] = self.values(dtype, shape, positive)
        self.types[v] = (dtype, list(shape))
        return v

    def values(self, dtype, shape, positive=False, fill=None):
        if fill is not None:
            return np.full(shape, fill, dtype=NP[dtype])
        if dtype in ("i32", "i64"):
            return self.rng.integers(-5, 6, size=shape).astype(NP[dtype])
        if dtype == "bool":
            return self.rng.random(shape) < 0.5
        lo = 0.5 if positive else -1.0
        return self.rng.uniform(lo, 1.5 if positive else 1.0, size=shape).astype(NP[dtype])

    def const(self, dtype, shape, positive=False, fill=None, arr=None):
        v = self.fresh()
        self.init(v, arr if arr is not None else self.values(dtype, shape, positive, fill))
        self.types[v] = (dtype, list(shape))
        return v


def out_shape(b, outs):
    """Shapes of `outs` by ONNX shape inference of the graph built so far."""
    g = helper.make_graph(b.nodes, "s", b.inputs, [], b.inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 20)])
    m.ir_version = 9
    inf = onnx.shape_inference.infer_shapes(m, strict_mode=True)
    found = {vi.name: vi for vi in inf.graph.value_info}
    res = []
    for o in outs:
        t = found[o].type.tensor_type
        res.append((t.elem_type, [d.dim_value for d in t.shape.dim]))
    return res


def dim(spec, b, vals, xname):
    if isinstance(spec, int):
        return spec
    spec = str(spec)
    if spec.lstrip("-").isdigit():
        return int(spec)
    m = re.fullmatch(r"(x|#(\d+))\[(-?\d+)\]", spec)
    if not m:
        raise ValueError(f"unsupported dim spec {spec}")
    src = xname if m.group(1) == "x" else vals[int(m.group(2))][0]
    return b.types[src][1][int(m.group(3))]


def build(pattern, near=None, seed=0):
    """The ONNX model of a pattern (or of one of its near misses); returns (model, feeds, node_outs)."""
    rng = np.random.default_rng(seed)
    b = Builder(rng)
    near = near or {}
    dtypes = near.get("dtypes") or pattern.get("dtypes") or ["f32"]
    dtype = dtypes[0]
    pinned = NEAR_SHAPES.get((pattern["name"], near.get("name")), {})
    xshape = pinned.get("x", TEST[pattern["name"]])
    x = b.graph_input(dtype, xshape)
    nodes = json.loads(json.dumps(pattern["nodes"]))
    for key, attrs in (near.get("attributes") or {}).items():
        nodes[int(key)].setdefault("attributes", {}).update(attrs)
    for key, operand in (near.get("inputs") or {}).items():
        k, i = map(int, key.split("."))
        nodes[k]["inputs"][i] = operand
    vals = []  # per pattern node: its output names
    for k, n in enumerate(nodes):
        op, attrs = n["op"], dict(n.get("attributes", {}))
        shapes = {int(i): s for i, s in (n.get("shapes") or {}).items()}
        ins = []
        # resolve non-fresh operands first, so fresh ones can default to their shapes
        resolved = {}
        for i, operand in enumerate(n["inputs"]):
            if operand == "x":
                resolved[i] = x
            elif operand.startswith("#"):
                ref = operand[1:].split(".")
                resolved[i] = vals[int(ref[0])][int(ref[1]) if len(ref) > 1 else 0]
        for i, operand in enumerate(n["inputs"]):
            if i in resolved:
                ins.append(resolved[i])
                continue
            shape = pinned.get((k, i))
            if shape is None and i in shapes:
                shape = [dim(s, b, vals, x) for s in shapes[i]]
            if shape is None:
                shape = fresh_default_shape(op, i, resolved, b, attrs)
            odt = fresh_dtype(op, i, dtype, resolved, b)
            positive = op in ("pow",) and i == 0 or op == "batch_norm" and i == 4 or op in ("log", "sqrt")
            if operand == "input":
                ins.append(b.graph_input(odt, shape, positive))
            elif operand.startswith("const"):
                fill = float(operand.split(":", 1)[1]) if ":" in operand else None
                arr = None
                if op == "gather" and i == 1:
                    d = b.types[ins[0]][1][attrs.get("axis", 0)]
                    arr = rng.integers(-d, d, size=shape).astype(np.int64)
                elif op == "div" and i == 1 and fill is None:
                    mag = rng.uniform(0.5, 1.5, size=shape) if odt[0] == "f" else rng.integers(1, 4, size=shape)
                    arr = (mag * rng.choice([-1, 1], size=shape)).astype(NP[odt])
                ins.append(b.const(odt, shape, positive, fill, arr))
            else:
                raise ValueError(f"operand {operand}")
        outs = emit(b, op, ins, attrs, dtype)
        vals.append(outs)
        for o, (et, s) in zip(outs, out_shape(b, outs)):
            b.types[o] = (et, s)
    taps = set()
    for t in near.get("tap") or []:
        ref = t[1:].split(".")
        taps.add(vals[int(ref[0])][int(ref[1]) if len(ref) > 1 else 0])
    outputs = [o for outs in vals for o in outs if o not in b.consumed or o in taps]
    g = helper.make_graph(b.nodes, "dlsmith", b.inputs,
                          [helper.make_tensor_value_info(o, b.types[o][0], b.types[o][1]) for o in outputs],
                          b.inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 20)], producer_name="dlsmith")
    m.ir_version = 9
    onnx.checker.check_model(m, full_check=True)
    return m, b.feeds, [outs[0] for outs in vals]


def fresh_dtype(op, i, dtype, resolved, b):
    if op == "gather" and i == 1:
        return "i64"
    if op == "where" and i == 0:
        return "bool"
    if op == "cast" and i == 0:
        return "f64"
    return dtype


def fresh_default_shape(op, i, resolved, b, attrs):
    other = next((b.types[v][1] for v in resolved.values()), None)
    if op == "batch_norm":
        return [b.types[resolved[0]][1][1]]
    if op == "layer_norm":
        s = b.types[resolved[0]][1]
        return s[attrs.get("axis", -1) % len(s):]
    if op == "concat":
        return list(other)
    if other is None:
        raise ValueError(f"{op}: operand {i} needs a pinned shape")
    return list(other)


def emit(b, op, ins, a, dtype):
    out = b.fresh()
    if op == "split":
        outs = [out] + [b.fresh() for _ in range(int(a.get("num_outputs", "2")) - 1)]
    else:
        outs = [out]
    if op in UNARY:
        b.node(UNARY[op], ins, outs)
    elif op in BINARY:
        b.node(BINARY[op], ins, outs)
    elif op == "leaky_relu":
        b.node("LeakyRelu", ins, outs, alpha=float(a.get("alpha", 0.01)))
    elif op == "clip":
        lo = b.scalar(f"{out}_min", a.get("min", 0.0), dtype)
        hi = b.scalar(f"{out}_max", a.get("max", 6.0), dtype)
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
        sp = 1 if op == "conv1d" else 2
        b.node("Conv", ins, outs, kernel_shape=b.types[ins[1]][1][2:],
               strides=a.get("strides", [1] * sp), pads=a.get("pads", [0] * 2 * sp),
               dilations=a.get("dilations", [1] * sp), group=int(a.get("group", 1)))
    elif op in ("max_pool1d", "max_pool2d"):
        sp = 1 if op == "max_pool1d" else 2
        b.node("MaxPool", ins, outs, kernel_shape=a.get("kernel_shape", [1] * sp),
               strides=a.get("strides", [1] * sp), pads=a.get("pads", [0] * 2 * sp),
               dilations=a.get("dilations", [1] * sp), ceil_mode=0)
    elif op == "global_avg_pool":
        b.node("GlobalAveragePool", ins, outs)
    elif op == "batch_norm":
        b.node("BatchNormalization", ins, outs, epsilon=float(a.get("epsilon", 1e-5)))
    elif op == "layer_norm":
        b.node("LayerNormalization", ins, outs, axis=int(a.get("axis", -1)),
               epsilon=float(a.get("epsilon", 1e-5)))
    elif op in ("softmax", "log_softmax"):
        b.node("Softmax" if op == "softmax" else "LogSoftmax", ins, outs, axis=int(a.get("axis", -1)))
    elif op.startswith("reduce_"):
        onnx_op = {"reduce_sum": "ReduceSum", "reduce_mean": "ReduceMean", "reduce_max": "ReduceMax",
                   "reduce_min": "ReduceMin", "reduce_prod": "ReduceProd"}[op]
        axes = b.ints(f"{out}_axes", a.get("axes", [0]))
        b.node(onnx_op, [ins[0], axes], outs, keepdims=int(a.get("keepdims", 1)))
    elif op in ("argmax", "argmin"):
        b.node("ArgMax" if op == "argmax" else "ArgMin", ins, outs, axis=int(a.get("axis", 0)),
               keepdims=int(a.get("keepdims", 1)), select_last_index=0)
    elif op == "reshape":
        b.node("Reshape", [ins[0], b.ints(f"{out}_shape", a["shape"])], outs)
    elif op == "flatten":
        b.node("Flatten", ins, outs, axis=int(a.get("axis", 1)))
    elif op == "transpose":
        b.node("Transpose", ins, outs, perm=a["perm"])
    elif op == "squeeze":
        b.node("Squeeze", [ins[0], b.ints(f"{out}_axes", a["axes"])], outs)
    elif op == "unsqueeze":
        b.node("Unsqueeze", [ins[0], b.ints(f"{out}_axes", [a.get("axis", 0)])], outs)
    elif op == "concat":
        b.node("Concat", ins, outs, axis=int(a.get("axis", 0)))
    elif op == "split":
        b.node("Split", ins, outs, axis=int(a.get("axis", 0)), num_outputs=len(outs))
    elif op == "slice":
        b.node("Slice", [ins[0], b.ints(f"{out}_starts", [a.get("start", 0)]),
                         b.ints(f"{out}_ends", [a.get("end", 1)]), b.ints(f"{out}_axes", [a.get("axis", 0)]),
                         b.ints(f"{out}_steps", [a.get("step", 1)])], outs)
    elif op == "gather":
        b.node("Gather", ins, outs, axis=int(a.get("axis", 0)))
    else:
        raise ValueError(f"no emitter for {op}")
    return outs


# ---------------------------------------------------------------- TVM side
import tvm  # noqa: E402
from tvm import relax  # noqa: E402
from tvm.relax.frontend.onnx import onnx_frontend as F  # noqa: E402

TARGET = tvm.target.Target("llvm")
CONST = tvm.ir.expr.Constant


def import_named(model):
    """from_onnx as the worker calls it, but each node's result is bound to a var named vN."""
    g = F.ONNXGraphImporter(None, "float32", keep_params_in_input=False, sanitize=True)
    out_of = {n.name: n.output[0] for n in model.graph.node}
    orig = g._convert_operator
    results = {}

    def convert(op_name, inputs, attrs, opset):
        sym = orig(op_name, inputs, attrs, opset)
        name = out_of.get(attrs["tvm_custom"]["name"])
        if isinstance(sym, (relax.Call, relax.TupleGetItem)):
            sym = g.bb.emit(sym, name_hint=name)
            results[name] = sym
        elif isinstance(sym, relax.Tuple) and len(sym.fields) and \
                isinstance(sym.fields[0], (relax.Call, relax.TupleGetItem, relax.Var)):
            first = sym.fields[0]
            if not isinstance(first, relax.Var):  # e.g. LayerNormalization returns (Y, mean, invstd)
                first = g.bb.emit(first, name_hint=name)
                sym = relax.Tuple([first] + list(sym.fields[1:]))
            results[name] = first
        else:
            results[name] = sym
        return sym

    g._convert_operator = convert
    opset = [o.version for o in model.opset_import if o.domain in ("", "ai.onnx")][0]
    return g.from_onnx(model.graph, opset), results


def bindings(func):
    return [bd for blk in func.body.blocks for bd in blk.bindings]


def attribute(mod, results, node_outs, input_names):
    """binding name -> index of our node (unnamed helper bindings go to the next named binding,
    TupleGetItems of a node's tuple to that node); also the import-folded/aliased nodes."""
    owner, order = {}, bindings(mod["main"])
    named = {o: k for k, o in enumerate(node_outs)}
    params = {p.name for p in mod["main"].params}
    own = {}  # a converter that emitted its result itself returns a var of its own (e.g. lv3)
    for k, o in enumerate(node_outs):
        r = results.get(o)
        if isinstance(r, relax.Var) and r.name != o and r.name not in params and r.name not in named \
                and r.name not in own:
            own[r.name] = k
    named.update(own)
    pending = []
    for bd in order:
        nm = bd.var.name
        if nm in named:
            owner[nm] = named[nm]
            for p in pending:
                owner[p] = named[nm]
            pending = []
        elif isinstance(bd.value, relax.TupleGetItem) and isinstance(bd.value.tuple_value, relax.Var) \
                and bd.value.tuple_value.name in owner:
            owner[nm] = owner[bd.value.tuple_value.name]
        else:
            pending.append(nm)
    folded = set()
    for k, o in enumerate(node_outs):
        r = results.get(o)
        if isinstance(r, CONST) or isinstance(r, relax.ShapeExpr):
            folded.add(k)
        elif isinstance(r, relax.Var) and r.name != o and owner.get(r.name) != k:
            folded.add(k)  # alias of another value (identity at import)
    return owner, folded


def fusion_groups(mod):
    """After FuseOps: list of sets of binding names per Primitive function, the group output's
    PrimFunc/args signature, and the names of main's surviving plain bindings."""
    groups = []
    prim = set()
    for gv, f in mod.functions_items():
        if isinstance(f, relax.Function) and f.attrs and "Primitive" in f.attrs:
            prim.add(gv.name_hint)
            bs = bindings(f)
            names = [bd.var.name for bd in bs[:-1]]
            last = bs[-1]
            if isinstance(last.value, relax.Tuple):
                names.append(last.var.name)
                groups.append((gv.name_hint, set(names), None))
            else:
                groups.append((gv.name_hint, set(names), last.value))
    surviving = set()
    for bd in bindings(mod["main"]):
        v = bd.value
        if isinstance(v, relax.Call) and isinstance(v.op, tvm.ir.GlobalVar) and v.op.name_hint in prim:
            continue
        surviving.add(bd.var.name)
    return groups, surviving


def tir_callee(value):
    if isinstance(value, relax.Call) and len(value.args) >= 1 and isinstance(value.args[0], tvm.ir.GlobalVar):
        return value.args[0].name_hint
    if isinstance(value, relax.Call) and isinstance(value.op, tvm.ir.GlobalVar):
        return value.op.name_hint
    return None


def arg_names(value):
    names = []
    if isinstance(value, relax.Call):
        for a in value.args[1:] if len(value.args) > 1 else []:
            if isinstance(a, relax.Tuple):
                names += [f.name if isinstance(f, relax.Var) else None for f in a.fields]
    return names


def detect_fusion(mod, owner, folded, npat):
    with TARGET:
        legal = tvm.transform.Sequential([relax.transform.LegalizeOps(),
                                          relax.transform.AnnotateTIROpPattern()])(mod)
        fc = relax.transform.FoldConstant()(legal)
        fused = relax.transform.FuseOps()(fc)
    before = {bd.var.name: bd.value for bd in bindings(legal["main"])}
    after_fc = {bd.var.name: bd.value for bd in bindings(fc["main"])}
    const_folded = set(before) - set(after_fc)
    groups, surviving = fusion_groups(fused)
    inside = set().union(*[g[1] for g in groups]) if groups else set()
    missing = [n for n in after_fc if n not in surviving and n not in inside]
    resolved = []
    for fname, names, last in groups:
        if last is not None:
            cands = [n for n in missing if tir_callee(after_fc[n]) == tir_callee(last)]
            if len(cands) > 1:
                an = arg_names(last)
                cands.sort(key=lambda n: -sum(a == b for a, b in zip(arg_names(after_fc[n]), an) if a))
            if cands:
                names = names | {cands[0]}
                missing.remove(cands[0])
        resolved.append((fname, names))
    rewritten = set(folded)
    for k in range(npat):
        mine = [n for n, o in owner.items() if o == k]
        if mine and all(n in const_folded for n in mine):
            rewritten.add(k)
    groups_by_node = {}
    for fname, names in resolved:
        ks = {owner[n] for n in names if n in owner}
        for k in ks:
            groups_by_node.setdefault(k, []).append(fname)
        if len(ks) > 1:
            rewritten |= ks
    info = " ".join(sorted({f for f, names in resolved if any(n in owner for n in names)}))
    return rewritten, info


def sig(e, depth=0):
    """A structural signature of a binding value: vars by name, constants by content."""
    if isinstance(e, relax.Var):
        return ("var", e.name)
    if isinstance(e, CONST):
        if not hasattr(e.value, "numpy"):
            return ("const", str(e.value))
        a = e.value.numpy()
        return ("const", a.dtype.str, a.shape, hash(a.tobytes()))
    if isinstance(e, relax.Tuple):
        return ("tuple",) + tuple(sig(f) for f in e.fields)
    if isinstance(e, relax.TupleGetItem):
        return ("tgi", sig(e.tuple_value), e.index)
    if isinstance(e, relax.Call):
        return ("call", str(e.op), str(e.attrs)) + tuple(sig(a) for a in e.args)
    return ("other", str(e))


def explicit_pass(level):
    T = relax.transform
    return {"CombineParallelMatmul": T.CombineParallelMatmul(),
            "FoldBatchnormToConv2D": T.FoldBatchnormToConv2D(),
            "DecomposeOpsForInference": T.DecomposeOpsForInference(),
            "ExpandMatmulOfSum": T.ExpandMatmulOfSum(),
            "AdjustMatmulOrder": T.AdjustMatmulOrder(),
            "ReorderPermuteDimsAfterConcat": T.ReorderPermuteDimsAfterConcat(),
            "FuseTransposeMatmul": T.FuseTransposeMatmul(),
            "EliminateCommonSubexpr": T.EliminateCommonSubexpr(),
            "ReorderTakeAfterMatmul": T.ReorderTakeAfterMatmul(),
            "RemoveRedundantReshape": T.RemoveRedundantReshape(),
            "CanonicalizeBindings": T.CanonicalizeBindings()}[level]


def detect_pass(mod, owner, folded, level):
    with TARGET:
        after = tvm.transform.Sequential([explicit_pass(level), relax.transform.DeadCodeElimination()])(mod)
    old = {bd.var.name: bd.value for bd in bindings(mod["main"])}
    new = {bd.var.name: bd.value for bd in bindings(after["main"])}
    old_vars = set(old) | {p.name for p in mod["main"].params}

    def head(v):
        return sig(v)[:3] if isinstance(v, relax.Call) else sig(v)[:1]

    def reads_new(v):
        return any(isinstance(a, relax.Var) and a.name not in old_vars
                   for a in (v.args if isinstance(v, relax.Call) else []))

    new_sigs = {sig(v) for n, v in new.items() if n not in old}  # bindings the pass (re)named

    def bypasses_removed(n):
        # same binding, but an argument that was a removed binding is now read from elsewhere
        ov, nv = old[n], new[n]
        if not (isinstance(ov, relax.Call) and isinstance(nv, relax.Call)) or len(ov.args) != len(nv.args):
            return False
        return any(isinstance(a, relax.Var) and a.name in old and a.name not in new and sig(a) != sig(b)
                   for a, b in zip(ov.args, nv.args))

    rewritten = set(folded)
    for n, v in old.items():
        if n not in owner:
            continue
        if n not in new:
            if sig(v) not in new_sigs:  # removed (not merely renamed into the output binding)
                rewritten.add(owner[n])
        elif head(new[n]) != head(v) or reads_new(new[n]) or bypasses_removed(n) \
                or (isinstance(v, relax.Call) and len(v.args) != len(new[n].args)):
            rewritten.add(owner[n])
    extra = sorted(gv.name_hint for gv in after.get_global_vars() if gv.name_hint not in
                   {g.name_hint for g in mod.get_global_vars()})
    return rewritten, after, ("new functions: " + " ".join(extra)) if extra else ""


def compile_run(mod, feeds, pipeline):
    kw = {} if pipeline is None else {"relax_pipeline": pipeline}
    ex = tvm.compile(mod, target="llvm", **kw)
    vm = relax.VirtualMachine(ex, tvm.cpu())
    to_dev = getattr(tvm.runtime, "tensor", None) or tvm.nd.array
    out = vm["main"](*[to_dev(v) for v in feeds.values()])
    outs = [out] if not isinstance(out, (list, tuple)) and not hasattr(out, "__len__") or hasattr(out, "numpy") else list(out)
    return [o.numpy() for o in outs]


def ort_run(model, feeds):
    import onnxruntime as ort
    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    s = ort.InferenceSession(model.SerializeToString(), so, providers=["CPUExecutionProvider"])
    return s.run(None, feeds)


def maxdiff(a, b):
    d = 0.0
    for x, y in zip(a, b):
        x, y = np.asarray(x), np.asarray(y)
        if x.shape != y.shape:
            return float("inf")
        if x.dtype == np.bool_ or y.dtype == np.bool_:
            d = max(d, float(np.sum(x != y)))
            continue
        xx, yy = x.astype(np.float64), y.astype(np.float64)
        both_nan = np.isnan(xx) & np.isnan(yy)
        diff = np.where(both_nan, 0.0, np.abs(xx - yy))
        d = max(d, float(np.nanmax(np.where(np.isnan(diff), np.inf, diff))) if diff.size else 0.0)
    return d


def check(pattern, near, args):
    model, feeds, node_outs = build(pattern, near)
    npat = len(node_outs)
    mod, results = import_named(model)
    owner, folded = attribute(mod, results, node_outs, list(feeds))
    level = pattern["level"]
    compiled_mod, pipeline, info = mod, None, ""
    if level == "from_onnx":
        rewritten = set(folded)
    elif level in ("FoldConstant", "FuseOps", "FuseTIR"):
        rewritten, info = detect_fusion(mod, owner, folded, npat)
        pipeline = relax.get_default_pipeline(TARGET)
    else:
        rewritten, compiled_mod, info = detect_pass(mod, owner, folded, level)
        pipeline = relax.get_default_pipeline(TARGET)
    diffs = []
    if not args.no_run:
        ref = ort_run(model, feeds)
        try:
            diffs.append(("tvm" if pipeline is None else "tvm-opt",
                          maxdiff(compile_run(compiled_mod, feeds, pipeline), ref)))
            if args.worker and pipeline is not None:
                diffs.append(("tvm", maxdiff(compile_run(mod, feeds, None), ref)))
        except Exception as e:  # a compile/run failure is a finding too
            diffs.append(("error", f"{type(e).__name__}: {str(e).splitlines()[0][:120]}"))
    return sorted(rewritten), info, diffs, model


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--only")
    ap.add_argument("--no-run", action="store_true")
    ap.add_argument("--worker", action="store_true")
    ap.add_argument("--dump", help="directory to write each model's ONNX to")
    args = ap.parse_args()
    lib = json.load(open(os.path.join(HERE, "..", "..", "Patterns", "tvm.json")))
    t0 = time.time()
    failures, fired_near, total_near, big = [], [], 0, []
    patterns = [p for p in lib["patterns"] if not args.only or args.only in p["name"]]
    for p in patterns:
        variants = [(None, p["name"])] + [(nm, f"{p['name']}~{nm['name']}") for nm in p.get("nearMisses", [])]
        for near, label in variants:
            try:
                rewritten, info, diffs, model = check(p, near, args)
            except Exception as e:
                print(f"{label:58s} ERROR {type(e).__name__}: {str(e).splitlines()[0][:150]}")
                if near is None:
                    failures.append(label)
                continue
            if args.dump:
                os.makedirs(args.dump, exist_ok=True)
                onnx.save(model, os.path.join(args.dump, label.replace("~", "__") + ".onnx"))
            fired = bool(rewritten)
            ds = " ".join(f"{k}={v:.3g}" if isinstance(v, float) else f"{k}: {v}" for k, v in diffs)
            if near is None:
                ok = rewritten == sorted(p["rewritten"])
                status = "FIRES" if ok else "MISMATCH"
                if not ok:
                    failures.append(label)
                print(f"{label:58s} {status:8s} rewritten={rewritten} expected={p['rewritten']} | {ds} | {info}")
            else:
                total_near += 1
                if rewritten == sorted(p["rewritten"]):
                    fired_near.append(label)
                print(f"{label:58s} {'fired' if fired else 'no-fire':8s} rewritten={rewritten} | {ds} | {info}")
            for k, v in diffs:
                if isinstance(v, float) and v > 1e-2 or k == "error":
                    big.append((label, k, v))
    n = len(patterns)
    print(f"\nsummary: {n - len(failures)}/{n} patterns fire as `rewritten` says; "
          f"{len(fired_near)}/{total_near} near misses still fire fully; {time.time() - t0:.0f} s")
    if failures:
        print("not as expected: " + ", ".join(failures))
    if big:
        print("large differences from onnxruntime / errors: " + "; ".join(f"{l} {k} {v}" for l, k, v in big))
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
