"""FastGeluFusion (EXTENDED level, CPU EP) fuses the tanh-approximation GELU subgraph on a rank-0 (scalar) input
into com.microsoft FastGelu, whose CPU kernel requires rank >= 1:
  "Input 0 is expected to have 1 or more dimensions, got 0".
Unoptimized (ORT_DISABLE_ALL / BASIC) runs fine. Exit 1 = bug reproduces."""
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
    h.make_node("Mul", ["x", "half"], ["xh"]),
    h.make_node("Mul", ["xh", "t1"], ["g"]),
    h.make_node("Neg", ["g"], ["y"]),  # the fused output must not itself be a graph output
]
g = h.make_graph(nodes, "g", [h.make_tensor_value_info("x", T.FLOAT, [])],
                 [h.make_tensor_value_info("y", T.FLOAT, [])],
                 [c("three", 3.0), c("k", 0.044715), c("sqrt2pi", 0.7978845834732056), c("one", 1.0), c("half", 0.5)])
m = h.make_model(g, opset_imports=[h.make_opsetid("", 20)])
onnx.checker.check_model(m, full_check=True)
x = np.array(0.5, np.float32)
ref = -0.5 * x * (1 + np.tanh(0.7978845834732056 * (x + 0.044715 * x**3)))
bug = False
for lvl in ["ORT_DISABLE_ALL", "ORT_ENABLE_BASIC", "ORT_ENABLE_EXTENDED", "ORT_ENABLE_ALL"]:
    so = ort.SessionOptions(); so.graph_optimization_level = getattr(ort.GraphOptimizationLevel, lvl)
    try:
        y = ort.InferenceSession(m.SerializeToString(), so, providers=["CPUExecutionProvider"]).run(None, {"x": x})[0]
        ok = np.allclose(y, ref, rtol=1e-5); print(lvl, "ok" if ok else f"WRONG {y} vs {ref}"); bug |= not ok
    except Exception as e:
        print(lvl, "ERROR", str(e).splitlines()[0][:200]); bug = True
# the responsible pass: disabling it makes ORT_ENABLE_ALL pass
so = ort.SessionOptions()
y = ort.InferenceSession(m.SerializeToString(), so, providers=["CPUExecutionProvider"],
                         disabled_optimizers=["FastGeluFusion"]).run(None, {"x": x})[0]
print("ALL with FastGeluFusion disabled:", y, "ref", ref)
sys.exit(1 if bug else 0)
