# E2: AbsSinking drops a rank-1 Abs whose input has computable bounds, because ov::util::reduce_and
# returns `outputs[0].data<char>()` (pointer != nullptr) instead of the reduced value.
import sys, numpy as np, onnx, openvino as ov
from onnx import helper as h, TensorProto as T, numpy_helper as nh
c = np.array([0.5, -0.3, 0.7], np.float32)
g = h.make_graph([h.make_node("Neg", ["c"], ["n"]), h.make_node("Abs", ["n"], ["a"])], "e2", [],
                 [h.make_tensor_value_info("a", T.FLOAT, [3])], [nh.from_array(c, "c")])
m = h.make_model(g, opset_imports=[h.make_opsetid("", 17)]); m.ir_version = 8
core = ov.Core()
cm = core.compile_model(core.read_model(m.SerializeToString()), "CPU", {"INFERENCE_PRECISION_HINT": "f32"})
got = cm({})[cm.output("a")]; exp = np.abs(-c)
print("a", got, "expected", exp)
sys.exit(0 if np.allclose(got, exp) else 1)
