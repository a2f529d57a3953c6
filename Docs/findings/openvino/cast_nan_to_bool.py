"""OpenVINO 2026.4.1 (CPU): Cast of a float NaN to bool gives False.

ONNX Cast, floating point to bool: "+/- 0.0 to False; all else to True", so NaN is True (as in
numpy, onnxruntime and onnx.reference; C's `(bool)NAN` is true too: NaN != 0). OpenVINO gives
False for NaN in f32, f16 and f64 inputs, scalars and tensors, while ±inf, subnormals and nonzero
values give True and ±0 False: the conversion tests `x != 0` with an ordered predicate, which is
false for NaN (by my reading). Reported upstream as openvinotoolkit/openvino#35932 and #36237
(seen, not fixed in 2026.4.1). Found by DLSmith's special values (NaN inputs), bucket
7050d5c37decf6bf (16 instances). Exit 1 = bug reproduces."""
import sys, numpy as np, onnx, openvino as ov, onnxruntime as ort
from onnx import helper as h, TensorProto as T
from onnx.reference import ReferenceEvaluator

bug = False
core = ov.Core()
cfg = {"INFERENCE_PRECISION_HINT": "f32", "EXECUTION_MODE_HINT": "ACCURACY"}
for elem, npdt in ((T.FLOAT, np.float32), (T.FLOAT16, np.float16), (T.DOUBLE, np.float64)):
    for shape in ([], [6]):
        x = np.resize(np.array([np.nan, -np.nan, np.inf, 0.0, -0.0, 1.5], npdt), shape)
        g = h.make_graph([h.make_node("Cast", ["x"], ["y"], to=T.BOOL)], "g",
                         [h.make_tensor_value_info("x", elem, shape)], [h.make_tensor_value_info("y", T.BOOL, shape)])
        m = h.make_model(g, opset_imports=[h.make_opsetid("", 19)]); m.ir_version = 9
        onnx.checker.check_model(m, full_check=True)
        want = x.astype(bool)  # numpy: NaN -> True
        ref = ReferenceEvaluator(m).run(None, {"x": x})[0]
        so = ort.SessionOptions(); so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
        o = ort.InferenceSession(m.SerializeToString(), so, providers=["CPUExecutionProvider"]).run(None, {"x": x})[0]
        got = core.compile_model(core.read_model(m.SerializeToString(), b""), "CPU", cfg)({"x": x})[0]
        wrong = not np.array_equal(got, want)
        print(f"{npdt.__name__:8s} shape {str(shape):4s} x {np.ravel(x)}: openvino {np.ravel(got).astype(int)}  "
              f"numpy {np.ravel(want).astype(int)}  onnx.reference {np.ravel(ref).astype(int)}  "
              f"onnxruntime {np.ravel(o).astype(int)}" + ("  WRONG" if wrong else ""))
        bug |= wrong
sys.exit(1 if bug else 0)
