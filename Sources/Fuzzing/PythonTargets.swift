import Foundation
import IR
import ONNX
import Tensors

/// A model that could not be exported to ONNX (reported as `.unsupported("cannot export: ...")`).
public struct ONNXExportFailure: Error, Sendable, CustomStringConvertible {
  public var message: String
  public init(message: String) { self.message = message }
  public var description: String { message }
}

/// The Python interpreter the workers of Python targets run in, decided in one place: the
/// `--python` flag, else `$DLSMITH_PYTHON`, else `.venv/bin/python3` in one of `places` or a folder
/// above it (the project-local environment `./dev test` sets up: found from the checkout, the
/// current folder or the campaign folder), else `python3` on `PATH`.
public enum PythonInterpreter {
  public static let variable = "DLSMITH_PYTHON"

  public static func resolve(flag: String?, environment: [String: String], places: [String]) -> String {
    if let flag, !flag.isEmpty { return flag }
    if let v = environment[variable], !v.isEmpty { return v }
    for place in places {
      var dir = URL(fileURLWithPath: place).standardizedFileURL
      while true {
        let candidate = dir.appendingPathComponent(".venv/bin/python3").path
        if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        let parent = dir.deletingLastPathComponent()
        if parent.path == dir.path { break }
        dir = parent
      }
    }
    return "python3"
  }
}

extension BackendTarget {
  /// onnxruntime's CPU provider as worker backends and the graph optimization level each runs at:
  /// `ort` (all), then the lower levels, lowest first (`python/dlsmith_worker.py` and the bundles'
  /// `repro.py` map the same names).
  public static let onnxruntimeLevels: KeyValuePairs<String, String> = [
    "ort": "ORT_ENABLE_ALL", "ort-noopt": "ORT_DISABLE_ALL", "ort-basic": "ORT_ENABLE_BASIC",
    "ort-extended": "ORT_ENABLE_EXTENDED", "ort-layout": "ORT_ENABLE_LAYOUT",
  ]

  /// Backends served by `python/dlsmith_worker.py`. `tvm` compiles with `tvm.compile`'s default
  /// pipeline, which on CPU only legalizes and lowers; `tvm-opt` with
  /// `relax.get_default_pipeline(llvm)`, which also runs FoldConstant, FuseOps and FuseTIR.
  public static let pythonBackends =
    onnxruntimeLevels.map(\.key) + ["onnx-ref", "openvino", "openvino-default", "tvm", "tvm-opt"]

  /// What the named Python targets are known to compute at another precision (measured on
  /// OpenVINO 2026.4.1, CPU plugin, and confirmed by `dlsmith probe`): `openvino` (f32 inference
  /// precision, accuracy mode) has no f64 kernels and runs f64 as f32, and runs f16 and bf16 graphs
  /// in f32 without rounding between operators; `openvino-default` keeps the plugin's default, bf16
  /// on CPUs with AVX512-BF16 or AMX, for f16, f32 and f64.
  public static func knownPrecision(_ name: String) -> [DType: DType] {
    switch name {
    case "openvino": return [.f64: .f32, .f16: .f32, .bf16: .f32]
    case "openvino-default": return [.f64: .bf16, .f32: .bf16, .f16: .bf16, .bf16: .f32]
    default: return [:]
    }
  }

  /// A target served by the Python worker: `python script --backend name`. It receives each model
  /// as ONNX (`sendsONNX`). `python` is a path or a name looked up on `PATH` (through `/usr/bin/env`
  /// when it is not found there).
  public static func pythonTarget(_ name: String, python: String = "python3", script: String) -> BackendTarget
  {
    let exe = resolveExecutable(python).map { [$0] } ?? ["/usr/bin/env", python]
    return BackendTarget(
      name: name, command: exe + [script, "--backend", name], sendsONNX: true,
      computedAs: knownPrecision(name))
  }

  /// `name` itself if it has a slash, else the first executable `name` on `PATH`.
  static func resolveExecutable(_ name: String) -> String? {
    if name.contains("/") { return name }
    let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin"
    for dir in path.split(separator: ":") where !dir.isEmpty {
      let candidate = "\(dir)/\(name)"
      if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
    }
    return nil
  }

  /// The model's ONNX bytes, or why it cannot be exported.
  public static func exportONNX(_ graph: Graph) -> Result<Data, ONNXExportFailure> {
    do {
      return .success(try ONNXExport.bytes(graph))
    } catch {
      return .failure(ONNXExportFailure(message: "\(error)"))
    }
  }

  /// Runs a model on `worker` (a worker of this target), sending the ONNX export along when the target
  /// needs it. `onnx` is a precomputed export (shared by several targets); without it the graph is
  /// exported here. A model that cannot be exported is `.unsupported("cannot export: ...")` and never
  /// reaches the worker.
  /// With `rewrites`, the worker is asked which nodes the target rewrote (`worker.lastRewritten`).
  public func run(
    on worker: WorkerProcess, graph: Graph, model: Data, inputs: [Tensor],
    onnx: Result<Data, ONNXExportFailure>? = nil, rewrites: Bool = false
  ) -> WorkerOutcome {
    guard sendsONNX else { return worker.run(model: model, inputs: inputs, rewrites: rewrites) }
    switch onnx ?? BackendTarget.exportONNX(graph) {
    case .success(let bytes): return worker.run(model: model, inputs: inputs, onnx: bytes, rewrites: rewrites)
    case .failure(let f): return .unsupported("cannot export: \(f.message)")
    }
  }
}

extension BackendTarget {
  /// Implementations of ONNX independent of `name` that triage asks for a second opinion, most
  /// independent first; the target's own lowest optimization level is last (it shares kernels, so
  /// it separates optimizer bugs from kernel bugs but cannot confirm a kernel bug).
  public static func independent(of name: String) -> [String] {
    switch name {
    case "ort": return ["onnx-ref", "ort-noopt"]
    case "ort-noopt": return ["onnx-ref"]
    case "onnx-ref": return ["ort-noopt"]
    case "openvino", "openvino-default", "tvm": return ["onnx-ref", "ort-noopt"]
    case "tvm-opt": return ["onnx-ref", "ort-noopt", "tvm"]
    default: return []
    }
  }

  /// The lower optimization level of the same implementation, if `name` has one.
  public static func unoptimized(of name: String) -> String? {
    switch name {
    case "ort": return "ort-noopt"
    case "tvm-opt": return "tvm"
    default: return nil
    }
  }

  /// The optimization levels between `name`'s lowest and its own, lowest first (onnxruntime's graph
  /// optimization levels), which triage runs to name the level that breaks a model.
  public static func levels(between name: String) -> [String] {
    // Those of `onnxruntimeLevels` after `ort` (the target) and `ort-noopt` (its lowest).
    name == "ort" ? onnxruntimeLevels.dropFirst(2).map(\.key) : []
  }
}
