"""OpenVINO 2026.4.1 (CPU): Exp(NaN) is +inf, and so Softmax and LogSoftmax of a row holding a NaN
give 0 and -inf for the row's other elements instead of NaN.

IEEE 754 and ONNX's formulas: exp(NaN) = NaN; Softmax(x) = exp(x) / sum(exp(x)), so a NaN anywhere
in the reduced axis makes every element of that slice NaN; LogSoftmax likewise. onnxruntime,
onnx.reference and numpy agree. OpenVINO gives exp(NaN) = inf; a softmax that subtracts the max
(the max ignoring the NaN) then sums exp(NaN - max) = inf, so the others are finite / inf = 0 and
x - max - log(inf) = -inf. One cause by my reading: oneDNN's JIT exp (the eltwise injector that
OpenVINO's Exp and its softmax kernels use) clamps its input with `vminps(x, x, ln(FLT_MAX))`,
and x86 MINPS returns the second operand when the first is NaN, so NaN becomes ln(FLT_MAX) and
the result overflows to inf. Sigmoid(NaN) stays NaN (control). Exp(NaN) is reported upstream as
openvinotoolkit/openvino#35685 and #36200 (ReduceLogSumExp: #35929, #36234); not fixed in 2026.4.1.
Found by DLSmith's special values (NaN inputs): buckets 6cbacfd8b8975cae (Exp, 17 instances),
d9c2a68ee809ad2b (Softmax, 13) and 14d7955c40811004 (LogSoftmax, 10). Exit 1 = bug reproduces."""
import sys, numpy as np, onnx, openvino as ov, onnxruntime as ort
from onnx import helper as h, TensorProto as T
from onnx.reference import ReferenceEvaluator

x = np.array([[0.2, np.nan, 0.1, 1.0]], np.float32)
CASES = [("Exp", {}), ("Softmax", {"axis": 1}), ("LogSoftmax", {"axis": 1}), ("Sigmoid", {})]  # Sigmoid: control
bug = False
core = ov.Core()
cfg = {"INFERENCE_PRECISION_HINT": "f32", "EXECUTION_MODE_HINT": "ACCURACY"}
for op, attrs in CASES:
    g = h.make_graph([h.make_node(op, ["x"], ["y"], **attrs)], "g",
                     [h.make_tensor_value_info("x", T.FLOAT, list(x.shape))], [h.make_tensor_value_info("y", T.FLOAT, list(x.shape))])
    m = h.make_model(g, opset_imports=[h.make_opsetid("", 17)]); m.ir_version = 8
    onnx.checker.check_model(m, full_check=True)
    ref = ReferenceEvaluator(m).run(None, {"x": x})[0]
    so = ort.SessionOptions(); so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    o = ort.InferenceSession(m.SerializeToString(), so, providers=["CPUExecutionProvider"]).run(None, {"x": x})[0]
    got = core.compile_model(core.read_model(m.SerializeToString(), b""), "CPU", cfg)({"x": x})[0]
    # Every faithful implementation: NaN exactly where onnx.reference has NaN (the rest within 1e-5).
    wrong = not np.array_equal(np.isnan(got), np.isnan(ref)) or not np.allclose(got, ref, rtol=1e-5, atol=1e-6, equal_nan=True)
    print(f"{op:10s} x {x.ravel()}: openvino {got.ravel()}  onnx.reference {ref.ravel()}  onnxruntime {o.ravel()}"
          + ("  WRONG" if wrong else ""))
    bug |= wrong and op != "Sigmoid"
sys.exit(1 if bug else 0)
