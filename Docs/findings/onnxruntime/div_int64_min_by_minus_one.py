"""onnxruntime's integer Div kills the process with SIGFPE for INT64_MIN / -1 (and INT32_MIN / -1):
x86 `idiv` traps on the overflow. The quotient does not fit (ONNX leaves integer overflow
undefined), but the process must not die: onnxruntime already checks integer divisors for zero to
return an error instead of trapping (microsoft/onnxruntime#16998, #27686); the overflow case is not
checked. Found by DLSmith's special values (a cast of -inf to int64 gave INT64_MIN).
Runs the session in a child process; exit 1 = bug reproduces (the child died of SIGFPE)."""
import subprocess, sys, textwrap

child = textwrap.dedent('''
    import numpy as np, onnx, onnxruntime as ort, sys
    from onnx import helper as h, TensorProto as T
    dt, np_t = (T.INT64, np.int64) if sys.argv[1] == "int64" else (T.INT32, np.int32)
    g = h.make_graph([h.make_node("Div", ["a", "b"], ["y"])], "g",
                     [h.make_tensor_value_info("a", dt, [2]), h.make_tensor_value_info("b", dt, [2])],
                     [h.make_tensor_value_info("y", dt, [2])])
    m = h.make_model(g, opset_imports=[h.make_opsetid("", 18)])
    onnx.checker.check_model(m, full_check=True)
    s = ort.InferenceSession(m.SerializeToString(), providers=["CPUExecutionProvider"])
    a = np.array([np.iinfo(np_t).min, 7], np_t); b = np.array([-1, 2], np_t)
    try:
        print(sys.argv[1], "result", s.run(None, {"a": a, "b": b})[0])
    except Exception as e:
        print(sys.argv[1], "error (acceptable):", str(e).splitlines()[0][:120])
''')
bug = False
for dt in ["int64", "int32"]:
    r = subprocess.run([sys.executable, "-c", child, dt], capture_output=True, text=True)
    print(r.stdout.strip() or f"{dt}: child exited with {r.returncode}" + (" (SIGFPE)" if r.returncode == -8 else ""))
    bug |= r.returncode == -8
sys.exit(1 if bug else 0)
