# OpenVINO 2026.4.1 (CPU): several common_optimizations fusions replace an elementwise chain whose
# single-element constant has a HIGHER rank than the data (x: [], constant: [1]; or x: [3], constant:
# [1, 1]) by one op on x alone (Clamp(x), PRelu(x, a), SoftPlus(x), Swish(x), Divide(a, b), Gelu(x),
# HSwish(x) * 6, HSigmoid(x)), so the NumPy broadcast that raised the output rank is lost: the output
# has x's shape ([] for [1]). Each pass checks only shape_size(const) == 1 (e.g. clamp_fusion.cpp,
# leaky_relu_fusion.cpp, softplus_fusion.cpp), never the constant's rank. A control per case breaks
# one condition of the pass (so it does not fire) and gets the right shape.
# Usage: python3 fusion_drops_broadcast.py [case ...]   (default: all). Exit 1 if any case reproduces.
import sys, numpy as np, onnx, onnxruntime as ort, openvino as ov
from onnx import helper as h, TensorProto as T, numpy_helper as nh

S6, SQ2, G = 1.0 / 6.0, 1.4142135381698608, 0.044714998453855515
CASES = {  # name: (pass, nodes, constants, constants of the control that breaks the pass's condition)
 "clamp": ("ClampFusion", [("Max", ["x", "lo"], ["a"]), ("Min", ["a", "hi"], ["y"])],
           {"lo": -0.5, "hi": 2.0}, {"lo": 2.0, "hi": -0.5}),                      # control: min > max
 "leaky_relu": ("LeakyReluFusion", [("Mul", ["x", "al"], ["a"]), ("Max", ["x", "a"], ["y"])],
           {"al": 0.2}, {"al": 2.0}),                                              # control: alpha > 1
 "softplus": ("SoftPlusFusion", [("Exp", ["x"], ["a"]), ("Add", ["a", "one"], ["b"]), ("Log", ["b"], ["y"])],
           {"one": 1.0}, {"one": 2.0}),
 "swish": ("SwishFusionWithoutBeta", [("Neg", ["x"], ["a"]), ("Exp", ["a"], ["b"]), ("Add", ["b", "one"], ["c"]),
           ("Div", ["x", "c"], ["y"])], {"one": 1.0}, {"one": 2.0}),
 "divide": ("DivideFusion", [("Pow", ["z", "e"], ["a"]), ("Mul", ["x", "a"], ["y"])], {"e": -1.0}, {"e": -2.0}),
 "gelu_tanh": ("GeluFusionWithTanh", [("Pow", ["x", "three"], ["a"]), ("Mul", ["a", "g"], ["b"]), ("Add", ["x", "b"], ["c"]),
           ("Mul", ["c", "s"], ["d"]), ("Tanh", ["d"], ["e"]), ("Add", ["e", "one"], ["f"]), ("Mul", ["f", "half"], ["g2"]),
           ("Mul", ["x", "g2"], ["y"])], {"three": 3.0, "g": G, "s": 0.7978845834732056, "one": 1.0, "half": 0.5},
           {"three": 3.0, "g": 0.05, "s": 0.7978845834732056, "one": 1.0, "half": 0.5}),
 "gelu_erf": ("GeluFusionWithErfTwo", [("Div", ["x", "sq2"], ["a"]), ("Erf", ["a"], ["b"]), ("Add", ["b", "one"], ["c"]),
           ("Mul", ["x", "c"], ["d"]), ("Mul", ["d", "half"], ["y"])], {"sq2": SQ2, "one": 1.0, "half": 0.5},
           {"sq2": 1.5, "one": 1.0, "half": 0.5}),
 "hsigmoid_relu_div": ("HSigmoidFusionWithReluDiv", [("Add", ["x", "three"], ["a"]), ("Relu", ["a"], ["b"]),
           ("Min", ["b", "six"], ["c"]), ("Div", ["c", "six2"], ["y"])], {"three": 3.0, "six": 6.0, "six2": 6.0},
           {"three": 2.0, "six": 6.0, "six2": 6.0}),
 "hswish_clamp_mul": ("HSwishFusionWithClamp", [("Add", ["x", "three"], ["a"]), ("Clip", ["a", "zero", "six"], ["b"]),
           ("Mul", ["x", "b"], ["y"])], {"three": 3.0}, {"three": 2.0}),          # x * clip(x + 3, 0, 6) -> HSwish(x) * 6
 "hsigmoid_clamp_mul": ("HSigmoidFusionWithClampMul", [("Add", ["x", "three"], ["a"]), ("Clip", ["a", "zero", "six"], ["b"]),
           ("Mul", ["b", "sixth"], ["y"])], {"three": 3.0, "sixth": S6}, {"three": 2.0, "sixth": S6}),
 "gelu_erf_one": ("GeluFusionWithErfOne", [("Mul", ["x", "half"], ["a"]), ("Mul", ["x", "r"], ["b"]), ("Erf", ["b"], ["c"]),
           ("Add", ["c", "one"], ["d"]), ("Mul", ["a", "d"], ["y"])], {"half": 0.5, "r": 0.7071067690849304, "one": 1.0},
           {"half": 0.5, "r": 0.6, "one": 1.0}),
 "hswish_relu_div": ("HSwishFusionWithReluDiv", [("Add", ["x", "three"], ["a"]), ("Relu", ["a"], ["b"]),
           ("Min", ["b", "six"], ["c"]), ("Mul", ["x", "c"], ["d"]), ("Div", ["d", "six2"], ["y"])],
           {"three": 3.0, "six": 6.0, "six2": 6.0}, {"three": 2.0, "six": 6.0, "six2": 6.0}),
}
F32 = {"INFERENCE_PRECISION_HINT": "f32", "EXECUTION_MODE_HINT": "ACCURACY"}

def build(nodes, consts, xshape, cshape):
    inits = [nh.from_array(np.full(cshape, v, np.float32), k) for k, v in consts.items()]
    inits += [nh.from_array(np.array(0.0, np.float32), "zero"), nh.from_array(np.array(6.0, np.float32), "six")] \
        if any(n[0] == "Clip" for n in nodes) else []
    ins = [h.make_tensor_value_info("x", T.FLOAT, xshape)] + \
          ([h.make_tensor_value_info("z", T.FLOAT, xshape)] if any("z" in n[1] for n in nodes) else [])
    g = h.make_graph([h.make_node(*n) for n in nodes], "g", ins, [h.make_tensor_value_info("y", T.FLOAT, list(np.broadcast_shapes(tuple(xshape), tuple(cshape))))], inits)
    m = h.make_model(g, opset_imports=[h.make_opsetid("", 17)]); m.ir_version = 8
    onnx.checker.check_model(m, full_check=True)
    return m

def run(m, xshape):
    rng = np.random.default_rng(0)
    feeds = {i.name: np.asarray(rng.uniform(0.5, 2.0, xshape), np.float32) for i in m.graph.input}
    so = ort.SessionOptions(); so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    ref = ort.InferenceSession(m.SerializeToString(), so, providers=["CPUExecutionProvider"]).run(None, feeds)[0]
    core = ov.Core()
    got = list(core.compile_model(core.read_model(m.SerializeToString(), b""), "CPU", F32)(feeds).values())[0]
    ok = got.shape == ref.shape and np.allclose(got, ref.reshape(got.shape), rtol=1e-4, atol=1e-5)
    return ok, ref.shape, got.shape

bad = False
for name in sys.argv[1:] or CASES:
    pas, nodes, consts, control = CASES[name]
    for xs, cs in (([], [1]), ([3], [1, 1])):
        ok, rs, gs = run(build(nodes, consts, xs, cs), xs)
        cok, crs, cgs = run(build(nodes, control, xs, cs), xs)
        print(f"{name:18s} {pas:26s} x{xs} const{cs}: reference {rs}, openvino {gs} {'ok' if ok else 'WRONG'}; "
              f"control (pass does not fire): openvino {cgs} {'ok' if cok else 'WRONG'}")
        bad |= (not ok) and cok
sys.exit(1 if bad else 0)
