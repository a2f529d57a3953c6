#!/usr/bin/env python3
"""DLSmith tracing worker: runs single ONNX operator calls on onnxruntime (CPU) for rule inference.

NeuRI-style rule inference samples thousands of random calls of an operator, records for each one
whether onnxruntime accepts it and, when it does, the shapes it produces, and infers shape rules
from those records (Sources/Inference). This worker is the onnxruntime side of that loop.

Usage:
  python3 dlsmith_trace.py schemas  [--opset 21]   the operators to trace, as one JSON document
  python3 dlsmith_trace.py serve    [--opset 21]   answer trace requests, one frame each
  python3 dlsmith_trace.py selftest [--opset 21]   check a few known calls, print OK/FAIL lines and
                                                   the per-call latency; exit 1 on any FAIL

schemas
  A JSON list, sorted by name, of the default-domain (ai.onnx) operators onnxruntime can run on
  the CPU execution provider at the opset. The operator set comes from onnxruntime itself:
  onnxruntime's own schema registry (`get_all_operator_schema`) gives the version of each operator
  at the opset, and the CPU kernel registry (`get_all_opkernel_def`) tells whether a kernel is
  registered for that version and for which element types. Operators without a kernel that
  onnxruntime runs by inlining their ONNX function body (CastLike, CenterCropPad, Mish, ...) are
  listed too. Left out: operators that are not standard ONNX at the opset (onnxruntime-internal
  ones such as MemcpyToHost or the *_TRT plugins, and deprecated experimental ones), operators
  with an attribute that is not int/ints/float/floats/string/strings/tensor (graph attributes:
  If, Loop, Scan, SequenceMap; Constant's sparse tensor), operators with a sequence-, optional- or
  map-only input or output, and EXCLUDED_OPS (random operators, optional containers).

    {"name": "Conv", "sinceVersion": 11,
     "inputs":  [{"name": "X", "option": "single|optional|variadic", "types": ["f16", "f32", ...],
                  "typeVar": "T", "isValue": false}, ...],
     "outputs": [{"name": "Y", "option": "single", "types": [...], "typeVar": "T"}],
     "attributes": [{"name": "auto_pad", "type": "string", "required": false,
                     "default": "NOTSET"}, ...]}

  `types` (DLSmith spellings, see DTYPES) are the schema's type constraint intersected with the
  types of the registered CPU kernels; `typeVar` is null when the schema gives a literal type.
  `isValue` marks the inputs of VALUE_INPUTS, whose types are cut to the integer types (and so
  are those of every parameter sharing their type variable: Range's T). A tensor default is
  {"dtype": .., "shape": [..], "value": [..]}; a non-finite float default is a string ("inf").

serve
  Speaks the protocol of DLSmith's Supervisor (Sources/Supervision/Supervisor.swift): every message
  is a frame, a 4-byte little-endian length then that many bytes of UTF-8 JSON. One request frame
  on stdin, one response frame on stdout (flushed); EOF ends the worker (exit 0).

    {"op": "Conv", "calls": [
       {"inputs": [{"dtype": "f32", "shape": [1, 3, 8, 8]},    a data input (a graph input)
                   {"dtype": "i64", "value": [1, -1]},         a value input (an initializer);
                                                               "value": 5 is a 0-d tensor
                   null],                                      an omitted optional input
        "attributes": {"strides": {"ints": [1, 1]}, "group": {"int": 1}, "alpha": {"float": 0.5},
                       "mode": {"string": "constant"}, "names": {"strings": ["a"]},
                       "scales": {"floats": [1.0]}, "to": {"dtype": "f16"},
                       "value": {"tensor": {"dtype": "f32", "value": [0.0]}}},
        "outputs": 1, "optimize": true}, ...]}

    {"results": [{"ok": true, "shapes": [[1, 4, 6, 6]]},
                 {"ok": false, "stage": "session", "error": "FAIL: [ShapeInferenceError] ..."}]}

  "dtype" is an attribute kind added for the dtype-enum int attributes (Cast.to, EyeLike.dtype,
  QuantizeLinear.output_dtype, ...): {"dtype": "f16"} is {"int": 10}. A tensor attribute or a
  value input may carry "shape" to reshape its values; a tensor attribute with a shape and no
  value is filled like a data input. "outputs" defaults to 1 and "optimize" to true.
  Data inputs are filled deterministically from a fresh numpy Generator seeded with DATA_SEED for
  every call: floats uniform in [-1, 1], integers 1, or 0 for the index inputs of INDEX_INPUTS
  (valid indices, no zero divisors), random bools, strings that spell small decimals.
  The model is one node (named "n", inputs i0.., outputs o0..) of the opset's ai.onnx domain;
  graph inputs have the call's exact static shapes, graph outputs neither type nor shape;
  trailing omitted inputs are left off the node (the same node in ONNX; a trailing "" crashes
  some kernels). It runs in an InferenceSession on CPUExecutionProvider with one intra-op and
  one inter-op thread, the default optimizations (ORT_ENABLE_ALL) when "optimize" is true and
  ORT_DISABLE_ALL otherwise. "shapes" are the shapes of the tensors the run returned, in output
  order.
  A failed call has "stage": "request" (the worker did not run it: a malformed call, the limits
  MAX_INPUT_ELEMENTS, MAX_OUTPUT_ELEMENTS and WORK_LIMIT, or REFUSED_CALLS, calls known to kill
  or stall onnxruntime; these errors start with "dlsmith:" and say nothing about the call's
  validity), "session" (the model was rejected when the session was created: type or shape
  inference, a missing kernel, a kernel constructor) or "run" (the kernel failed). Errors are the
  first line of onnxruntime's message with status prefixes, source locations, C++ signatures and
  the node name cut out and type lists sorted, at most MAX_ERROR_CHARS characters. A malformed
  request frame is answered {"error": "..."}. No exception escapes a call, and answers are cached,
  so a repeated request is answered identically; a new worker gives the same answers too.

Only responses go to stdout: the real stdout is kept on a private descriptor and fd 1 points at
stderr, so nothing onnxruntime prints can corrupt the stream. The address space of `serve` is
capped (ADDRESS_SPACE_LIMIT) so that a huge allocation fails as an error rather than bringing in
the OOM killer; a kernel that crashes kills the worker, which the Swift side restarts.
Needs onnx, onnxruntime and numpy (python/requirements.txt).
"""
import io
import json
import math
import os
import re
import struct
import sys
import time

import numpy as np

# ---------------------------------------------------------------------------------------------
# Configuration.

DEFAULT_OPSET = 21

# Inputs whose *values* are shape-like parameters, by operator: the Swift side passes them as
# value inputs (initializers) and turns every element into a symbol. Chosen from the ONNX schemas
# (opsets 11-21): integer inputs that give a shape, an extent, an axis, a count or pads, i.e.
# whose value decides the output shape or whether the call is valid. Inputs that are data which
# merely must be in range (Gather.indices, RoiAlign.batch_indices, ReverseSequence.sequence_lens,
# RNN/GRU/LSTM.sequence_lens, NegativeLogLikelihoodLoss.target, ...) are not listed: they are
# filled with 0/1, which are always in range. Float parameters (Resize.scales/roi,
# NonMaxSuppression thresholds) are not listed either, value inputs being integer-typed.
VALUE_INPUTS = {
    "AffineGrid": ["size"],                          # output shape (N, C, H[, D], W)
    "BlackmanWindow": ["size"],                      # output length
    "CenterCropPad": ["shape"],                      # crop/pad target extents
    "Col2Im": ["image_shape", "block_shape"],
    "ConstantOfShape": ["input"],                    # output shape
    "CumSum": ["axis"],
    "DFT": ["dft_length", "axis"],
    "Expand": ["shape"],
    "HammingWindow": ["size"],
    "HannWindow": ["size"],
    "MaxUnpool": ["output_shape"],
    "MelWeightMatrix": ["num_mel_bins", "dft_length", "sample_rate"],
    "NonMaxSuppression": ["max_output_boxes_per_class"],
    "OneHot": ["depth"],
    "Pad": ["pads", "axes"],
    "Range": ["start", "limit", "delta"],            # output length ceil((limit - start) / delta)
    "ReduceL1": ["axes"], "ReduceL2": ["axes"], "ReduceLogSum": ["axes"],
    "ReduceLogSumExp": ["axes"], "ReduceMax": ["axes"], "ReduceMean": ["axes"],
    "ReduceMin": ["axes"], "ReduceProd": ["axes"], "ReduceSum": ["axes"],
    "ReduceSumSquare": ["axes"],
    "Reshape": ["shape"],
    "Resize": ["sizes"],
    "STFT": ["frame_step", "frame_length"],
    "Slice": ["starts", "ends", "axes", "steps"],
    "Split": ["split"],
    "Squeeze": ["axes"],
    "Tile": ["repeats"],
    "TopK": ["K"],
    "Trilu": ["k"],
    "Unsqueeze": ["axes"],
}

# Integer data inputs are filled with 1 (never a zero divisor, a valid length), except these
# inputs, which index another tensor along some dimension and are filled with 0 (valid whenever
# that dimension is not empty). Either way the validity of a call does not depend on its data.
INDEX_INPUTS = {
    "Gather": ["indices"], "GatherElements": ["indices"], "GatherND": ["indices"],
    "ScatterElements": ["indices"], "ScatterND": ["indices"], "OneHot": ["indices"],
    "MaxUnpool": ["I"], "RoiAlign": ["batch_indices"], "NegativeLogLikelihoodLoss": ["target"],
    "SoftmaxCrossEntropyLoss": ["labels"],
}

# Operators never listed by `schemas`, with the reason.
EXCLUDED_OPS = {
    "Bernoulli": "random",
    "Multinomial": "random",
    "RandomNormal": "random",
    "RandomNormalLike": "random",
    "RandomUniform": "random",
    "RandomUniformLike": "random",
    "Optional": "optional container",
    "OptionalGetElement": "optional container",
    "OptionalHasElement": "optional container",
}

MAX_INPUT_ELEMENTS = 65536      # per data or value input
MAX_OUTPUT_ELEMENTS = 1 << 25   # per output, when the size is known before running
# Kernels that visit a window per output element can take minutes on small tensors (a Conv with
# pads 2000 around a 1x1 input and a 256x256 kernel: 127 s). Calls whose estimated number of
# multiply-adds / window visits (see estimated_work) exceeds this are refused; at it, Conv takes
# about 0.6 s and the pooling loops about 2 s.
WORK_LIMIT = 1 << 32
MAX_ERROR_CHARS = 300
DATA_SEED = 20240531
RESULT_CACHE_SIZE = 1 << 16
ADDRESS_SPACE_LIMIT = 8 << 30   # bytes, serve only

# DLSmith dtype -> (TensorProto element type, numpy dtype or None). bf16 travels as uint16 bits.
DTYPES = {
    "f16": (10, np.float16), "bf16": (16, None), "f32": (1, np.float32), "f64": (11, np.float64),
    "i8": (3, np.int8), "i16": (5, np.int16), "i32": (6, np.int32), "i64": (7, np.int64),
    "u8": (2, np.uint8), "u16": (4, np.uint16), "u32": (12, np.uint32), "u64": (13, np.uint64),
    "bool": (9, np.bool_), "string": (8, np.object_),
}
DTYPE_ORDER = list(DTYPES)
INTEGER_DTYPES = ["i8", "i16", "i32", "i64", "u8", "u16", "u32", "u64"]
FLOAT_DTYPES = ["f16", "bf16", "f32", "f64"]
ONNX_TYPE_NAMES = {
    "tensor(float16)": "f16", "tensor(bfloat16)": "bf16", "tensor(float)": "f32",
    "tensor(double)": "f64", "tensor(int8)": "i8", "tensor(int16)": "i16",
    "tensor(int32)": "i32", "tensor(int64)": "i64", "tensor(uint8)": "u8",
    "tensor(uint16)": "u16", "tensor(uint32)": "u32", "tensor(uint64)": "u64",
    "tensor(bool)": "bool", "tensor(string)": "string",
}
ELEM_TYPE_NAMES = {code: name for name, (code, _) in DTYPES.items()}


class Refused(Exception):
    """The worker does not run this call; the message says why (not a verdict on the call)."""


# onnxruntime log severity: 3 (ERROR) would still print a line for every failing run, which
# would flood stderr (and could fill a pipe nobody drains); 4 (FATAL) keeps it quiet.
LOG_SEVERITY = 4


def _quiet_onnxruntime():
    import onnxruntime as ort
    ort.set_default_logger_severity(LOG_SEVERITY)
    return ort


# ---------------------------------------------------------------------------------------------
# schemas

def _attribute_default(raw):
    """The schema default (a serialized AttributeProto, b"" when none) as JSON."""
    if not raw:
        return None
    from onnx import AttributeProto, helper, numpy_helper
    attr = AttributeProto()
    attr.ParseFromString(raw)
    if attr.type == AttributeProto.UNDEFINED:
        return None
    value = helper.get_attribute_value(attr)
    if attr.type == AttributeProto.TENSOR:
        array = numpy_helper.to_array(value)
        return {"dtype": ELEM_TYPE_NAMES.get(value.data_type), "shape": list(array.shape),
                "value": [_json_scalar(x) for x in array.reshape(-1).tolist()]}
    if isinstance(value, list):
        return [_json_scalar(x) for x in value]
    return _json_scalar(value)


def _json_scalar(x):
    if isinstance(x, bytes):
        return x.decode("utf-8", "replace")
    if isinstance(x, float):
        if not math.isfinite(x):
            return str(x)  # "inf", "-inf", "nan": JSON has no such numbers
        return float(str(np.float32(x)))  # schema floats are float32: 1e-05, not 9.99e-06
    return x


ATTRIBUTE_TYPES = {"INT": "int", "INTS": "ints", "FLOAT": "float", "FLOATS": "floats",
                   "STRING": "string", "STRINGS": "strings", "TENSOR": "tensor"}


def list_schemas(opset):
    """The operator list printed by `schemas` (see the module docstring)."""
    import onnx
    from onnxruntime.capi import onnxruntime_pybind11_state as C

    # The operator's version at the opset, from onnxruntime's own registry.
    current = {}
    for s in C.get_all_operator_schema():
        if s.domain in ("", "ai.onnx") and s.since_version <= opset:
            if s.name not in current or current[s.name].since_version < s.since_version:
                current[s.name] = s
    # Element types of the CPU kernels registered for that version, by type variable.
    kernel_types = {}
    for k in C.get_all_opkernel_def():
        s = current.get(k.op_name)
        if (k.domain not in ("", "ai.onnx") or k.provider != "CPUExecutionProvider" or s is None
                or not k.version_range[0] <= s.since_version <= k.version_range[1]):
            continue
        per_var = kernel_types.setdefault(k.op_name, {})
        for var, types in k.type_constraints.items():
            per_var.setdefault(var, set()).update(types)

    result = []
    for name, s in sorted(current.items()):
        if name in EXCLUDED_OPS or s.deprecated:
            continue
        try:  # standard ONNX at this opset (drops onnxruntime-internal and experimental ops)
            standard = onnx.defs.get_schema(name, opset, "")
        except Exception:
            continue
        if standard.deprecated or standard.since_version != s.since_version:
            continue
        if name not in kernel_types and not (standard.has_function
                                             or standard.has_context_dependent_function):
            continue  # no kernel and nothing to inline
        entry = _schema_entry(s, kernel_types.get(name, {}))
        if entry is not None:
            result.append(entry)
    return result


def _schema_entry(s, kernel_types):
    constraints = {t.type_param_str: list(t.allowed_type_strs) for t in s.type_constraints}
    values = set(VALUE_INPUTS.get(s.name, []))
    options = {"Single": "single", "Optional": "optional", "Variadic": "variadic"}
    # A type variable bound by a value input is integer-only for every parameter using it
    # (Range: start, limit, delta and the output share T).
    integer_vars = {p.typeStr for p in s.inputs if p.name in values}

    def params(formals, is_input):
        out = []
        for p in formals:
            allowed = constraints.get(p.typeStr, [p.typeStr])
            if not any(t.startswith("tensor(") for t in allowed):
                return None  # sequence, optional or map typed only (Identity keeps its tensors)
            types = {ONNX_TYPE_NAMES[t] for t in allowed if t in ONNX_TYPE_NAMES}
            if p.typeStr in kernel_types:  # what the CPU kernels are registered for
                types &= {ONNX_TYPE_NAMES[t] for t in kernel_types[p.typeStr]
                          if t in ONNX_TYPE_NAMES}
            is_value = is_input and p.name in values
            if is_value or p.typeStr in integer_vars:
                types &= set(INTEGER_DTYPES)
            option = options[p.option.name]
            if not types and option != "optional":
                return None  # no type DLSmith can feed
            item = {"name": p.name, "option": option,
                    "types": [t for t in DTYPE_ORDER if t in types],
                    "typeVar": p.typeStr if p.typeStr in constraints else None}
            if is_input:
                item["isValue"] = is_value
            out.append(item)
        return out

    inputs, outputs = params(s.inputs, True), params(s.outputs, False)
    if inputs is None or outputs is None:
        return None
    attributes = []
    for attr_name, a in sorted(s.attributes.items()):
        kind = ATTRIBUTE_TYPES.get(a.type.name)
        if kind is None:
            return None  # graph, sparse tensor, type proto...
        attributes.append({"name": attr_name, "type": kind, "required": bool(a.required),
                           "default": _attribute_default(a._default_value)})
    return {"name": s.name, "sinceVersion": s.since_version, "inputs": inputs,
            "outputs": outputs, "attributes": attributes}


# ---------------------------------------------------------------------------------------------
# Building and running one call.

class Tracer:
    """Runs calls at one opset; keeps the session options and a cache of answers."""

    def __init__(self, opset):
        import onnx
        from onnx import helper
        self.onnx, self.helper = onnx, helper
        self.ort = _quiet_onnxruntime()
        self.opset = opset
        self.ir_version = helper.find_min_ir_version_for([helper.make_opsetid("", opset)])
        self.options = {}
        for optimize, level in ((True, self.ort.GraphOptimizationLevel.ORT_ENABLE_ALL),
                                (False, self.ort.GraphOptimizationLevel.ORT_DISABLE_ALL)):
            o = self.ort.SessionOptions()
            o.graph_optimization_level = level
            o.intra_op_num_threads = 1
            o.inter_op_num_threads = 1
            o.log_severity_level = LOG_SEVERITY
            o.log_verbosity_level = 0
            self.options[optimize] = o
        self.run_options = self.ort.RunOptions()
        self.run_options.log_severity_level = LOG_SEVERITY
        self.cache = {}
        self.input_names = {}

    # -- the public entry points --------------------------------------------------------------

    def handle(self, request):
        """A parsed request -> its response (a dict). Never raises for a dict request."""
        op = request.get("op")
        calls = request.get("calls")
        if not isinstance(op, str) or not isinstance(calls, list):
            return {"error": "dlsmith: a request needs \"op\" (a string) and \"calls\" (a list)"}
        return {"results": [self.trace(op, call) for call in calls]}

    def trace(self, op, call):
        """One call -> {"ok": true, "shapes": [...]} or {"ok": false, "stage":.., "error":..}."""
        try:
            key = json.dumps([op, call], sort_keys=True)
        except Exception as e:
            return _failure("request", f"dlsmith: bad call: {_describe(e)}")
        cached = self.cache.get(key)
        if cached is not None:
            return cached
        result = self._trace(op, call)
        if len(self.cache) >= RESULT_CACHE_SIZE:
            self.cache.clear()
        self.cache[key] = result
        return result

    # -- the work -------------------------------------------------------------------------------

    def _trace(self, op, call):
        stage = "request"
        try:
            model, feeds, bf16_feeds, has_string, outputs, optimize, constant = \
                self._build(op, call)
            if constant:  # no data input: onnxruntime may compute the node while loading it
                self._check_inferred_size(model)
            stage = "session"
            session = self.ort.InferenceSession(model.SerializeToString(), self.options[optimize],
                                                providers=["CPUExecutionProvider"])
            stage = "request"
            inferred = []  # the output shapes onnxruntime inferred, None where not static
            dtypes = [ONNX_TYPE_NAMES.get(o.type, o.type) for o in session.get_outputs()]
            for o in session.get_outputs():
                dims = o.shape
                static = dims is not None and all(isinstance(d, int) for d in dims)
                inferred.append(list(dims) if static else None)
                if static and math.prod(dims) > MAX_OUTPUT_ELEMENTS:
                    raise Refused(f"dlsmith: output too large ({o.name} inferred {dims})")
            work = estimated_work(op, call, inferred)
            if work > WORK_LIMIT:
                raise Refused(f"dlsmith: refused: too much work (~{work:.2g} multiply-adds)")
            stage = "run"
            if has_string:  # string tensors cannot be OrtValues; bf16 ones can only be OrtValues
                feeds.update(bf16_feeds)
                arrays = session.run(outputs, feeds, self.run_options)
                shapes = [list(np.shape(a)) for a in arrays]
            else:
                ort_feeds = {name: self.ort.OrtValue.ortvalue_from_numpy(a)
                             for name, a in feeds.items()}
                ort_feeds.update(bf16_feeds)
                values = session.run_with_ort_values(outputs, ort_feeds, self.run_options)
                shapes = [list(v.shape()) for v in values]
            return {"ok": True, "shapes": shapes, "dtypes": dtypes}
        except Refused as e:
            return _failure("request", str(e))
        except Exception as e:
            if stage == "request":
                return _failure(stage, f"dlsmith: bad call: {_describe(e)}")
            return _failure(stage, clean_error(e))

    def _build(self, op, call):
        """The ModelProto of a call and its feeds."""
        helper, TensorProto = self.helper, self.onnx.TensorProto
        if not isinstance(call, dict):
            raise Refused("dlsmith: bad call: not an object")
        specs = call.get("inputs") or []
        n_outputs = call.get("outputs", 1)
        optimize = call.get("optimize", True)
        if not isinstance(specs, list) or not isinstance(n_outputs, int) or n_outputs < 0:
            raise Refused("dlsmith: bad call: \"inputs\" must be a list, \"outputs\" a count")
        if not isinstance(optimize, bool):
            raise Refused("dlsmith: bad call: \"optimize\" must be a boolean")
        refusal = refused_call(op, call)
        if refusal:
            raise Refused(f"dlsmith: refused: {refusal}")

        rng = np.random.default_rng(DATA_SEED)
        names, graph_inputs, initializers = [], [], []
        feeds, bf16_feeds, has_string = {}, {}, False
        for k, spec in enumerate(specs):
            if spec is None:
                names.append("")
                continue
            name = f"i{k}"
            names.append(name)
            dtype = spec.get("dtype") if isinstance(spec, dict) else None
            if dtype not in DTYPES:
                raise Refused(f"dlsmith: bad call: input {k} has no known dtype")
            if "value" in spec:
                initializers.append(self._value_tensor(name, dtype, spec))
                continue
            shape = spec.get("shape")
            _check_shape(shape, f"input {k}")
            graph_inputs.append(helper.make_tensor_value_info(name, DTYPES[dtype][0], shape))
            data = fill(rng, dtype, shape, self._input_name(op, k) in INDEX_INPUTS.get(op, ()))
            if dtype == "bf16":
                bf16_feeds[name] = self.ort.OrtValue.ortvalue_from_numpy_with_onnx_type(
                    data, TensorProto.BFLOAT16)
            else:
                feeds[name] = data
                has_string = has_string or dtype == "string"

        attributes = call.get("attributes") or {}
        if not isinstance(attributes, dict):
            raise Refused("dlsmith: bad call: \"attributes\" must be an object")
        attrs = [self._attribute(key, value, rng) for key, value in sorted(attributes.items())
                 if value is not None]
        while names and not names[-1]:
            names.pop()  # trailing omitted inputs crash some kernels (see REFUSED_CALLS)
        outputs = [f"o{k}" for k in range(n_outputs)]
        node = helper.make_node(op, names, outputs, name="n")
        node.attribute.extend(attrs)
        graph = helper.make_graph([node], "trace", graph_inputs,
                                  [self.onnx.ValueInfoProto(name=o) for o in outputs],
                                  initializer=initializers)
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", self.opset)],
                                  ir_version=self.ir_version, producer_name="dlsmith-trace")
        return model, feeds, bf16_feeds, has_string, outputs, optimize, not graph_inputs

    def _input_name(self, op, k):
        """The schema name of input k of op at the opset ("" when unknown)."""
        if op not in self.input_names:
            try:
                names = [p.name for p in self.onnx.defs.get_schema(op, self.opset, "").inputs]
            except Exception:
                names = []
            self.input_names[op] = names
        names = self.input_names[op]
        return names[min(k, len(names) - 1)] if names else ""  # a variadic input repeats

    def _value_tensor(self, name, dtype, spec):
        """A TensorProto with a value input's (or a tensor attribute's) exact values."""
        helper = self.helper
        value = spec.get("value")
        flat = list(_flatten(value))
        if len(flat) > MAX_INPUT_ELEMENTS:
            raise Refused("dlsmith: input too large")
        if "shape" in spec and spec["shape"] is not None:
            dims = spec["shape"]
            _check_shape(dims, name)
            if math.prod(dims) != len(flat):
                raise Refused(f"dlsmith: bad call: {name} has {len(flat)} values for {dims}")
        else:
            dims = list(np.shape(value)) if isinstance(value, list) else []
        code, np_dtype = DTYPES[dtype]
        if np_dtype is None or dtype == "string":  # bf16 and strings: let onnx encode them
            if dtype == "string":
                flat = [str(x).encode() for x in flat]
            return helper.make_tensor(name, code, dims, flat)
        from onnx import numpy_helper
        array = np.array(flat, dtype=np_dtype).reshape(dims)
        return numpy_helper.from_array(array, name)

    def _attribute(self, key, value, rng):
        """{"int": 1} / {"ints": [..]} / ... -> AttributeProto."""
        helper, A = self.helper, self.onnx.AttributeProto
        if not isinstance(value, dict) or len(value) != 1:
            raise Refused(f"dlsmith: bad call: attribute {key} must be {{kind: value}}")
        (kind, v), = value.items()
        if kind == "int":
            return helper.make_attribute(key, int(v), attr_type=A.INT)
        if kind == "ints":
            return helper.make_attribute(key, [int(x) for x in v], attr_type=A.INTS)
        if kind == "float":
            return helper.make_attribute(key, float(v), attr_type=A.FLOAT)
        if kind == "floats":
            return helper.make_attribute(key, [float(x) for x in v], attr_type=A.FLOATS)
        if kind == "string":
            return helper.make_attribute(key, str(v), attr_type=A.STRING)
        if kind == "strings":
            return helper.make_attribute(key, [str(x) for x in v], attr_type=A.STRINGS)
        if kind == "dtype":
            if v not in DTYPES:
                raise Refused(f"dlsmith: bad call: attribute {key}: unknown dtype {v!r}")
            return helper.make_attribute(key, DTYPES[v][0], attr_type=A.INT)
        if kind == "tensor":
            if not isinstance(v, dict) or v.get("dtype") not in DTYPES:
                raise Refused(f"dlsmith: bad call: attribute {key}: a tensor needs a dtype")
            if "value" in v:
                tensor = self._value_tensor(key, v["dtype"], v)
            else:
                _check_shape(v.get("shape"), f"attribute {key}")
                data = fill(rng, v["dtype"], v["shape"])
                tensor = self._value_tensor(key, v["dtype"], {
                    "value": data.reshape(-1).tolist(), "shape": v["shape"]})
            tensor.name = ""
            return helper.make_attribute(key, tensor, attr_type=A.TENSOR)
        raise Refused(f"dlsmith: bad call: attribute {key}: unknown kind {kind!r}")

    def _check_inferred_size(self, model):
        """Refuse a node without data inputs whose inferred output is too large: onnxruntime
        computes such a node when it loads the model (constant folding), before we could look."""
        try:
            inferred = self.onnx.shape_inference.infer_shapes(model, data_prop=True)
        except Exception:
            return  # onnxruntime will report the problem itself
        for v in inferred.graph.output:
            t = v.type.tensor_type
            if t.HasField("shape"):
                dims = [d.dim_value if d.HasField("dim_value") else None for d in t.shape.dim]
                if None not in dims and math.prod(dims) > MAX_OUTPUT_ELEMENTS:
                    raise Refused(f"dlsmith: output too large ({v.name} inferred {dims})")


def _failure(stage, message):
    return {"ok": False, "stage": stage, "error": message}


def _describe(e):
    return f"{type(e).__name__}: {e}".splitlines()[0][:MAX_ERROR_CHARS]


def _flatten(value):
    if isinstance(value, list):
        for x in value:
            yield from _flatten(x)
    else:
        yield value


def _check_shape(shape, what):
    if not isinstance(shape, list) or not all(type(d) is int for d in shape):
        raise Refused(f"dlsmith: bad call: {what} needs a \"shape\" (a list of integers)")
    if any(d < 0 for d in shape) or math.prod(shape) > MAX_INPUT_ELEMENTS:
        raise Refused("dlsmith: input too large or negative dimension")


def fill(rng, dtype, shape, index=False):
    """Deterministic data for a data input (bf16 as its uint16 bit patterns; integers 0 for an
    index input, else 1): an ndarray, also when 0-d (NumPy operations turn 0-d arrays into
    scalars, which onnxruntime rejects)."""
    return np.asarray(_fill(rng, dtype, shape, index)).reshape(shape)


def _fill(rng, dtype, shape, index):
    if dtype in FLOAT_DTYPES:
        data = rng.uniform(-1.0, 1.0, size=shape)
        if dtype == "bf16":
            bits = data.astype(np.float32).view(np.uint32)
            return ((bits + 0x8000) >> 16).astype(np.uint16)  # round to nearest
        return data.astype(DTYPES[dtype][1])
    if dtype in INTEGER_DTYPES:
        return np.full(shape, 0 if index else 1, dtype=DTYPES[dtype][1])
    if dtype == "bool":
        return rng.random(size=shape) < 0.5
    # strings: small decimals, so that Cast from string works
    data = rng.uniform(-1.0, 1.0, size=shape)
    return np.array([f"{x:.2f}" for x in np.reshape(data, -1)], dtype=object).reshape(shape)


# Calls refused instead of run because they kill or stall onnxruntime 1.32 (found by fuzzing
# every operator of `schemas` with random calls); each entry: (operator, condition, predicate
# over the call). Besides these, trailing omitted inputs are dropped from the node (which is the
# same node in ONNX): with a trailing "" input DFT (no axis) segfaults and LayerNormalization
# (no B) segfaults when optimized.
def _unique_zero_after_axis(call):
    """Unique with an axis aborts (std::terminate) when a dimension after the axis is 0."""
    axis = (call.get("attributes") or {}).get("axis")
    shape = ((call.get("inputs") or [None])[0] or {}).get("shape")
    if not isinstance(axis, dict) or not isinstance(shape, list):
        return False
    axis = axis.get("int")
    if not isinstance(axis, int) or not -len(shape) <= axis < len(shape):
        return False
    return 0 in shape[axis % len(shape) + 1:]


def _stft_empty_frame(call):
    """STFT dies of SIGFPE when the frame is empty: frame_length 0 or a window of 0 elements."""
    specs = (call.get("inputs") or []) + [None] * 4
    window, length = specs[2], specs[3]
    if isinstance(length, dict) and "value" in length:
        if 0 in list(_flatten(length["value"])):
            return True
    if isinstance(window, dict) and "value" in window:
        return not list(_flatten(window["value"]))
    return isinstance(window, dict) and 0 in (window.get("shape") or [1])


def _conv_transpose_empty_volume(call):
    """ConvTranspose over 3 or more spatial dimensions segfaults when one of them is 0."""
    shape = ((call.get("inputs") or [None])[0] or {}).get("shape")
    return isinstance(shape, list) and len(shape) >= 5 and 0 in shape[2:]


def _int_attribute(call, name):
    value = (call.get("attributes") or {}).get(name)
    return value.get("int") if isinstance(value, dict) else None


def _roi_align_samples(call):
    """RoiAlign precomputes sampling_ratio^2 interpolation entries per output cell (and per
    RoI): sampling_ratio 20000 for a 1x1 output takes 14 GB and minutes; 2^31 segfaults."""
    ratio = _int_attribute(call, "sampling_ratio") or 0
    cells = (_int_attribute(call, "output_height") or 1) * (_int_attribute(call, "output_width")
                                                             or 1)
    return ratio * ratio * max(cells, 1) > 1 << 22


REFUSED_CALLS = [
    ("Unique", "axis given and a dimension after it is 0 (aborts)", _unique_zero_after_axis),
    ("Split", "more outputs than num_outputs (assertion failure)",
     lambda call: 1 <= (_int_attribute(call, "num_outputs") or 0) < call.get("outputs", 1)),
    ("GatherND", "negative batch_dims (segfaults)",
     lambda call: (_int_attribute(call, "batch_dims") or 0) < 0),
    ("STFT", "empty frame: frame_length 0 or an empty window (SIGFPE)", _stft_empty_frame),
    ("ConvTranspose", "3+ spatial dimensions, one of them 0 (segfaults)",
     _conv_transpose_empty_volume),
    ("RoiAlign", "sampling_ratio^2 * output cells > 2^22 (huge allocation, segfault)",
     _roi_align_samples),
]


def refused_call(op, call):
    """The reason a call is refused (REFUSED_CALLS), or None."""
    for name, condition, predicate in REFUSED_CALLS:
        if name == op:
            try:
                if predicate(call):
                    return f"{op}: {condition}"
            except Exception:
                pass
    return None


POOLING_OPS = ("MaxPool", "AveragePool", "LpPool")
CONVOLUTION_WEIGHTS = {"Conv": 1, "ConvInteger": 1, "DeformConv": 1, "QLinearConv": 3}


def estimated_work(op, call, inferred):
    """Multiply-adds (window visits for pooling) of a windowed kernel, from the call and the
    inferred output shapes; 0 for other operators or when a shape is not known."""
    try:
        specs = call.get("inputs") or []
        shapes = [s.get("shape") if isinstance(s, dict) else None for s in specs]
        if op in POOLING_OPS:
            kernel = ((call.get("attributes") or {}).get("kernel_shape") or {}).get("ints")
            if inferred and inferred[0] is not None and kernel:
                return math.prod(inferred[0]) * math.prod(max(k, 1) for k in kernel)
        elif op in CONVOLUTION_WEIGHTS:
            weights = shapes[CONVOLUTION_WEIGHTS[op]]
            if inferred and inferred[0] is not None and weights:
                return math.prod(inferred[0]) * math.prod(weights[1:])
        elif op == "ConvTranspose" and shapes[0] and shapes[1]:
            return math.prod(shapes[0]) * math.prod(shapes[1][1:])
    except Exception:
        pass
    return 0


# ---------------------------------------------------------------------------------------------
# Error messages.

_ORT_PREFIX = re.compile(r"\[ONNXRuntimeError\] : \d+ : (\w+) : ")
_RUN_PREFIX = re.compile(r"Non-zero status code returned while running \w+ node\. "
                         r"Name:'[^']*' Status Message: ")
# "file.cc:123 " -- a full path is followed by the C++ signature of the function, a bare file
# name by the function's name only.
_SOURCE = re.compile(r"(/\S*/)?[\w.+-]+\.(?:cc|cpp|c|h|hpp|cu|inc):\d+ ")
_NOISE = [
    re.compile(r"In Node, \(\"n\".*?\) , Error "),          # "("n", Op, "", -1) : (..) -> (..)"
    re.compile(r"Node \([^)]*\) Op \(\w+\) "),
    re.compile(r" ?(?:in )?node (?:with name )?(?:'n'|\(n\)|n\b)"),
    re.compile(r"\S*::<lambda\(\)> "),
]
_TYPE_LIST = re.compile(r"tensor\(\w+\)(?:,tensor\(\w+\))+")


def _skip_function(text, signature):
    """`text` without the function that starts it: a C++ signature (balanced parentheses, then
    " const" and " [with T = ...]") when `signature`, else one identifier."""
    if not signature:
        m = re.match(r"(?:operator\(\)|[\w~]+) ", text)
        return text[m.end():] if m else text
    i = text.find("(")
    if i < 0 or "::" not in text[:i] and "operator" not in text[:i]:
        return text
    depth, j = 0, i
    while j < len(text):
        if text[j] == "(":
            depth += 1
        elif text[j] == ")":
            depth -= 1
            if depth == 0 and text[j + 1:j + 2] != "(":  # operator()(...)
                j += 1
                break
        j += 1
    rest = text[j:]
    if rest.startswith(" const"):
        rest = rest[len(" const"):]
    rest = rest.lstrip(" ")
    if rest.startswith("[with "):
        depth = 0
        for k, c in enumerate(rest):
            depth += (c == "[") - (c == "]")
            if depth == 0:
                rest = rest[k + 1:]
                break
    return rest.lstrip(" ")


def clean_error(e):
    """onnxruntime's message on one short line: without the status prefixes, source locations,
    C++ signatures and the node's name."""
    text = str(e)
    code = type(e).__name__
    m = _ORT_PREFIX.match(text)
    if m:
        code = m.group(1)
    text = _ORT_PREFIX.sub("", text)  # also the nested ones of a status wrapping a status
    text = _RUN_PREFIX.sub("", text)
    for _ in range(8):
        m = _SOURCE.search(text)
        if not m:
            break
        text = text[:m.start()] + _skip_function(text[m.end():], m.group(1) is not None)
    for pattern in _NOISE:
        text = pattern.sub("", text)
    # Deterministic text: onnxruntime prints some type sets in hash order, and addresses.
    text = _TYPE_LIST.sub(lambda m: ",".join(sorted(m.group(0).split(","))), text)
    text = re.sub(r"0x[0-9a-fA-F]{6,}", "0x?", text)
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    text = re.sub(r"\s+", " ", lines[0]) if lines else "(no message)"
    return f"{code}: {text}"[:MAX_ERROR_CHARS]


# ---------------------------------------------------------------------------------------------
# serve

def read_frame(stream):
    """The body of the next frame on `stream` (a binary file), or None at the end of input."""
    header = stream.read(4)
    if len(header) < 4:
        return None
    n = struct.unpack("<I", header)[0]
    body = stream.read(n)
    return body if len(body) == n else None


def frame(message):
    """`message` as a frame: its compact JSON with the length in front."""
    body = json.dumps(message, separators=(",", ":")).encode()
    return struct.pack("<I", len(body)) + body


def serve(opset):
    out = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)  # whatever the libraries print goes to stderr
    sys.stdout = sys.stderr
    try:  # die with the parent (Linux: PR_SET_PDEATHSIG = 1, SIGKILL = 9)
        import ctypes
        ctypes.CDLL(None).prctl(1, 9, 0, 0, 0)
    except Exception:
        pass
    try:
        import resource
        soft, hard = resource.getrlimit(resource.RLIMIT_AS)
        limit = ADDRESS_SPACE_LIMIT if hard == resource.RLIM_INFINITY \
            else min(ADDRESS_SPACE_LIMIT, hard)
        resource.setrlimit(resource.RLIMIT_AS, (limit, hard))
    except Exception:
        pass
    tracer = Tracer(opset)
    while (body := read_frame(sys.stdin.buffer)) is not None:
        try:
            request = json.loads(body.decode("utf-8", "replace"))
            if not isinstance(request, dict):
                raise ValueError("a request is a JSON object")
            response = tracer.handle(request)
        except Exception as e:
            response = {"error": f"dlsmith: malformed request: {_describe(e)}"}
        try:
            out.write(frame(response))
            out.flush()
        except (BrokenPipeError, OSError):
            os._exit(0)  # the Swift side is gone
    sys.exit(0)


# ---------------------------------------------------------------------------------------------
# selftest

def selftest(opset):
    """Known valid and invalid calls, a protocol round trip, and the per-call latency."""
    tracer = Tracer(opset)
    failures = 0

    def data(dtype, shape):
        return {"dtype": dtype, "shape": shape}

    def value(values, dtype="i64"):
        return {"dtype": dtype, "value": values}

    def check(label, op, call, expected):
        nonlocal failures
        result = tracer.trace(op, call)
        again = tracer._trace(op, call)  # bypasses the cache: must give the same answer
        if expected is None:
            good = result["ok"] is False
        else:
            good = result.get("ok") is True and result["shapes"] == expected
        good = good and again == result
        failures += not good
        detail = result["shapes"] if result.get("ok") else f"{result['stage']}: {result['error']}"
        wanted = "" if good else f"  (expected {expected or 'an error'})"
        print(f"{'OK  ' if good else 'FAIL'} {label}: {detail}{wanted}")

    for optimize in (True, False):
        o = {"optimize": optimize}
        tag = "opt" if optimize else "noopt"
        check(f"Conv 1x3x8x8 * 4x3x3x3 [{tag}]", "Conv",
              {"inputs": [data("f32", [1, 3, 8, 8]), data("f32", [4, 3, 3, 3]), None], **o},
              [[1, 4, 6, 6]])
        check(f"Conv strides 2, pads 1, bias [{tag}]", "Conv",
              {"inputs": [data("f32", [2, 3, 9, 9]), data("f32", [8, 3, 3, 3]),
                          data("f32", [8])],
               "attributes": {"strides": {"ints": [2, 2]}, "pads": {"ints": [1, 1, 1, 1]}}, **o},
              [[2, 8, 5, 5]])
        check(f"Conv group 2 [{tag}]", "Conv",
              {"inputs": [data("f32", [1, 4, 5, 5]), data("f32", [6, 2, 1, 1])],
               "attributes": {"group": {"int": 2}}, **o}, [[1, 6, 5, 5]])
        check(f"Conv channel mismatch (invalid) [{tag}]", "Conv",
              {"inputs": [data("f32", [1, 3, 8, 8]), data("f32", [4, 2, 3, 3])], **o}, None)
        check(f"Conv kernel larger than input (invalid) [{tag}]", "Conv",
              {"inputs": [data("f32", [1, 1, 2, 2]), data("f32", [1, 1, 3, 3])], **o}, None)
        check(f"Reshape 2x3x4 -> [4,-1] [{tag}]", "Reshape",
              {"inputs": [data("f32", [2, 3, 4]), value([4, -1])], **o}, [[4, 6]])
        check(f"Reshape 2x3x4 -> [0,0,2,2] [{tag}]", "Reshape",
              {"inputs": [data("i32", [2, 3, 4]), value([0, 0, 2, 2])], **o}, [[2, 3, 2, 2]])
        check(f"Reshape 2x3x4 -> [5,5] (invalid) [{tag}]", "Reshape",
              {"inputs": [data("f32", [2, 3, 4]), value([5, 5])], **o}, None)
        check(f"MatMul 2x3x4 @ 4x5 [{tag}]", "MatMul",
              {"inputs": [data("f32", [2, 3, 4]), data("f32", [4, 5])], **o}, [[2, 3, 5]])
        check(f"MatMul 7 @ 7 [{tag}]", "MatMul",
              {"inputs": [data("f64", [7]), data("f64", [7])], **o}, [[]])
        check(f"MatMul 2x3 @ 4x5 (invalid) [{tag}]", "MatMul",
              {"inputs": [data("f32", [2, 3]), data("f32", [4, 5])], **o}, None)
        check(f"Slice 10x8 [1:7:2, -3:] [{tag}]", "Slice",
              {"inputs": [data("f32", [10, 8]), value([1, -3]), value([7, 100]), value([0, 1]),
                          value([2, 1])], **o}, [[3, 3]])
        check(f"Slice axes out of range (invalid) [{tag}]", "Slice",
              {"inputs": [data("f32", [10, 8]), value([1]), value([7]), value([2])], **o}, None)
        check(f"Slice step 0 (invalid) [{tag}]", "Slice",
              {"inputs": [data("f32", [10, 8]), value([1]), value([7]), value([0]), value([0])],
               **o}, None)
        check(f"Add 3x1x5 + 4x1 [{tag}]", "Add",
              {"inputs": [data("f32", [3, 1, 5]), data("f32", [4, 1])], **o}, [[3, 4, 5]])
        check(f"Add scalar + 0x2 [{tag}]", "Add",
              {"inputs": [data("i64", []), data("i64", [0, 2])], **o}, [[0, 2]])
        check(f"Add 3 + 4 (invalid) [{tag}]", "Add",
              {"inputs": [data("f32", [3]), data("f32", [4])], **o}, None)
        check(f"Add f32 + f64 (invalid) [{tag}]", "Add",
              {"inputs": [data("f32", [3]), data("f64", [3])], **o}, None)
    if opset >= 13:  # split became an input, bf16 a Cast type
        check("Split 10 -> [2,3,5], 3 outputs", "Split",
              {"inputs": [data("f32", [10, 2]), value([2, 3, 5])], "outputs": 3},
              [[2, 2], [3, 2], [5, 2]])
        check("Cast bf16 -> f32", "Cast",
              {"inputs": [data("bf16", [4])], "attributes": {"to": {"int": 1}}}, [[4]])
    check("Cast string -> f16 (dtype attribute)", "Cast",
          {"inputs": [data("string", [2, 3])], "attributes": {"to": {"dtype": "f16"}}}, [[2, 3]])
    check("ConstantOfShape [2,3] value tensor", "ConstantOfShape",
          {"inputs": [value([2, 3])],
           "attributes": {"value": {"tensor": {"dtype": "i32", "value": [7]}}}}, [[2, 3]])
    check("ConstantOfShape [1<<20,1<<20] (refused)", "ConstantOfShape",
          {"inputs": [value([1 << 20, 1 << 20])]}, None)
    check("TopK K=[2] over 3x5", "TopK",
          {"inputs": [data("f32", [3, 5]), value([2])], "outputs": 2}, [[3, 2], [3, 2]])
    check("Range 0-d ints 1..10 step 3", "Range",
          {"inputs": [value(1), value(10), value(3)]}, [[3]])
    if opset >= 17:
        check("LayerNormalization, B omitted (a trailing \"\" crashes ORT)", "LayerNormalization",
              {"inputs": [data("f32", [5, 3]), data("f32", [3]), None]}, [[5, 3]])
    if opset >= 20:
        check("DFT, dft_length and axis omitted", "DFT",
              {"inputs": [data("f32", [1, 5, 1]), None, None]}, [[1, 5, 2]])
    check("Unique axis 0 over 3x0 (refused: aborts ORT)", "Unique",
          {"inputs": [data("f32", [3, 0])], "attributes": {"axis": {"int": 0}}}, None)
    check("Too large input (refused)", "Relu", {"inputs": [data("f32", [1 << 17])]}, None)
    check("Unknown op (invalid)", "NoSuchOp", {"inputs": [data("f32", [2])]}, None)
    check("Malformed call", "Relu", {"inputs": [{"dtype": "f99", "shape": [2]}]}, None)

    # The serve protocol, in a subprocess.
    import subprocess
    requests = [json.dumps({"op": "Add", "calls": [
                    {"inputs": [data("f32", [2, 1]), data("f32", [3])]},
                    {"inputs": [data("f32", [2]), data("f32", [3])]}]}),
                "this is not json", "", json.dumps({"op": "Relu"}),
                json.dumps({"op": "Relu", "calls": [{"inputs": [data("f32", [2])]}]})]
    stream = b"".join(struct.pack("<I", len(r.encode())) + r.encode() for r in requests)
    proc = subprocess.run([sys.executable, os.path.abspath(__file__), "serve",
                           "--opset", str(opset)], input=stream, capture_output=True, timeout=120)
    answers, reader = [], io.BytesIO(proc.stdout)
    while (body := read_frame(reader)) is not None:
        answers.append(json.loads(body))
    good = (proc.returncode == 0 and len(answers) == 5
            and answers[0]["results"][0] == {"ok": True, "shapes": [[2, 3]], "dtypes": ["f32"]}
            and answers[0]["results"][1]["ok"] is False
            and all("error" in a for a in answers[1:4])
            and answers[4]["results"] == [{"ok": True, "shapes": [[2]], "dtypes": ["f32"]}])
    failures += not good
    print(f"{'OK  ' if good else 'FAIL'} serve protocol: exit {proc.returncode}, "
          f"{len(answers)} answers for 5 requests")

    # Per-call latency: distinct calls, so that the cache never answers.
    for optimize in (True, False):
        for op, make in (
                ("Conv", lambda i: [data("f32", [1, 1 + i % 4, 6 + i % 11, 6 + i // 11 % 5]),
                                    data("f32", [1 + i % 3, 1 + i % 4, 3, 3])]),
                ("Add", lambda i: [data("f32", [1 + i % 7, 1, 1 + i // 7 % 9]),
                                   data("f32", [1 + i // 63 % 4, 1])])):
            calls = [{"inputs": make(i), "optimize": optimize} for i in range(200)]
            start = time.perf_counter()
            results = [tracer._trace(op, call) for call in calls]  # not cached
            elapsed = time.perf_counter() - start
            ok = sum(r["ok"] for r in results)
            print(f"TIME {op} x200 optimize={optimize}: {elapsed / 200 * 1e3:.2f} ms/call "
                  f"({ok} valid)")
    print("all passed" if not failures else f"{failures} FAILED")
    return 1 if failures else 0


# ---------------------------------------------------------------------------------------------

def main(argv):
    usage = "usage: dlsmith_trace.py schemas|serve|selftest [--opset N]\n"
    if not argv or argv[0] not in ("schemas", "serve", "selftest"):
        sys.stderr.write(usage)
        return 2
    opset = DEFAULT_OPSET
    rest = argv[1:]
    if rest:
        if len(rest) != 2 or rest[0] != "--opset" or not rest[1].isdigit():
            sys.stderr.write(usage)
            return 2
        opset = int(rest[1])
    if argv[0] == "schemas":
        _quiet_onnxruntime()
        sys.stdout.write(json.dumps(list_schemas(opset), indent=1) + "\n")
        return 0
    if argv[0] == "serve":
        serve(opset)
        return 0
    return selftest(opset)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
