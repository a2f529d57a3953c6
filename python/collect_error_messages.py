#!/usr/bin/env python3
"""Collects golden error messages of the real targets for crash-state normalization tests.

Usage: python3 collect_error_messages.py [--out PATH] [--backends ort,ort-noopt,openvino,tvm,onnx-ref]
       (default PATH: Tests/FuzzingTests/Fixtures/error-messages.json of this repository)

Builds small ONNX models that make the targets fail, each cause in 3 variants that differ only in
numbers, dims, shapes and node / value names, runs them through dlsmith_worker.py (one worker
process per backend, frames as the Swift side sends them) and writes a JSON array of
  {"backend", "stage": "compile"|"execute", "cause", "op", "message"}
where "message" is the worker's "error" verbatim ("<ExceptionType>: <message>", multi-line). A
cause is recorded for a backend only if all its variants fail there at the same stage; causes a
backend runs without error (or answers "unsupported", or crashes on) are left out for it and listed
on stderr. Cause ids are per backend: the same id on two backends names the same model family.
Also warns on stderr when two causes of one backend give the same message once digits are
blanked (a test could not tell them apart). Needs numpy, onnx and the backends' packages.
"""
import argparse
import json
import os
import re
import sys

import numpy as np
import onnx
from onnx import TensorProto as T
from onnx import helper as h
from onnx import numpy_helper as nh

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from worker_client import Worker  # noqa: E402

BACKENDS = ["ort", "ort-noopt", "openvino", "tvm", "onnx-ref"]
DEFAULT_OUT = os.path.join(os.path.dirname(HERE), "Tests", "FuzzingTests", "Fixtures", "error-messages.json")
VARIANTS = 3


class Names:
    """Fresh node and value names in one of three styles: DLSmith's exporter (n<k>_<Op>, v<k>),
    the same with other numbers, and PyTorch's exporter (/block/conv/Conv, input.7, onnx::Add_12)."""

    def __init__(self, variant):
        self.variant = variant
        self.count = [0, 0]

    def node(self, op):
        self.count[0] += 1
        k = self.count[0]
        return [f"n{k - 1}_{op}", f"n{10 * k + 7}_{op}", f"/layer{k}/{op.lower()}/{op}"][self.variant]

    def value(self):
        self.count[1] += 1
        k = self.count[1]
        return [f"v{k}", f"v{100 + 13 * k}", f"input.{4 * k + 1}" if k % 2 else f"onnx::Add_{30 + k}"][self.variant]


class Case:
    """One model: nodes added with `node`, inputs with `input` (value, ONNX type, declared shape,
    fed array), initializers with `const`."""

    def __init__(self, variant):
        self.names = Names(variant)
        self.nodes, self.inputs, self.outputs, self.inits, self.feeds = [], [], [], [], []

    def input(self, elem, shape, feed):
        name = self.names.value()
        self.inputs.append(h.make_tensor_value_info(name, elem, shape))
        self.feeds.append(np.asarray(feed))
        return name

    def const(self, array):
        name = self.names.value() + "_const"
        self.inits.append(nh.from_array(np.asarray(array), name))
        return name

    def node(self, op, inputs, outputs=1, **attrs):
        outs = [self.names.value() for _ in range(outputs)]
        self.nodes.append(h.make_node(op, inputs, outs, name=self.names.node(op), **attrs))
        return outs[0] if outputs == 1 else outs

    def output(self, name, elem, shape=None):
        # No declared shape (rank unknown): the failure must come from the backend, not from a
        # declared output shape it cannot merge.
        self.outputs.append(h.make_tensor_value_info(name, elem, shape))

    def bytes(self, opset=17):
        g = h.make_graph(self.nodes, "dlsmith", self.inputs, self.outputs, self.inits)
        m = h.make_model(g, opset_imports=[h.make_opsetid("", opset)], producer_name="dlsmith")
        m.ir_version = 8
        return m.SerializeToString()


FAMILIES = []


def family(cause, op, backends=BACKENDS, causes=None, per_backend=False):
    """Registers `build(case, variant)` (`build(case, variant, backend)` if `per_backend`): one
    model family. `causes` renames the cause on some backends (the family fails there for another
    reason)."""
    def register(build):
        FAMILIES.append({"cause": cause, "op": op, "backends": backends, "causes": causes or {},
                         "build": build if per_backend else lambda c, k, _: build(c, k)})
        return build
    return register


def ones(*shape, dtype=np.float32):
    return np.ones(shape, dtype)


NOT_ONNX_REF = [b for b in BACKENDS if b != "onnx-ref"]
NOT_TVM_OR_REF = ["ort", "ort-noopt", "openvino"]


# The backends fail on a non-positive ConvTranspose output dim in several ways, depending on the
# dims: OpenVINO "Destination memory is undefined" (here) or "Can't clone desc if new dims are
# undefined" (e.g. x [1,1,2,2], w [1,1,2,2], pads [2,0,2,0]); TVM "negative dimensions are not
# allowed" when both spatial dims are negative (here), std::bad_alloc at run time when one is
# negative and the other positive with one input channel, or "cannot make uint from negative value"
# while compiling (as for Sign on uint8: no message tells the two apart). Each backend gets
# variants of one manifestation.
CONVTRANSPOSE = {  # (in channels, out channels, H, W, kernel, pads)
    "": [(1, 1, 2, 2, 2, [2, 0, 2, 0]), (2, 3, 4, 3, 3, [0, 4, 0, 4]), (1, 2, 3, 5, 2, [3, 1, 3, 1])],
    "openvino": [(2, 3, 4, 3, 3, [0, 4, 0, 4]), (1, 2, 3, 5, 2, [3, 1, 3, 1]), (2, 2, 3, 3, 2, [3, 3, 3, 3])],
    "tvm": [(1, 1, 2, 2, 2, [2, 2, 2, 2]), (2, 2, 3, 3, 2, [3, 3, 3, 3]), (1, 3, 3, 2, 1, [2, 2, 2, 2])],
}


@family("convtranspose-output-dim-nonpositive", "ConvTranspose", per_backend=True)
def _(c, k, backend):
    # output = stride * (in - 1) + kernel - pad_begin - pad_end <= 0 on a spatial dim.
    cin, cout, hh, ww, kk, pads = CONVTRANSPOSE.get(backend, CONVTRANSPOSE[""])[k]
    x = c.input(T.FLOAT, [1, cin, hh, ww], ones(1, cin, hh, ww))
    y = c.node("ConvTranspose", [x, c.const(ones(cin, cout, kk, kk))], pads=pads)
    c.output(y, T.FLOAT)


@family("reshape-element-count-mismatch", "Reshape")
def _(c, k):
    src, dst = [([2, 3], [4, 4]), ([5, 1], [2, 2]), ([3, 4, 2], [5, 5])][k]
    x = c.input(T.FLOAT, src, ones(*src))
    c.output(c.node("Reshape", [x, c.const(np.array(dst, np.int64))]), T.FLOAT)


@family("reshape-element-count-mismatch-runtime", "Reshape", backends=["openvino"])
def _(c, k):
    # Symbolic input dims: the mismatch is found when the inputs arrive (same message as the static
    # family on onnxruntime and onnx.reference; TVM returns a wrong-sized tensor).
    src, dst = [([2, 3], [4, 4]), ([5, 1], [2, 2]), ([3, 4, 2], [5, 5])][k]
    x = c.input(T.FLOAT, [f"d{i}" for i in range(len(src))], ones(*src))
    c.output(c.node("Reshape", [x, c.const(np.array(dst, np.int64))]), T.FLOAT)


@family("matmul-inner-dim-mismatch", "MatMul")
def _(c, k):
    a, b = [([2, 3], [4, 5]), ([1, 7], [6, 2]), ([3, 2, 4], [3, 5, 2])][k]
    x, y = c.input(T.FLOAT, a, ones(*a)), c.input(T.FLOAT, b, ones(*b))
    c.output(c.node("MatMul", [x, y]), T.FLOAT)


@family("matmul-inner-dim-mismatch-runtime", "MatMul", backends=NOT_TVM_OR_REF)
def _(c, k):
    # Symbolic dims, fed mismatching shapes (TVM does not check and computes with the wrong sizes).
    a, b = [([2, 3], [4, 5]), ([1, 7], [6, 2]), ([3, 2, 4], [3, 5, 2])][k]
    x = c.input(T.FLOAT, [f"a{i}" for i in range(len(a))], ones(*a))
    y = c.input(T.FLOAT, [f"b{i}" for i in range(len(b))], ones(*b))
    c.output(c.node("MatMul", [x, y]), T.FLOAT)


@family("gather-index-out-of-range", "Gather")
def _(c, k):
    shape, axis, index = [([3, 2], 0, 7), ([4, 5], 1, -9), ([2, 6, 3], 2, 3)][k]
    x = c.input(T.FLOAT, shape, ones(*shape))
    i = c.input(T.INT64, [2], np.array([0, index], np.int64))
    c.output(c.node("Gather", [x, i], axis=axis), T.FLOAT)


@family("concat-dim-mismatch", "Concat")
def _(c, k):
    a, b, axis = [([2, 3], [2, 4], 0), ([1, 5, 2], [1, 5, 3], 1), ([3, 1], [4, 1], 1)][k]
    x, y = c.input(T.FLOAT, a, ones(*a)), c.input(T.FLOAT, b, ones(*b))
    c.output(c.node("Concat", [x, y], axis=axis), T.FLOAT)


@family("concat-dim-mismatch-runtime", "Concat", backends=NOT_ONNX_REF,
        causes={"tvm": "codegenvm-op-not-legalized"})
def _(c, k):
    # Unrelated symbolic dims: TVM cannot infer the result shape, leaves R.concat unlegalized and
    # fails in VM codegen.
    a, b, axis = [([2, 3], [2, 4], 0), ([1, 5, 2], [1, 5, 3], 1), ([3, 1], [4, 1], 1)][k]
    x = c.input(T.FLOAT, [f"a{i}" for i in range(len(a))], ones(*a))
    y = c.input(T.FLOAT, [f"b{i}" for i in range(len(b))], ones(*b))
    c.output(c.node("Concat", [x, y], axis=axis), T.FLOAT)


@family("broadcast-incompatible", "Add")
def _(c, k):
    a, b = [([2, 3], [2, 4]), ([5, 1, 2], [3, 3]), ([1, 4], [3, 2, 5])][k]
    x, y = c.input(T.FLOAT, a, ones(*a)), c.input(T.FLOAT, b, ones(*b))
    c.output(c.node("Add", [x, y]), T.FLOAT)


@family("broadcast-incompatible-runtime", "Add", backends=NOT_TVM_OR_REF)
def _(c, k):
    a, b = [([2, 3], [2, 4]), ([5, 1, 2], [3, 3]), ([1, 4], [3, 2, 5])][k]
    x = c.input(T.FLOAT, [f"a{i}" for i in range(len(a))], ones(*a))
    y = c.input(T.FLOAT, [f"b{i}" for i in range(len(b))], ones(*b))
    c.output(c.node("Add", [x, y]), T.FLOAT)


@family("input-dims-mismatch", "", backends=NOT_ONNX_REF)
def _(c, k):
    declared, fed = [([2, 3], [3, 3]), ([4, 1, 5], [4, 2, 5]), ([1, 1], [2, 1])][k]
    x = c.input(T.FLOAT, declared, ones(*fed))
    c.output(c.node("Relu", [x]), T.FLOAT)


@family("input-rank-mismatch", "", backends=NOT_ONNX_REF)
def _(c, k):
    declared, fed = [([2, 3], [2, 3, 1]), ([4], [2, 2]), ([1, 2, 3], [6])][k]
    x = c.input(T.FLOAT, declared, ones(*fed))
    c.output(c.node("Relu", [x]), T.FLOAT)


@family("squeeze-non-unit-dim", "Squeeze")
def _(c, k):
    shape, axis = [([2, 3], 1), ([4, 1, 5], 0), ([1, 6, 1, 2], -1)][k]
    x = c.input(T.FLOAT, shape, ones(*shape))
    c.output(c.node("Squeeze", [x, c.const(np.array([axis], np.int64))]), T.FLOAT)


@family("squeeze-non-unit-dim-runtime", "Squeeze", backends=NOT_ONNX_REF,
        causes={"tvm": "squeeze-symbolic-axis"})
def _(c, k):
    shape, axis = [([2, 3], 1), ([4, 1, 5], 0), ([1, 6, 1, 2], -1)][k]
    x = c.input(T.FLOAT, [f"d{i}" for i in range(len(shape))], ones(*shape))
    c.output(c.node("Squeeze", [x, c.const(np.array([axis], np.int64))]), T.FLOAT)


@family("topk-k-exceeds-axis", "TopK", backends=NOT_ONNX_REF)
def _(c, k):
    # onnx.reference fails with NumPy's IndexError, the message of Gather's out-of-range index.
    shape, kk, axis = [([2, 3], 5, -1), ([4, 2], 7, 0), ([1, 3, 6], 9, 2)][k]
    x = c.input(T.FLOAT, shape, ones(*shape))
    values, indices = c.node("TopK", [x, c.const(np.array([kk], np.int64))], outputs=2, axis=axis)
    c.output(values, T.FLOAT)
    c.output(indices, T.INT64)


@family("binary-operand-type-mismatch", "Add")
def _(c, k):
    (ta, na), (tb, nb), shape = [((T.FLOAT, np.float32), (T.INT64, np.int64), [2, 3]),
                                 ((T.INT32, np.int32), (T.FLOAT, np.float32), [4]),
                                 ((T.DOUBLE, np.float64), (T.FLOAT, np.float32), [1, 5])][k]
    x, y = c.input(ta, shape, ones(*shape, dtype=na)), c.input(tb, shape, ones(*shape, dtype=nb))
    c.output(c.node("Add", [x, y]), ta)


@family("conv-channel-mismatch", "Conv")
def _(c, k):
    (n, cin, hw), (cout, wc, kk) = [((1, 3, 5), (2, 2, 3)), ((2, 4, 6), (3, 5, 1)), ((1, 1, 4), (4, 3, 2))][k]
    x = c.input(T.FLOAT, [n, cin, hw, hw], ones(n, cin, hw, hw))
    c.output(c.node("Conv", [x, c.const(ones(cout, wc, kk, kk))]), T.FLOAT)


@family("expand-incompatible-shape", "Expand")
def _(c, k):
    src, dst = [([2, 3], [4, 4]), ([3, 1], [2, 5]), ([1, 4, 2], [3, 4, 5])][k]
    x = c.input(T.FLOAT, src, ones(*src))
    c.output(c.node("Expand", [x, c.const(np.array(dst, np.int64))]), T.FLOAT)


@family("split-sizes-mismatch", "Split")
def _(c, k):
    shape, axis, sizes = [([2, 5], 1, [2, 2]), ([7, 3], 0, [3, 3, 3]), ([1, 4, 6], 2, [1, 2])][k]
    x = c.input(T.FLOAT, shape, ones(*shape))
    outs = c.node("Split", [x, c.const(np.array(sizes, np.int64))], outputs=len(sizes), axis=axis)
    for o in outs:
        c.output(o, T.FLOAT)


@family("transpose-invalid-perm", "Transpose")
def _(c, k):
    shape, perm = [([2, 5], [0, 2]), ([3, 4, 1], [3, 1, 0]), ([6, 2], [1, 5])][k]
    x = c.input(T.FLOAT, shape, ones(*shape))
    c.output(c.node("Transpose", [x], perm=perm), T.FLOAT)


@family("integer-division-by-zero", "Div", backends=["ort", "ort-noopt", "openvino", "onnx-ref"])
def _(c, k):
    # TVM is left out: the division traps (SIGFPE) and kills the worker.
    (elem, dtype), shape, zero_at = [((T.INT32, np.int32), [2], 1), ((T.INT64, np.int64), [3, 2], 4),
                                     ((T.INT32, np.int32), [1, 4], 0)][k]
    b = np.arange(1, int(np.prod(shape)) + 1, dtype=dtype)
    b[zero_at] = 0
    x = c.input(elem, shape, ones(*shape, dtype=dtype))
    y = c.input(elem, shape, b.reshape(shape))
    c.output(c.node("Div", [x, y]), elem)


@family("unsupported-op", "Celu", backends=["tvm"])
def _(c, k):
    shape, alpha = [([2, 3], 1.0), ([4], 0.5), ([1, 2, 5], 2.0)][k]
    x = c.input(T.FLOAT, shape, ones(*shape))
    c.output(c.node("Celu", [x], alpha=alpha), T.FLOAT)


@family("llvm-module-verification-failed", "Equal", backends=["tvm"])
def _(c, k):
    # Equal on bool tensors is lowered to a float compare of i1 values.
    a, b = [([2, 2], [2, 2]), ([3], [1]), ([4, 1, 2], [1, 3, 2])][k]
    x, y = c.input(T.BOOL, a, ones(*a, dtype=np.bool_)), c.input(T.BOOL, b, ones(*b, dtype=np.bool_))
    c.output(c.node("Equal", [x, y]), T.BOOL)


@family("unknown-intrinsic", "Atan", backends=["tvm"])
def _(c, k):
    shape = [[2, 2], [5], [1, 3, 4]][k]
    x = c.input(T.FLOAT16, shape, ones(*shape, dtype=np.float16))
    c.output(c.node("Atan", [x]), T.FLOAT16)


@family("pow-integer-operands", "Pow", backends=["tvm"])
def _(c, k):
    (elem, dtype), shape = [((T.INT32, np.int32), [2, 2]), ((T.INT64, np.int64), [3]), ((T.INT32, np.int32), [1, 4, 2])][k]
    x, y = c.input(elem, shape, ones(*shape, dtype=dtype)), c.input(elem, shape, ones(*shape, dtype=dtype))
    c.output(c.node("Pow", [x, y]), elem)


@family("uint-from-negative-constant", "Sign", backends=["tvm"])
def _(c, k):
    shape = [[2, 2], [7], [3, 1, 2]][k]
    x = c.input(T.UINT8, shape, ones(*shape, dtype=np.uint8))
    c.output(c.node("Sign", [x]), T.UINT8)


# ---------------------------------------------------------------------------------------------

def blank_digits(message):
    return re.sub(r"\d+", "N", message)


def collect(backends):
    entries, notes = [], []
    for backend in backends:
        worker = Worker(backend)
        for fam in FAMILIES:
            if backend not in fam["backends"]:
                continue
            cause = fam["causes"].get(backend, fam["cause"])
            results = []
            for k in range(VARIANTS):
                case = Case(k)
                fam["build"](case, k, backend)
                try:
                    results.append(worker.run(case.bytes(), case.feeds)[-1])
                except EOFError:
                    results.append({"crashed": True})
                    worker = Worker(backend)
            errors = [r for r in results if "error" in r]
            stages = {r["stage"] for r in errors}
            if len(errors) < VARIANTS or len(stages) != 1:
                outcomes = ["crashed" if "crashed" in r else "unsupported" if "unsupported" in r
                            else f"{r['stage']} error" if "error" in r else "ran" for r in results]
                notes.append(f"{backend} {cause}: left out ({', '.join(outcomes)})")
                continue
            for r in errors:
                entries.append({"backend": backend, "stage": r["stage"], "cause": cause, "op": fam["op"],
                                "message": r["error"]})
        status = worker.close()
        if status != 0:
            notes.append(f"{backend}: worker exited {status}")
    return entries, notes


def check(entries):
    """Warnings: causes of one backend whose messages coincide once digits are blanked, and causes
    whose variants all give one message."""
    warnings = []
    by_backend = {}
    for e in entries:
        by_backend.setdefault(e["backend"], {}).setdefault(blank_digits(e["message"]), set()).add(e["cause"])
    for backend, groups in by_backend.items():
        for causes in groups.values():
            if len(causes) > 1:
                warnings.append(f"{backend}: causes {sorted(causes)} give the same message up to digits")
    by_cause = {}
    for e in entries:
        by_cause.setdefault((e["backend"], e["cause"]), set()).add(e["message"])
    for (backend, cause), messages in by_cause.items():
        if len(messages) == 1:
            warnings.append(f"{backend} {cause}: all variants give the same message")
    return warnings


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", default=DEFAULT_OUT)
    parser.add_argument("--backends", default=",".join(BACKENDS))
    args = parser.parse_args()
    entries, notes = collect(args.backends.split(","))
    for line in notes + check(entries):
        print(line, file=sys.stderr)
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, "w") as f:
        json.dump(entries, f, indent=1, ensure_ascii=False)
        f.write("\n")
    causes = {(e["backend"], e["cause"]) for e in entries}
    print(f"{args.out}: {len(entries)} messages, {len(causes)} backend/cause pairs, "
          f"{len({c for _, c in causes})} causes", file=sys.stderr)


if __name__ == "__main__":
    main()
