import ArgumentParser
import Backends
import Foundation
import Fuzzing
import IR
import ONNX
import Tensors

struct ExportBug: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "export-bug",
    abstract:
      "Write a bug report bundle for a bucket: model.onnx, inputs/expected/actual .npz, meta.json and a standalone repro.",
    discussion: """
      Uses the bucket's minimized model when there is one, else its first instance. For Python targets \
      repro.py needs only numpy and the target package: it prints the error statistics and exits 1 when \
      the bug reproduces, 0 when it is fixed. For the built-in backends repro.sh replays it with dlsmith.
      """)

  @Argument(help: "Bucket folder (Crashes/<sig16>).") var bucket: String
  @Option(name: .shortAndLong, help: "Output folder.") var output: String
  @OptionGroup var selection: TargetSelection

  func run() throws {
    let fm = FileManager.default
    guard let record = BucketRecord.read(bucket: bucket) else {
      throw ToolError("\(bucket): not a bucket (no readable bucket.json)")
    }
    let backend = record.tuple.backend
    guard let source = Instance.representative(ofBucket: bucket) else {
      throw ToolError("\(bucket): no instance to export")
    }
    let instance: Instance
    do { instance = try Instance.read(source) } catch { throw ToolError("\(source): \(error)") }
    let (graph, inputs) = (instance.graph, instance.inputs)
    let expected: [Tensor]
    do { expected = try ReferenceBackend().run(graph, inputs: inputs) } catch {
      throw ToolError("\(source): the reference cannot run the model: \(error)")
    }
    // The bucket's backend, as selected (so --worker definitions apply).
    let target =
      selection.targets.first { $0.name == backend }
      ?? workerTarget(backend, passes: selection.passes.passes, python: selection.interpreter())
    let worker = WorkerProcess(
      command: target.command, limits: WorkerLimits(),
      logPath: fm.temporaryDirectory.path + "/dlsmith-export-bug.log")
    let outcome = target.run(on: worker, graph: graph, model: graph.encoded(), inputs: inputs)
    worker.stop()

    try fm.createDirectory(atPath: output, withIntermediateDirectories: true)
    let names = graph.inputs.map { "v\($0.id)" }
    let outNames = graph.outputs.map { "v\($0)" }
    if case .success(let onnx) = BackendTarget.exportONNX(graph) {
      try onnx.write(to: URL(fileURLWithPath: output + "/model.onnx"))
    } else {
      log("warning: the model cannot be exported to ONNX; model.dlsmith.json only")
    }
    try graph.encoded().write(to: URL(fileURLWithPath: output + "/model.dlsmith.json"))
    try NPZ.encode(Array(zip(names, inputs))).write(to: URL(fileURLWithPath: output + "/inputs.npz"))
    try NPZ.encode(Array(zip(outNames, expected))).write(to: URL(fileURLWithPath: output + "/expected.npz"))
    var observed = "no outputs"
    if case .outputs(let actual) = outcome {
      try NPZ.encode(Array(zip(outNames, actual))).write(to: URL(fileURLWithPath: output + "/actual.npz"))
      observed = "outputs in actual.npz"
    } else {
      observed = "\(outcome)"
    }
    // Judged as the campaign judges: the target's precision, exact outputs bit for bit.
    let oracle = Oracle().for(target)
    let tolerance = oracle.tolerance(expected.first?.dtype ?? .f32)
    let values = (try? ReferenceBackend().run(graph, inputs: inputs, keepAll: true).values) ?? [:]
    let exactSet = oracle.exactValues(graph, values)
    let exactNames = graph.outputs.filter { exactSet.contains($0) }.map { "v\($0)" }
    var meta: [String: String] = [
      "bucket": (bucket as NSString).lastPathComponent, "title": record.title,
      "backend": backend,
      "source": String(source.dropFirst(bucket.count + 1)), "observed": observed, "rtol": "\(tolerance.rtol)",
      "atol": "\(tolerance.atol)",
      "tool_version": DLSmithVersion.string, "onnx_opset": "\(ONNXExport.opset)",
      "tolerance_rule":
        "|actual - expected| <= atol * max(1, scale) + rtol * |expected|, scale = max |expected| of the output (the campaign uses the max over the output's ancestors)",
    ]
    meta["exact_outputs"] = exactNames.joined(separator: ",")
    if let t = record.triage {
      meta["verdict"] = t.verdict.rawValue
      meta["triage"] = t.summary
    }
    let enc = JSONEncoder()
    enc.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
    try enc.encode(meta).write(to: URL(fileURLWithPath: output + "/meta.json"))
    if BackendTarget.pythonBackends.contains(backend) {
      try Data(
        reproScript(backend: backend, rtol: tolerance.rtol, atol: tolerance.atol, exact: exactNames).utf8
      ).write(
        to: URL(fileURLWithPath: output + "/repro.py"))
    } else {
      try encodeTensors(inputs).write(to: URL(fileURLWithPath: output + "/inputs.json"))
      let sh =
        "#!/bin/sh\n# Replays the finding with dlsmith (the \(backend) backend is built into it); exit 77 = reproduced.\nexec dlsmith replay \"$(dirname \"$0\")\" --backends reference,\(backend)\n"
      try Data(sh.utf8).write(to: URL(fileURLWithPath: output + "/repro.sh"))
    }
    print(
      "wrote \(output): \(record.title) (\(graph.nodes.count) node(s)); observed: \(observed)"
    )
  }

  /// A standalone script: numpy + the target package only.
  func reproScript(backend: String, rtol: Double, atol: Double, exact: [String]) -> String {
    let ortLevels = BackendTarget.onnxruntimeLevels
    return """
      #!/usr/bin/env python3
      \"\"\"DLSmith bug report: runs model.onnx on \(backend) with inputs.npz and compares with expected.npz
      (computed by DLSmith's float64 reference, rounded per operator to the model's dtypes).
      Exit 1 when the bug reproduces (error, crash or values out of tolerance), 0 when fixed.\"\"\"
      import os, sys
      import numpy as np

      HERE = os.path.dirname(os.path.abspath(__file__))
      RTOL, ATOL = \(rtol), \(atol)
      # Outputs every faithful implementation computes bit for bit (correctly rounded operations on
      # exact values): compared exactly.
      EXACT = {\(exact.map { "\"\($0)\"" }.joined(separator: ", "))}
      # int8/uint8 outputs may differ by this many quantization steps (a rounding-policy difference of
      # an external implementation, judged unstable by dlsmith); other integer outputs must be equal.
      QSLACK = \(Oracle.quantizedSlack(external: true))

      def run(model, feeds):
          backend = "\(backend)"
          if backend in (\(ortLevels.map { "\"\($0.key)\"" }.joined(separator: ", "))):
              import onnxruntime as ort
              so = ort.SessionOptions()
              level = {\(ortLevels.map { "\"\($0.key)\": \"\($0.value)\"" }.joined(separator: ", "))}[backend]
              so.graph_optimization_level = getattr(ort.GraphOptimizationLevel, level)
              s = ort.InferenceSession(model, so, providers=["CPUExecutionProvider"])
              return dict(zip([o.name for o in s.get_outputs()], s.run(None, feeds)))
          if backend == "onnx-ref":
              import onnx
              from onnx.reference import ReferenceEvaluator
              m = onnx.load(model)
              return dict(zip([o.name for o in m.graph.output], ReferenceEvaluator(m).run(None, feeds)))
          if backend in ("openvino", "openvino-default"):
              import openvino as ov
              config = {"INFERENCE_PRECISION_HINT": "f32", "EXECUTION_MODE_HINT": "ACCURACY"} if backend == "openvino" else {}
              c = ov.Core().compile_model(ov.Core().read_model(model), "CPU", config)
              r = c(feeds)
              # By position, as the ONNX outputs are declared: OpenVINO may give a result the names of
              # several tensors (an output whose producer it removed), so get_any_name is not the output's.
              import onnx
              return dict(zip([o.name for o in onnx.load(model).graph.output], [r[o] for o in c.outputs]))
          if backend in ("tvm", "tvm-opt"):
              import onnx, tvm
              from tvm import relax
              from tvm.relax.frontend.onnx import from_onnx
              mod = from_onnx(onnx.load(model), keep_params_in_input=False)
              # tvm-opt: the CPU pipeline with FoldConstant and FuseOps (tvm.compile's default has neither).
              pipeline = relax.get_default_pipeline(tvm.target.Target("llvm")) if backend == "tvm-opt" else "default"
              vm = relax.VirtualMachine(tvm.compile(mod, target="llvm", relax_pipeline=pipeline), tvm.cpu())
              out = vm["main"](*[tvm.runtime.tensor(feeds[k]) for k in feeds])
              m = onnx.load(model)
              outs = [out] if len(m.graph.output) == 1 else list(out)
              conv = lambda x: x.numpy() if hasattr(x, "numpy") else np.asarray([int(d) for d in x] if hasattr(x, "__len__") else x)
              return {o.name: conv(x) for o, x in zip(m.graph.output, outs)}
          raise SystemExit("unknown backend " + backend)

      def bf16_names(model):
          # Graph inputs and outputs of type bfloat16: the .npz files hold their bit patterns as uint16.
          try:
              import onnx
          except ImportError:
              return set()
          g = onnx.load(model).graph
          return {v.name for v in list(g.input) + list(g.output) if v.type.tensor_type.elem_type == 16}

      def main():
          model = os.path.join(HERE, "model.onnx")
          bf16 = bf16_names(model)
          feeds = dict(np.load(os.path.join(HERE, "inputs.npz")))
          expected = dict(np.load(os.path.join(HERE, "expected.npz")))
          if bf16:
              import ml_dtypes  # installed with onnx
              feeds = {k: v.view(ml_dtypes.bfloat16) if k in bf16 else v for k, v in feeds.items()}
              expected = {k: v.view(ml_dtypes.bfloat16) if k in bf16 else v for k, v in expected.items()}
          try:
              actual = run(model, feeds)
          except Exception as e:
              print(f"reproduced: {type(e).__name__}: {e}")
              return 1
          bad = False
          for name, e in expected.items():
              a = np.asarray(actual[name])
              if a.shape != e.shape:
                  print(f"{name}: shape {a.shape} != expected {e.shape}")
                  bad = True
                  continue
              if a.dtype == np.float16 and name in bf16 and e.dtype != np.float16:
                  import ml_dtypes  # OpenVINO returns bf16 results as float16 arrays holding bf16 bits
                  a = a.view(ml_dtypes.bfloat16)
              if a.dtype != e.dtype:
                  print(f"{name}: dtype {a.dtype} != expected {e.dtype}")
                  bad = True
                  continue
              e64, a64 = e.astype(np.float64), a.astype(np.float64)
              scale = max(1.0, float(np.nanmax(np.abs(e64[np.isfinite(e64)]))) if np.isfinite(e64).any() else 1.0)
              both_nan = np.isnan(e64) & np.isnan(a64)
              err = np.abs(a64 - e64)
              # An infinity must be the same infinity (RTOL * inf would accept any finite value).
              ok = both_nan | (e64 == a64) | (np.isfinite(e64) & (err <= ATOL * scale + RTOL * np.abs(e64)))
              if name in EXACT:
                  ok = both_nan | (e64 == a64)
              if e.dtype in (np.int8, np.uint8) and name not in bf16:
                  ok = np.abs(e64 - a64) <= QSLACK
              elif e.dtype.kind in "biu" and name not in bf16:
                  ok = e64 == a64
              n = int((~ok).sum())
              worst = float(np.nanmax(np.where(ok, 0, err))) if n else 0.0
              print(f"{name}: {n} of {e.size} element(s) differ, max abs err {worst}")
              bad = bad or n > 0
          print("reproduced" if bad else "fixed")
          return 1 if bad else 0

      if __name__ == "__main__":
          # The target runs in a child process: a target that crashes (a signal) reproduces the bug
          # too, and this script still exits 1.
          if os.environ.get("DLSMITH_REPRO_CHILD") != "1":
              import subprocess
              r = subprocess.run([sys.executable, os.path.abspath(__file__)], env={**os.environ, "DLSMITH_REPRO_CHILD": "1"})
              if r.returncode < 0:
                  print(f"reproduced: the target was killed by signal {-r.returncode}")
                  sys.exit(1)
              sys.exit(r.returncode)
          sys.exit(main())

      """
  }
}
