#!/usr/bin/env python3
"""Bucket 357ebbc343c7b978: onnxruntime SIGSEGV at session creation (graph optimization).

3 nodes:  x:f16[1,1,1,1] -> Transpose(perm=[1,2,3,0]) -> Cast(to=FLOAT) -> MatMul(., y:f32[1,1,1])

MatmulTransposeFusion sees MatMul <- Cast <- Transpose, calls ReorderCastAndTranspose (adds a new
Cast and a new Transpose, removes the old Cast), then abandons the fusion because the Transpose
moves a batch dim (transBatchA) and the MatMul inputs have different ranks (4 vs 3). It returns
modified=false, so the graph is not re-resolved: the new nodes have no schema (Op()==nullptr) and
no edges. NchwcTransformer (level 3, x86_64) then dereferences node.Op() -> SIGSEGV.

Each attempt runs in a child process. Exit 1 when the crash reproduces, 0 otherwise.
"""
import os, subprocess, sys, tempfile
import numpy as np
import onnx
from onnx import helper as h, TensorProto as T

def model(xshape=(1, 1, 1, 1), yshape=(1, 1, 1), perm=(1, 2, 3, 0)):
    nodes = [h.make_node("Transpose", ["x"], ["t"], perm=list(perm)),
             h.make_node("Cast", ["t"], ["c"], to=T.FLOAT),
             h.make_node("MatMul", ["c", "y"], ["z"])]
    g = h.make_graph(nodes, "g", [h.make_tensor_value_info("x", T.FLOAT16, list(xshape)),
                                  h.make_tensor_value_info("y", T.FLOAT, list(yshape))],
                     [h.make_tensor_value_info("z", T.FLOAT, None)])
    m = h.make_model(g, opset_imports=[h.make_opsetid("", 20)], ir_version=10)
    m = onnx.shape_inference.infer_shapes(m, strict_mode=True)
    onnx.checker.check_model(m, full_check=True)
    return m

CHILD = r'''
import sys, numpy as np, onnxruntime as ort
path, level, disabled = sys.argv[1], sys.argv[2], [d for d in sys.argv[3].split(",") if d]
so = ort.SessionOptions()
so.graph_optimization_level = getattr(ort.GraphOptimizationLevel, level)
so.intra_op_num_threads = 1; so.inter_op_num_threads = 1
s = ort.InferenceSession(path, so, providers=["CPUExecutionProvider"], disabled_optimizers=disabled)
i = s.get_inputs()
x = np.full(i[0].shape, 3, np.float16); y = np.full(i[1].shape, 2, np.float32)
print(s.run(None, {"x": x, "y": y})[0].ravel()[:4].tolist())
'''

def attempt(path, level, disabled=()):
    r = subprocess.run([sys.executable, "-c", CHILD, path, level, ",".join(disabled)],
                       capture_output=True, text=True)
    if r.returncode < 0:
        return f"CRASH (signal {-r.returncode})", True
    if r.returncode != 0:
        return "error: " + (r.stderr.strip().splitlines() or ["?"])[-1], False
    return "ok, z = " + r.stdout.strip(), False

def main():
    import onnxruntime as ort
    print("onnxruntime", ort.__version__, "onnx", onnx.__version__)
    crashed = False
    d = tempfile.mkdtemp()
    cases = [("x f16[1,1,1,1] perm [1,2,3,0], y f32[1,1,1]", model()),
             ("x f16[2,3,4]  perm [1,2,0],   y f32[2,5]   ", model((2, 3, 4), (2, 5), (1, 2, 0))),
             ("x f16[2,3,4]  perm [1,2,0],   y f32[3,2,5] (same rank: fusion completes)", model((2, 3, 4), (3, 2, 5), (1, 2, 0)))]
    for k, (name, m) in enumerate(cases):
        p = os.path.join(d, f"m{k}.onnx"); onnx.save(m, p)
        print(f"\n{name}")
        for level in ["ORT_DISABLE_ALL", "ORT_ENABLE_BASIC", "ORT_ENABLE_EXTENDED", "ORT_ENABLE_LAYOUT", "ORT_ENABLE_ALL"]:
            msg, c = attempt(p, level)
            print(f"  {level:20s} {msg}")
            crashed |= c and k < 2
        if k == 0:
            for dis in (["NchwcTransformer"], ["MatmulTransposeFusion"]):
                msg, _ = attempt(p, "ORT_ENABLE_ALL", dis)
                print(f"  ORT_ENABLE_ALL, disabled_optimizers={dis}: {msg}")
    print("\nreproduced" if crashed else "\nfixed")
    return 1 if crashed else 0

if __name__ == "__main__":
    sys.exit(main())
