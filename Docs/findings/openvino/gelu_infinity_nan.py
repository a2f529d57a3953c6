"""OpenVINO 2026.4.1 (CPU): Gelu (ONNX default, approximate="none", the erf form) gives NaN for +inf,
and +inf for finite inputs above about FLT_MAX / 2 (2e38 gives inf, not 2e38).

GELU(x) = x * Phi(x) = 0.5 * x * (1 + erf(x / sqrt(2))). At +inf every formula of it gives +inf
(Phi(+inf) = 1, erf(+inf) = 1): onnxruntime, onnx.reference and numpy give +inf, and for a finite
x of 2e38 they give 2e38 (Phi(x) is 1 there). OpenVINO gives NaN at +inf and +inf from about 1.8e38
up, as if it computed x * (1 + erf(...)) before halving (which overflows) and something like
inf - inf or inf * 0 inside its erf approximation at infinity (by my reading; not confirmed in the
source). The tanh approximation (approximate="tanh") is right at both. SNIPPETS_MODE DISABLE gives
the same, and so does the unfused pattern 0.5 * x * (1 + Erf(x / sqrt(2))), which OpenVINO fuses into
its Gelu. DLSmith does not pin Gelu(+inf) by itself (a formula's result at infinity may be the
largest finite value instead), but the NaN is neither, and it shows in results that are pinned:
Gelu(x) * inf is +inf under either reading and NaN on OpenVINO (third case below). The finite
overflow is wrong under any reading.
Found by DLSmith's special values (an inf input through ReduceMax), in an instance of bucket
88461be87830fb2a of campaign p17/ov-ev2 (the bucket's own minimized model shows another thing;
Docs/findings/special-values-openvino-notes.md). Upstream: openvinotoolkit/openvino#35934 (Gelu
of +inf gives NaN, reported on 2026.1.0 and closed; still there in 2026.4.1); the finite overflow
not found upstream. Exit 1 = bug reproduces."""
import math, sys, warnings, numpy as np, onnx, openvino as ov, onnxruntime as ort
from onnx import helper as h, TensorProto as T
from onnx.reference import ReferenceEvaluator

warnings.filterwarnings("ignore"); np.seterr(all="ignore")

core = ov.Core()
cfg = {"INFERENCE_PRECISION_HINT": "f32", "EXECUTION_MODE_HINT": "ACCURACY"}
x = np.array([np.inf, 3.4e38, 2e38, 1.5e38, 1e30, 10.0, 0.5, -10.0], np.float32)
big = np.full(x.shape, np.inf, np.float32)


def model(approximate, times_inf=False):
    nodes = [h.make_node("Gelu", ["x"], ["g" if times_inf else "y"], approximate=approximate)]
    inputs = [h.make_tensor_value_info("x", T.FLOAT, [x.size])]
    if times_inf:
        nodes.append(h.make_node("Mul", ["g", "b"], ["y"]))
        inputs.append(h.make_tensor_value_info("b", T.FLOAT, [x.size]))
    g = h.make_graph(nodes, "g", inputs, [h.make_tensor_value_info("y", T.FLOAT, [x.size])])
    m = h.make_model(g, opset_imports=[h.make_opsetid("", 20)]); m.ir_version = 9
    onnx.checker.check_model(m, full_check=True)
    return m


def gelu(v, approximate):  # float64, rounded to f32; for x > 40 both forms are x (Phi(x) = 1)
    v = v.astype(np.float64)
    t = np.where(np.isfinite(v) & (np.abs(v) <= 40), v, 0.0)
    if approximate == "tanh":
        phi = 0.5 * (1 + np.tanh(np.sqrt(2 / np.pi) * (t + 0.044715 * t**3)))
    else:
        phi = 0.5 * (1 + np.vectorize(math.erf)(t / np.sqrt(2)))
    phi = np.where(v > 40, 1.0, np.where(v < -40, 0.0, phi))
    return (v * phi).astype(np.float32)


bug = False
for approximate, times_inf in (("none", False), ("tanh", False), ("none", True)):
    m = model(approximate, times_inf)
    feeds = {"x": x, "b": big} if times_inf else {"x": x}
    want = gelu(x, approximate) * (big if times_inf else 1)
    ref = ReferenceEvaluator(m).run(None, feeds)[0]
    so = ort.SessionOptions(); so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    o = ort.InferenceSession(m.SerializeToString(), so, providers=["CPUExecutionProvider"]).run(None, feeds)[0]
    got = core.compile_model(core.read_model(m.SerializeToString(), b""), "CPU", cfg)(feeds)[0]
    same = (got == want) | (np.isnan(got) & np.isnan(want)) | np.isclose(got, want, rtol=1e-5, atol=0)
    name = f"Gelu(x, approximate={approximate})" + (" * inf" if times_inf else "")
    print(f"{name}\n  x              {x}\n  openvino       {got}\n  numpy          {want}\n"
          f"  onnx.reference {ref}\n  onnxruntime    {o}" + ("" if same.all() else f"\n  WRONG at x = {x[~same]}"))
    bug |= not same.all()
sys.exit(1 if bug else 0)
