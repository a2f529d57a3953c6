import Backends
import Foundation
import IR
import ONNX
import Operators
import Tensors

/// What triage established about one finding: where it is, how small it got, and whether an
/// independent implementation sides with the target or with our reference. Stored in
/// `bucket.json`, the instance's `meta.json` and the bug bundle.
public struct TriageEvidence: Codable, Sendable, Hashable {
  public enum Verdict: String, Codable, Sendable {
    /// An independent implementation agrees with the reference: the target is wrong.
    case targetBug = "target-bug"
    /// The independent implementations agree with the target and not with the reference: a
    /// defect of DLSmith (its reference or its export), never reported as a target bug.
    case referenceDisagreement = "reference-disagreement"
    /// No independent implementation could decide (they failed, are unsupported, or differ from
    /// both): still a finding, marked unconfirmed.
    case unconfirmed
    /// No independent implementation is configured for this target (the built-in backends).
    case notChecked = "not-checked"
  }

  /// One independent implementation's run on the minimized model.
  public struct Run: Codable, Sendable, Hashable {
    public var implementation: String
    /// `reference` (agrees with the reference), `target` (agrees with the target), `neither`,
    /// `failed`, `unsupported`, or `known-bug` (it did not side with the reference, and a known bug
    /// of it meets the model; the detail names its reproducer).
    public var sides: String
    public var detail: String
  }

  public var verdict: Verdict
  /// How the finding was localized: `culprit` (one node alone reproduces it), `consumer` (the node
  /// producing the wrong output fails behind any computed input: `Reducer.consumer`),
  /// `first-divergence` (the values first go wrong at an earlier node, which needs the nodes before
  /// it: `Reducer.firstDivergence`), `composite` (it needs several nodes), `propagated` (no node
  /// alone: amplified rounding), `ill-conditioned`, `skipped`.
  public var localization: String
  /// The culprit node's operator (ours), when one node alone reproduces it.
  public var culprit: String?
  public var nodesBefore: Int
  public var nodesAfter: Int
  /// Target runs triage spent on the finding: localization, cuts, the cause test and minimization
  /// (not the independent implementations).
  public var steps: Int
  public var seconds: Double
  public var runs: [Run] = []
  /// What the target's own optimization levels say (`ort-noopt agrees with the reference: an
  /// optimization pass of ort is to blame`), when a lower level is among the implementations.
  public var optimizer: String?
  /// Set when the minimized model failed only on the worker that had run other models before (a
  /// target whose caches carry state between models) and was dropped for the original model.
  public var standalone: String?

  public var summary: String {
    var s = "\(verdict.rawValue); \(localization)"
    if let culprit { s += " \(culprit)" }
    s += "; \(nodesBefore) -> \(nodesAfter) node(s) in \(String(format: "%.1f", seconds)) s"
    for r in runs { s += "; \(r.implementation): \(r.sides)" }
    if let optimizer { s += "; \(optimizer)" }
    if let standalone { s += "; \(standalone)" }
    return s
  }
}

/// One triage pipeline for a finding on an external or built-in target, shared by `fuzz`,
/// `replay` and `minimize`: localize (each node alone on its recorded inputs; for an error the
/// nodes of the operator it blames first), judge the culprit's conditioning, minimize (from the
/// culprit when there is one, else the whole model, within `maxSteps` target runs), sign the
/// bucket by cause (`Signature`), then ask independent implementations (`consensus`).
public struct Triage {
  public var target: BackendTarget
  public var judge: Judge
  public var limits = WorkerLimits()
  /// Independent implementations (see `BackendTarget.independent(of:)`).
  public var consensus: [BackendTarget] = []
  public var logPath: String
  /// Target runs the minimizer may spend (localization is one run per node on top).
  public var maxSteps = 300
  /// Minimize (false: localize and sign only, for findings past the campaign's budget).
  public var minimize = true
  /// Workers of the independent implementations kept between triages (a campaign's); `nil`: each
  /// triage starts and stops its own.
  public var pool: WorkerPool?
  /// The target's worker to run on (a campaign lane's, idle while it triages); `nil`: triage
  /// starts its own.
  public var worker: WorkerProcess?
  /// When a minimized model fails only on the shared worker, or minimization stalls above 3 nodes:
  /// triage once more with a process of its own for every target run (`freshProcessPerRun`).
  public var retryOnFreshWorker = true
  /// Every target run in a process of its own (`Reducer.freshProcessPerRun`).
  public var freshProcessPerRun = false
  /// Target runs a retry with a process per run may spend on minimization (each run pays a
  /// process start: about 1.5 s for OpenVINO).
  public static let freshRetrySteps = 40
  /// Whether a signature is a new bucket (the campaign: no bucket folder yet). Minimization is
  /// spent on the first instance of a bucket; later ones are localized and signed only. A composite
  /// that needs several nodes is always minimized: its signature depends on what remains.
  public var isNew: (Signature) -> Bool = { _ in true }
  /// Receives every accepted minimization step (`dlsmith minimize` checkpoints with it).
  public var progress: (Graph, [Tensor], Int) -> Void = { _, _, _ in }

  public struct Result: Sendable {
    public var finding: Finding
    public var minimized: Minimized?
    public var evidence: TriageEvidence
  }

  public init(target: BackendTarget, judge: Judge, logPath: String) {
    self.target = target
    self.judge = judge.for(target)
    self.logPath = logPath
  }

  public func run(_ finding: Finding, graph: Graph, inputs: [Tensor]) -> Result {
    let began = Date()
    var reducer = Reducer(target: target, logPath: logPath)
    reducer.limits = limits
    reducer.judge = judge
    reducer.minimizer.maxSteps = maxSteps
    reducer.freshProcessPerRun = freshProcessPerRun
    // One worker for the whole triage: the given one, or one of its own.
    reducer.worker = worker
    let (targetWorker, owned) = reducer.acquireWorker()
    defer { if owned { targetWorker.stop() } }
    reducer.worker = targetWorker
    var evidence = TriageEvidence(
      verdict: .notChecked, localization: "skipped", nodesBefore: graph.nodes.count,
      nodesAfter: graph.nodes.count, steps: 0, seconds: 0)
    func done(_ f: Finding, _ m: Minimized?) -> Result {
      evidence.seconds = Date().timeIntervalSince(began)
      evidence.steps = reducer.runs.value
      if let m { evidence.nodesAfter = m.graph.nodes.count }
      return Result(finding: f, minimized: m, evidence: evidence)
    }
    let kind = finding.signature.kind
    // Hangs and memory overruns cost a timeout per run: they are kept as found.
    guard kind != .hang, kind != .oom, kind != .unstable else { return done(finding, nil) }

    var current = finding
    var minimized: Minimized?
    switch reducer.localize(graph, inputs: inputs, keeping: finding.signature) {
    case .culprit(let g, let x, let f):
      let op = g.nodes.last?.op ?? "?"
      evidence.localization = "culprit"
      evidence.culprit = op
      if kind == .mismatch, judge.oracle.illConditioned(g, x) {
        evidence.localization = "ill-conditioned"
        return done(
          finding.relabeled(
            .unstable, note: "ill-conditioned: 1-ulp input changes move the \(op) output beyond tolerance"),
          nil)
      }
      current = f
      minimized = Minimized(graph: g, inputs: x, steps: 0, accepted: 1)
      // Shrink the single node's dims and attributes too, briefly (it is already the repro), for
      // the first instance of a bucket.
      if minimize, isNew(signed(f, evidence, graph: g)) {
        var small = reducer
        small.minimizer.maxSteps = Swift.min(maxSteps, 24)
        let (m, last) = small.reduce(g, inputs: x, keeping: f.signature, progress: progress)
        if let last, last.signature.minimizationKey == f.signature.minimizationKey {
          minimized = Minimized(
            graph: m.graph, inputs: m.inputs, steps: m.steps, accepted: m.accepted + 1)
          current = last
        }
      }
    case .propagated:
      evidence.localization = "propagated"
      return done(finding.relabeled(.unstable, note: "no node alone mismatches: amplified rounding"), nil)
    case .composite:
      evidence.localization = "composite"
      // Where the values first go wrong: the rest of the model only carries the error.
      var (start, startInputs) = (graph, inputs)
      if kind == .mismatch || kind == .error,
        let (g, x, f) = reducer.firstDivergence(graph, inputs: inputs, output: finding.discrepancy?.output)
      {
        (start, startInputs) = (g, x)
        current = f
        evidence.localization = "first-divergence"
      }
      // The cause test: does the failing node fail behind any computed input? Then it is the cause
      // and the two-node model the repro; otherwise the nodes it needs are part of the cause, and
      // only minimization tells which.
      if current.signature.kind == .mismatch, let d = current.discrepancy,
        let (cg, cx, cf) = reducer.consumer(
          start, inputs: startInputs, output: d.output, keeping: current.signature)
      {
        evidence.localization = "consumer"
        (start, startInputs) = (cg, cx)
        current = cf
      }
      if start.nodes.count < graph.nodes.count {
        minimized = Minimized(graph: start, inputs: startInputs, steps: 0, accepted: 1)
      }
      let consumer = evidence.localization == "consumer"
      if minimize, !consumer || isNew(signed(current, evidence, graph: start)) {
        var r = reducer
        if consumer { r.minimizer.maxSteps = Swift.min(maxSteps, 24) }
        // Where the values go wrong stays the failing node.
        let failing = current.discrepancy.flatMap { d in
          start.nodes.first { $0.outputs.contains(d.output) }?.op
        }
        let (m, last) = r.reduce(
          start, inputs: startInputs, keeping: current.signature,
          failingAt: evidence.localization == "composite" ? nil : failing, progress: progress)
        if let last, last.signature.minimizationKey == current.signature.minimizationKey {
          minimized = Minimized(
            graph: m.graph, inputs: m.inputs, steps: m.steps, accepted: m.accepted + 1)
          current = last
        }
      }
      // Minimized to one node on graph inputs: that node alone is the culprit after all (on
      // other inputs than the recorded ones, or a node localization could not run alone).
      if let m = minimized, m.graph.nodes.count == 1 {
        evidence.localization = "culprit"
        evidence.culprit = m.graph.nodes[0].op
      } else if current.signature.kind == .mismatch, let d = current.discrepancy,
        let (cg, cx, cf) = reducer.canonical(
          minimized?.graph ?? start, inputs: minimized?.inputs ?? startInputs, output: d.output,
          keeping: current.signature)
      {
        // A layout node that a reshape (or expand) in its place shows the same: signed by that.
        minimized = Minimized(
          graph: cg, inputs: cx, steps: minimized?.steps ?? 0, accepted: (minimized?.accepted ?? 0) + 1)
        current = cf
      }
      // A model of constants only whose failure needs them constant: the target's constant folding.
      if evidence.localization != "consumer", evidence.culprit == nil, current.signature.kind == .mismatch,
        let d = current.discrepancy,
        reducer.needsConstants(
          minimized?.graph ?? start, inputs: minimized?.inputs ?? startInputs, output: d.output,
          keeping: current.signature)
      {
        evidence.localization = "constant-folded"
      }
      // A chain of continuous operators can amplify the target's own rounding (an f16 log_softmax
      // feeding a layer_norm over nearly constant values): judged on the smallest model.
      let (g, x) = minimized.map { ($0.graph, $0.inputs) } ?? (graph, inputs)
      if current.signature.kind == .mismatch, current.discrepancy?.kind == .values,
        judge.oracle.illConditioned(g, x)
      {
        evidence.localization = "ill-conditioned"
        return done(
          finding.relabeled(
            .unstable, note: "ill-conditioned: 1-ulp input changes move the output beyond tolerance"),
          minimized)
      }
    }
    // Why to triage once more with a process per run (`retriedInFreshProcesses`), and which of its
    // results to take: one retry, whichever reason holds.
    var retry: (because: String, takes: (Graph) -> Bool)?
    // The repro must stand alone: the shared worker has run other models, and a target's caches
    // can make a model fail only after those. A minimized model that does not fail on a fresh
    // worker is dropped for the original one. Checked for a new bucket's first instance, the one
    // whose minimized model is published.
    if let m = minimized, worker != nil, m.graph != graph, isNew(signed(current, evidence, graph: m.graph)) {
      let fresh = WorkerProcess(command: target.command, limits: limits, logPath: logPath + ".fresh")
      let again = reducer.finding(m.graph, m.inputs, worker: fresh)
      fresh.stop()
      if again?.signature.minimizationKey != current.signature.minimizationKey {
        evidence.standalone =
          "the minimized model (\(m.graph.nodes.count) nodes) failed only on the worker that had run other models; kept the original"
        minimized = nil
        current = finding
        evidence.localization = "composite"
        evidence.culprit = nil
        retry = (
          "the model minimized on the campaign's worker (\(m.graph.nodes.count) nodes) failed only there",
          { $0 != graph }
        )
      }
    }
    // Minimization that stalled above 3 nodes on a process that ran other models first (the
    // campaign's worker, or triage's own after the original model). OpenVINO's CPU plugin picks
    // memory layouts by what its process compiled first, so a 10-node model whose smaller forms all
    // passed after it fails as 2 nodes in fresh processes.
    let nodesLeft = minimized?.graph.nodes.count ?? graph.nodes.count
    if retry == nil, minimize, !freshProcessPerRun, nodesLeft > 3, current.signature.kind == .mismatch,
      evidence.culprit == nil, isNew(signed(current, evidence, graph: minimized?.graph ?? graph))
    {
      retry = (
        "minimization stalled at \(nodesLeft) nodes on a process that had run other models",
        { $0.nodes.count < nodesLeft }
      )
    }
    if let retry, retryOnFreshWorker, let r = retriedInFreshProcesses(finding, graph: graph, inputs: inputs),
      let rm = r.minimized, retry.takes(rm.graph)
    {
      var e = r.evidence
      e.standalone = retry.because + "; minimized again with a process per run"
      e.seconds = Date().timeIntervalSince(began)
      return Result(finding: r.finding, minimized: rm, evidence: e)
    }
    // A culprit in a dtype the target computes at another precision: that precision's kernel when
    // it fails the same way there, else the dtype's own.
    var computedAs = judge.oracle.computedAs
    if evidence.culprit != nil, let d = current.discrepancy, d.kind == .values || d.kind == .rounding,
      let from = DType(rawValue: d.dtype), let to = computedAs[from]
    {
      let (g, x) = minimized.map { ($0.graph, $0.inputs) } ?? (graph, inputs)
      if !reducer.failsConverted(g, inputs: x, from: from, to: to) { computedAs[from] = nil }
    }
    current.signature = signed(current, evidence, graph: minimized?.graph ?? graph, computedAs: computedAs)
    current.message = finding.message
    // Consensus on the smallest model we have.
    let (g, x) = minimized.map { ($0.graph, $0.inputs) } ?? (graph, inputs)
    if !consensus.isEmpty {
      decide(&evidence, current, graph: g, inputs: x)
      if evidence.verdict == .referenceDisagreement {
        current.signature.kind = .referenceDisagreement
      }
    }
    return done(current, minimized)
  }

  /// This triage run again with a process of its own for every target run and a smaller budget
  /// (`freshRetrySteps`), no retry of its own; `nil` when it finds no bug the same way.
  func retriedInFreshProcesses(_ finding: Finding, graph: Graph, inputs: [Tensor]) -> Result? {
    var retry = self
    retry.retryOnFreshWorker = false
    retry.freshProcessPerRun = true
    retry.worker = nil
    retry.maxSteps = Swift.min(maxSteps, Triage.freshRetrySteps)
    let r = retry.run(finding, graph: graph, inputs: inputs)
    guard r.finding.signature.kind == finding.signature.kind, r.evidence.verdict != .referenceDisagreement
    else { return nil }
    return r
  }

  /// The bucket signature of a triaged finding: a mismatch by its culprit (`culpritSignature`) or
  /// by the node producing the wrong output and what it needs (`compositeSignature`, on `graph`,
  /// the smallest model); an error by the operator it or localization blames. Operators are named
  /// as the target knows them (`operatorName`).
  func signed(_ f: Finding, _ evidence: TriageEvidence, graph: Graph, computedAs: [DType: DType]? = nil)
    -> Signature
  {
    switch f.signature.kind {
    case .mismatch:
      guard let d = f.discrepancy else { return f.signature }
      if let op = evidence.culprit {
        return Judge.culpritSignature(
          op: operatorName(op), d, target: target.name, kind: .mismatch,
          computedAs: computedAs ?? judge.oracle.computedAs)
      }
      return Judge.compositeSignature(
        graph, d, target: target.name, kind: .mismatch, consumer: evidence.localization == "consumer",
        constantFolded: evidence.localization == "constant-folded", operators: judge.oracle.operators,
        name: operatorName)
    case .error:
      guard case .error(let stage, let message)? = f.outcome else { return f.signature }
      return Judge.errorSignature(
        message, stage: stage, target: target.name, op: evidence.culprit.map(operatorName))
    default: return f.signature
    }
  }

  /// An operator (ours) as the target knows it: its ONNX type for a target that receives ONNX
  /// (`conv1d` and `conv2d` are one `Conv`, whose bug is one bucket), ours otherwise.
  public func operatorName(_ op: String) -> String {
    target.sendsONNX ? ONNXExport.mapping[op] ?? op : op
  }

  /// A worker for an independent implementation or another level: from the pool if there is one.
  func startWorker(_ command: [String], _ log: String) -> WorkerProcess {
    pool?.checkout(command: command, limits: limits, logPath: log)
      ?? WorkerProcess(command: command, limits: limits, logPath: log)
  }

  func release(_ worker: WorkerProcess) {
    if let pool { pool.checkin(worker) } else { worker.stop() }
  }

  /// Runs the independent implementations on (graph, inputs) and decides the verdict.
  func decide(_ evidence: inout TriageEvidence, _ finding: Finding, graph: Graph, inputs: [Tensor]) {
    guard let values = try? ReferenceBackend().run(graph, inputs: inputs, keepAll: true).values else {
      evidence.verdict = .unconfirmed
      return
    }
    let targetOutcome: WorkerOutcome? = finding.outcome
    var runs: [TriageEvidence.Run] = []
    for other in consensus {
      let worker = startWorker(other.command, logPath + ".\(other.name)")
      let outcome = other.run(on: worker, graph: graph, model: graph.encoded(), inputs: inputs)
      release(worker)
      let sides: String
      var detail = ""
      switch outcome {
      case .outputs(let outs):
        let verdict = judge.for(other).oracle.verdict(graph, reference: values, actual: outs)
        switch verdict {
        case .agree, .unstable:
          sides = "reference"
        default:
          if case .outputs(let t)? = targetOutcome, Oracle.close(t, outs, oracle: judge.oracle) {
            sides = "target"
          } else {
            sides = "neither"
          }
          if case .mismatch(let d) = verdict { detail = d.description }
        }
      case .unsupported(let why):
        sides = "unsupported"
        detail = why
      case .error(let stage, let message):
        // Both refusing the model: the model, not the target, is at fault.
        if case .error? = targetOutcome { sides = "target" } else { sides = "failed" }
        detail = "\(stage): \(message.split(separator: "\n").first ?? "")"
      default:
        sides = "failed"
        detail = "\(outcome)"
      }
      // Where it does not side with the reference, a known bug of its own that a node of the model
      // meets may be why (onnx.reference's bf16 CumSum accumulates in bf16, as OpenVINO's does):
      // it vouches for neither side then.
      if sides != "reference", let bug = ExportFaithfulness.knownBug(of: other.name, in: graph) {
        runs.append(.init(implementation: other.name, sides: "known-bug", detail: bug))
        continue
      }
      runs.append(.init(implementation: other.name, sides: sides, detail: String(detail.prefix(300))))
    }
    evidence.runs = runs
    // The lower optimization level shares the target's kernels: it cannot confirm a kernel bug
    // against the reference on its own, but it tells optimizer bugs from kernel bugs.
    let unopt = BackendTarget.unoptimized(of: target.name)
    let independentRuns = runs.filter { $0.implementation != unopt }
    if independentRuns.contains(where: { $0.sides == "reference" })
      || (independentRuns.isEmpty && runs.contains { $0.sides == "reference" })
    {
      evidence.verdict = .targetBug
    } else if independentRuns.contains(where: { $0.sides == "target" })
      && !runs.contains(where: { $0.sides == "reference" })
    {
      // Only an independent implementation siding with the target makes it our defect: the
      // target's own lower level shares its arithmetic.
      evidence.verdict = .referenceDisagreement
    } else if runs.contains(where: { $0.sides == "reference" }) {
      evidence.verdict = .targetBug
    } else {
      evidence.verdict = .unconfirmed
    }
    if let unopt, let r = runs.first(where: { $0.implementation == unopt }) {
      switch r.sides {
      case "reference":
        var note = "\(unopt) agrees with the reference: an optimization pass of \(target.name) is to blame"
        if let level = firstBreakingLevel(finding, graph: graph, inputs: inputs, values: values) {
          note += "; the first level that breaks it: \(level)"
        }
        if case .error(_, let message)? = finding.outcome, let pass = Triage.namedPass(message) {
          note += "; the message names the pass \(pass)"
        }
        evidence.optimizer = note
      case "target": evidence.optimizer = "\(unopt) fails the same way: not an optimization pass"
      default: break
      }
    }
  }
}

extension Oracle {
  /// The outputs of `graph` computed as a target with `computedAs` computes them: each result of a
  /// dtype it computes in another format is rounded to that format instead of its dtype (f16 kept
  /// in f32 between operators, f64 rounded to f32), the graph outputs to their dtypes. Nil if an
  /// operator has no reference kernel.
  public func emulated(_ graph: Graph, inputs: [Tensor]) -> [Tensor]? {
    var values: [ValueID: Tensor] = [:]
    for (i, t) in zip(graph.inputs, inputs) { values[i.id] = t }
    for c in graph.constants { values[c.id] = c.tensor }
    for n in graph.nodes {
      guard let spec = operators(n.op) else { return nil }
      let ins = n.inputs.compactMap { values[$0] }
      guard ins.count == n.inputs.count else { return nil }
      for (o, t) in zip(n.outputs, spec.reference(n.attributes, ins)) {
        let format = computedAs[t.dtype] ?? t.dtype
        values[o] = Tensor(dtype: t.dtype, shape: t.shape, storage: t.storage.map { format.rounded($0) })
      }
    }
    var outputs: [Tensor] = []
    for id in graph.outputs {
      guard let t = values[id] else { return nil }
      outputs.append(Tensor(dtype: t.dtype, shape: t.shape, storage: t.storage.map(t.dtype.rounded)))
    }
    return outputs
  }

  /// Whether the target's known precision (`computedAs`) explains its outputs: the reference
  /// emulated at that precision (`emulated`) agrees with them. `values` holds the graph inputs.
  public func explainedByPrecision(_ graph: Graph, _ values: [ValueID: Tensor], actual: [Tensor]) -> Bool {
    guard !computedAs.isEmpty else { return false }
    let inputs = graph.inputs.compactMap { values[$0.id] }
    guard inputs.count == graph.inputs.count, let emulated = emulated(graph, inputs: inputs) else {
      return false
    }
    return Oracle.close(emulated, actual, oracle: self)
  }

  /// Whether a graph's (approximate) outputs are ill-conditioned at these inputs: moving every float
  /// graph input and constant element by one ulp of its dtype (random signs, 8 trials) moves some
  /// output element beyond the tolerance. A target computing in the dtype makes such rounding errors
  /// inside its operators, so a difference there says nothing about its correctness (an f16
  /// layer_norm over nearly constant values, alone or after a log_softmax). Graphs of exact
  /// operators are never ill-conditioned, nor graphs with a discontinuous operator (a floor of an
  /// exact integer would look ill-conditioned; the target receives the inputs exactly).
  public func illConditioned(_ graph: Graph, _ inputs: [Tensor]) -> Bool {
    let specs = graph.nodes.compactMap { operators($0.op) }
    guard specs.count == graph.nodes.count, !specs.contains(where: { $0.traits.contains(.discontinuous) }),
      specs.contains(where: { !$0.traits.contains(.exact) }),
      let base = try? ReferenceBackend(operators: operators).run(graph, inputs: inputs)
    else { return false }
    var scale = 0.0
    for t in inputs + base where t.dtype.isFloat {
      for v in t.storage where v.isFinite { scale = Swift.max(scale, Swift.abs(v)) }
    }
    var rng = SplitMix64(seed: 0x111D)
    func moved(_ t: Tensor) -> Tensor {
      guard t.dtype.isFloat, let p = t.dtype.significandBits else { return t }
      let ulp = Foundation.pow(2.0, Double(1 - p))
      return Tensor(
        dtype: t.dtype, shape: t.shape,
        storage: t.storage.map { t.dtype.rounded($0 * (1 + (rng.chance(0.5) ? ulp : -ulp))) })
    }
    for _ in 0..<8 {
      var g = graph
      for k in g.constants.indices where g.constants[k].type.dtype.isFloat {
        g.constants[k].data = moved(g.constants[k].tensor).storage
      }
      guard let out = try? ReferenceBackend(operators: operators).run(g, inputs: inputs.map(moved)) else {
        continue
      }
      for (b, m) in zip(base, out) where b.dtype.isFloat {
        if compare(b, m, tolerance: tolerance(b.dtype), scale: scale) != nil { return true }
      }
    }
    return false
  }
}

extension Triage {
  /// The lowest optimization level at which the finding appears (the target's own level if none
  /// below it shows it).
  func firstBreakingLevel(_ finding: Finding, graph: Graph, inputs: [Tensor], values: [ValueID: Tensor])
    -> String?
  {
    let names = BackendTarget.levels(between: target.name)
    guard !names.isEmpty, target.command.count >= 3 else { return nil }
    for name in names {
      // The same interpreter and worker script as the target, another level.
      let level = BackendTarget(
        name: name, command: Array(target.command.dropLast(1)) + [name], sendsONNX: true)
      let worker = startWorker(level.command, logPath + ".\(name)")
      let outcome = level.run(on: worker, graph: graph, model: graph.encoded(), inputs: inputs)
      release(worker)
      if let f = judge.for(level).finding(outcome, target: target.name, graph: graph, values: values),
        f.signature.kind == finding.signature.kind
      {
        return name
      }
    }
    return target.name
  }

  /// A graph transformer an onnxruntime message names (`onnxruntime::FuseReluClip::Apply`).
  static func namedPass(_ message: String) -> String? {
    guard let r = message.range(of: "onnxruntime::[A-Za-z]+::Apply", options: .regularExpression) else {
      return nil
    }
    return String(message[r].dropFirst("onnxruntime::".count).dropLast("::Apply".count))
  }
}

extension Finding {
  /// This finding with another kind (same state), and a note appended to the message.
  func relabeled(_ kind: FindingKind, note: String) -> Finding {
    var f = self
    f.signature.kind = kind
    f.message += " (\(note))"
    return f
  }
}

extension Oracle {
  /// Whether two output lists agree within this oracle's tolerances (at the larger magnitude of the
  /// two as scale): used to tell whether an independent implementation sides with the target.
  public static func close(_ a: [Tensor], _ b: [Tensor], oracle: Oracle) -> Bool {
    guard a.count == b.count else { return false }
    for (x, y) in zip(a, b) {
      guard x.shape == y.shape, x.dtype == y.dtype else { return false }
      var scale = 0.0
      for v in x.storage where v.isFinite { scale = Swift.max(scale, Swift.abs(v)) }
      if oracle.compare(x, y, tolerance: oracle.tolerance(x.dtype), scale: scale) != nil { return false }
    }
    return true
  }
}
