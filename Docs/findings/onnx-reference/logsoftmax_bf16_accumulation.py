#!/usr/bin/env python3
"""onnx.reference 1.23.2 Softmax/LogSoftmax on bfloat16 sum exp(x - max) in bfloat16 (Y.sum with
ml_dtypes.bfloat16 accumulates sequentially in bf16), so the denominator stalls at 256 for 1512 inputs
and every LogSoftmax value is too large by log(true_sum/256). Same root cause as ReduceSum/ReduceMean
(reduce_bf16_accumulation.py); the spec does not fix the accumulation precision. onnxruntime 1.32 has
no bf16 LogSoftmax; in float32 it agrees with the exact value. Exits 1 while the behaviour is present."""
import sys
import numpy as np, onnx, ml_dtypes
from onnx import helper, TensorProto
from onnx.reference import ReferenceEvaluator

bf16 = ml_dtypes.bfloat16
x = np.zeros(1512, bf16)  # uniform: LogSoftmax = -log(1512) = -7.32
n = helper.make_node("LogSoftmax", ["X"], ["Y"], axis=0)
g = helper.make_graph([n], "g", [helper.make_tensor_value_info("X", TensorProto.BFLOAT16, [1512])],
                      [helper.make_tensor_value_info("Y", TensorProto.BFLOAT16, [1512])])
m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 20)])
onnx.checker.check_model(m, full_check=True)
got = float(ReferenceEvaluator(m).run(None, {"X": x})[0][0])
want = float(bf16(-np.log(1512.0)))
print(f"bf16 LogSoftmax of 1512 zeros: onnx.reference {got}, expected {want}")
sys.exit(1 if abs(got - want) > 0.05 * abs(want) else 0)
