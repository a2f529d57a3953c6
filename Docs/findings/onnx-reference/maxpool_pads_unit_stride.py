"""onnx 1.23.2 onnx.reference: MaxPool with all strides and dilations 1 misreads `pads`.

ONNX pads are [x1_begin, x2_begin, ..., x1_end, x2_end] and the output size along axis i is
floor((in_i + begin_i + end_i - dilation_i * (kernel_i - 1) - 1) / stride_i + 1). onnx.reference's
MaxPool sends every node whose strides and dilations are all 1 to the old CommonPool of
onnx/reference/ops/_op_common_pool.py, which
  - for 2-D reads the 4 pads as `pad_top, pad_bottom, pad_left, pad_right = pads`, i.e. as
    [x1_begin, x1_end, x2_begin, x2_end]: wrong output shape and values when the pads of the two
    axes differ;
  - for 1-D (any length other than 4) ignores the pads (`padded = x`) and computes the "VALID"
    output size ceil((in - kernel + 1) / stride): too small an output, an IndexError, or
    "RuntimeError: output shape cannot be null or negative" when the kernel exceeds the input.
Nodes with a stride or dilation other than 1 take _max_pool, which handles pads correctly (and
AveragePool uses the newer op_pool_common.py). onnxruntime (ORT_DISABLE_ALL) agrees with the spec
computation below on every case. Found by DLSmith's `bench export`: max_pool2d shapes [8, 9, 3, 1]
vs onnx.reference [8, 9, 2, 2] (pads [3, 1, 2, 1]), [1, 1, 2, 1] vs [1, 1, 1, 2], the
"out_shape=(0, 2)" and max_pool1d "out_shape=(-1,)" errors, and a later Expand failing on the
too-short 1-D output ("operands could not be broadcast together with shapes (47,16,3) (4,)").
Exit status 1 while the bug is present, 0 once every case matches.
"""
import itertools
import sys

import numpy as np
from onnx import TensorProto, helper
from onnx.reference import ReferenceEvaluator


def max_pool(x, kernel, strides, pads):
    """ONNX MaxPool (dilations 1, auto_pad NOTSET, ceil_mode 0) by hand."""
    n = len(kernel)
    xp = np.pad(x, [(0, 0), (0, 0)] + [(pads[i], pads[i + n]) for i in range(n)], constant_values=-np.inf)
    out = [(xp.shape[2 + i] - kernel[i]) // strides[i] + 1 for i in range(n)]
    y = np.empty(x.shape[:2] + tuple(out), x.dtype)
    for o in itertools.product(*map(range, out)):
        window = tuple(slice(o[i] * strides[i], o[i] * strides[i] + kernel[i]) for i in range(n))
        y[(...,) + o] = xp[(slice(None), slice(None)) + window].max(axis=tuple(range(2, 2 + n)))
    return y


CASES = [  # input shape, kernel_shape, strides, pads
    ((8, 9, 1, 1), [4, 3], [1, 1], [3, 1, 2, 1]),
    ((1, 1, 1, 1), [2, 2], [1, 1], [1, 0, 1, 1]),
    ((1, 21, 1, 1), [3, 1], [1, 1], [1, 0, 1, 0]),
    ((2, 3, 5, 4), [3, 2], [2, 1], [2, 0, 1, 1]),  # a stride of 2: correct (control)
    ((2, 3, 1), [3], [1], [1, 1]),
    ((2, 3, 5), [3], [1], [1, 1]),
    ((2, 3, 4), [2], [1], [0, 1]),
]
bug = False
rng = np.random.default_rng(0)
for shape, kernel, strides, pads in CASES:
    x = rng.standard_normal(shape).astype(np.float32)
    node = helper.make_node("MaxPool", ["x"], ["y"], kernel_shape=kernel, strides=strides, pads=pads,
                            dilations=[1] * len(kernel), ceil_mode=0)
    graph = helper.make_graph([node], "maxpool", [helper.make_tensor_value_info("x", TensorProto.FLOAT, shape)],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 20)])
    model.ir_version = 9
    expected = max_pool(x, kernel, strides, pads)
    head = f"x {list(shape)} kernel_shape {kernel} strides {strides} pads {pads}: expected {list(expected.shape)},"
    try:
        got = ReferenceEvaluator(model).run(None, {"x": x})[0]
    except Exception as e:
        print(head, f"onnx.reference raised {type(e).__name__}: {str(e)[:160]}")
        bug = True
        continue
    ok = got.shape == expected.shape and np.array_equal(got, expected)
    print(head, f"onnx.reference {list(got.shape)}{'' if ok else ' (wrong)' if got.shape == expected.shape else ''}")
    bug |= not ok
sys.exit(1 if bug else 0)
