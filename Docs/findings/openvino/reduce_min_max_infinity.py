"""OpenVINO 2026.4.1 (CPU): ReduceMin over values that are all +inf gives FLT_MAX (3.4028235e+38),
and ReduceMax over values that are all -inf gives -FLT_MAX, instead of +inf and -inf.

The minimum of {+inf, ...} is +inf (IEEE 754), and ONNX ReduceMin says explicitly that a reduction
over an empty set yields plus infinity (ReduceMax: minus infinity) where the dtype has one, so
its identity is +inf, not the largest finite value. onnxruntime, onnx.reference and numpy give
±inf. OpenVINO's Reduce node starts the running minimum (maximum) from ±FLT_MAX, for every rank,
axis and keepdims tried (shapes [1,1,1] to [2,3,8]); a finite element in the slice hides it.
Found by DLSmith's special values (an inf input), bucket c687c2a5ddf52e9a. Exit 1 = bug reproduces."""
import sys, numpy as np, onnx, openvino as ov, onnxruntime as ort
from onnx import helper as h, TensorProto as T
from onnx.reference import ReferenceEvaluator

bug = False
core = ov.Core()
cfg = {"INFERENCE_PRECISION_HINT": "f32", "EXECUTION_MODE_HINT": "ACCURACY"}
for op, v in (("ReduceMin", np.inf), ("ReduceMax", -np.inf)):
    for x, axes, keepdims in ((np.full((1, 1, 1), v, np.float32), [2], 1),
                              (np.array([[v, v, v], [v, 2.0, v]], np.float32), [1], 0),   # row 1: control (finite min/max)
                              (np.full((2, 3, 8), v, np.float32), [0, 2], 1)):
        want = (np.min if op == "ReduceMin" else np.max)(x, axis=tuple(axes), keepdims=bool(keepdims))
        g = h.make_graph([h.make_node(op, ["x", "axes"], ["y"], keepdims=keepdims)], "g",
                         [h.make_tensor_value_info("x", T.FLOAT, list(x.shape))], [h.make_tensor_value_info("y", T.FLOAT, list(want.shape))],
                         [h.make_tensor("axes", T.INT64, [len(axes)], axes)])
        m = h.make_model(g, opset_imports=[h.make_opsetid("", 18)]); m.ir_version = 8
        onnx.checker.check_model(m, full_check=True)
        ref = ReferenceEvaluator(m).run(None, {"x": x})[0]
        so = ort.SessionOptions(); so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
        o = ort.InferenceSession(m.SerializeToString(), so, providers=["CPUExecutionProvider"]).run(None, {"x": x})[0]
        got = core.compile_model(core.read_model(m.SerializeToString(), b""), "CPU", cfg)({"x": x})[0]
        wrong = got.shape != want.shape or not np.array_equal(got, want)
        print(f"{op} of {x.shape} over {axes}: openvino {got.ravel()[:4]}  numpy {want.ravel()[:4]}  "
              f"onnx.reference {ref.ravel()[:4]}  onnxruntime {o.ravel()[:4]}" + ("  WRONG" if wrong else ""))
        bug |= wrong
sys.exit(1 if bug else 0)
