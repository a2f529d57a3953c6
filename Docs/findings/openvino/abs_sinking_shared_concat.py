# E1: AbsSinking rewrites the inputs of a *shared* rank-1 Concat in place -> other readers of the Concat see |x|.
import sys, numpy as np, onnx, openvino as ov
from onnx import helper as h, TensorProto as T
x = np.array([-1., 2., -3.], np.float32)
g = h.make_graph([h.make_node("Concat", ["x", "x"], ["c"], axis=0), h.make_node("Abs", ["c"], ["a"])], "e1",
                 [h.make_tensor_value_info("x", T.FLOAT, [3])],
                 [h.make_tensor_value_info("c", T.FLOAT, [6]), h.make_tensor_value_info("a", T.FLOAT, [6])])
m = h.make_model(g, opset_imports=[h.make_opsetid("", 17)]); m.ir_version = 8
core = ov.Core()
cm = core.compile_model(core.read_model(m.SerializeToString()), "CPU", {"INFERENCE_PRECISION_HINT": "f32"})
r = cm({"x": x})
got_c, got_a = r[cm.output("c")], r[cm.output("a")]
exp_c = np.concatenate([x, x]); exp_a = np.abs(exp_c)
print("c", got_c, "expected", exp_c); print("a", got_a, "expected", exp_a)
sys.exit(0 if np.allclose(got_c, exp_c) and np.allclose(got_a, exp_a) else 1)
