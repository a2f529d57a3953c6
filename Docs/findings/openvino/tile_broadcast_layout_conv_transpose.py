#!/usr/bin/env python3
"""Same cause (bucket a548): ConvTranspose with pads (jit_gemm impl, C_out == 1) feeds a Tile that repeats the
channel axis; Tile selects nhwc, the edge keeps the deconvolution's planar descriptor (compatible as C==1)."""
import sys, numpy as np, openvino as ov
from onnx import helper as H, TensorProto as TP, numpy_helper as NH
g = H.make_graph(
    [H.make_node('ConvTranspose', ['x', 'w'], ['p'], pads=[0, 1, 0, 0]),
     H.make_node('Tile', ['p', 'r'], ['e'])], 'g',
    [H.make_tensor_value_info('x', TP.FLOAT, [1, 1, 1, 3])],
    [H.make_tensor_value_info('e', TP.FLOAT, [1, 2, 1, 2])],
    [NH.from_array(np.ones([1, 1, 1, 1], np.float32), 'w'), NH.from_array(np.array([1, 2, 1, 1], np.int64), 'r')])
m = H.make_model(g, opset_imports=[H.make_opsetid('', 17)]); m.ir_version = 8
x = np.array([0, 1, 2], np.float32).reshape(1, 1, 1, 3)
core = ov.Core()
c = core.compile_model(core.read_model(m.SerializeToString(), b''), 'CPU', {'INFERENCE_PRECISION_HINT': 'f32'})
got = c({'x': x})[c.output(0)]
want = np.tile(x[..., 1:], (1, 2, 1, 1))   # 1x1 kernel of ones, pad 1 at W begin crops the first column
print('expected', want.ravel(), '\nopenvino', got.ravel())
sys.exit(0 if np.array_equal(got, want) else 1)
