import Backends
import Foundation
import Fuzzing

/// Built-in backends (in process for diff/run, `dlsmith worker` in campaigns) and the Python ones
/// served by python/dlsmith_worker.py.
let builtInBackends = ["reference", "fast"] + LowBitBackend.names
let backendNames = builtInBackends + BackendTarget.pythonBackends

/// python/dlsmith_worker.py: next to the checkout that built this executable, or under the current
/// directory.
func pythonWorkerScript() -> String {
  let exe = URL(fileURLWithPath: selfExecutable())
  var dir = exe.deletingLastPathComponent()
  for _ in 0..<5 {
    let candidate = dir.appendingPathComponent("python/dlsmith_worker.py").path
    if FileManager.default.fileExists(atPath: candidate) { return candidate }
    dir = dir.deletingLastPathComponent()
  }
  let fallback = FileManager.default.currentDirectoryPath + "/python/dlsmith_worker.py"
  guard FileManager.default.fileExists(atPath: fallback) else {
    // Every run of a Python target would fail: say so once, before any model runs.
    log(
      "error: python/dlsmith_worker.py not found next to \(exe.path) or under \(FileManager.default.currentDirectoryPath): the Python targets (ort, openvino, tvm, onnx-ref) need the checkout's python/ folder; run dlsmith from the checkout or from the build folder inside it"
    )
    exit(1)
  }
  return fallback
}

/// The interpreter for Python targets (`PythonInterpreter`): `flag`, `$DLSMITH_PYTHON`, a `.venv`
/// in or above `places`, the current folder or this executable's checkout, else `python3`.
func pythonInterpreter(flag: String? = nil, near places: [String] = []) -> String {
  PythonInterpreter.resolve(
    flag: flag, environment: ProcessInfo.processInfo.environment,
    places: places + [
      FileManager.default.currentDirectoryPath,
      URL(fileURLWithPath: selfExecutable()).deletingLastPathComponent().path,
    ])
}

/// The worker-process target for a backend name.
func workerTarget(
  _ name: String, passes: String, extra: [String: [String]] = [:], python: String = pythonInterpreter()
) -> BackendTarget {
  if let cmd = extra[name] { return BackendTarget(name: name, command: cmd) }
  if BackendTarget.pythonBackends.contains(name) {
    return .pythonTarget(name, python: python, script: pythonWorkerScript())
  }
  return BackendTarget(
    name: name, command: [selfExecutable(), "worker", "--backend", name, "--passes", passes])
}

/// An in-process backend for the built-in names; a worker-backed one for the others.
func makeBackend(_ name: String, passes: [Pass], passesText: String = "all") -> any Backend {
  switch name {
  case "fast": return FastBackend(passes: passes)
  case "reference": return ReferenceBackend()
  case let low where LowBitBackend(name: low) != nil: return LowBitBackend(name: low)!
  default:
    return WorkerBackend(
      target: workerTarget(name, passes: passesText),
      logPath: FileManager.default.temporaryDirectory.path + "/dlsmith-\(name).log")
  }
}

/// The independent implementations triage asks about a finding on `name`
/// (`BackendTarget.independent(of:)`), as worker targets.
func consensusTargets(of name: String, passes: String, python: String = pythonInterpreter())
  -> [BackendTarget]
{
  BackendTarget.independent(of: name).map { workerTarget($0, passes: passes, python: python) }
}
