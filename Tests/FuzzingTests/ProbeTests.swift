import Foundation
import Fuzzing
import IR
import Operators
import Tensors
import TestSupport
import Testing

/// Capability probing (`Prober`, `dlsmith probe`): classification on onnxruntime, the cache, an
/// unavailable backend, and the lookup a campaign can use.
@Suite(.serialized) struct ProbeTests {
  static let script = pythonWorkerScriptPath

  static let hasORT = pythonCanImport("numpy, onnx, onnxruntime")

  static func options(_ ops: [String], _ dtypes: [DType]) -> ProbeOptions {
    var o = ProbeOptions()
    o.operators = ops.compactMap(Catalogue.spec)
    o.dtypes = dtypes
    o.samples = 2
    o.maxRank = 2
    o.limits.compileTimeout = 60
    o.limits.killGrace = 0.2
    return o
  }

  static func prober(_ backend: String, version: String, _ options: ProbeOptions) -> Prober {
    Prober(
      target: .pythonTarget(backend, script: script), version: version, options: options,
      logPath: temporaryDirectory().appendingPathComponent("\(backend).log").path)
  }

  @Test func caseList() {
    let o = ProbeTests.options(["relu", "abs", "where", "cast", "matmul", "logical_not"], DType.generated)
    let cases = ProbeCaseList.cases(o)
    func ranks(_ op: String, _ d: DType) -> [Int] {
      cases.filter { $0.spec.id == op && $0.dtype == d }.map(\.rank)
    }
    #expect(ranks("relu", .f32) == [0, 1, 2])
    #expect(ranks("relu", .i32).isEmpty)
    #expect(ranks("abs", .i64) == [0, 1, 2])
    #expect(ranks("where", .i32) == [0, 1, 2])  // keyed by T, not by the bool condition
    #expect(ranks("where", .bool) == [0, 1, 2])
    #expect(ranks("cast", .bool) == [0, 1, 2])
    #expect(ranks("matmul", .f64) == [2])
    #expect(ranks("logical_not", .bool) == [0, 1, 2])
  }

  /// Single-operator models have the probed dtype and rank, with and without contexts.
  @Test func models() throws {
    let p = ProbeTests.prober("ort", version: "test", ProbeTests.options([], []))
    for (op, d, r) in [
      ("relu", DType.f16, 2), ("abs", .i32, 1), ("where", .i64, 2), ("cast", .bool, 0),
      ("logical_not", .bool, 2), ("log", .f64, 1), ("reduce_prod", .i32, 2), ("squeeze", .bool, 1),
    ] {
      let g = try #require(p.model(Catalogue.spec(op)!, d, r, sample: 0), "\(op) \(d) rank \(r)")
      #expect(g.nodes.map(\.op) == [op])
      try g.verify()
      for before in [false, true] {
        let c = Prober.withContext(g, before: before, key: ProbeCaseList.keyInput(Catalogue.spec(op)!))
        let (cg, name) = try #require(c, "\(op) \(d) context")
        try cg.verify()
        #expect(cg.nodes.count == 2)
        #expect(name.hasPrefix(before ? "before " : "after "))
        #expect(cg.nodes[before ? 0 : 1].op == op)
      }
    }
  }

  @Test(.enabled(if: hasORT, "needs python3 with numpy, onnx and onnxruntime"))
  func ortClassifiesAndCaches() throws {
    let dir = temporaryDirectory().path
    let options = ProbeTests.options(["relu", "erf", "softplus"], [.f32, .f64])
    let run = try ProbeTests.prober("ort", version: "1.32.0-test", options).run(directory: dir)
    let report = run.report
    #expect(run.probed == 18)
    #expect(run.targetRuns > 0)
    #expect(report.isSupported("relu", .f32) == true)
    #expect(report.isSupported("relu", .f64) == true)
    #expect(report.isSupported("erf", .f32) == true)
    // onnxruntime has no f64 kernels for Erf and Softplus.
    for op in ["erf", "softplus"] {
      let rs = report.results(op: op, dtype: .f64)
      #expect(rs.count == 3)
      for r in rs {
        #expect(r.status == .unsupported)
        #expect(r.reason?.contains("NOT_IMPLEMENTED") == true, "\(r)")
      }
      #expect(report.isSupported(op, .f64) == false)
    }
    #expect(report.results(op: "erf", dtype: .f64).first?.reason?.contains("Erf(") == true)
    // Contexts for every supported pair (relu, erf, softplus on f32, relu on f64), after and before.
    let contexts = report.results.filter { $0.context != nil }
    #expect(contexts.count == 8)
    #expect(contexts.allSatisfy { $0.status == .supported }, "\(contexts)")
    // The lookup a campaign can use.
    let ops = ["relu", "erf", "softplus", "sqrt"].compactMap(Catalogue.spec)
    // sqrt: not probed.
    #expect(report.supportedOperators(dtype: .f64, from: ops).map(\.id) == ["relu", "sqrt"])
    #expect(
      report.supportedOperators(dtype: .f32, from: ops).map(\.id) == ["relu", "erf", "softplus", "sqrt"])
    #expect(Set(report.unsupportedPairs().map { "\($0.op) \($0.dtype)" }) == ["erf f64", "softplus f64"])

    // The cache file exists and a second probe reuses it without running anything.
    let path = ProbeCache.path(directory: dir, backend: "ort", version: "1.32.0-test")
    #expect(path.hasSuffix(".dlsmith/probe/ort-1.32.0-test.json"))
    #expect(FileManager.default.fileExists(atPath: path))
    let again = try ProbeTests.prober("ort", version: "1.32.0-test", options).run(directory: dir)
    #expect(again.targetRuns == 0)
    #expect(again.workerStarts == 0)
    #expect(again.probed == 0 && again.cached == 18)
    #expect(again.report.results == report.results)
    #expect(
      supportedOperators(backend: "ort", version: "1.32.0-test", dtype: .f64, directory: dir, from: ops)?.map(
        \.id)
        == ["relu", "sqrt"])
    #expect(supportedOperators(backend: "ort", version: "9.9", dtype: .f64, directory: dir) == nil)

    // A wider probe only runs what is missing; --refresh runs everything again.
    var wider = options
    wider.operators.append(Catalogue.spec("abs")!)
    wider.contexts = false
    let more = try ProbeTests.prober("ort", version: "1.32.0-test", wider).run(directory: dir)
    #expect(more.probed == 6 && more.cached == 18)
    #expect(more.report.isSupported("abs", .f64) == true)
    var refresh = options
    refresh.refresh = true
    refresh.contexts = false
    let fresh = try ProbeTests.prober("ort", version: "1.32.0-test", refresh).run(directory: dir)
    #expect(fresh.probed == 18 && fresh.targetRuns > 0)
  }

  @Test func versions() {
    #expect(ProbeVersion.module(for: "ort-noopt") == "onnxruntime")
    #expect(ProbeVersion.module(for: "onnx-ref") == "onnx")
    #expect((try? ProbeVersion.detect(backend: "fast").get()) == DLSmithVersion.string)
    if ProbeTests.hasORT {
      let v = try? ProbeVersion.detect(backend: "ort").get()
      #expect(v?.first?.isNumber == true, "\(String(describing: v))")
    }
  }

  /// An interpreter without tvm: python3 with a `tvm` package on its path whose import fails, as
  /// on a machine where tvm is not installed (so these tests run whether or not it is).
  static func pythonWithoutTVM() throws -> String {
    let dir = temporaryDirectory()
    let hidden = dir.appendingPathComponent("hide/tvm")
    try FileManager.default.createDirectory(at: hidden, withIntermediateDirectories: true)
    try "raise ImportError(\"No module named 'tvm' (hidden by the test)\")\n".write(
      to: hidden.appendingPathComponent("__init__.py"), atomically: true, encoding: .utf8)
    let wrapper = dir.appendingPathComponent("python3").path
    try writeExecutable(
      "#!/bin/sh\nPYTHONPATH=\"\(dir.path)/hide${PYTHONPATH:+:$PYTHONPATH}\" exec python3 \"$@\"\n",
      to: wrapper)
    return wrapper
  }

  @Test func tvmUnavailable() throws {
    let python = try Self.pythonWithoutTVM()
    guard case .failure(let u) = ProbeVersion.detect(backend: "tvm", python: python) else {
      Issue.record("tvm should be unavailable")
      return
    }
    #expect(u.description.hasPrefix("unavailable: "))
    #expect(u.description.contains("tvm"))
    // The worker says so too: the probe stops at the first answer and writes no cache.
    let dir = temporaryDirectory().path
    let p = Prober(
      target: .pythonTarget("tvm", python: python, script: ProbeTests.script), version: "none",
      options: ProbeTests.options(["relu"], [.f32]),
      logPath: temporaryDirectory().appendingPathComponent("tvm.log").path)
    #expect(throws: ProbeUnavailable.self) { try p.run(directory: dir) }
    #expect(
      !FileManager.default.fileExists(
        atPath: ProbeCache.path(directory: dir, backend: "tvm", version: "none")))
  }

  @Test func cliUnavailable() throws {
    let (status, out, _) = try runDLSmith([
      "probe", "--backend", "tvm", "--python", try Self.pythonWithoutTVM(), "-o", temporaryDirectory().path,
    ])
    #expect(status == 0)
    let lines = String(decoding: out, as: UTF8.self).split(separator: "\n")
    #expect(lines.count == 1)
    #expect(lines.first?.hasPrefix("unavailable: ") == true)
  }
}
