#!/usr/bin/env python3
"""Same cause, opposite direction (bucket 41cab): the pool's output is nwc (chosen because a second pool reads
it; W==1 so nwc == ncw physically, no Reorder), the Broadcast node (rank 3 -> 4, planar config) takes the edge's
nwc block dims [N,W,C] as if they were [N,C,W] and repeats the whole C vector instead of each element."""
import sys, numpy as np, openvino as ov
from onnx import helper as H, TensorProto as TP, numpy_helper as NH
g = H.make_graph(
    [H.make_node('AveragePool', ['x'], ['p'], kernel_shape=[1]),
     H.make_node('AveragePool', ['p'], ['a'], kernel_shape=[1]),
     H.make_node('Expand', ['p', 's'], ['e'])], 'g',
    [H.make_tensor_value_info('x', TP.FLOAT, [1, 2, 1])],
    [H.make_tensor_value_info('e', TP.FLOAT, [1, 2, 2]), H.make_tensor_value_info('a', TP.FLOAT, [1, 2, 1])],
    [NH.from_array(np.array([1, 1, 2], np.int64), 's')])
m = H.make_model(g, opset_imports=[H.make_opsetid('', 17)]); m.ir_version = 8
x = np.array([1, 2], np.float32).reshape(1, 2, 1)
core = ov.Core()
c = core.compile_model(core.read_model(m.SerializeToString(), b''), 'CPU', {'INFERENCE_PRECISION_HINT': 'f32'})
got = c({'x': x})[c.output(0)]
want = np.broadcast_to(x, (1, 2, 2))
print('expected', want.ravel(), '\nopenvino', got.ravel())
sys.exit(0 if np.array_equal(got, want) else 1)
