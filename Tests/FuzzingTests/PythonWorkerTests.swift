import Backends
import Foundation
import Fuzzing
import Generation
import IR
import Tensors
import TestSupport
import Testing

/// The Python worker (`python/dlsmith_worker.py`) behind `BackendTarget.pythonTarget`: agreement with
/// the reference, a missing backend package, and a worker killed mid-request.
@Suite(.serialized) struct PythonWorkerTests {
  static let script = pythonWorkerScriptPath

  static let hasORT = pythonCanImport("numpy, onnx, onnxruntime")
  static let hasNumpy = pythonCanImport("numpy")
  static let hasCompilers = pythonCanImport("numpy, onnx, openvino, tvm")

  static var limits: WorkerLimits {
    var l = WorkerLimits()
    l.compileTimeout = 60
    l.executeTimeout = 30
    l.killGrace = 0.2
    return l
  }

  static func worker(_ target: BackendTarget) -> WorkerProcess {
    WorkerProcess(
      command: target.command, limits: limits,
      logPath: temporaryDirectory().appendingPathComponent("\(target.name).log").path)
  }

  /// relu(x + y) * x: every backend must agree exactly.
  static func simpleModel() -> (Graph, [Tensor]) {
    var b = GraphBuilder()
    let x = b.input([2, 3])
    let y = b.input([2, 3])
    let s = b("add", x, y)
    let r = b("relu", s)
    let m = b("mul", r, x)
    let g = b.build(outputs: [m])
    return (g, g.sampleInputs(seed: 3))
  }

  @Test(
    .enabled(
      if: hasORT, "python3 with numpy, onnx and onnxruntime is not available: Python worker not tested"),
    arguments: ["ort", "ort-noopt", "onnx-ref"])
  func agreesWithTheReference(_ backend: String) throws {
    let target = BackendTarget.pythonTarget(backend, script: Self.script)
    #expect(target.sendsONNX && target.command.suffix(3) == [Self.script, "--backend", backend])
    let worker = Self.worker(target)
    defer { worker.stop() }
    let judge = Judge()

    let (g, inputs) = Self.simpleModel()
    let values = try ReferenceBackend().run(g, inputs: inputs, keepAll: true).values
    let outcome = target.run(on: worker, graph: g, model: g.encoded(), inputs: inputs)
    guard case .outputs(let outs) = outcome else {
      Issue.record("\(backend): \(outcome)\n\(worker.logTail())")
      return
    }
    #expect(outs.map(\.dtype) == [.f32] && outs.map(\.shape) == [[2, 3]])
    #expect(judge.finding(outcome, target: backend, graph: g, values: values) == nil)
    // Same model again (cached session), new inputs.
    let inputs2 = g.sampleInputs(seed: 4)
    let values2 = try ReferenceBackend().run(g, inputs: inputs2, keepAll: true).values
    let again = target.run(on: worker, graph: g, model: g.encoded(), inputs: inputs2)
    #expect(judge.finding(again, target: backend, graph: g, values: values2) == nil, "\(again)")

    // Generated models of every dtype: everything runs or is unsupported (kernels the backend
    // lacks), and nearly all agree.
    var options = GeneratorOptions()
    options.nodes = 5
    options.dtype = nil
    var generator = Generator(options: options)
    var agree = 0
    var ran = 0
    var notes: [String] = []
    for seed in UInt64(1)...30 {
      let g = generator.generate(seed: seed)
      let inputs = g.sampleInputs(seed: seed)
      guard let values = try? ReferenceBackend().run(g, inputs: inputs, keepAll: true).values else {
        continue
      }
      let outcome = target.run(on: worker, graph: g, model: g.encoded(), inputs: inputs)
      switch outcome {
      case .outputs:
        ran += 1
        if let f = judge.finding(outcome, target: backend, graph: g, values: values) {
          notes.append("seed \(seed): \(f.signature.title): \(f.message)")
        } else {
          agree += 1
        }
      case .unsupported(let why): notes.append("seed \(seed): unsupported: \(why)")
      default: Issue.record("\(backend) seed \(seed): \(outcome)\n\(worker.logTail())")
      }
    }
    #expect(
      ran >= 15 && agree * 10 >= ran * 8,
      "\(backend): \(agree)/\(ran) agree\n\(notes.joined(separator: "\n"))")
    #expect(worker.restarts == 1, "the worker served every model without restarting")
  }

  /// Triage names the lowest onnxruntime optimization level that breaks a model, ORT_ENABLE_LAYOUT
  /// included: `Transpose -> Cast -> MatMul` from f16 crashes session creation from that level on
  /// (MatmulTransposeFusion leaves nodes without a schema, NchwcTransformer dereferences them;
  /// microsoft/onnxruntime#28392, Docs/findings/onnxruntime/), and ORT_ENABLE_EXTENDED runs it.
  /// Before `ort-layout` was a level, triage said `ort`. The crash is the worker's: the test (and a
  /// campaign) goes on.
  @Test(
    .enabled(
      if: hasORT, "python3 with numpy, onnx and onnxruntime is not available: Python worker not tested"))
  func triageNamesTheLayoutLevelThatBreaksAModel() throws {
    var b = GraphBuilder()
    let x = b.input([1, 1, 1, 1], .f16)
    let y = b.input([1, 1, 1])
    let t = b("transpose", x, attributes: ["perm": .ints([1, 2, 3, 0])])
    let f = b("cast", t, attributes: ["to": .string("f32")])
    let c = b("matmul", f, y)
    let g = b.build(outputs: [c])
    let inputs = g.sampleInputs(seed: 1)
    let target = BackendTarget.pythonTarget("ort", script: Self.script)
    let worker = Self.worker(target)
    defer { worker.stop() }
    let values = try ReferenceBackend().run(g, inputs: inputs, keepAll: true).values
    let outcome = target.run(on: worker, graph: g, model: g.encoded(), inputs: inputs)
    let judge = Judge().for(target)
    let finding = try #require(judge.finding(outcome, target: "ort", graph: g, values: values), "\(outcome)")
    #expect(finding.signature.kind == .crash, "\(finding.signature.title)")
    var triage = Triage(
      target: target, judge: judge,
      logPath: temporaryDirectory().appendingPathComponent("triage.log").path)
    triage.limits = Self.limits
    triage.consensus = ["ort-noopt"].map { BackendTarget.pythonTarget($0, script: Self.script) }
    triage.minimize = false
    let evidence = triage.run(finding, graph: g, inputs: inputs).evidence
    let optimizer = try #require(evidence.optimizer, "\(evidence.summary)")
    #expect(optimizer.hasSuffix("the first level that breaks it: ort-layout"), "\(optimizer)")
  }

  /// The worker with `package` hidden (`sys.modules[package] = None` makes importing it fail), as on
  /// a machine without it.
  static func withoutPackage(_ backend: String, package: String) -> BackendTarget {
    let base = BackendTarget.pythonTarget(backend, script: script)
    let hide =
      "import sys; sys.modules['\(package)'] = None; p = sys.argv.pop(1); sys.argv[0] = p; exec(compile(open(p).read(), p, 'exec'))"
    return BackendTarget(
      name: backend, command: [base.command[0], "-c", hide, script, "--backend", backend], sendsONNX: true)
  }

  @Test(.enabled(if: hasNumpy, "python3 with numpy is not available"))
  func missingBackendIsUnsupportedAndKeepsServing() throws {
    let name = "tvm"
    let target = Self.withoutPackage(name, package: "tvm")
    let worker = Self.worker(target)
    defer { worker.stop() }
    let (g, inputs) = Self.simpleModel()
    var pids = Set<Int32>()
    for _ in 0..<4 {
      let outcome = target.run(on: worker, graph: g, model: g.encoded(), inputs: inputs)
      guard case .unsupported(let why) = outcome else {
        Issue.record("\(name): \(outcome)\n\(worker.logTail())")
        return
      }
      #expect(why.hasPrefix("unavailable: "), "\(why)")
      #expect(Judge().finding(outcome, target: name, graph: g, values: [:]) == nil)
      if let pid = worker.pid { pids.insert(pid) }
    }
    #expect(pids.count == 1 && worker.restarts == 1, "one worker process served every request")
  }

  @Test(
    .enabled(
      if: hasORT, "python3 with numpy, onnx and onnxruntime is not available: Python worker not tested"))
  func workerKilledMidRequestIsACrash() throws {
    let target = BackendTarget.pythonTarget("ort", script: Self.script)
    let worker = Self.worker(target)
    defer { worker.stop() }
    let (g, inputs) = Self.simpleModel()
    guard case .outputs = target.run(on: worker, graph: g, model: g.encoded(), inputs: inputs) else {
      Issue.record("warm-up failed: \(worker.logTail())")
      return
    }
    let pid = try #require(worker.pid)
    // Freeze the worker so the next request is certainly pending, then kill it from outside.
    kill(pid, SIGSTOP)
    let killer = Process()
    killer.executableURL = URL(fileURLWithPath: "/bin/sh")
    killer.arguments = ["-c", "sleep 0.5; kill -9 \(pid)"]
    try killer.run()
    let outcome = target.run(on: worker, graph: g, model: g.encoded(), inputs: inputs)
    killer.waitUntilExit()
    #expect(outcome == .crash(stage: "compile", signal: SIGKILL))
    let finding = Judge().finding(outcome, target: "ort", graph: g, values: [:])
    #expect(finding?.signature.kind == .crash)
    // The next model gets a fresh worker.
    let values = try ReferenceBackend().run(g, inputs: inputs, keepAll: true).values
    let next = target.run(on: worker, graph: g, model: g.encoded(), inputs: inputs)
    #expect(Judge().finding(next, target: "ort", graph: g, values: values) == nil, "\(next)")
    #expect(worker.restarts == 2)
  }

  @Test func exportFailureIsUnsupportedWithoutStartingTheWorker() {
    let target = BackendTarget.pythonTarget("ort", python: "/nonexistent/python3", script: Self.script)
    let worker = Self.worker(target)
    defer { worker.stop() }
    let (g, inputs) = Self.simpleModel()
    let outcome = target.run(
      on: worker, graph: g, model: g.encoded(), inputs: inputs,
      onnx: .failure(ONNXExportFailure(message: "no ONNX operator for frobnicate")))
    #expect(outcome == .unsupported("cannot export: no ONNX operator for frobnicate"))
    #expect(worker.pid == nil && worker.restarts == 0)
    // A target that does not take ONNX is never asked to export.
    let plain = BackendTarget(name: "x", command: ["/bin/true"])
    #expect(!plain.sendsONNX)
    let decoded = try? JSONDecoder().decode(
      BackendTarget.self, from: Data(#"{"name":"a","command":["b"]}"#.utf8))
    #expect(decoded == BackendTarget(name: "a", command: ["b"]))
  }

  @Test(
    .enabled(
      if: hasORT, "python3 with numpy, onnx and onnxruntime is not available: Python worker not tested"))
  func campaignRunsThePythonTarget() throws {
    let dir = temporaryDirectory()
    defer { try? FileManager.default.removeItem(at: dir) }
    var config = CampaignConfig(
      directory: dir.path, seed: 5, targets: [BackendTarget.pythonTarget("ort", script: Self.script)])
    config.maxModels = 4
    config.generator.nodes = 4
    config.limits = Self.limits
    config.minimizeMismatches = false
    config.log = { _ in }
    let (stats, _) = try Campaign(config).run()
    #expect(stats.execs["ort"] == stats.modelsValid && stats.modelsValid >= 3)
    #expect(stats.unsupported < stats.modelsValid, "\(stats)")
    #expect(
      stats.findings["crash", default: 0] + stats.findings["error", default: 0] == 0, "\(stats.findings)")
  }

  /// OpenVINO (at f32 inference precision) and TVM (Relax, llvm) run models through the worker and
  /// agree with the reference; the precision probe finds what OpenVINO computes f64 and f16 in.
  @Test(
    .enabled(if: hasCompilers, "python3 with numpy, onnx, openvino and tvm is not available"),
    arguments: ["openvino", "tvm"])
  func compilersAgreeAndReportTheirPrecision(_ backend: String) throws {
    let target = BackendTarget.pythonTarget(backend, script: Self.script)
    let worker = Self.worker(target)
    defer { worker.stop() }
    let (g, inputs) = Self.simpleModel()
    let values = try ReferenceBackend().run(g, inputs: inputs, keepAll: true).values
    let outcome = target.run(on: worker, graph: g, model: g.encoded(), inputs: inputs)
    #expect(
      Judge().for(target).finding(outcome, target: backend, graph: g, values: values) == nil, "\(outcome)")
    let found = PrecisionProbe().run(target, worker: worker)
    if backend == "openvino" {
      #expect(found.contains(.init(dtype: .f64, computedAs: .f32, how: "single")), "\(found)")
      #expect(found.contains(.init(dtype: .f16, computedAs: .f32, how: "chain")), "\(found)")
      #expect(target.computedAs[.f64] == .f32, "known without probing too")
    }
    print("\(backend) precision: \(found.isEmpty ? "every float dtype rounded per operator" : "\(found)")")
  }
}
