"""onnx 1.23.2 onnx.reference: Softsign fails on a 0-d (scalar) tensor.

ONNX Softsign computes x / (1 + |x|) elementwise on a tensor of any rank, 0-d included. The
reference kernel (onnx/reference/ops/op_softsign.py) does `tmp = np.abs(X); tmp += 1;
np.divide(X, tmp, out=tmp)`; for a 0-d array np.abs returns a NumPy scalar, not an array, so
np.divide rejects it as `out` ("return arrays must be of ArrayType") and the evaluator raises
"TypeError: Issues with types <class 'numpy.ndarray'> (unary operator 'Softsign')." Every float
dtype fails; rank >= 1 works. Found by DLSmith's `bench export` (16 of 600 models, f64).
Exit status 1 while the bug is present, 0 once every case matches.
"""
import sys

import numpy as np
from onnx import TensorProto, helper
from onnx.reference import ReferenceEvaluator

bug = False
for elem, dtype in [(TensorProto.DOUBLE, np.float64), (TensorProto.FLOAT, np.float32), (TensorProto.FLOAT16, np.float16)]:
    graph = helper.make_graph([helper.make_node("Softsign", ["x"], ["y"])], "softsign",
                              [helper.make_tensor_value_info("x", elem, [])], [helper.make_tensor_value_info("y", elem, [])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 20)])
    model.ir_version = 9
    x = np.array(-0.75, dtype)
    expected = (x / (1 + np.abs(x))).astype(dtype)
    try:
        got = ReferenceEvaluator(model).run(None, {"x": x})[0]
    except Exception as e:
        print(f"{np.dtype(dtype).name} x = {x!r}: expected {expected!r}, onnx.reference raised {type(e).__name__}: {e}")
        bug = True
        continue
    ok = np.shape(got) == () and got == expected
    print(f"{np.dtype(dtype).name} x = {x!r}: expected {expected!r}, onnx.reference {got!r}{'' if ok else '  (wrong)'}")
    bug |= not ok
sys.exit(1 if bug else 0)
