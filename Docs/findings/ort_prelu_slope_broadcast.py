"""onnxruntime 1.32: PRelu broadcasts a slope that is not unidirectionally broadcastable to X.

ONNX PRelu: "slope ... should be unidirectional broadcastable to input tensor X". onnxruntime's CPU
kernel nevertheless accepts X [1, 1, 1] with slope [24, 1, 3] and returns a [24, 1, 3] tensor, while
its shape inference types the output as X's shape [1, 1, 1]. A later node reusing that buffer fails:
"Shape mismatch attempting to re-use buffer. {1,1,1} != {24,1,3}". Found by DLSmith's rule inference
(the traces recorded PRelu(X [1], slope [N]) -> [N]) and a `--method rules --rules-target ort`
campaign. Exit status 1 while the bug is present, 0 once onnxruntime rejects the model or the call.
"""
import sys

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper

x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 1, 1])
slope = helper.make_tensor_value_info("slope", TensorProto.FLOAT, [24, 1, 3])
y = helper.make_tensor_value_info("y", TensorProto.FLOAT, None)
graph = helper.make_graph(
    [helper.make_node("Relu", ["x"], ["r"]), helper.make_node("PRelu", ["r", "slope"], ["p"]),
     helper.make_node("Cosh", ["p"], ["q"]), helper.make_node("Cosh", ["q"], ["y"])],
    "prelu", [x, slope], [y])
model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 20)])
model.ir_version = 9
options = ort.SessionOptions()
options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
options.log_severity_level = 4
try:
    session = ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])
    out = session.run(None, {"x": np.full([1, 1, 1], -1, np.float32),
                             "slope": np.full([24, 1, 3], 0.5, np.float32)})
except Exception as e:  # the bug: the kernel's output contradicts the inferred shape
    message = str(e)
    if "re-use buffer" in message:
        print("BUG:", message.splitlines()[0][:300])
        sys.exit(1)
    print("rejected (fixed):", message.splitlines()[0][:300])
    sys.exit(0)
print("ran; output shape", out[0].shape, "(fixed if onnxruntime now types it so)")
sys.exit(0)
