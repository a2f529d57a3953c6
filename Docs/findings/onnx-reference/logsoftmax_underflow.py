#!/usr/bin/env python3
"""onnx.reference 1.23.2 LogSoftmax computes log(Softmax(x)); Softmax underflows to 0, so any
LogSoftmax value below log(smallest subnormal) (~-103 in float32, ~-17 in float16) becomes -inf.
LogSoftmax-13's own function body (schema.get_context_dependent_function) is
Sub(X_Sub, Log(ReduceSum(Exp(X_Sub)))) with X_Sub = input - ReduceMax(input), which is finite here;
onnxruntime 1.32 returns -200 and -20. Exits 1 while the bug is present."""
import sys
import numpy as np, onnx
from onnx import helper, TensorProto
from onnx.reference import ReferenceEvaluator

bad = False
for t, dt, x in [(TensorProto.FLOAT, np.float32, [0.0, -200.0]), (TensorProto.FLOAT16, np.float16, [0.0, -20.0])]:
    n = helper.make_node("LogSoftmax", ["X"], ["Y"], axis=-1)
    g = helper.make_graph([n], "g", [helper.make_tensor_value_info("X", t, [2])], [helper.make_tensor_value_info("Y", t, [2])])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 20)])
    onnx.checker.check_model(m, full_check=True)
    x = np.array(x, dt)
    got = ReferenceEvaluator(m).run(None, {"X": x})[0]
    d = x.astype(np.float64) - x.max()
    want = (d - np.log(np.exp(d).sum())).astype(dt)
    print(f"{dt.__name__}: LogSoftmax({x.tolist()}) onnx.reference {got.tolist()}, expected {want.tolist()}")
    bad |= not np.allclose(got.astype(np.float64), want.astype(np.float64), rtol=1e-3)
sys.exit(1 if bad else 0)
