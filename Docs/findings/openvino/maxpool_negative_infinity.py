"""OpenVINO 2026.4.1 (CPU): MaxPool gives -FLT_MAX (-3.4028235e+38), not -inf, for a window whose
elements are all -inf: 1-D and 2-D, kernel 1 or larger, with or without padding.

ONNX MaxPool is the maximum of the window's input elements (padding takes no part), and the
maximum of {-inf, ...} is -inf (IEEE 754); onnx.reference and numpy give -inf. OpenVINO's pooling
starts its running maximum from the lowest finite float (oneDNN defines max pooling as
max(lowest, window), by my reading) and never returns -inf. onnxruntime's 1-D MaxPool (and its
2-D one on some shapes) has the same defect (Docs/findings/onnxruntime/maxpool_negative_infinity.py),
so it is printed but not used as the judge here. (A window of only NaN is left open by ONNX and is
not tested; upstream openvinotoolkit/openvino#35935 reports that variant.) Found by DLSmith's
special values (-inf inputs): buckets 610b4cbdc8cdab0a (3 instances) and 392f1d998fa6f9a2 (5; signed
`reference-disagreement` because onnxruntime shares the bug and onnx.reference cannot run 1-D pads).
Exit 1 = bug reproduces."""
import sys, numpy as np, onnx, openvino as ov, onnxruntime as ort
from onnx import helper as h, TensorProto as T
from onnx.reference import ReferenceEvaluator

NINF = -np.inf
CASES = [  # (input, attributes, output shape, expected output computed by hand: max over the real elements)
    (np.array([[[NINF, 1.0]]], np.float32), dict(kernel_shape=[1]), [1, 1, 2], [NINF, 1.0]),
    (np.array([[[NINF, NINF, 1.0]]], np.float32), dict(kernel_shape=[2]), [1, 1, 2], [NINF, 1.0]),
    (np.array([[[NINF]]], np.float32), dict(kernel_shape=[3], pads=[0, 2]), [1, 1, 1], [NINF]),
    (np.array([[[[NINF, NINF], [NINF, NINF]]]], np.float32), dict(kernel_shape=[2, 2]), [1, 1, 1, 1], [NINF]),
    (np.array([[[[1.0, NINF]]]], np.float32), dict(kernel_shape=[1, 2], pads=[0, 0, 0, 1]), [1, 1, 1, 2], [1.0, NINF]),
    (np.array([[[[2.0, 1.0]]]], np.float32), dict(kernel_shape=[1, 2], pads=[0, 0, 0, 1]), [1, 1, 1, 2], [2.0, 1.0]),  # control: no -inf
]
bug = False
core = ov.Core()
cfg = {"INFERENCE_PRECISION_HINT": "f32", "EXECUTION_MODE_HINT": "ACCURACY"}
for x, attrs, yshape, want in CASES:
    g = h.make_graph([h.make_node("MaxPool", ["x"], ["y"], **attrs)], "g",
                     [h.make_tensor_value_info("x", T.FLOAT, list(x.shape))],
                     [h.make_tensor_value_info("y", T.FLOAT, yshape)])
    m = h.make_model(g, opset_imports=[h.make_opsetid("", 18)]); m.ir_version = 8
    onnx.checker.check_model(m, full_check=True)
    so = ort.SessionOptions(); so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    o = ort.InferenceSession(m.SerializeToString(), so, providers=["CPUExecutionProvider"]).run(None, {"x": x})[0]
    try:  # onnx.reference mishandles 1-D pads (Docs/findings/onnx-reference/maxpool_pads_unit_stride.py)
        ref = ReferenceEvaluator(m).run(None, {"x": x})[0].ravel()
    except Exception as e:
        ref = f"fails ({type(e).__name__})"
    got = core.compile_model(core.read_model(m.SerializeToString(), b""), "CPU", cfg)({"x": x})[0].ravel()
    wrong = not np.array_equal(got, np.array(want, np.float32))
    print(f"MaxPool {attrs} x {x.ravel()}: openvino {got}  expected {np.array(want, np.float32)}  "
          f"onnx.reference {ref}  onnxruntime {o.ravel()}" + ("  WRONG: -FLT_MAX" if wrong else ""))
    bug |= wrong
sys.exit(1 if bug else 0)
