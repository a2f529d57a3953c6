#!/usr/bin/env python3
"""DLSmith worker for Python-hosted ONNX backends.

Usage: python3 dlsmith_worker.py --backend ort|ort-noopt|ort-basic|ort-extended|ort-layout|onnx-ref|openvino|openvino-default|tvm|tvm-opt

Backends: ort / ort-noopt (onnxruntime CPU, ORT_ENABLE_ALL / ORT_DISABLE_ALL; ort-basic,
ort-extended and ort-layout are the levels between, which triage uses to name the level that breaks a model), onnx-ref
(onnx.reference), openvino (CPU plugin in f32: INFERENCE_PRECISION_HINT f32, EXECUTION_MODE_HINT
ACCURACY), openvino-default (CPU plugin defaults: bf16 on CPUs with AVX512-BF16/AMX), tvm (Relax
from_onnx, tvm.compile for llvm, relax.VirtualMachine), tvm-opt (the same compiled with
relax.get_default_pipeline(llvm): FoldConstant, FuseOps, FuseTIR).

Speaks the DLSmith worker protocol (Sources/Fuzzing/WorkerProtocol.swift) on stdin/stdout: every
message is a frame, a 4-byte little-endian length then that many bytes of UTF-8 JSON.

  request  {"model": <base64 .dlsmith.json>, "onnx": <base64 ONNX ModelProto>,
            "inputs": [{"dtype": "f32", "shape": [2, 3], "bits": <base64>}, ...]}
  replies  {"event": "compiled"}                      after the session exists (each request)
           {"event": "result", "outputs": [...]}      tensors encoded like the inputs
           {"event": "result", "stage": "compile"|"execute", "error": "<ExceptionType>: <msg>"}
           {"event": "result", "unsupported": "<reason>"}
  With "rewrites": true in the request, a result with outputs also carries "rewritten": the first
  output names of the nodes the backend's optimizer rewrote (ort*, openvino*, tvm, tvm-opt; see
  rewritten_nodes, openvino_rewritten, tvm_import and tvm_fused).

A tensor's "bits" are the base64 of its values as little-endian float64 bit patterns; dtypes are
the Swift DType raw values (f16 bf16 f32 f64 i32 i64 bool; i8 u8). bf16 tensors are NumPy arrays of
ml_dtypes.bfloat16 (the package onnx itself needs); every backend takes them: onnx.reference and TVM
as they are, onnxruntime as OrtValues of ONNX type BFLOAT16 (its NumPy bridge refuses the dtype;
its CPU provider has bf16 kernels for few operators, Cast among them, so most bf16 models are
NOT_IMPLEMENTED there), OpenVINO as bf16 Tensors (it hands bf16 results back as float16 arrays holding bf16 bits, which are
reinterpreted). Without ml_dtypes a model with bf16 graph inputs or outputs is answered
"unsupported" (bf16 only inside the graph is run). Graph inputs are fed by position (graph.inputs
order); outputs come back in graph.outputs order. The compiled session is cached by the SHA-256 of
the ONNX bytes, so the same model with new inputs is not recompiled. A backend whose package cannot
be imported answers every request "unsupported: unavailable: <reason>" and keeps serving.

Only the protocol goes to stdout: the real stdout is kept on a private descriptor and fd 1 is
pointed at stderr, so libraries that print (TVM, OpenVINO) cannot corrupt the stream. Besides
unavailable packages, "unsupported" answers: onnxruntime's NOT_IMPLEMENTED (no kernel for an operator
and its types); onnx.reference's missing implementations (an operator of an unknown domain such as
com.microsoft, or an ONNX operator it lacks; an operator without any schema stays an error); TVM
compile errors stating a dtype limit (bf16 isnan, layer_norm only f32/f16). The worker
leads its own process group, asks to die with its parent (Linux), and exits 0 on EOF or a broken
pipe. Needs numpy and the backend's package only (onnx for onnx-ref and tvm; ml_dtypes, which onnx
requires, for bf16).
"""
import base64
import hashlib
import json
import os
import re
import struct
import sys

import numpy as np

try:
    from ml_dtypes import bfloat16
except ImportError:  # bf16 graph inputs and outputs are then unsupported
    bfloat16 = None

DTYPES = {"f16": np.float16, "f32": np.float32, "f64": np.float64, "i32": np.int32,
          "i64": np.int64, "bool": np.bool_, "i8": np.int8, "u8": np.uint8}
if bfloat16 is not None:
    DTYPES["bf16"] = bfloat16
NAMES = {np.dtype(v): k for k, v in DTYPES.items()}
BF16 = 16  # onnx.TensorProto.BFLOAT16


class Unsupported(Exception):
    """The backend cannot run this model (not a bug of the backend)."""


def describe(e):
    return f"{type(e).__name__}: {e}"


# ---------------------------------------------------------------------------------------------
# Backends: make(onnx_bytes, rewrites) -> (run, rewritten): run(list of numpy arrays) -> list of numpy
# arrays; rewritten is the output names of the nodes the target's optimizer rewrote, or None when not
# asked for or not known for the backend.

def is_bf16(a):
    return bfloat16 is not None and a.dtype == np.dtype(bfloat16)


# onnxruntime's CPU provider runs f16/bf16 nodes that lack kernels in f32 (InsertCastTransformer, at
# every level): it wraps them in Casts named and producing `InsertedPrecisionFreeCast_<name>` and renames
# the values in between after them (`vN` -> `InsertedPrecisionFreeCast_vN`; the node itself keeps its
# op type and name). Measured on 1.32 (Docs/findings/patterns/ort-notes.md).
ORT_CAST_PREFIX = "InsertedPrecisionFreeCast_"


def rewritten_nodes(before, after):
    """The output names (first output) of the nodes of `before` that `after` no longer computes the
    same way: no node of the same op_type and domain produces that name (removed, or fused into
    another op). Both are onnx GraphProtos; this is how a campaign tells which grafted optimizer
    patterns fired (Docs/Patterns.md). The precision Casts onnxruntime inserts are not nodes of ours,
    and the names it gave the values between them are mapped back (ORT_CAST_PREFIX)."""
    def key(n):
        return (n.op_type, "" if n.domain in ("", "ai.onnx") else n.domain)

    def unprefixed(name):
        return name[len(ORT_CAST_PREFIX):] if name.startswith(ORT_CAST_PREFIX) else name
    producers = {}
    for n in after.node:
        if n.op_type == "Cast" and n.name.startswith(ORT_CAST_PREFIX):
            continue
        for o in n.output:
            producers[unprefixed(o)] = key(n)
    return [n.output[0] for n in before.node if n.output and producers.get(n.output[0]) != key(n)]


def ort_backend(level_name):
    """onnxruntime's CPU provider at one graph optimization level (ORT_DISABLE_ALL, ORT_ENABLE_BASIC,
    ORT_ENABLE_EXTENDED, ORT_ENABLE_LAYOUT, ORT_ENABLE_ALL); triage runs the lower levels to tell which one breaks a
    model."""
    import ctypes

    import onnxruntime as ort
    level = getattr(ort.GraphOptimizationLevel, level_name)

    def feed(x):
        """An input as an OrtValue (run_with_ort_values takes nothing else). onnxruntime's NumPy bridge
        rejects ml_dtypes.bfloat16 ("Numpy_type 256 can't be converted to MLDataType"): a bf16
        array goes in as its bit patterns typed BFLOAT16."""
        x = np.asarray(x, order="C")  # (ascontiguousarray would make a 0-d array 1-d)
        if is_bf16(x):
            return ort.OrtValue.ortvalue_from_numpy_with_onnx_type(x.view(np.uint16), BF16)
        return ort.OrtValue.ortvalue_from_numpy(x)

    def fetch(v):
        """An output OrtValue as NumPy; .numpy() fails on bf16 ("No corresponding Numpy type"), so a
        bf16 tensor is copied out of its (CPU) buffer."""
        if v.element_type() != BF16:
            return v.numpy()
        shape = v.shape()
        n = int(np.prod(shape, dtype=np.int64))
        bits = (np.frombuffer((ctypes.c_uint16 * n).from_address(v.data_ptr()), np.uint16).copy()
                if n else np.zeros(0, np.uint16))
        if bfloat16 is None:
            raise Unsupported("bf16 outputs (ml_dtypes is not installed)")
        return bits.view(bfloat16).reshape(shape)

    def make(model, rewrites=False):
        """The session's run function; with `rewrites`, also the nodes the optimizer rewrote, read
        from the optimized model the same session saves (`optimized_model_filepath`)."""
        opts = ort.SessionOptions()
        opts.graph_optimization_level = level
        opts.intra_op_num_threads = 1  # deterministic, and campaigns parallelize by worker
        opts.inter_op_num_threads = 1
        scratch = None
        if rewrites:
            import tempfile
            scratch = tempfile.mkdtemp(prefix="dlsmith-ort-")
            opts.optimized_model_filepath = os.path.join(scratch, "optimized.onnx")
        try:
            sess = ort.InferenceSession(model, opts, providers=["CPUExecutionProvider"])
            rewritten = None
            if scratch:
                import onnx
                rewritten = rewritten_nodes(onnx.load_from_string(model).graph,
                                            onnx.load(opts.optimized_model_filepath, load_external_data=False).graph)
        except ort.capi.onnxruntime_pybind11_state.NotImplemented as e:
            raise Unsupported(f"not implemented in onnxruntime: {e}") from e
        finally:
            if scratch:
                import shutil
                shutil.rmtree(scratch, ignore_errors=True)
        names = [i.name for i in sess.get_inputs()]
        if not any(i.type == "tensor(bfloat16)" for i in sess.get_inputs() + sess.get_outputs()):
            def run(xs):
                return sess.run(None, dict(zip(names, xs)))
        else:
            def run(xs):
                return [fetch(v) for v in sess.run_with_ort_values(None, {n: feed(x) for n, x in zip(names, xs)})]
        return run, rewritten
    return make


def onnx_ref_backend():
    import onnx
    from onnx.reference import ReferenceEvaluator
    from onnx.reference.op_run import RuntimeImplementationError

    def make(model, rewrites=False):
        try:
            ref = ReferenceEvaluator(onnx.load_from_string(model))
        except NotImplementedError as e:
            # Known to ONNX (or in another domain, e.g. com.microsoft) but not implemented by
            # onnx.reference: "Node type 'QLinearAdd' from domain 'com.microsoft' is unknown, ..."
            # or RuntimeImplementationError "No registered implementation for operator ...". An
            # operator with no schema at all ("No registered schema") stays an error.
            message = str(e)
            if not (isinstance(e, RuntimeImplementationError) or " is unknown" in message):
                raise
            for tail in (", known functions", ", schema.has_function"):  # long lists and advice follow
                message = message.split(tail)[0]
            raise Unsupported(f"not implemented in onnx.reference: {message}") from e
        return (lambda xs: ref.run(None, dict(zip(ref.input_names, xs)))), None
    return make


# f32 inference precision: the CPU plugin's default hint is bf16 on CPUs with AVX512-BF16 or AMX (a
# 64x64 f32 MatMul then has relative error ~2e-3; with the hint it equals NumPy's float32 bit for bit).
# ACCURACY also turns off dynamic quantization (DYNAMIC_QUANTIZATION_GROUP_SIZE 32 -> 0), which
# otherwise quantizes the activations of a MatMul with int8 constant weights (relative error ~5e-3
# even with the f32 hint). No hint helps f64 and i64: the plugin computes them in f32 and i32
# (1e300 + 1e300 gives 3.4e38, 3e9 + 3e9 wraps).
OPENVINO_F32 = {"INFERENCE_PRECISION_HINT": "f32", "EXECUTION_MODE_HINT": "ACCURACY"}


# OpenVINO op type -> the CPU runtime layer types it keeps when nothing rewrote it: a node alone in a
# runtime node of another layer type was replaced by a transformation that kept its friendly name
# (TransposeToReshape, ReduceReshapeFusion). From scripts/patterns/verify_openvino.py.
OPENVINO_KEEPS = {"Transpose": {"Transpose"}, "Reshape": {"Reshape"}, "Pad": {"Pad"}, "Tile": {"Tile"},
                  "Broadcast": {"Broadcast"}, "Gather": {"Gather"}, "Concat": {"Concatenation"},
                  "Split": {"Split"}, "Convolution": {"Convolution"}, "GroupConvolution": {"Convolution"},
                  "MatMul": {"MatMul", "FullyConnected"}, "AvgPool": {"Pooling"}, "MaxPool": {"Pooling"},
                  "Softmax": {"Softmax"}, "Slice": {"StridedSlice"}, "StridedSlice": {"StridedSlice"},
                  "ReduceSum": {"Reduce"}, "ReduceMean": {"Reduce"}, "ReduceMax": {"Reduce"}}


def openvino_friendly_names(ov_model, model):
    """For each node of the ONNX model (its first output `vN`): the friendly name and type of the op
    that produces tensor vN after read_model. The ONNX frontend names an op after its ONNX node
    (`n<i>_<Op>`), or after the graph output it produces (`vN`); ops it adds inside a decomposition
    get generated names, so the name is looked up, not guessed. Nodes whose output the frontend
    does not name are left out."""
    import onnx
    by_tensor = {}
    for op in ov_model.get_ordered_ops():
        for o in op.outputs():
            for n in o.get_names():
                by_tensor.setdefault(n, (op.get_friendly_name(), op.get_type_name()))
    firsts = [n.output[0] for n in onnx.load_from_string(model).graph.node if n.output and n.output[0]]
    return [(v, *by_tensor[v]) for v in firsts if v in by_tensor]


def openvino_rewritten(compiled, names):
    """The nodes (`vN`, from openvino_friendly_names) the compiled model rewrote, read from the
    runtime model's rt_info (originalLayersNames, layerType; Docs/findings/patterns/openvino-notes.md):
    gone (its friendly name is in no runtime node: removed, or replaced by a new op named after the
    matched root), retyped (alone in a runtime node of a layer type its op does not keep) or fused
    (its runtime node also holds another ONNX node of ours; the frontend's own ops, constants and
    Reorders do not count)."""
    holders = {}  # friendly name -> [(originalLayersNames, layerType)] of the runtime nodes holding it
    for op in compiled.get_runtime_model().get_ordered_ops():
        rt = op.get_rt_info()
        layers = set(rt["originalLayersNames"].astype(str).split(","))
        layer_type = rt["layerType"].astype(str)
        for name in layers:
            holders.setdefault(name, []).append((layers, layer_type))
    ours = {f for _, f, _ in names}
    rewritten = []
    for v, f, op_type in names:
        held = holders.get(f)
        if (not held or any(len(layers & ours) > 1 for layers, _ in held)
                or (op_type in OPENVINO_KEEPS and held[0][1] not in OPENVINO_KEEPS[op_type])):
            rewritten.append(v)
    return rewritten


def openvino_backend(config):
    import openvino as ov
    core = ov.Core()

    def feed(x):
        """A bf16 array as a bf16 Tensor (explicitly: OpenVINO knows no ml_dtypes)."""
        return ov.Tensor(np.asarray(x, order="C").view(np.uint16), list(x.shape), ov.Type.bf16) if is_bf16(x) else x

    def make(model, rewrites=False):
        """The compiled model's run function; with `rewrites`, also the nodes OpenVINO rewrote, read
        from the same compiled model (openvino_rewritten)."""
        ov_model = core.read_model(model=model)
        names = openvino_friendly_names(ov_model, model) if rewrites else None
        compiled = core.compile_model(ov_model, "CPU", config)
        rewritten = openvino_rewritten(compiled, names) if rewrites else None
        # OpenVINO returns a bf16 result as a float16 array of the bf16 bit patterns.
        bf16_outputs = [o.get_element_type() == ov.Type.bf16 for o in compiled.outputs]

        def run(xs):
            result = compiled([feed(x) for x in xs])
            outs = []
            for o, bf in zip(compiled.outputs, bf16_outputs):
                a = result[o]
                if bf:
                    if bfloat16 is None:
                        raise Unsupported("bf16 outputs (ml_dtypes is not installed)")
                    a = np.array(a).view(np.uint16).view(bfloat16)
                outs.append(a)
            return outs
        return run, rewritten
    return make


TVM_DTYPE_LIMIT = re.compile(r"Data type T\.\w+ not supported for \w+ op|\w+: only support float32 and float16")


def relax_bindings(func):
    return [bd for block in func.body.blocks for bd in block.bindings]


def tvm_import(from_onnx, proto, rewrites):
    """from_onnx as the worker calls it; with `rewrites`, also which of our nodes each binding of
    `main` belongs to, and the nodes the importer already folded. The importer is watched, not
    changed (the module is the one from_onnx gives): each node's converter result is a Relax
    expression that main binds once it is used; the helper bindings a converter emits before it
    belong to that node, a TupleGetItem to its tuple's node. A node is folded at import when its
    result is a constant or shape, or an alias of a graph input or of another node's value
    (scripts/patterns/verify_tvm.py names the bindings instead; the attribution is the same)."""
    if not rewrites:
        return from_onnx(proto, keep_params_in_input=False), None, None
    import tvm
    from tvm import relax
    from tvm.relax.frontend.onnx import onnx_frontend
    importer = onnx_frontend.ONNXGraphImporter
    convert, results = importer._convert_operator, {}

    def watched(self, op_name, inputs, attrs, opset):
        sym = convert(self, op_name, inputs, attrs, opset)
        results.setdefault(attrs["tvm_custom"]["name"], sym)
        return sym
    importer._convert_operator = watched
    try:
        mod = from_onnx(proto, keep_params_in_input=False)
    finally:
        importer._convert_operator = convert
    folded_types = tuple(t for t in (getattr(tvm.ir.expr, "Constant", None), getattr(relax, "Constant", None),
                                     relax.ShapeExpr, getattr(relax, "PrimValue", None)) if t is not None)
    firsts = {}  # node output vN -> its converter's result (a Tuple's first field)
    for n in proto.graph.node:
        r = results.get(n.name)
        if n.output and r is not None:
            firsts[n.output[0]] = r.fields[0] if isinstance(r, relax.Tuple) and len(r.fields) else r
    node_of = {}
    for v, r in firsts.items():
        node_of.setdefault(r, v)
    owner, pending = {}, []  # binding name -> vN
    for bd in relax_bindings(mod["main"]):
        v = node_of.get(bd.value) or node_of.get(bd.var)
        if v is None and isinstance(bd.value, relax.TupleGetItem) and isinstance(bd.value.tuple_value, relax.Var):
            v = owner.get(bd.value.tuple_value.name)
        if v is None:
            pending.append(bd.var.name)
            continue
        for name in pending + [bd.var.name]:
            owner[name] = v
        pending = []
    folded = [v for v, r in firsts.items()
              if isinstance(r, folded_types)
              or (isinstance(r, relax.Var) and owner.get(r.name) != v)]
    return mod, owner, folded


def tvm_fused(owner, folded, legal, fc, fused):
    """The nodes `tvm-opt` rewrote (from scripts/patterns/verify_tvm.py, detect_fusion): folded at
    import, or every binding of the node gone in FoldConstant, or a binding of it in the same fused
    (Primitive) function as a binding of another node. `legal`, `fc` and `fused` are the module after
    AnnotateTIROpPattern, FoldConstant and FuseOps. Names survive FuseOps inside fused functions
    except the last binding's, matched back through its PrimFunc callee (and argument names)."""
    import tvm
    from tvm import relax

    def callee(value):
        if isinstance(value, relax.Call) and value.args and isinstance(value.args[0], tvm.ir.GlobalVar):
            return value.args[0].name_hint
        if isinstance(value, relax.Call) and isinstance(value.op, tvm.ir.GlobalVar):
            return value.op.name_hint
        return None

    def arg_names(value):
        names = []
        if isinstance(value, relax.Call):
            for a in value.args[1:]:
                if isinstance(a, relax.Tuple):
                    names += [f.name if isinstance(f, relax.Var) else None for f in a.fields]
        return names

    before = {bd.var.name for bd in relax_bindings(legal["main"])}
    after_fc = {bd.var.name: bd.value for bd in relax_bindings(fc["main"])}
    const_folded = before - set(after_fc)
    groups, primitive = [], set()
    for gv, f in fused.functions_items():
        if isinstance(f, relax.Function) and f.attrs and "Primitive" in f.attrs:
            primitive.add(gv.name_hint)
            bs = relax_bindings(f)
            names = {bd.var.name for bd in bs[:-1]}
            if isinstance(bs[-1].value, relax.Tuple):
                groups.append((names | {bs[-1].var.name}, None))
            else:
                groups.append((names, bs[-1].value))
    surviving = set()
    for bd in relax_bindings(fused["main"]):
        v = bd.value
        if not (isinstance(v, relax.Call) and isinstance(v.op, tvm.ir.GlobalVar) and v.op.name_hint in primitive):
            surviving.add(bd.var.name)
    inside = set().union(*[names for names, _ in groups])
    missing = [n for n in after_fc if n not in surviving and n not in inside]
    rewritten = set(folded)
    for names, last in groups:
        if last is not None:
            candidates = [n for n in missing if callee(after_fc[n]) == callee(last)]
            if len(candidates) > 1:
                args = arg_names(last)
                candidates.sort(key=lambda n: -sum(a == b for a, b in zip(arg_names(after_fc[n]), args) if a))
            if candidates:
                names = names | {candidates[0]}
                missing.remove(candidates[0])
        nodes = {owner[n] for n in names if n in owner}
        if len(nodes) > 1:
            rewritten |= nodes
    mine = {}
    for name, v in owner.items():
        mine.setdefault(v, []).append(name)
    rewritten |= {v for v, names in mine.items() if all(n in const_folded for n in names)}
    return rewritten


def tvm_backend(optimize=False):
    """TVM Relax (from_onnx, tvm.compile for llvm, relax.VirtualMachine). tvm.compile's default
    pipeline on CPU only legalizes and lowers (no FoldConstant, no fusion); `optimize` (backend
    tvm-opt) compiles with relax.get_default_pipeline(llvm) instead: LegalizeOps,
    AnnotateTIROpPattern, FoldConstant, FuseOps, FuseTIR, then the same lowering
    (Docs/findings/patterns/tvm-notes.md)."""
    import onnx
    import tvm
    from tvm import relax
    from tvm.relax.frontend.onnx import from_onnx
    to_device = getattr(tvm.runtime, "tensor", None) or tvm.nd.array  # the name changed across versions
    shape_types = tuple(t for t in (getattr(tvm.runtime, "ShapeTuple", None),) if t is not None)
    pipeline = relax.get_default_pipeline(tvm.target.Target("llvm")) if optimize else "default"
    watched = ("AnnotateTIROpPattern", "FoldConstant", "FuseOps")

    @tvm.instrument.pass_instrument
    class Capture:
        """Keeps the module after each `watched` pass of the pipeline (the first time it runs)."""

        def __init__(self):
            self.mods = {}

        def run_after_pass(self, mod, info):
            if info.name in watched:
                self.mods.setdefault(info.name, mod)

    def to_numpy(value, elem_type):
        """One graph output: a tensor, or a shape / scalar when Relax folded it (Shape, Size)."""
        if hasattr(value, "numpy"):
            return value.numpy()
        dtype = onnx.helper.tensor_dtype_to_np_dtype(elem_type) if elem_type else None
        if isinstance(value, shape_types):
            return np.array([int(d) for d in value], dtype=dtype or np.int64)
        if isinstance(value, (bool, int, float, np.generic)):
            return np.array(value, dtype=dtype)
        raise TypeError(f"unexpected output {type(value).__name__}: {value!r}")

    def make(model, rewrites=False):
        """The VM's run function; with `rewrites`, also the nodes rewritten: at import (tvm), and by
        FoldConstant and FuseOps, watched in the same compilation (tvm-opt)."""
        proto = onnx.load_from_string(model)
        elem_types = [o.type.tensor_type.elem_type for o in proto.graph.output]
        try:
            mod, owner, folded = tvm_import(from_onnx, proto, rewrites)
            capture = Capture() if rewrites and optimize else None
            if capture:
                with tvm.transform.PassContext(instruments=[capture]):
                    executable = tvm.compile(mod, target="llvm", relax_pipeline=pipeline)
            else:
                executable = tvm.compile(mod, target="llvm", relax_pipeline=pipeline)
            vm = relax.VirtualMachine(executable, tvm.cpu())
        except Exception as e:
            # Relax states some dtype limits outright (bf16 on 0.27: "Data type T.bfloat16 not
            # supported for isnan op", "layer_norm: only support float32 and float16 for now").
            if m := TVM_DTYPE_LIMIT.search(str(e)):
                raise Unsupported(f"dtype not supported by tvm: {m.group(0)}") from e
            raise
        rewritten = None
        if capture and all(name in capture.mods for name in watched):
            rewritten = tvm_fused(owner, folded, *[capture.mods[name] for name in watched])
        elif rewrites:
            rewritten = set(folded)
        if rewritten is not None:  # in node order
            rewritten = [n.output[0] for n in proto.graph.node if n.output and n.output[0] in rewritten]

        def run(xs):
            out = vm["main"](*[to_device(x) for x in xs])
            # One graph output is returned as is (a Shape is a tuple too); several as an Array.
            outs = [out] if len(elem_types) == 1 else list(out)
            if len(outs) != len(elem_types):
                raise TypeError(f"{len(outs)} outputs for {len(elem_types)} graph outputs")
            return [to_numpy(o, t) for o, t in zip(outs, elem_types)]
        return run, rewritten
    return make


BACKENDS = {"ort": lambda: ort_backend("ORT_ENABLE_ALL"), "ort-noopt": lambda: ort_backend("ORT_DISABLE_ALL"),
            "ort-basic": lambda: ort_backend("ORT_ENABLE_BASIC"),
            "ort-extended": lambda: ort_backend("ORT_ENABLE_EXTENDED"),
            "ort-layout": lambda: ort_backend("ORT_ENABLE_LAYOUT"),
            "onnx-ref": onnx_ref_backend, "openvino": lambda: openvino_backend(OPENVINO_F32),
            "openvino-default": lambda: openvino_backend({}), "tvm": tvm_backend,
            "tvm-opt": lambda: tvm_backend(optimize=True)}


# ---------------------------------------------------------------------------------------------
# Tensors and frames.

def decode_tensor(t):
    if t["dtype"] not in DTYPES:
        reason = "ml_dtypes is not installed" if t["dtype"] == "bf16" else "no NumPy dtype"
        raise Unsupported(f"{t['dtype']} inputs ({reason})")
    values = np.frombuffer(base64.b64decode(t["bits"]), dtype="<f8").reshape(t["shape"])
    if t["dtype"] == "bool":
        return np.asarray(values != 0)  # a 0-d comparison gives a NumPy scalar, which ORT rejects
    return values.astype(DTYPES[t["dtype"]])


def encode_tensor(a):
    a = np.asarray(a)
    if a.dtype not in NAMES:
        raise Unsupported(f"output dtype {a.dtype}")
    bits = np.ascontiguousarray(a.astype("<f8")).tobytes()
    return {"dtype": NAMES[a.dtype], "shape": list(a.shape), "bits": base64.b64encode(bits).decode()}


def bf16_boundary(model):
    """True if a graph input or output of the ONNX model is bfloat16 (False without the onnx package)."""
    try:
        import onnx
    except ImportError:
        return False
    g = onnx.load_from_string(model).graph
    return BF16 in [v.type.tensor_type.elem_type for v in list(g.input) + list(g.output)]


class Channel:
    def __init__(self):
        self.out = os.dup(1)
        os.dup2(2, 1)  # stray prints from libraries go to stderr
        sys.stdout = sys.stderr
        self.inp = sys.stdin.buffer

    def read(self):
        header = self.inp.read(4)
        if len(header) < 4:
            return None
        n = struct.unpack("<I", header)[0]
        body = self.inp.read(n)
        return body if len(body) == n else None

    def send(self, message):
        body = json.dumps(message).encode()
        data = memoryview(struct.pack("<I", len(body)) + body)
        try:
            while data:
                data = data[os.write(self.out, data):]
        except OSError:  # the campaign is gone
            os._exit(0)


def serve(backend_name):
    channel = Channel()
    try:
        make, unavailable = BACKENDS[backend_name](), None
    except Exception as e:  # ImportError, or a broken installation
        make, unavailable = None, f"unavailable: {describe(e)}"
    cached_hash, cached_run, cached_rewritten = None, None, None
    while (frame := channel.read()) is not None:
        try:
            request = json.loads(frame)
            model = base64.b64decode(request.get("onnx") or "")
            inputs = request["inputs"]
        except Exception as e:
            channel.send({"event": "result", "stage": "compile", "error": f"worker: malformed request: {describe(e)}"})
            continue
        stage = "compile"
        try:
            if unavailable:
                raise Unsupported(unavailable)
            if not model:
                raise Unsupported("the request carries no ONNX model")
            xs = [decode_tensor(t) for t in inputs]
            rewrites = bool(request.get("rewrites"))
            digest = (hashlib.sha256(model).hexdigest(), rewrites)
            if digest != cached_hash:
                cached_hash, cached_run, cached_rewritten = None, None, None
                if bfloat16 is None and bf16_boundary(model):
                    raise Unsupported("bf16 graph inputs or outputs (ml_dtypes is not installed)")
                (cached_run, cached_rewritten), cached_hash = make(model, rewrites), digest
            channel.send({"event": "compiled"})
            stage = "execute"
            outputs = [encode_tensor(o) for o in cached_run(xs)]
            reply = {"event": "result", "outputs": outputs}
            if cached_rewritten is not None:
                reply["rewritten"] = cached_rewritten
            channel.send(reply)
        except Unsupported as e:
            channel.send({"event": "result", "unsupported": str(e)})
        except Exception as e:
            channel.send({"event": "result", "stage": stage, "error": describe(e)})
    sys.exit(0)


def main():
    args = sys.argv[1:]
    if len(args) != 2 or args[0] != "--backend" or args[1] not in BACKENDS:
        sys.stderr.write(f"usage: dlsmith_worker.py --backend {'|'.join(BACKENDS)}\n")
        sys.exit(2)
    # DLSmith's Supervisor does both before the exec; these cover other clients (worker_client.py).
    try:
        os.setpgrp()  # the campaign kills the whole group on a timeout
    except OSError:
        pass
    try:  # die with the parent (PR_SET_PDEATHSIG = 1, SIGKILL = 9)
        import ctypes
        ctypes.CDLL(None).prctl(1, 9, 0, 0, 0)
    except Exception:
        pass
    serve(args[1])


if __name__ == "__main__":
    main()
