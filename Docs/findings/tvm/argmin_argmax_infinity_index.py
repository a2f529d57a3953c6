"""TVM (apache-tvm 0.27, Relax ONNX frontend, llvm): ArgMin over a slice whose elements are all +inf,
and ArgMax over a slice of only -inf, return index -1, an index outside the axis; with
select_last_index=1 they return the axis length n (also outside).

ONNX ArgMin/ArgMax return the index of the smallest/largest element, the first (or with
select_last_index the last) among equal ones; ±inf are ordinary ordered values (IEEE 754), so
ArgMin([inf, inf, inf]) is 0 (select_last_index: 2), and ArgMin([inf]) is 0. numpy, onnx.reference
and onnxruntime give that. TVM's topi arg-reducers start from (index -1, value max_value(dtype)) for
argmin (min_value for argmax), the largest finite value (by my reading of topi's reduction.h),
which an infinity never beats, so the initial index -1 survives; the ONNX frontend computes
select_last_index on the reversed axis as n - 1 - index, so -1 becomes n.
f16/f32/f64 alike; the default pipeline and the optimizing one (tvm-opt) agree; a slice with any
finite element is right. A model indexing with the result (Gather, one-hot) reads out of bounds.
Found by DLSmith's special values (+inf input elements), bucket aaf3c92a35a5601a.
Exit 1 = bug reproduces."""
import sys, warnings, numpy as np, onnx, onnxruntime as ort, tvm
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


# Row 0: only the infinity; row 1: control with a finite element.
cases = [("ArgMin", np.array([[inf, inf, inf], [inf, 2.0, inf]], np.float32), 0),
         ("ArgMax", np.array([[-inf, -inf, -inf], [-inf, 2.0, -inf]], np.float32), 0),
         ("ArgMin", np.array([[inf, inf, inf], [inf, 2.0, inf]], np.float32), 1),
         ("ArgMin", np.array([[inf]], np.float32), 0)]
bug = False
for op, x, last in cases:
    g = h.make_graph([h.make_node(op, ["x"], ["y"], axis=1, keepdims=0, select_last_index=last)], "g",
                     [h.make_tensor_value_info("x", T.FLOAT, list(x.shape))],
                     [h.make_tensor_value_info("y", T.INT64, [x.shape[0]])])
    m = h.make_model(g, opset_imports=[h.make_opsetid("", 18)])
    onnx.checker.check_model(m, full_check=True)
    f = np.argmin if op == "ArgMin" else np.argmax
    want = np.array([x.shape[1] - 1 - f(r[::-1]) if last else f(r) for r in x], np.int64)
    ref = ReferenceEvaluator(m).run(None, {"x": x})[0]
    so = ort.SessionOptions(); so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    o = ort.InferenceSession(m.SerializeToString(), so, providers=["CPUExecutionProvider"]).run(None, {"x": x})[0]
    for optimize in (False, True):
        got = tvm_run(m, x, optimize)
        wrong = not np.array_equal(got, want)
        print(f"{op} select_last_index={last} of {x.tolist()} {'tvm-opt' if optimize else 'tvm'}: {got}  "
              f"numpy {want}  onnx.reference {ref}  onnxruntime {o}" + ("  WRONG: index outside the axis" if wrong else ""))
        bug |= wrong
sys.exit(1 if bug else 0)
