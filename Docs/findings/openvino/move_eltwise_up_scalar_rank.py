# OpenVINO 2026.4.1 (CPU): MoveEltwiseUpThroughDataMovScalar (move_eltwise_up_data_movement.cpp) moves an
# elementwise op with a single-element constant above a data-movement op (Gather, Squeeze, Reshape, ...) and,
# when the ranks differ, replaces the constant by a rank-0 copy (`Constant(*old, Shape{})`), so a constant of
# HIGHER rank than the data ([1, 1, 1, 1] added to a [1, 1, 1] Gather output) no longer raises the output rank:
# [1, 1, 1] instead of [1, 1, 1, 1]. Same pass as Docs/Findings.md cause B (ArgMax keepdims=0 = TopK + Squeeze).
# Controls: the constant at the data's rank, or the Gather output with a second reader (the pass needs one).
import sys, numpy as np, onnx, onnxruntime as ort, openvino as ov
from onnx import helper as h, TensorProto as T, numpy_helper as nh
F32 = {"INFERENCE_PRECISION_HINT": "f32", "EXECUTION_MODE_HINT": "ACCURACY"}

def case(mover, cshape, second_reader=False):
    nodes = [mover, h.make_node("Add", ["t", "c"], ["y"])]
    outs = [h.make_tensor_value_info("y", T.FLOAT, list(np.broadcast_shapes((1, 1, 1), tuple(cshape))))]
    if second_reader:
        nodes.append(h.make_node("Neg", ["t"], ["u"])); outs.append(h.make_tensor_value_info("u", T.FLOAT, [1, 1, 1]))
    g = h.make_graph(nodes, "g", [h.make_tensor_value_info("x", T.FLOAT, [1, 2, 1])], outs,
                     [nh.from_array(np.array([0], np.int64), "i"),
                      nh.from_array(np.full(cshape, 0.5, np.float32), "c")])
    m = h.make_model(g, opset_imports=[h.make_opsetid("", 17)]); m.ir_version = 8
    onnx.checker.check_model(m)
    x = np.array([[[1.0], [2.0]]], np.float32)
    so = ort.SessionOptions(); so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    ref = ort.InferenceSession(m.SerializeToString(), so, providers=["CPUExecutionProvider"]).run(["y"], {"x": x})[0]
    core = ov.Core()
    cm = core.compile_model(core.read_model(m.SerializeToString(), b""), "CPU", F32)
    got = cm({"x": x})[cm.output("y")]
    return got.shape == ref.shape and np.allclose(got, ref.reshape(got.shape)), ref.shape, got.shape

gather = h.make_node("Gather", ["x", "i"], ["t"], axis=1)      # [1, 2, 1] -> [1, 1, 1]
bad = False
for name, mover, cs, sr in (("Gather -> Add([1,1,1,1])", gather, [1, 1, 1, 1], False),
                            ("control: Gather -> Add([1,1,1])", gather, [1, 1, 1], False),
                            ("control: Gather (2 readers) -> Add([1,1,1,1])", gather, [1, 1, 1, 1], True)):
    ok, rs, gs = case(mover, cs, sr)
    print(f"{name:48s} reference {rs}, openvino {gs}: {'ok' if ok else 'WRONG'}")
    bad |= not ok and not name.startswith("control")
sys.exit(1 if bad else 0)
