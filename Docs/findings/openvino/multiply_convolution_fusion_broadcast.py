# OpenVINO MultiplyConvolutionFusion: Multiply(x, c) -> Conv where the Multiply broadcasts x up to the
# conv's rank (x: [11, 10], c: [1, 10, 1, 1]) fails to compile: the pass feeds x, not the product, to the
# new Convolution ("Data batch and filters rank do not match"). onnxruntime runs the model.
import sys
import numpy as np, onnx, openvino as ov, onnxruntime as ort
from onnx import helper as h, TensorProto as T, numpy_helper as nh
rng = np.random.default_rng(0)
c = nh.from_array(rng.uniform(0.5, 1.5, (1, 10, 1, 1)).astype(np.float32), "c")
w = nh.from_array(rng.uniform(-0.5, 0.5, (6, 10, 3, 3)).astype(np.float32), "w")
g = h.make_graph([h.make_node("Mul", ["x", "c"], ["m"]), h.make_node("Conv", ["m", "w"], ["y"])], "mul_conv",
                 [h.make_tensor_value_info("x", T.FLOAT, [11, 10])], [h.make_tensor_value_info("y", T.FLOAT, [1, 6, 9, 8])], [c, w])
m = h.make_model(g, opset_imports=[h.make_opsetid("", 20)]); m.ir_version = 9
onnx.checker.check_model(m, full_check=True)
x = rng.uniform(-1, 1, (11, 10)).astype(np.float32)
expected = ort.InferenceSession(m.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, {"x": x})[0]
print("onnxruntime:", expected.shape)
try:
    core = ov.Core()
    got = core.compile_model(core.read_model(m.SerializeToString(), b""), "CPU")({"x": x})
    got = list(got.values())[0]
    print("openvino:", got.shape, "max abs diff", float(np.abs(got - expected).max()))
    sys.exit(0 if np.allclose(got, expected, atol=1e-4) else 1)
except RuntimeError as e:
    print("openvino fails to compile:", next((l for l in str(e).splitlines() if "Fusion" in l), str(e))[:200])
    sys.exit(1)
