#!/usr/bin/env python3
"""onnx.reference 1.23.2 Resize (nearest, asymmetric, nearest_mode=floor) picks the wrong source
pixel when x_original lies a tiny bit above an integer: 20 -> 28 (sizes), output 21 has
x_original = 21 / (28/20) = 15.000000000000002, ratio = 1.8e-15 so the "floor" coefficients are
[1, 0]; but _interpolate_1d_along_axis then recomputes the window from x_ori + pad_width = 16.0
(the 1.8e-15 is lost in the addition), takes the integer-case window [14, 15] and returns
pixel 14. Spec: asymmetric "x_original = x_resized / scale", nearest_mode floor -> floor(x_original)
= 15 (also exactly: 21 * 20 / 28 = 15). onnxruntime 1.32 returns 15. Exits 1 while the bug is present."""
import sys
import numpy as np, onnx
from onnx import helper, TensorProto
from onnx.reference import ReferenceEvaluator

n = helper.make_node("Resize", ["X", "", "", "sizes"], ["Y"], mode="nearest",
                     coordinate_transformation_mode="asymmetric", nearest_mode="floor")
g = helper.make_graph([n], "g", [helper.make_tensor_value_info("X", TensorProto.FLOAT, [1, 20])],
    [helper.make_tensor_value_info("Y", TensorProto.FLOAT, [1, 28])],
    [helper.make_tensor("sizes", TensorProto.INT64, [2], [1, 28])])
m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 20)])
onnx.checker.check_model(m, full_check=True)
x = np.arange(20, dtype=np.float32).reshape(1, 20)
got = ReferenceEvaluator(m).run(None, {"X": x})[0][0]
want = np.floor(np.arange(28) * 20 / 28).astype(np.float32)   # exact floor(x_resized / scale)
bad = np.nonzero(got != want)[0]
print("onnx.reference:", got.astype(int).tolist()); print("spec (floor)  :", want.astype(int).tolist())
print("differs at", bad.tolist())
sys.exit(1 if bad.size else 0)
