"""FastGeluFusion (EXTENDED level) removes the `Mul(x, 0.5)` node of the tanh-GELU subgraph even when
that Mul's output has another consumer: fast_gelu_fusion.cc checks mul6_node with
require_single_output=false, then FinalizeNodeFusion deletes it. Session creation fails with
"Invalid model. Node input 'h' is not a graph input, initializer, or output of a previous node."
The model passes onnx.checker full_check and runs at ORT_DISABLE_ALL / ORT_ENABLE_BASIC.
Both formulas (Pow(x,3) and x*x*x) are affected. Exit 1 = bug reproduces."""
import sys, numpy as np, onnx, onnxruntime as ort
from onnx import helper as h, TensorProto as T, numpy_helper as nh

def c(name, v): return nh.from_array(np.array(v, np.float32), name)
nodes = [
    h.make_node("Pow", ["x", "three"], ["p"]),
    h.make_node("Mul", ["p", "k"], ["pk"]),
    h.make_node("Add", ["x", "pk"], ["s"]),
    h.make_node("Mul", ["s", "sqrt2pi"], ["t0"]),
    h.make_node("Tanh", ["t0"], ["t"]),
    h.make_node("Add", ["t", "one"], ["t1"]),
    h.make_node("Mul", ["x", "half"], ["h"]),      # x * 0.5 ...
    h.make_node("Mul", ["h", "t1"], ["g"]),
    h.make_node("Neg", ["g"], ["y"]),
    h.make_node("Neg", ["h"], ["z"]),             # ... with a second consumer
]
g = h.make_graph(nodes, "g", [h.make_tensor_value_info("x", T.FLOAT, [4])],
                 [h.make_tensor_value_info("y", T.FLOAT, [4]), h.make_tensor_value_info("z", T.FLOAT, [4])],
                 [c("three", 3.0), c("k", 0.044715), c("sqrt2pi", 0.7978845834732056), c("one", 1.0), c("half", 0.5)])
m = h.make_model(g, opset_imports=[h.make_opsetid("", 20)])
onnx.checker.check_model(m, full_check=True)
x = np.array([-1.0, 0.0, 0.5, 2.0], np.float32)
ref_y = -0.5 * x * (1 + np.tanh(0.7978845834732056 * (x + 0.044715 * x**3)))
ref_z = -0.5 * x
bug = False
for lvl in ["ORT_DISABLE_ALL", "ORT_ENABLE_BASIC", "ORT_ENABLE_EXTENDED", "ORT_ENABLE_ALL"]:
    so = ort.SessionOptions(); so.graph_optimization_level = getattr(ort.GraphOptimizationLevel, lvl)
    try:
        y, z = ort.InferenceSession(m.SerializeToString(), so, providers=["CPUExecutionProvider"]).run(None, {"x": x})
        ok = np.allclose(y, ref_y, rtol=1e-5, atol=1e-6) and np.allclose(z, ref_z)
        print(lvl, "ok" if ok else f"WRONG {y} {z}"); bug |= not ok
    except Exception as e:
        print(lvl, "ERROR", str(e).splitlines()[0][:200]); bug = True
ort.InferenceSession(m.SerializeToString(), providers=["CPUExecutionProvider"], disabled_optimizers=["FastGeluFusion"])
print("ORT_ENABLE_ALL with FastGeluFusion disabled: loads")
sys.exit(1 if bug else 0)
