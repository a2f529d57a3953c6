"""onnxruntime's MaxPool (CPU) gives -FLT_MAX, not -inf, for a window whose elements are all -inf: in
1-D always, in 2-D when the output is one element per channel ([1, 1, 2, 2] with kernel 2x2; a
4x4 input with kernel 2x2 gives -inf): those kernels start their running maximum from the lowest
finite float instead of -inf (or the first element). A maximum of -inf values is -inf. Related: microsoft/onnxruntime#24819
(MaxPool1d shows -FLT_MAX where NaN was expected; closed as stale). Found by DLSmith's special
values (a -inf input element). Exit 1 = bug reproduces."""
import sys, numpy as np, onnx, onnxruntime as ort
from onnx import helper as h, TensorProto as T

bug = False
for shape, kernel in [([1, 1, 4], [1]), ([1, 1, 4], [2]), ([1, 1, 2, 2], [2, 2]), ([1, 1, 4, 4], [2, 2])]:
    node = h.make_node("MaxPool", ["x"], ["y"], kernel_shape=kernel)
    g = h.make_graph([node], "g", [h.make_tensor_value_info("x", T.FLOAT, shape)],
                     [h.make_tensor_value_info("y", T.FLOAT, [shape[0], shape[1]] + [s - k + 1 for s, k in zip(shape[2:], kernel)])])
    m = h.make_model(g, opset_imports=[h.make_opsetid("", 18)])
    onnx.checker.check_model(m, full_check=True)
    x = np.full(shape, -np.inf, np.float32)
    if x.size > 4:
        x.flat[0] = 1.0  # one ordinary element: the windows without it hold only -inf
    for level in ["ORT_DISABLE_ALL", "ORT_ENABLE_ALL"]:
        so = ort.SessionOptions()
        so.graph_optimization_level = getattr(ort.GraphOptimizationLevel, level)
        y = ort.InferenceSession(m.SerializeToString(), so, providers=["CPUExecutionProvider"]).run(None, {"x": x})[0]
        wrong = np.isfinite(y) & (y < -1e38)
        print(f"MaxPool kernel {kernel} {level}: {y.ravel()[:4]}" + ("  WRONG: -FLT_MAX" if wrong.any() else ""))
        bug |= bool(wrong.any())
sys.exit(1 if bug else 0)
