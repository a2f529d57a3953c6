import Backends
import Foundation
import Fuzzing
import Generation
import IR
import ONNX
import Operators
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

  /// Models whose nodes a target's optimizer rewrites, or does not: (label, graph, the values `vN`
  /// whose nodes the worker must report rewritten, exactly and in node order).
  static func rewriteCases(_ backend: String) -> [(String, Graph, [ValueID])] {
    // conv2d [1, 2, 6, 6] * [4, 2, 3, 3] (+ a per-channel bias) then relu.
    func conv(bias: Bool) -> (Graph, [ValueID]) {
      var b = GraphBuilder()
      let x = b.input([1, 2, 6, 6])
      let w = b.constant([4, 2, 3, 3])
      let attributes: [String: AttributeValue] = [
        "strides": .ints([1, 1]), "pads": .ints([0, 0, 0, 0]), "dilations": .ints([1, 1]), "group": .int(1),
      ]
      var y = b("conv2d", x, w, attributes: attributes)
      var nodes = [y]
      if bias {
        y = b("add", y, b.constant([1, 4, 1, 1], seed: 2))
        nodes.append(y)
      }
      let r = b("relu", y)
      return (b.build(outputs: [r]), nodes + [r])
    }
    // x * min(relu(x + 3), 6) / 6: OpenVINO's HSwishFusion makes the div an HSwish under its name and
    // drops the others (Patterns/openvino.json, openvino.hswish_relu_div).
    func hswish() -> (Graph, [ValueID]) {
      var b = GraphBuilder()
      let x = b.input([2, 8, 6, 6])
      let a = b("add", x, b.constant([1], data: [3]))
      let r = b("relu", a)
      let m = b("min", r, b.constant([1], data: [6]))
      let p = b("mul", x, m)
      let d = b("div", p, b.constant([1], data: [6]))
      return (b.build(outputs: [d]), [a, r, m, p])
    }
    // matmul then sin: nothing for any target to fuse or fold.
    func plain() -> Graph {
      var b = GraphBuilder()
      let m = b("matmul", b.input([4, 5]), b.input([5, 6]))
      let y = b("sin", m)
      return b.build(outputs: [y])
    }
    // sin, cos, add in f16: onnxruntime's CPU provider runs them in f32 between inserted Casts and
    // renames the values (InsertedPrecisionFreeCast_vN); nothing is fused.
    func f16() -> Graph {
      var b = GraphBuilder()
      let x = b.input([2, 3], .f16)
      let y = b("add", b("cos", b("sin", x)), x)
      return b.build(outputs: [y])
    }
    // exp(relu(x)) with relu(x) a graph output too: Relax fuses only dataflow values, so the tap
    // stops the elementwise fusion (Docs/findings/patterns/tvm-notes.md).
    func tapped() -> Graph {
      var b = GraphBuilder()
      let r = b("relu", b.input([2, 3]))
      let e = b("exp", r)
      return b.build(outputs: [r, e])
    }
    // (c + c) * x: the importer folds the constant add.
    func constantAdd() -> (Graph, [ValueID]) {
      var b = GraphBuilder()
      let c = b.constant([2, 3])
      let s = b("add", c, c)
      let y = b("mul", b.input([2, 3]), s)
      return (b.build(outputs: [y]), [s])
    }
    let (convRelu, convReluNodes) = conv(bias: false)
    let (convAddRelu, convAddReluNodes) = conv(bias: true)
    switch backend {
    case "ort":  // ConvActivationFusion (the Conv also becomes NCHWc)
      return [
        ("conv-relu", convRelu, convReluNodes), ("matmul-sin", plain(), []), ("f16-sin-cos-add", f16(), []),
      ]
    case "openvino":
      let (g, nodes) = hswish()
      return [("hswish", g, nodes), ("matmul-sin", plain(), [])]
    case "tvm-opt":  // FuseOps: one fused function
      let (g, nodes) = constantAdd()
      return [
        ("conv-add-relu", convAddRelu, convAddReluNodes), ("constant-add", g, nodes),
        ("tapped-relu-exp", tapped(), []),
      ]
    case "tvm":  // no fusion in tvm.compile's default pipeline: only what the importer folds
      let (g, nodes) = constantAdd()
      return [("conv-add-relu", convAddRelu, []), ("constant-add", g, nodes), ("matmul-sin", plain(), [])]
    default: return []
    }
  }

  /// `tvm-opt` is TVM with the CPU pipeline's FoldConstant and FuseOps: served by the worker, probed
  /// as the tvm package, and triaged with `tvm` as its lower level (which tells an optimizer bug).
  @Test func tvmOptIsTVMsOptimizedLevel() {
    #expect(BackendTarget.pythonBackends.contains("tvm-opt"))
    #expect(BackendTarget.unoptimized(of: "tvm-opt") == "tvm" && BackendTarget.unoptimized(of: "tvm") == nil)
    #expect(BackendTarget.independent(of: "tvm-opt") == ["onnx-ref", "ort-noopt", "tvm"])
    #expect(ProbeVersion.module(for: "tvm-opt") == "tvm")
  }

  /// Asked with `rewrites`, a worker reports the nodes its target's optimizer rewrote: all the nodes
  /// of a fusion the target is known to make, none where there is nothing to rewrite; and the
  /// outputs are those of the same model run without asking.
  @Test(
    .enabled(
      if: hasCompilers && hasORT, "python3 with numpy, onnx, onnxruntime, openvino and tvm is not available"),
    arguments: ["ort", "openvino", "tvm-opt", "tvm"])
  func reportsTheNodesItsOptimizerRewrote(_ backend: String) throws {
    let target = BackendTarget.pythonTarget(backend, script: Self.script)
    let worker = Self.worker(target)
    defer { worker.stop() }
    for (label, g, nodes) in Self.rewriteCases(backend) {
      let inputs = g.sampleInputs(seed: 1)
      let plain = target.run(on: worker, graph: g, model: g.encoded(), inputs: inputs)
      #expect(worker.lastRewritten == nil, "\(backend) \(label): reported without being asked: \(plain)")
      let asked = target.run(on: worker, graph: g, model: g.encoded(), inputs: inputs, rewrites: true)
      guard case .outputs = asked else {
        Issue.record("\(backend) \(label): \(asked)\n\(worker.logTail())")
        continue
      }
      #expect(asked == plain, "\(backend) \(label): the same outputs either way")
      #expect(
        worker.lastRewritten == nodes.map(ONNXExport.name),
        "\(backend) \(label): \(worker.lastRewritten ?? [])")
    }
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
