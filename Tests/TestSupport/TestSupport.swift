import Foundation
import IR
import Tensors

/// Absolute/relative closeness for doubles, NaN equal to NaN.
public func isClose(_ a: Double, _ b: Double, rtol: Double = 1e-12, atol: Double = 1e-12) -> Bool {
  if a.isNaN || b.isNaN { return a.isNaN && b.isNaN }
  if a.isInfinite || b.isInfinite { return a == b }
  return abs(a - b) <= atol + rtol * abs(b)
}

public func isClose(_ a: [Double], _ b: [Double], rtol: Double = 1e-12, atol: Double = 1e-12) -> Bool {
  a.count == b.count && zip(a, b).allSatisfy { isClose($0, $1, rtol: rtol, atol: atol) }
}

/// A tensor from literal values.
public func tensor(_ values: [Double], _ shape: [Int], _ dtype: DType = .f64) -> Tensor {
  Tensor(dtype: dtype, shape: shape, storage: values)
}

/// The path of a built executable of this package, next to the test bundle.
public func builtExecutable(_ name: String) -> URL {
  let bundle = Bundle.main.bundleURL
  var dir = bundle.deletingLastPathComponent()
  for _ in 0..<4 {
    let candidate = dir.appendingPathComponent(name)
    if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate }
    dir = dir.deletingLastPathComponent()
  }
  return URL(fileURLWithPath: ".build/debug/\(name)")
}

/// The built `dlsmith` executable.
public func dlsmithExecutable() -> URL { builtExecutable("dlsmith") }

/// Runs `dlsmith` with arguments; returns exit status, stdout and stderr. `environment` changes
/// this process's environment for it (a nil value removes the variable).
public func runDLSmith(_ args: [String], cwd: URL? = nil, environment: [String: String?] = [:]) throws -> (
  status: Int32, stdout: Data, stderr: String
) {
  let p = Process()
  p.executableURL = dlsmithExecutable()
  p.arguments = args
  if let cwd { p.currentDirectoryURL = cwd }
  if !environment.isEmpty {
    var env = ProcessInfo.processInfo.environment
    for (k, v) in environment { env[k] = v }
    p.environment = env
  }
  let out = Pipe()
  let err = Pipe()
  p.standardOutput = out
  p.standardError = err
  try p.run()
  let o = out.fileHandleForReading.readDataToEndOfFile()
  let e = err.fileHandleForReading.readDataToEndOfFile()
  p.waitUntilExit()
  return (p.terminationStatus, o, String(decoding: e, as: UTF8.self))
}

/// Writes an executable script (mode 755) at `path`.
public func writeExecutable(_ text: String, to path: String) throws {
  try text.write(toFile: path, atomically: true, encoding: .utf8)
  try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: path)
}

/// A fresh temporary directory.
public func temporaryDirectory() -> URL {
  let url = FileManager.default.temporaryDirectory.appendingPathComponent("dlsmith-test-\(UUID().uuidString)")
  try? FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
  return url
}

/// Whether `python3` can import every module in `modules` (comma-separated, as in `import a, b`).
public func pythonCanImport(_ modules: String) -> Bool {
  let p = Process()
  p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
  p.arguments = ["python3", "-c", "import \(modules)"]
  p.standardOutput = FileHandle.nullDevice
  p.standardError = FileHandle.nullDevice
  guard (try? p.run()) != nil else { return false }
  p.waitUntilExit()
  return p.terminationStatus == 0
}

/// `python/dlsmith_worker.py` of this checkout.
public let pythonWorkerScriptPath = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
  .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("python/dlsmith_worker.py")
  .path
