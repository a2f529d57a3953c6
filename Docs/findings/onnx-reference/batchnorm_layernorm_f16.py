#!/usr/bin/env python3
"""onnx.reference 1.23.2, float16: BatchNormalization rounds intermediates to f16, and LayerNormalization
ignores stash_type=1. Together they make the DLSmith `bench export` disagreement f16 seed 7087
(BatchNormalization -> HardSwish -> Neg -> LayerNormalization). The numbers are that model's row [7, 6, :].

1. BatchNormalization (op_batch_normalization.py: `s * (x - mean) / np.sqrt(var + epsilon) + bias`).
   x - mean and s * (x - mean) are f16 arrays, so each is rounded to f16. The rest is float32, because
   the epsilon attribute is an np.float32 and NEP 50 promotes. x - mean = 1.09912109375 is a tie and
   rounds to even, giving 1.099609375 (+0.5 ulp). s * (x - mean) = 0.25670099 becomes 0.256591796875
   (-0.45 ulp). After the final cast, y is 1 ulp off in both cases:
   1.5478515625 instead of 1.546875, and 1.57421875 instead of 1.5751953125. The exact values are
   1.54691568 and 1.57518149, and neither is near a rounding boundary. onnxruntime gives the
   correctly rounded values. The spec formula does not fix an intermediate precision, so this is a
   1-ulp accuracy defect, not a spec violation.
2. LayerNormalization (op_layer_normalization.py). Mean and variance are computed in float16, which
   violates the spec: with stash_type=1 (the default), stage one runs in float32. The row
   [-1.1728515625, -1.2001953125, -1.1728515625] has an f16 sum of -3.546875 (exact -3.5458984375), so
   its mean is -1.1826171875 (exact -1.18196615). The centred values are off by 7%, and Y[1] becomes
   -0.166259765625 instead of -0.15673828125.
Exit status 1 while either behaviour is present, 0 once both match.
"""
import sys

import numpy as np
from onnx import TensorProto, helper
from onnx.reference import ReferenceEvaluator

h = np.float16
F16 = TensorProto.FLOAT16


def model(node, inputs, shape):
    g = helper.make_graph([node], "g", [helper.make_tensor_value_info(n, F16, s) for n, s in inputs],
                          [helper.make_tensor_value_info("Y", F16, shape)])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 20)])
    m.ir_version = 9
    return m


bug = False

# 1. BatchNormalization, inference mode, one channel: x [1, 1, 3].
eps = 0.0001340000017080456
x = np.array([[[0.80078125, 0.82861328125, 0.80078125]]], h)
s, b, mean, var = (np.array([c], h) for c in (0.227783203125, 0.4306640625, -0.29833984375, 0.0501708984375))
m = model(helper.make_node("BatchNormalization", ["X", "S", "B", "M", "V"], ["Y"], epsilon=eps),
          [("X", [1, 1, 3])] + [(n, [1]) for n in "SBMV"], [1, 1, 3])
got = ReferenceEvaluator(m).run(None, {"X": x, "S": s, "B": b, "M": mean, "V": var})[0]
f = lambda a: a.astype(np.float64)
eps32 = float(np.float32(eps))  # the attribute is stored as float32
want = (f(s) * (f(x) - f(mean)) / np.sqrt(f(var) + eps32) + f(b)).astype(h)  # exact, rounded once
print(f"BatchNormalization f16: onnx.reference {got.ravel().tolist()}, correctly rounded {want.ravel().tolist()}")
bug |= not np.array_equal(got, want)

# 2. LayerNormalization over 3 elements, stash_type=1 (default).
eps = 0.000266999995801598
x = np.array([-1.1728515625, -1.2001953125, -1.1728515625], h)
w = np.array([-0.1739502, -0.30053711, -0.38110352], h)
bb = np.array([0.39160156, -0.41992188, -0.23986816], h)
m = model(helper.make_node("LayerNormalization", ["X", "W", "B"], ["Y"], axis=-1, epsilon=eps),
          [("X", [3]), ("W", [3]), ("B", [3])], [3])
got = ReferenceEvaluator(m).run(None, {"X": x, "W": w, "B": bb})[0]
# Spec function body: Cast X to float32, normalize, Cast back to f16, then Mul(W), Add(B) in f16.
x32 = x.astype(np.float32)
d = x32 - x32.mean(dtype=np.float32)
normalized = (d / np.sqrt((d * d).mean(dtype=np.float32) + np.float32(eps))).astype(h)
want = normalized * w + bb
err = np.abs(f(got) - f(want)).max()
print(f"LayerNormalization f16: onnx.reference {got.tolist()}, spec (float32 stash) {want.tolist()}, max abs err {err}")
bug |= err > 2 * float(np.spacing(np.abs(want).max()))
sys.exit(1 if bug else 0)
