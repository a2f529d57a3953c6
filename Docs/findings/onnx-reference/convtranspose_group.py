"""onnx 1.23.2 onnx.reference: ConvTranspose with group > 1 fails or is wrong.

ONNX ConvTranspose: W has shape (C x M/group x k1 x ...), input channels [g*C/group, (g+1)*C/group)
of group g produce output channels [g*M/group, (g+1)*M/group), and B has M entries. For group > 1,
onnx/reference/ops/op_conv_transpose.py
  - slices the group's weights along W's axis 0 by M/group (`W[g*M/group : (g+1)*M/group]`) instead
    of by C/group, so whenever C != M the reshape fails ("cannot reshape array of size 336 into
    shape (1,19,84)");
  - writes each group's M/group output channels into the single channel `final[:, g:g+1]`, so any
    M/group > 1 fails ("could not broadcast input array from shape (2,4,4) into shape (1,4,4)");
  - passes the whole B to every group, whose channel c then adds B[c] instead of B[g*M/group + c]:
    with a bias, even depthwise (C = M = group) results are silently wrong.
Only depthwise without bias is right. onnxruntime (ORT_DISABLE_ALL, float32; it has no double
ConvTranspose) matches the computation below on all four cases (max abs err < 1e-6). Found by DLSmith's
`bench export` (a mixed-dtype model: ConvTranspose x [63, 38, 1, 1], W [38, 4, 7, 3], group 2).
Exit status 1 while the bug is present, 0 once every case matches.
"""
import itertools
import sys

import numpy as np
from onnx import TensorProto, helper
from onnx.reference import ReferenceEvaluator


def conv_transpose(x, w, b, group):
    """ONNX ConvTranspose (strides, dilations 1, no pads) by hand."""
    n, c = x.shape[:2]
    mg, kernel = w.shape[1], w.shape[2:]
    y = np.zeros((n, mg * group) + tuple(s + k - 1 for s, k in zip(x.shape[2:], kernel)))
    for g in range(group):
        for ci in range(g * c // group, (g + 1) * c // group):
            for m in range(mg):
                for pos in itertools.product(*map(range, x.shape[2:])):
                    for kk in itertools.product(*map(range, kernel)):
                        out = tuple(p + k for p, k in zip(pos, kk))
                        y[(slice(None), g * mg + m) + out] += x[(slice(None), ci) + pos] * w[(ci, m) + kk]
    if b is not None:
        y += b.reshape((1, -1) + (1,) * len(kernel))
    return y


CASES = [  # x shape, W shape, group, bias
    ((1, 4, 1, 1), (4, 1, 3, 2), 2, False),  # C=4, M=2: W sliced by M/group
    ((1, 4, 3, 3), (4, 2, 2, 2), 2, False),  # M/group = 2
    ((1, 2, 3), (2, 1, 3), 2, True),         # depthwise with bias: silently wrong
    ((1, 2, 3), (2, 1, 3), 2, False),        # depthwise without bias: correct (control)
]
bug = False
rng = np.random.default_rng(0)
for xs, ws, group, bias in CASES:
    x, w = rng.standard_normal(xs), rng.standard_normal(ws)
    b = rng.standard_normal(ws[1] * group) if bias else None
    names = ["x", "w"] + (["b"] if bias else [])
    inputs = [helper.make_tensor_value_info("x", TensorProto.DOUBLE, xs), helper.make_tensor_value_info("w", TensorProto.DOUBLE, ws)]
    inputs += [helper.make_tensor_value_info("b", TensorProto.DOUBLE, [ws[1] * group])] if bias else []
    node = helper.make_node("ConvTranspose", names, ["y"], group=group)
    graph = helper.make_graph([node], "convtranspose", inputs, [helper.make_tensor_value_info("y", TensorProto.DOUBLE, None)])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 20)])
    model.ir_version = 9
    expected = conv_transpose(x, w, b, group)
    head = f"x {list(xs)} W {list(ws)} group {group}{' with B' if bias else ''}: expected {list(expected.shape)},"
    try:
        got = ReferenceEvaluator(model).run(None, dict(zip(names, [x, w, b])))[0]
    except Exception as e:
        print(head, f"onnx.reference raised {type(e).__name__}: {e}")
        bug = True
        continue
    ok = got.shape == expected.shape and np.allclose(got, expected, rtol=1e-12, atol=1e-12)
    err = np.max(np.abs(got - expected)) if got.shape == expected.shape else None
    print(head, f"onnx.reference {list(got.shape)}" + ("" if ok else f" (wrong: max abs err {err:.3g})" if err is not None else " (wrong shape)"))
    bug |= not ok
sys.exit(1 if bug else 0)
