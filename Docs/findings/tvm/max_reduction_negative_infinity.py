"""TVM (apache-tvm 0.27, Relax ONNX frontend, llvm): max pooling and max/min reductions start from
the dtype's lowest/highest *finite* value, so a window or slice holding only -inf (ReduceMin: only
+inf) gives -FLT_MAX (FLT_MAX) instead of -inf (+inf).

A maximum of -inf values is -inf (IEEE 754: -inf is an ordinary, ordered value); ONNX MaxPool takes
the maximum of the window (its pads are ignored, not values), and ONNX ReduceMax/ReduceMin even name
-inf/+inf as the result over an empty set, so their identity is the infinity, not FLT_MAX. numpy,
onnx.reference and onnxruntime's reductions give -inf/+inf. TVM's topi reducers and pooling
start from tvm.min_value/max_value (the largest finite magnitude; by my reading of topi, and the
results are exactly +-FLT_MAX), which an infinity never beats: 1-D and 2-D MaxPool, with or
without pads, ReduceMax and ReduceMin, f16/f32/f64 alike; the default pipeline and the optimizing
one (tvm-opt) agree. Windows with any finite element are right.
(onnxruntime's MaxPool has the same -FLT_MAX defect, see ../onnxruntime/maxpool_negative_infinity.py;
related for the NaN case: microsoft/onnxruntime#24819, ep:tvm.)
Found by DLSmith's special values (a -inf input element), bucket 50e4513a73eafd4f.
Exit 1 = bug reproduces."""
import sys, warnings, numpy as np, onnx, tvm
from onnx import helper as h, TensorProto as T
from onnx.reference import ReferenceEvaluator
from tvm import relax
from tvm.relax.frontend.onnx import from_onnx

warnings.filterwarnings("ignore")
inf = np.inf


def tvm_run(m, x, optimize):
    mod = from_onnx(m, keep_params_in_input=False)
    pipeline = relax.get_default_pipeline(tvm.target.Target("llvm")) if optimize else "default"
    vm = relax.VirtualMachine(tvm.compile(mod, target="llvm", relax_pipeline=pipeline), tvm.cpu())
    return vm["main"](tvm.runtime.tensor(x)).numpy()


cases = [  # op, attributes, input, what every faithful implementation gives
    ("MaxPool", dict(kernel_shape=[2]), np.array([[[-inf, -inf, -inf, 1.0]]], np.float32),
     np.array([[[-inf, -inf, 1.0]]], np.float32)),
    ("MaxPool", dict(kernel_shape=[3], pads=[0, 2]), np.array([[[2.0, -inf, -inf]]], np.float32),
     np.array([[[2.0, -inf, -inf]]], np.float32)),  # the bucket's shape: windows of -inf and padding
    ("MaxPool", dict(kernel_shape=[1, 1]), np.array([[[[-inf, 1.0], [-inf, -inf]]]], np.float32),
     np.array([[[[-inf, 1.0], [-inf, -inf]]]], np.float32)),
    ("ReduceMax", dict(keepdims=0), np.array([[-inf, -inf], [-inf, 3.0]], np.float32), np.array([-inf, 3.0], np.float32)),
    ("ReduceMin", dict(keepdims=0), np.array([[inf, inf], [inf, 3.0]], np.float32), np.array([inf, 3.0], np.float32)),
]
bug = False
for op, attrs, x, want in cases:
    inputs, inits = ["x"], []
    if op.startswith("Reduce"):
        inputs.append("axes")
        inits.append(h.make_tensor("axes", T.INT64, [1], [1]))
    g = h.make_graph([h.make_node(op, inputs, ["y"], **attrs)], "g",
                     [h.make_tensor_value_info("x", T.FLOAT, list(x.shape))],
                     [h.make_tensor_value_info("y", T.FLOAT, list(want.shape))], inits)
    m = h.make_model(g, opset_imports=[h.make_opsetid("", 18)])
    onnx.checker.check_model(m, full_check=True)
    try:
        ref = ReferenceEvaluator(m).run(None, {"x": x})[0].ravel()
    except Exception as e:  # onnx.reference's own MaxPool pads bug (Docs/findings/onnx-reference/maxpool_pads_unit_stride.py)
        ref = f"error ({type(e).__name__})"
    for optimize in (False, True):
        got = tvm_run(m, x, optimize)
        wrong = got.shape != want.shape or not np.array_equal(got, want)
        print(f"{op} {attrs} {'tvm-opt' if optimize else 'tvm'}: {got.ravel()}  expected {want.ravel()}  "
              f"onnx.reference {ref}" + ("  WRONG: finite extreme instead of the infinity" if wrong else ""))
        bug |= wrong
sys.exit(1 if bug else 0)
