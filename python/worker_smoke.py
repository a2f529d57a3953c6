#!/usr/bin/env python3
"""Smoke test of dlsmith_worker.py: talks to a worker process the way the Swift side does.

Usage: python3 worker_smoke.py [backend ...]      (default: every backend of the worker)

Starts `dlsmith_worker.py --backend NAME`, sends small ONNX models (Add/MatMul/Conv f32, two
outputs, f16, f64, int64, outputs that alias inputs or constants, Shape/Size outputs, 0-d and
bool tensors, a model that fails to compile, a model fed inputs that mismatch its declared shapes) as frames (4-byte little-endian length + JSON), and checks every reply against
NumPy: each request gets "compiled" then a "result", outputs come back in graph-output order with
the right dtypes and shapes, failures are {"event": "result", "stage": ..., "error": ...}. Prints
one line per model with the time from request to reply minus that of the same request
again (served by the cached session): roughly the compile time (the first line also includes
the worker's start-up, mostly imports). Exit status 1 if a check failed. Needs
numpy and onnx (plus the backend's package for the worker).
"""
import os
import sys
import time

import numpy as np
import onnx
from onnx import TensorProto as T
from onnx import helper as h

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from worker_client import Worker, decode  # noqa: E402

BACKENDS = ["ort", "ort-noopt", "onnx-ref", "openvino", "openvino-default", "tvm", "tvm-opt"]


def model(nodes, inputs, outputs, inits=(), opset=17, check=True):
    g = h.make_graph(nodes, "smoke", [h.make_tensor_value_info(n, t, s) for n, t, s in inputs],
                     [h.make_tensor_value_info(n, t, s) for n, t, s in outputs], list(inits))
    m = h.make_model(g, opset_imports=[h.make_opsetid("", opset)])
    m.ir_version = 8
    if check:
        onnx.checker.check_model(m)
    return m.SerializeToString()


# Known precision limits, not protocol failures: reported "known" instead of "FAIL".
KNOWN = {("openvino", "add-f64"): "the CPU plugin computes f64 in f32",
         ("openvino-default", "add-f64"): "the CPU plugin computes f64 in f32",
         ("openvino-default", "matmul-f32-64"): "bf16 inference precision (CPUs with AVX512-BF16/AMX)",
         ("openvino-default", "conv-f32"): "bf16 inference precision (CPUs with AVX512-BF16/AMX)"}


def conv(x, w):
    n, c, hh, ww = x.shape
    k, _, r, s = w.shape
    out = np.zeros((n, k, hh - r + 1, ww - s + 1), dtype=np.float64)
    for i in range(hh - r + 1):
        for j in range(ww - s + 1):
            out[:, :, i, j] = np.einsum("ncrs,kcrs->nk", x[:, :, i:i + r, j:j + s], w)
    return out


def cases():
    """(name, onnx bytes, inputs, expected outputs or None, expected error stage or None, rtol)."""
    rng = np.random.default_rng(7)
    f32 = lambda *s: rng.standard_normal(s).astype(np.float32)
    a, b = f32(2, 3), f32(2, 3)
    yield ("add-f32", model([h.make_node("Add", ["a", "b"], ["y"])], [("a", T.FLOAT, [2, 3]), ("b", T.FLOAT, [2, 3])],
                            [("y", T.FLOAT, [2, 3])]), [a, b], [a + b], None, 1e-6)
    a, b = f32(64, 64), f32(64, 64)
    yield ("matmul-f32-64", model([h.make_node("MatMul", ["a", "b"], ["y"])],
                                  [("a", T.FLOAT, [64, 64]), ("b", T.FLOAT, [64, 64])], [("y", T.FLOAT, [64, 64])]),
           [a, b], [a @ b], None, 1e-5)
    x, w = f32(1, 2, 5, 5), f32(3, 2, 3, 3)
    yield ("conv-f32", model([h.make_node("Conv", ["x", "w"], ["y"])], [("x", T.FLOAT, [1, 2, 5, 5]), ("w", T.FLOAT, [3, 2, 3, 3])],
                             [("y", T.FLOAT, [1, 3, 3, 3])]), [x, w], [conv(x.astype(np.float64), w.astype(np.float64)).astype(np.float32)], None, 1e-5)
    a, b = f32(3, 4), f32(3, 4)
    # Outputs listed in the opposite order of the nodes that compute them; a third output is an input.
    yield ("two-outputs", model([h.make_node("Add", ["a", "b"], ["s"]), h.make_node("Mul", ["a", "b"], ["p"]),
                                 h.make_node("Relu", ["p"], ["r"])],
                                [("a", T.FLOAT, [3, 4]), ("b", T.FLOAT, [3, 4])], [("r", T.FLOAT, [3, 4]), ("s", T.FLOAT, [3, 4])]),
           [a, b], [np.maximum(a * b, 0), a + b], None, 1e-6)
    a, b = f32(2, 3).astype(np.float16), f32(2, 3).astype(np.float16)
    yield ("add-f16", model([h.make_node("Add", ["a", "b"], ["y"])], [("a", T.FLOAT16, [2, 3]), ("b", T.FLOAT16, [2, 3])],
                            [("y", T.FLOAT16, [2, 3])]), [a, b], [a + b], None, 1e-3)
    a, b = rng.standard_normal((2, 3)), rng.standard_normal((2, 3))
    yield ("add-f64", model([h.make_node("Add", ["a", "b"], ["y"])], [("a", T.DOUBLE, [2, 3]), ("b", T.DOUBLE, [2, 3])],
                            [("y", T.DOUBLE, [2, 3])]), [a, b], [a + b], None, 1e-15)
    i, j = rng.integers(-1000, 1000, (2, 3)), rng.integers(1, 1000, (2, 3))
    yield ("i64-ops", model([h.make_node("Mul", ["i", "j"], ["m"]), h.make_node("Sub", ["m", "j"], ["d"]),
                             h.make_node("ReduceSum", ["d"], ["y"], keepdims=0), h.make_node("Shape", ["i"], ["s"])],
                            [("i", T.INT64, [2, 3]), ("j", T.INT64, [2, 3])], [("y", T.INT64, []), ("s", T.INT64, [2])]),
           [i, j], [np.array((i * j - j).sum()), np.array([2, 3])], None, 0)
    yield ("compile-error", model([h.make_node("NoSuchOp", ["a"], ["y"])], [("a", T.FLOAT, [2, 3])],
                                  [("y", T.FLOAT, [2, 3])], check=False), [f32(2, 3)], None, "compile", 0)
    # Fails while compiling (TVM, OpenVINO) or running (onnxruntime, onnx.reference).
    yield ("reshape-error", model([h.make_node("Reshape", ["a", "shape"], ["y"])], [("a", T.FLOAT, [2, 3])],
                                  [("y", T.FLOAT, [4, 4])], [onnx.numpy_helper.from_array(np.array([4, 4], np.int64), "shape")]),
           [f32(2, 3)], None, ("compile", "execute"), 0)
    yield ("execute-error", model([h.make_node("MatMul", ["a", "b"], ["y"])], [("a", T.FLOAT, ["n", "k"]), ("b", T.FLOAT, ["k", "m"])],
                                  [("y", T.FLOAT, ["n", "m"])]), [f32(2, 3), f32(4, 5)], None, ("execute",), 0)
    a = f32(2, 3)
    # Outputs a compiler may fold or alias: a graph input, a constant, the same value twice.
    yield ("aliased-outputs", model([h.make_node("Relu", ["a"], ["r"]),
                                     h.make_node("Constant", [], ["c"], value=onnx.numpy_helper.from_array(np.array([1.5, -2], np.float32)))],
                                    [("a", T.FLOAT, [2, 3])], [("r", T.FLOAT, [2, 3]), ("a", T.FLOAT, [2, 3]), ("c", T.FLOAT, [2]),
                                                               ("r", T.FLOAT, [2, 3])]),
           [a], [np.maximum(a, 0), a, np.array([1.5, -2], np.float32), np.maximum(a, 0)], None, 1e-6)
    # Shape-only results (Relax folds them to a Shape / a scalar), bool, 0-d inputs.
    yield ("shape-output", model([h.make_node("Shape", ["a"], ["s"])], [("a", T.FLOAT, [2, 3])], [("s", T.INT64, [2])]),
           [a], [np.array([2, 3])], None, 0)
    yield ("size-output", model([h.make_node("Size", ["a"], ["n"]), h.make_node("Shape", ["a"], ["s"])], [("a", T.FLOAT, [2, 3])],
                                [("n", T.INT64, []), ("s", T.INT64, [2])]), [a], [np.array(6), np.array([2, 3])], None, 0)
    x, y = f32(), f32()
    yield ("scalar-bool", model([h.make_node("Less", ["x", "y"], ["l"]), h.make_node("Add", ["x", "y"], ["s"])],
                                [("x", T.FLOAT, []), ("y", T.FLOAT, [])], [("l", T.BOOL, []), ("s", T.FLOAT, [])]),
           [x, y], [np.array(x < y), np.array(x + y, np.float32)], None, 1e-6)


def check(backend):
    w = Worker(backend)
    failures = 0
    try:
        for name, m, xs, want, error_stage, rtol in cases():
            start = time.monotonic()
            events = w.run(m, xs)
            elapsed = time.monotonic() - start
            if "outputs" in events[-1] and not error_stage:  # again (the cached session), new inputs
                start = time.monotonic()
                again = w.run(m, xs)
                rerun = time.monotonic() - start
                if again[-1] != events[-1]:
                    events = again[:-1] + [{"event": "result", "error": "the cached session answered differently", "stage": "rerun"}]
                elapsed -= rerun  # ~ compile time
            r = events[-1]
            status = ""
            if "unsupported" in r:
                status = f"unsupported: {r['unsupported'][:120]}"
            elif "error" in r:
                ok = error_stage is not None and r["stage"] in error_stage and len(events) == (1 if r["stage"] == "compile" else 2)
                status = f"{'ok' if ok else 'FAIL'} {r['stage']} error: {r['error'].splitlines()[0][:140]}"
                failures += not ok
            else:
                outs = [decode(t) for t in r["outputs"]]
                problems = []
                if error_stage:
                    problems.append(f"expected a {error_stage} error")
                elif [e["event"] for e in events] != ["compiled", "result"]:
                    problems.append(f"events {[e['event'] for e in events]}")
                elif len(outs) != len(want):
                    problems.append(f"{len(outs)} outputs, want {len(want)}")
                else:
                    for k, (o, e) in enumerate(zip(outs, want)):
                        e = np.asarray(e)
                        if o.dtype != e.dtype or o.shape != e.shape:
                            problems.append(f"output {k}: {o.dtype}{list(o.shape)} want {e.dtype}{list(e.shape)}")
                        elif not np.allclose(o.astype(np.float64), e.astype(np.float64), rtol=rtol, atol=rtol):
                            err = np.max(np.abs(o.astype(np.float64) - e.astype(np.float64)) / (np.abs(e.astype(np.float64)) + 1e-30))
                            problems.append(f"output {k}: max rel err {err:.2e} > {rtol}")
                known = KNOWN.get((backend, name))
                status = "ok" if not problems else f"{'known' if known else 'FAIL'} " + "; ".join(problems)
                status += f" ({known})" if problems and known else ""
                failures += bool(problems) and not known
            print(f"{backend:17s} {name:16s} {elapsed * 1000:7.0f} ms  {status}", flush=True)
    finally:
        rc = w.close()
    if rc != 0:
        print(f"{backend}: worker exited {rc}")
        failures += 1
    return failures


def main():
    backends = sys.argv[1:] or BACKENDS
    sys.exit(1 if sum(check(b) for b in backends) else 0)


if __name__ == "__main__":
    main()
