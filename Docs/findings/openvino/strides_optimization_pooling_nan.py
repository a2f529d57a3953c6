"""OpenVINO 2026.4.1 (CPU): a NaN read by a 1x1 Conv with stride > 1 behind an elementwise node
comes out as a finite or infinite number: Conv(Add(x, y), stride 2) gives -FLT_MAX * w where NaN
is due.

IEEE 754 and ONNX: NaN + 1 = NaN and a convolution output that reads a NaN is NaN, whatever the
weight; onnxruntime, onnx.reference and numpy agree. OpenVINO's StridesOptimization (cause C's pass,
Docs/Findings.md) moves the convolution's stride onto the elementwise node's inputs by inserting
MaxPool(kernel 1, stride s) nodes in front of them (the compiled model shows two `Pooling` nodes,
and none with stride 1), and the CPU max pooling returns -FLT_MAX for a NaN (and for -inf): its
running maximum starts at the lowest finite float and MAXPS drops the NaN. So each NaN operand of
the Add becomes -FLT_MAX: Add(NaN, 1) * 1 gives -FLT_MAX, Add(NaN, NaN) gives -inf, Mul(NaN, NaN)
gives +inf, and with a zero weight 0 instead of NaN. Finite values are right; with stride 1 the
pass does not fire and the NaN survives (control). Found by DLSmith's special values (NaN inputs),
bucket 5c7667eff98cbf80 (Min -> Conv -> ConvTranspose). Exit 1 = bug reproduces."""
import sys, numpy as np, onnx, openvino as ov, onnxruntime as ort
from onnx import helper as h, TensorProto as T, numpy_helper as nh
from onnx.reference import ReferenceEvaluator

bug = False
core = ov.Core()
cfg = {"INFERENCE_PRECISION_HINT": "f32", "EXECUTION_MODE_HINT": "ACCURACY"}
shape = [1, 1, 4, 4]
a = np.ones(shape, np.float32); a[0, 0, 0, 0] = np.nan      # the NaN sits on a sampled position
b = np.ones(shape, np.float32)
for op in ("Add", "Mul"):
    for stride in ([2, 2], [1, 1]):                         # [1, 1]: control, the pass does not fire
        for w in (1.0, 0.0):
            nodes = [h.make_node(op, ["a", "b"], ["t"]), h.make_node("Conv", ["t", "w"], ["y"], kernel_shape=[1, 1], strides=stride)]
            g = h.make_graph(nodes, "g", [h.make_tensor_value_info(n, T.FLOAT, shape) for n in "ab"],
                             [h.make_tensor_value_info("y", T.FLOAT, [1, 1] + [(n - 1) // s + 1 for n, s in zip(shape[2:], stride)])],
                             [nh.from_array(np.full([1, 1, 1, 1], w, np.float32), "w")])
            m = h.make_model(g, opset_imports=[h.make_opsetid("", 18)]); m.ir_version = 8
            onnx.checker.check_model(m, full_check=True)
            ref = ReferenceEvaluator(m).run(None, {"a": a, "b": b})[0]
            so = ort.SessionOptions(); so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
            o = ort.InferenceSession(m.SerializeToString(), so, providers=["CPUExecutionProvider"]).run(None, {"a": a, "b": b})[0]
            c = core.compile_model(core.read_model(m.SerializeToString(), b""), "CPU", cfg)
            got = c({"a": a, "b": b})[0]
            pools = sum(op_.get_rt_info()["layerType"].astype(str) == "Pooling" for op_ in c.get_runtime_model().get_ordered_ops())
            wrong = got.shape != ref.shape or not np.array_equal(np.isnan(got), np.isnan(ref)) \
                or not np.allclose(got, ref, rtol=1e-6, equal_nan=True)
            print(f"Conv({op}(x, y), w={w}, strides {stride}): y[0,0,0,0] openvino {got.ravel()[0]:.8g}  "
                  f"onnx.reference {ref.ravel()[0]}  onnxruntime {o.ravel()[0]}  (Pooling nodes inserted: {pools})"
                  + ("  WRONG" if wrong else ""))
            bug |= wrong
sys.exit(1 if bug else 0)
