# LayerNormFusion (level 1) matches Pow by op type only: Pow(x - mean, 3) is fused into LayerNormalization
# as if it were the variance Pow(., 2), silently changing results. Standalone; onnxruntime 1.32.0, CPU EP.
import numpy as np, onnx, onnxruntime as ort
from onnx import helper as h, TensorProto as T, numpy_helper as nh
C = 8
inits = [nh.from_array(np.array([2], np.int64), "axes"), nh.from_array(np.array(3.0, np.float32), "three"),
         nh.from_array(np.array(1e-5, np.float32), "eps"), nh.from_array(np.ones(C, np.float32), "scale"),
         nh.from_array(np.zeros(C, np.float32), "bias")]
nodes = [h.make_node("ReduceMean", ["x", "axes"], ["mean"], keepdims=1), h.make_node("Sub", ["x", "mean"], ["d"]),
         h.make_node("Pow", ["d", "three"], ["p"]), h.make_node("ReduceMean", ["p", "axes"], ["v"], keepdims=1),
         h.make_node("Add", ["v", "eps"], ["ve"]), h.make_node("Sqrt", ["ve"], ["s"]), h.make_node("Div", ["d", "s"], ["n"]),
         h.make_node("Mul", ["n", "scale"], ["m"]), h.make_node("Add", ["m", "bias"], ["y"])]
g = h.make_graph(nodes, "ln_pow3", [h.make_tensor_value_info("x", T.FLOAT, [1, 1, C])],
                 [h.make_tensor_value_info("y", T.FLOAT, [1, 1, C])], inits)
m = h.make_model(g, opset_imports=[h.make_opsetid("", 20)]); m.ir_version = 9
onnx.save(m, "/tmp/ln_pow3.onnx")
x = np.array([[[0, 0, 0, 0, 0, 0, 1, 3]]], np.float32)  # mean 0.5, third central moment > 0
def run(level):
    so = ort.SessionOptions(); so.graph_optimization_level = level
    so.optimized_model_filepath = "/tmp/ln_pow3_opt.onnx"
    return ort.InferenceSession("/tmp/ln_pow3.onnx", so, providers=["CPUExecutionProvider"]).run(None, {"x": x})[0]
a = run(ort.GraphOptimizationLevel.ORT_DISABLE_ALL)
b = run(ort.GraphOptimizationLevel.ORT_ENABLE_BASIC)
print("ops after basic:", [n.op_type for n in onnx.load("/tmp/ln_pow3_opt.onnx").graph.node])
d = x - x.mean(); ref = d / np.sqrt((d ** 3).mean() + 1e-5)
print("numpy    :", ref.ravel())
print("disabled :", a.ravel())
print("basic    :", b.ravel())
import sys
sys.exit(1 if not np.allclose(a, b, atol=1e-4) else 0)  # 1: the bug reproduces
