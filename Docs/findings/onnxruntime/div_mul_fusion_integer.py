"""DivMulFusion (ORT_ENABLE_BASIC, div_mul_fusion.cc) rewrites Mul(Div(1, x), y) into Div(y, x) for
INT32/INT64 too (the switch lists both), which is wrong under integer (truncating) division:
1 / 2 * 2 = 0 * 2 = 0, but 2 / 2 = 1. Exit 1 = bug reproduces."""
import sys, numpy as np, onnx, onnxruntime as ort
from onnx import helper as h, TensorProto as T, numpy_helper as nh
bug = False
for dt, np_t in [(T.INT64, np.int64), (T.INT32, np.int32)]:
    g = h.make_graph(
        [h.make_node("Div", ["one", "x"], ["r"]), h.make_node("Mul", ["r", "y"], ["z"])], "g",
        [h.make_tensor_value_info("x", dt, [3]), h.make_tensor_value_info("y", dt, [3])],
        [h.make_tensor_value_info("z", dt, [3])], [nh.from_array(np.array(1, np_t), "one")])
    m = h.make_model(g, opset_imports=[h.make_opsetid("", 20)])
    onnx.checker.check_model(m, full_check=True)
    x = np.array([2, 6, -3], np_t); y = np.array([2, 12, -3], np_t)
    ref = (np.trunc(1 / x).astype(np_t)) * y            # ONNX Div on integers truncates: [0, 0, 0]
    for lvl in ["ORT_DISABLE_ALL", "ORT_ENABLE_BASIC", "ORT_ENABLE_ALL"]:
        so = ort.SessionOptions(); so.graph_optimization_level = getattr(ort.GraphOptimizationLevel, lvl)
        z = ort.InferenceSession(m.SerializeToString(), so, providers=["CPUExecutionProvider"]).run(None, {"x": x, "y": y})[0]
        print(np_t.__name__, lvl, z, "expected", ref); bug |= not np.array_equal(z, ref)
    z = ort.InferenceSession(m.SerializeToString(), providers=["CPUExecutionProvider"],
                             disabled_optimizers=["DivMulFusion"]).run(None, {"x": x, "y": y})[0]
    print(np_t.__name__, "ALL without DivMulFusion", z)
sys.exit(1 if bug else 0)
