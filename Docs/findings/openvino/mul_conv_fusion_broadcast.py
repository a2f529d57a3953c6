# OpenVINO 2026.4.1 (CPU): MultiplyConvolutionFusion and MultiplyConvolutionBackpropDataFusion
# (mul_conv_fusion.cpp) fold Multiply(x, c) into the weights and feed the bare x to the new
# (de)convolution even when c broadcasts x up (x: [2, 1], c: [1, 1, 1, 1] -> product [1, 1, 2, 1]):
# compile fails ("CALLBACK HAS THROWN", rank of data vs filters). The guard meant to stop this,
# `if (check_for_broadcast(mul_const_shape, input_shape)) return false;`, uses
# ov::op::util::check_for_broadcast (utils.cpp) which returns true only when input_shape broadcasts
# INTO mul_const_shape, so it does not reject a constant that raises the input's rank.
# Controls: x already of rank 4 ([1, 1, 2, 1]) compiles and matches onnxruntime.
import sys, numpy as np, onnx, onnxruntime as ort, openvino as ov
from onnx import helper as h, TensorProto as T, numpy_helper as nh
F32 = {"INFERENCE_PRECISION_HINT": "f32", "EXECUTION_MODE_HINT": "ACCURACY"}
rng = np.random.default_rng(0)

def case(conv, xshape):
    c = nh.from_array(np.full([1, 1, 1, 1], 0.5, np.float32), "c")
    w = nh.from_array(np.full([1, 1, 1, 1], 2.0, np.float32), "w")
    g = h.make_graph([h.make_node("Mul", ["x", "c"], ["m"]), h.make_node(conv, ["m", "w"], ["y"])], "g",
                     [h.make_tensor_value_info("x", T.FLOAT, xshape)], [h.make_tensor_value_info("y", T.FLOAT, [1, 1, 2, 1])], [c, w])
    m = h.make_model(g, opset_imports=[h.make_opsetid("", 17)]); m.ir_version = 8
    onnx.checker.check_model(m, full_check=True)
    x = rng.uniform(-1, 1, xshape).astype(np.float32)
    so = ort.SessionOptions(); so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    ref = ort.InferenceSession(m.SerializeToString(), so, providers=["CPUExecutionProvider"]).run(None, {"x": x})[0]
    core = ov.Core()
    try:
        got = list(core.compile_model(core.read_model(m.SerializeToString(), b""), "CPU", F32)({"x": x}).values())[0]
    except RuntimeError as e:
        return False, "compile fails: " + next((l for l in str(e).splitlines() if "Fusion" in l), str(e))[:160]
    ok = got.shape == ref.shape and np.allclose(got, ref, atol=1e-5)
    return ok, f"reference {ref.shape}, openvino {got.shape}" + ("" if ok else " WRONG")

bad = False
for conv in ("Conv", "ConvTranspose"):
    for xs in ([2, 1], [1, 1, 2, 1]):
        ok, what = case(conv, xs)
        print(f"Mul(x{xs}, c[1,1,1,1]) -> {conv}: {what}")
        bad |= not ok and xs == [2, 1]
sys.exit(1 if bad else 0)
