"""onnx 1.23.2 onnx.reference: Erf on double tensors is computed in float32 (and so is Gelu).

onnx/reference/ops/op_erf.py evaluates `np.vectorize(math.erf, otypes=["f"])(x).astype(x.dtype)`:
otypes "f" makes the vectorized result float32, so a double Erf is math.erf rounded to float32
(relative error up to ~6e-8) before being cast back to float64. Gelu (approximate="none") has no
kernel of its own; onnx.reference expands its context-dependent function body (Div by Sqrt(2),
Erf, ...) and inherits the float32 Erf (relative error up to ~6e-7 measured on [-2, 4]). ONNX Erf
is defined for tensor(double); onnxruntime has no double Erf kernel, so the expected values come
from math.erf (within 1 ulp of the exact value, checked against mpmath at 200 bits). Found by
DLSmith's `bench export` (f64 models, rel err 1e-7 for erf, 4e-8 for gelu).
Exit status 1 while the bug is present, 0 once double Erf and Gelu are within 1e-15 relative.
"""
import math
import sys

import numpy as np
from onnx import TensorProto, helper
from onnx.reference import ReferenceEvaluator


def evaluate(op, x):
    graph = helper.make_graph([helper.make_node(op, ["x"], ["y"])], op.lower(),
                              [helper.make_tensor_value_info("x", TensorProto.DOUBLE, list(x.shape))],
                              [helper.make_tensor_value_info("y", TensorProto.DOUBLE, list(x.shape))])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 20)])
    model.ir_version = 9
    return ReferenceEvaluator(model).run(None, {"x": x})[0]


x = np.array([0.3, -1.25, 0.7016, 2.0])
bug = False
for op, expected in [("Erf", np.array([math.erf(v) for v in x])),
                     ("Gelu", np.array([0.5 * v * (1 + math.erf(v / math.sqrt(2))) for v in x]))]:
    got = evaluate(op, x)
    rel = np.abs(got - expected) / np.abs(expected)
    print(f"{op} (double) x = {x.tolist()}")
    print(f"  expected        {expected.tolist()}")
    print(f"  onnx.reference  {got.tolist()}  (dtype {got.dtype}, max rel err {rel.max():.2g})")
    bug |= bool(rel.max() > 1e-15)
f32 = np.array([math.erf(v) for v in x]).astype(np.float32).astype(np.float64)
print("Erf result equals float32(math.erf(x)):", bool(np.array_equal(evaluate("Erf", x), f32)))
sys.exit(1 if bug else 0)
