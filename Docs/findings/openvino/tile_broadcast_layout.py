#!/usr/bin/env python3
"""OpenVINO CPU: Expand/Tile (Broadcast/Tile node) after a pool whose output is also read by Abs gives
elements in the wrong order. The pool outputs planar (abcd) memory; the Broadcast node selects nhwc; since C==1
the two descriptors are 'compatible', no Reorder is inserted, and TileBroadcastCommon::prepareOptimizedParams
mixes the edge's planar block dims with nhwc-permuted repeats and an nhwc destination."""
import sys, numpy as np, onnx, openvino as ov
from onnx import helper as H, TensorProto as TP, numpy_helper as NH
g = H.make_graph(
    [H.make_node('AveragePool', ['x'], ['p'], kernel_shape=[1, 1]),
     H.make_node('Abs', ['p'], ['a']),
     H.make_node('Expand', ['p', 's'], ['e'])], 'g',
    [H.make_tensor_value_info('x', TP.FLOAT, [1, 1, 1, 2])],
    [H.make_tensor_value_info('e', TP.FLOAT, [1, 2, 1, 2]), H.make_tensor_value_info('a', TP.FLOAT, [1, 1, 1, 2])],
    [NH.from_array(np.array([1, 2, 1, 2], np.int64), 's')])
m = H.make_model(g, opset_imports=[H.make_opsetid('', 17)]); m.ir_version = 8
x = np.array([1, 2], np.float32).reshape(1, 1, 1, 2)
core = ov.Core()
c = core.compile_model(core.read_model(m.SerializeToString(), b''), 'CPU', {'INFERENCE_PRECISION_HINT': 'f32'})
got = c({'x': x})[c.output(0)]
want = np.broadcast_to(x, (1, 2, 1, 2))
print('expected', want.ravel(), '\nopenvino', got.ravel())
sys.exit(0 if np.array_equal(got, want) else 1)
