"""OpenVINO 2026.4.1 (CPU): Greater and GreaterOrEqual return True when either operand is NaN.

IEEE 754 comparisons with NaN are unordered: a > NaN, NaN > b, a >= NaN and NaN >= b are all
false (only != is true). ONNX Greater/GreaterOrEqual are the elementwise `a > b` / `a >= b`, and
onnxruntime, onnx.reference and numpy all give False. OpenVINO gives True, in its JIT Eltwise
node and in a Snippets subgraph alike (SNIPPETS_MODE ENABLE and DISABLE), for scalars, vectors and
broadcasts, while Less, LessOrEqual and Equal are right: the pattern of a comparison predicate that
is true on unordered operands (not-less-or-equal / not-less-than) where the ordered greater-than /
greater-or-equal is meant (by my reading; not confirmed in OpenVINO's source). Reported upstream as
openvinotoolkit/openvino#35927 and #31196 (both seen, not fixed in 2026.4.1).
Found by DLSmith's special values (NaN inputs), buckets 06c6e6d7e5ab8f92 (Greater, 42 instances)
and 517b5cb06510b319 (GreaterOrEqual, 37). Exit 1 = bug reproduces."""
import sys, numpy as np, onnx, openvino as ov, onnxruntime as ort
from onnx import helper as h, TensorProto as T
from onnx.reference import ReferenceEvaluator

a = np.array([np.nan, 1.0, np.nan, 2.0, 0.0, -np.inf], np.float32)
b = np.array([1.0, np.nan, np.nan, 1.0, np.nan, np.nan], np.float32)
NP = {"Greater": np.greater, "GreaterOrEqual": np.greater_equal, "Less": np.less,
      "LessOrEqual": np.less_equal, "Equal": np.equal}

def model(op):
    g = h.make_graph([h.make_node(op, ["a", "b"], ["y"])], "g",
                     [h.make_tensor_value_info("a", T.FLOAT, [6]), h.make_tensor_value_info("b", T.FLOAT, [6])],
                     [h.make_tensor_value_info("y", T.BOOL, [6])])
    m = h.make_model(g, opset_imports=[h.make_opsetid("", 17)]); m.ir_version = 8
    onnx.checker.check_model(m, full_check=True)
    return m

bug = False
core = ov.Core()
for op, expect in NP.items():
    m = model(op)
    want = expect(a, b)
    ref = ReferenceEvaluator(m).run(None, {"a": a, "b": b})[0]
    so = ort.SessionOptions(); so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    o = ort.InferenceSession(m.SerializeToString(), so, providers=["CPUExecutionProvider"]).run(None, {"a": a, "b": b})[0]
    for snippets in ("ENABLE", "DISABLE"):
        cfg = {"INFERENCE_PRECISION_HINT": "f32", "EXECUTION_MODE_HINT": "ACCURACY", "SNIPPETS_MODE": snippets}
        got = core.compile_model(core.read_model(m.SerializeToString(), b""), "CPU", cfg)({"a": a, "b": b})[0]
        wrong = not np.array_equal(got, want)
        print(f"{op:15s} snippets {snippets:7s} openvino {got.astype(int)}  numpy {want.astype(int)}  "
              f"onnx.reference {ref.astype(int)}  onnxruntime {o.astype(int)}" + ("  WRONG" if wrong else ""))
        bug |= wrong and op in ("Greater", "GreaterOrEqual")
print("a =", a, "\nb =", b)
sys.exit(1 if bug else 0)
