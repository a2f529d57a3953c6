#!/usr/bin/env python3
"""DLSmith worker for Python-hosted ONNX backends.

Usage: python3 dlsmith_worker.py --backend ort|ort-noopt|onnx-ref|openvino|openvino-default|tvm

Backends: ort / ort-noopt (onnxruntime CPU, ORT_ENABLE_ALL / ORT_DISABLE_ALL), onnx-ref
(onnx.reference), openvino (CPU plugin in f32: INFERENCE_PRECISION_HINT f32, EXECUTION_MODE_HINT
ACCURACY), openvino-default (CPU plugin defaults: bf16 on CPUs with AVX512-BF16/AMX), tvm (Relax
from_onnx, tvm.compile for llvm, relax.VirtualMachine).

Speaks the DLSmith worker protocol (Sources/Fuzzing/WorkerProtocol.swift) on stdin/stdout: every
message is a frame, a 4-byte little-endian length then that many bytes of UTF-8 JSON.

  request  {"model": <base64 .dlsmith.json>, "onnx": <base64 ONNX ModelProto>,
            "inputs": [{"dtype": "f32", "shape": [2, 3], "bits": <base64>}, ...]}
  replies  {"event": "compiled"}                      after the session exists (each request)
           {"event": "result", "outputs": [...]}      tensors encoded like the inputs
           {"event": "result", "stage": "compile"|"execute", "error": "<ExceptionType>: <msg>"}
           {"event": "result", "unsupported": "<reason>"}

A tensor's "bits" are the base64 of its values as little-endian float64 bit patterns; dtypes are
the Swift DType raw values (f16 bf16 f32 f64 i32 i64 bool; i8 u8). bf16 has no NumPy dtype, so
models using bf16 are answered "unsupported". Graph inputs are fed by position (graph.inputs
order); outputs come back in graph.outputs order. The compiled session is cached by the SHA-256 of
the ONNX bytes, so the same model with new inputs is not recompiled. A backend whose package cannot
be imported answers every request "unsupported: unavailable: <reason>" and keeps serving.

Only the protocol goes to stdout: the real stdout is kept on a private descriptor and fd 1 is
pointed at stderr, so libraries that print (TVM, OpenVINO) cannot corrupt the stream. The worker
leads its own process group, asks to die with its parent (Linux), and exits 0 on EOF or a broken
pipe. Needs numpy and the backend's package only (onnx for onnx-ref and tvm).
"""
import base64
import hashlib
import json
import os
import struct
import sys

import numpy as np

DTYPES = {"f16": np.float16, "f32": np.float32, "f64": np.float64, "i32": np.int32,
          "i64": np.int64, "bool": np.bool_, "i8": np.int8, "u8": np.uint8}
NAMES = {np.dtype(v): k for k, v in DTYPES.items()}
BF16 = 16  # onnx.TensorProto.BFLOAT16


class Unsupported(Exception):
    """The backend cannot run this model (not a bug of the backend)."""


def describe(e):
    return f"{type(e).__name__}: {e}"


# ---------------------------------------------------------------------------------------------
# Backends: make(onnx_bytes) -> run(list of numpy arrays) -> list of numpy arrays.

def ort_backend(optimize):
    import onnxruntime as ort
    level = (ort.GraphOptimizationLevel.ORT_ENABLE_ALL if optimize
             else ort.GraphOptimizationLevel.ORT_DISABLE_ALL)

    def make(model):
        opts = ort.SessionOptions()
        opts.graph_optimization_level = level
        opts.intra_op_num_threads = 1  # deterministic, and campaigns parallelize by worker
        opts.inter_op_num_threads = 1
        try:
            sess = ort.InferenceSession(model, opts, providers=["CPUExecutionProvider"])
        except ort.capi.onnxruntime_pybind11_state.NotImplemented as e:
            raise Unsupported(f"not implemented in onnxruntime: {e}") from e
        names = [i.name for i in sess.get_inputs()]
        return lambda xs: sess.run(None, dict(zip(names, xs)))
    return make


def onnx_ref_backend():
    import onnx
    from onnx.reference import ReferenceEvaluator

    def make(model):
        ref = ReferenceEvaluator(onnx.load_from_string(model))
        return lambda xs: ref.run(None, dict(zip(ref.input_names, xs)))
    return make


# f32 inference precision: the CPU plugin's default hint is bf16 on CPUs with AVX512-BF16 or AMX (a
# 64x64 f32 MatMul then has relative error ~2e-3; with the hint it equals NumPy's float32 bit for bit).
# ACCURACY also turns off dynamic quantization (DYNAMIC_QUANTIZATION_GROUP_SIZE 32 -> 0), which
# otherwise quantizes the activations of a MatMul with int8 constant weights (relative error ~5e-3
# even with the f32 hint). No hint helps f64 and i64: the plugin computes them in f32 and i32
# (1e300 + 1e300 gives 3.4e38, 3e9 + 3e9 wraps).
OPENVINO_F32 = {"INFERENCE_PRECISION_HINT": "f32", "EXECUTION_MODE_HINT": "ACCURACY"}


def openvino_backend(config):
    import openvino as ov
    core = ov.Core()

    def make(model):
        compiled = core.compile_model(core.read_model(model=model), "CPU", config)

        def run(xs):
            result = compiled(xs)
            return [result[o] for o in compiled.outputs]
        return run
    return make


def tvm_backend():
    import onnx
    import tvm
    from tvm import relax
    from tvm.relax.frontend.onnx import from_onnx
    to_device = getattr(tvm.runtime, "tensor", None) or tvm.nd.array  # the name changed across versions
    shape_types = tuple(t for t in (getattr(tvm.runtime, "ShapeTuple", None),) if t is not None)

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

    def make(model):
        proto = onnx.load_from_string(model)
        elem_types = [o.type.tensor_type.elem_type for o in proto.graph.output]
        mod = from_onnx(proto, keep_params_in_input=False)
        vm = relax.VirtualMachine(tvm.compile(mod, target="llvm"), tvm.cpu())

        def run(xs):
            out = vm["main"](*[to_device(x) for x in xs])
            # One graph output is returned as is (a Shape is a tuple too); several as an Array.
            outs = [out] if len(elem_types) == 1 else list(out)
            if len(outs) != len(elem_types):
                raise TypeError(f"{len(outs)} outputs for {len(elem_types)} graph outputs")
            return [to_numpy(o, t) for o, t in zip(outs, elem_types)]
        return run
    return make


BACKENDS = {"ort": lambda: ort_backend(True), "ort-noopt": lambda: ort_backend(False),
            "onnx-ref": onnx_ref_backend, "openvino": lambda: openvino_backend(OPENVINO_F32),
            "openvino-default": lambda: openvino_backend({}), "tvm": tvm_backend}


# ---------------------------------------------------------------------------------------------
# Tensors and frames.

def decode_tensor(t):
    if t["dtype"] not in DTYPES:
        raise Unsupported(f"{t['dtype']} inputs (no NumPy dtype)")
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


def uses_bf16(model):
    """True if the ONNX model mentions bfloat16 anywhere we can see (needs the onnx package)."""
    try:
        import onnx
    except ImportError:
        return False
    g = onnx.load_from_string(model).graph
    types = [v.type.tensor_type.elem_type for v in list(g.input) + list(g.output) + list(g.value_info)]
    types += [t.data_type for t in g.initializer]
    types += [a.i for n in g.node for a in n.attribute if a.name == "to"]
    return BF16 in types


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
    cached_hash, cached_run = None, None
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
            digest = hashlib.sha256(model).hexdigest()
            if digest != cached_hash:
                cached_hash, cached_run = None, None
                if uses_bf16(model):
                    raise Unsupported("bf16 (no NumPy dtype)")
                cached_run, cached_hash = make(model), digest
            channel.send({"event": "compiled"})
            stage = "execute"
            outputs = [encode_tensor(o) for o in cached_run(xs)]
            channel.send({"event": "result", "outputs": outputs})
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
    try:
        os.setpgrp()  # the campaign kills the whole group on a timeout
    except OSError:
        pass
    try:  # die with the parent, like `dlsmith worker` (PR_SET_PDEATHSIG = 1, SIGKILL = 9)
        import ctypes
        ctypes.CDLL(None).prctl(1, 9, 0, 0, 0)
    except Exception:
        pass
    serve(args[1])


if __name__ == "__main__":
    main()
