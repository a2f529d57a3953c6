"""A client of dlsmith_worker.py speaking the worker protocol the way the Swift side does (frames of
a 4-byte little-endian length then UTF-8 JSON; tensors as base64 float64 bit patterns). Used by
worker_smoke.py and collect_error_messages.py. Needs numpy."""
import base64
import json
import os
import struct
import subprocess
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
WORKER = os.path.join(HERE, "dlsmith_worker.py")
SWIFT_DTYPES = {np.dtype(np.float16): "f16", np.dtype(np.float32): "f32", np.dtype(np.float64): "f64",
                np.dtype(np.int32): "i32", np.dtype(np.int64): "i64", np.dtype(np.bool_): "bool",
                np.dtype(np.int8): "i8", np.dtype(np.uint8): "u8"}
NUMPY = {v: k for k, v in SWIFT_DTYPES.items()}


def encode(a):
    a = np.asarray(a)
    return {"dtype": SWIFT_DTYPES[a.dtype], "shape": list(a.shape),
            "bits": base64.b64encode(np.ascontiguousarray(a.astype("<f8")).tobytes()).decode()}


def decode(t):
    v = np.frombuffer(base64.b64decode(t["bits"]), dtype="<f8").reshape(t["shape"])
    return v.astype(NUMPY[t["dtype"]])


class Worker:
    """`dlsmith_worker.py --backend NAME` in a subprocess (its stderr discarded)."""

    def __init__(self, backend, python=sys.executable):
        self.p = subprocess.Popen([python, WORKER, "--backend", backend], stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)

    def send(self, message):
        body = json.dumps(message).encode()
        self.p.stdin.write(struct.pack("<I", len(body)) + body)
        self.p.stdin.flush()

    def receive(self):
        header = self.p.stdout.read(4)
        if len(header) < 4:
            raise EOFError("the worker closed its stdout")
        return json.loads(self.p.stdout.read(struct.unpack("<I", header)[0]))

    def run(self, onnx_bytes, inputs):
        """The events the worker sent for one request (the last is the "result"). EOFError if the
        worker died (then make a new Worker)."""
        try:
            self.send({"model": base64.b64encode(b"{}").decode(), "onnx": base64.b64encode(onnx_bytes).decode(),
                       "inputs": [encode(x) for x in inputs]})
        except BrokenPipeError as e:
            raise EOFError("the worker is gone") from e
        events = [self.receive()]
        while events[-1].get("event") != "result":
            events.append(self.receive())
        return events

    def close(self):
        """Closes stdin (the worker exits 0 on EOF); the exit status."""
        try:
            self.p.stdin.close()
        except BrokenPipeError:
            pass
        return self.p.wait(timeout=60)
