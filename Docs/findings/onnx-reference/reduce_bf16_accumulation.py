#!/usr/bin/env python3
"""onnx.reference 1.23.2 ReduceSum/ReduceMean (and CumSum) on bfloat16 accumulate sequentially in bfloat16
(np.sum/np.mean(..., dtype=x.dtype) with ml_dtypes.bfloat16: no pairwise summation, no wider
accumulator), so a running sum stalls once its ulp exceeds twice the addend: the mean of 672 values
0.5546875 comes out as 256/672, and the CumSum of 392 ones ends at 256 (np.cumsum in bfloat16). The spec ("Computes the sum/mean of the input tensor's elements")
does not fix the accumulation precision, so this is an implementation choice, not a spec violation;
float16 is unaffected (numpy sums float16 pairwise in float32). Exits 1 while the behaviour is present."""
import sys
import numpy as np, onnx, ml_dtypes
from onnx import helper, TensorProto
from onnx.reference import ReferenceEvaluator

bf16 = ml_dtypes.bfloat16
def run(op, x):
    n = helper.make_node(op, ["X", "A"], ["Y"], keepdims=0)
    g = helper.make_graph([n], "g", [helper.make_tensor_value_info("X", TensorProto.BFLOAT16, list(x.shape))],
        [helper.make_tensor_value_info("Y", TensorProto.BFLOAT16, [])],
        [helper.make_tensor("A", TensorProto.INT64, [1], [0])])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 20)])
    onnx.checker.check_model(m, full_check=True)
    return float(ReferenceEvaluator(m).run(None, {"X": x})[0])

bad = False
for op, x in [("ReduceSum", np.full(176, 0.0908203125, bf16)), ("ReduceMean", np.full(672, 0.5546875, bf16))]:
    exact = x.astype(np.float64).sum() / (len(x) if op == "ReduceMean" else 1)
    want = float(bf16(exact))
    got = run(op, x)
    print(f"{op} of {len(x)} x {float(x[0])}: onnx.reference {got}, exact rounded to bf16 {want}")
    bad |= abs(got - want) > 0.02 * abs(want)
# CumSum: np.cumsum of a bfloat16 array accumulates in bfloat16.
x = np.ones(392, bf16)
n = helper.make_node("CumSum", ["X", "A"], ["Y"])
g = helper.make_graph([n], "g", [helper.make_tensor_value_info("X", TensorProto.BFLOAT16, [392])],
    [helper.make_tensor_value_info("Y", TensorProto.BFLOAT16, [392])],
    [helper.make_tensor("A", TensorProto.INT64, [], [0])])
m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 20)])
onnx.checker.check_model(m, full_check=True)
got = float(ReferenceEvaluator(m).run(None, {"X": x})[0][-1])
print(f"CumSum of 392 ones: last onnx.reference {got}, exact 392.0 (a bf16 value)")
bad |= got != 392.0
sys.exit(1 if bad else 0)
