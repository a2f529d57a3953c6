#!/usr/bin/env python3
"""DLSmith bug report: runs model.onnx on ort-noopt with inputs.npz and compares with expected.npz
(computed by DLSmith's float64 reference, rounded per operator to the model's dtypes).
Exit 1 when the bug reproduces (error, crash or values out of tolerance), 0 when fixed."""
import os, sys
import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
RTOL, ATOL = 0.0, 0.0
# int8/uint8 outputs may differ by this many quantization steps (a rounding-policy difference of
# an external implementation, judged unstable by dlsmith); other integer outputs must be equal.
QSLACK = 1.0

def run(model, feeds):
    backend = "ort-noopt"
    if backend in ("ort", "ort-noopt"):
        import onnxruntime as ort
        so = ort.SessionOptions()
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL if backend == "ort" else ort.GraphOptimizationLevel.ORT_DISABLE_ALL
        s = ort.InferenceSession(model, so, providers=["CPUExecutionProvider"])
        return dict(zip([o.name for o in s.get_outputs()], s.run(None, feeds)))
    if backend == "onnx-ref":
        import onnx
        from onnx.reference import ReferenceEvaluator
        m = onnx.load(model)
        return dict(zip([o.name for o in m.graph.output], ReferenceEvaluator(m).run(None, feeds)))
    if backend == "openvino":
        import openvino as ov
        c = ov.Core().compile_model(ov.Core().read_model(model), "CPU")
        r = c(feeds)
        return {o.get_any_name(): r[o] for o in c.outputs}
    if backend == "tvm":
        import onnx, tvm
        from tvm import relax
        mod = relax.frontend.onnx.from_onnx(onnx.load(model))
        vm = relax.VirtualMachine(tvm.compile(mod, target="llvm"), tvm.cpu())
        out = vm["main"](*[tvm.runtime.tensor(feeds[k]) for k in feeds])
        outs = out if isinstance(out, (list, tuple)) else [out]
        m = onnx.load(model)
        return {o.name: x.numpy() for o, x in zip(m.graph.output, outs)}
    raise SystemExit("unknown backend " + backend)

def main():
    feeds = dict(np.load(os.path.join(HERE, "inputs.npz")))
    expected = dict(np.load(os.path.join(HERE, "expected.npz")))
    try:
        actual = run(os.path.join(HERE, "model.onnx"), feeds)
    except Exception as e:
        print(f"reproduced: {type(e).__name__}: {e}")
        return 1
    bad = False
    for name, e in expected.items():
        a = np.asarray(actual[name])
        if a.shape != e.shape:
            print(f"{name}: shape {a.shape} != expected {e.shape}")
            bad = True
            continue
        e64, a64 = e.astype(np.float64), a.astype(np.float64)
        scale = max(1.0, float(np.nanmax(np.abs(e64[np.isfinite(e64)]))) if np.isfinite(e64).any() else 1.0)
        both_nan = np.isnan(e64) & np.isnan(a64)
        err = np.abs(a64 - e64)
        ok = both_nan | (e64 == a64) | (err <= ATOL * scale + RTOL * np.abs(e64))
        if e.dtype in (np.int8, np.uint8):
            ok = np.abs(e64 - a64) <= QSLACK
        elif e.dtype.kind in "biu":
            ok = e64 == a64
        n = int((~ok).sum())
        worst = float(np.nanmax(np.where(ok, 0, err))) if n else 0.0
        print(f"{name}: {n} of {e.size} element(s) differ, max abs err {worst}")
        bad = bad or n > 0
    print("reproduced" if bad else "fixed")
    return 1 if bad else 0

if __name__ == "__main__":
    sys.exit(main())
