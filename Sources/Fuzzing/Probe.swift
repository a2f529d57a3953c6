import Backends
import Foundation
import Generation
import IR
import Operators
import Supervision
import Tensors

// MARK: - Results

/// How one probed combination behaved on a backend.
public enum ProbeStatus: String, Codable, Sendable, CaseIterable {
  /// At least one model ran (agreeing with the reference or not: the combination is implemented).
  case supported
  /// The backend declined every model (`WorkerOutcome.unsupported`, including "cannot export").
  case unsupported
  /// Every model that reached the backend failed (error, crash, exit, hang, memory).
  case failing
  /// No model could be built for the combination (the reason says why).
  case skipped
}

/// One probed combination: an operator at one dtype and rank, alone or in a two-node context.
public struct ProbeResult: Codable, Sendable, Hashable {
  public var op: OperatorSpec.ID
  /// The dtype of the operator's type variable (`T`): the first input's dtype for most operators,
  /// the data dtype of `where`, the source dtype of `cast`.
  public var dtype: DType
  /// The rank of that operand (of the output for `where`, whose `T` operands broadcast).
  public var rank: Int
  /// `nil` for the single-operator models; else the context, e.g. `after relu`, `before add`.
  public var context: String?
  public var status: ProbeStatus
  /// The unsupported reason, the first failure message, or why the combination was skipped.
  public var reason: String?
  /// Models sent to the backend.
  public var models: Int
  /// Models that ran (agreeing, disagreeing or unstable).
  public var ran: Int
  /// Models that ran but disagreed with the reference, and the first discrepancy.
  public var mismatches: Int
  public var mismatch: String?
  /// Models that failed (error, crash, ...), also counted when others ran.
  public var failures: Int
  public var failure: String?

  public var key: String { ProbeResult.key(op, dtype, rank, context) }
  static func key(_ op: String, _ dtype: DType, _ rank: Int, _ context: String?) -> String {
    "\(op)|\(dtype.rawValue)|\(rank)|\(context ?? "")"
  }
}

/// Everything probed on one backend version: the content of `.dlsmith/probe/<backend>-<version>.json`.
public struct ProbeReport: Codable, Sendable {
  public var backend: String
  public var version: String
  /// The DLSmith version that probed (the ONNX export changes with it, so another version re-probes).
  public var toolVersion: String
  public var samples: Int
  /// Sorted by operator (catalogue order), dtype, rank, then context (single-operator first).
  public var results: [ProbeResult]

  public init(
    backend: String, version: String, toolVersion: String = DLSmithVersion.string, samples: Int,
    results: [ProbeResult] = []
  ) {
    self.backend = backend
    self.version = version
    self.toolVersion = toolVersion
    self.samples = samples
    self.results = results
  }

  /// The single-operator results of one operator and dtype, by rank.
  public func results(op: OperatorSpec.ID, dtype: DType) -> [ProbeResult] {
    results.filter { $0.op == op && $0.dtype == dtype && $0.context == nil }
  }

  /// The ranks at which `op` on `dtype` ran.
  public func supportedRanks(op: OperatorSpec.ID, dtype: DType) -> [Int] {
    results(op: op, dtype: dtype).filter { $0.status == .supported }.map(\.rank).sorted()
  }

  /// Whether `op` on `dtype` (at `rank`, or at any rank) ran on the backend; `nil` when it was never
  /// probed (or only skipped), so that callers can tell "unknown" from "unsupported".
  public func isSupported(_ op: OperatorSpec.ID, _ dtype: DType, rank: Int? = nil) -> Bool? {
    let rs = results(op: op, dtype: dtype).filter {
      (rank == nil || $0.rank == rank) && $0.status != .skipped
    }
    if rs.isEmpty { return nil }
    return rs.contains { $0.status == .supported }
  }

  /// The operators of `operators` that a campaign generating `dtype` models for this backend can
  /// keep: every operator that ran at some rank, plus those never probed at `dtype` (unknown is not
  /// unsupported). Operators that were only unsupported or failing are dropped.
  public func supportedOperators(dtype: DType, from operators: [OperatorSpec] = Catalogue.all)
    -> [OperatorSpec]
  {
    operators.filter { spec in
      let key = ProbeCaseList.keyInput(spec)
      guard spec.inputs[key].dtypes.allowed.contains(dtype) else { return true }  // dtype not its T
      return isSupported(spec.id, dtype) ?? true
    }
  }

  /// The (operator, dtype) pairs with no supported rank, with a reason: what a campaign should avoid.
  public func unsupportedPairs() -> [(op: OperatorSpec.ID, dtype: DType, reason: String)] {
    var seen = Set<String>()
    var out: [(op: OperatorSpec.ID, dtype: DType, reason: String)] = []
    for r in results where r.context == nil && !seen.contains("\(r.op)|\(r.dtype)") {
      seen.insert("\(r.op)|\(r.dtype)")
      if isSupported(r.op, r.dtype) == false {
        let reason =
          results(op: r.op, dtype: r.dtype).compactMap(\.reason).first ?? r.status.rawValue
        out.append((r.op, r.dtype, reason))
      }
    }
    return out
  }
}

/// The cache of probe reports under `<folder>/.dlsmith/probe/`.
public enum ProbeCache {
  public static func path(directory: String, backend: String, version: String) -> String {
    let safe = { (s: String) in
      String(s.map { $0.isLetter || $0.isNumber || "._-+".contains($0) ? $0 : "_" })
    }
    return URL(fileURLWithPath: directory).appendingPathComponent(".dlsmith/probe")
      .appendingPathComponent("\(safe(backend))-\(safe(version)).json").path
  }

  /// The cached report, if there is one for this backend, version and DLSmith version.
  public static func load(directory: String, backend: String, version: String) -> ProbeReport? {
    let p = path(directory: directory, backend: backend, version: version)
    guard let data = FileManager.default.contents(atPath: p),
      let report = try? JSONDecoder().decode(ProbeReport.self, from: data),
      report.backend == backend, report.version == version, report.toolVersion == DLSmithVersion.string
    else { return nil }
    return report
  }

  public static func save(_ report: ProbeReport, directory: String) throws {
    let p = path(directory: directory, backend: report.backend, version: report.version)
    try FileManager.default.createDirectory(
      atPath: (p as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
    try encoder.encode(report).write(to: URL(fileURLWithPath: p), options: .atomic)
  }
}

/// The operators a campaign could generate for `backend` at `version` on `dtype` models, from the
/// probe cache in `directory`; `nil` when that backend version was never probed.
public func supportedOperators(
  backend: String, version: String, dtype: DType, directory: String,
  from operators: [OperatorSpec] = Catalogue.all
) -> [OperatorSpec]? {
  ProbeCache.load(directory: directory, backend: backend, version: version)?
    .supportedOperators(dtype: dtype, from: operators)
}

// MARK: - Versions

/// Why a backend cannot be probed (its package is missing).
public struct ProbeUnavailable: Error, Sendable, CustomStringConvertible {
  public var reason: String
  public init(_ reason: String) { self.reason = reason }
  public var description: String { "unavailable: \(reason)" }
}

public enum ProbeVersion {
  /// The Python package whose version names a worker backend's cache.
  public static func module(for backend: String) -> String? {
    if BackendTarget.onnxruntimeLevels.contains(where: { $0.key == backend }) { return "onnxruntime" }
    switch backend {
    case "onnx-ref": return "onnx"
    case "openvino", "openvino-default": return "openvino"
    case "tvm", "tvm-opt": return "tvm"
    default: return nil
    }
  }

  /// The backend's version: the Python package's `__version__` (asked once per call with `python`),
  /// DLSmith's own version for the built-in backends, `unknown` for other commands.
  public static func detect(backend: String, python: String = "python3") -> Result<String, ProbeUnavailable> {
    guard let module = module(for: backend) else {
      return .success(["fast", "reference"].contains(backend) ? DLSmithVersion.string : "unknown")
    }
    let script =
      "import importlib, numpy; m = importlib.import_module('\(module)'); print(getattr(m, '__version__', 'unknown'))"
    let exe = BackendTarget.resolveExecutable(python).map { [$0] } ?? ["/usr/bin/env", python]
    let run: ChildProcess.Completed
    do { run = try ChildProcess.run(exe + ["-c", script]) } catch {
      return .failure(ProbeUnavailable("cannot run \(python): \(error)"))
    }
    let text = String(decoding: run.stdout, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
    if run.termination == .exited(0), !text.isEmpty, let last = text.split(separator: "\n").last {
      return .success(String(last))
    }
    let lines = String(decoding: run.stderr, as: UTF8.self).split(separator: "\n")
      .map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
    let ending =
      switch run.termination {
      case .exited(let code)?: "exited with status \(code)"
      case .signaled(let signal)?: "was killed by signal \(signal)"
      case nil: "timed out"
      }
    let why = lines.last ?? "\(python) \(ending)"
    return .failure(ProbeUnavailable("\(backend) needs the Python package \(module): \(why)"))
  }
}

// MARK: - Cases

/// What to probe.
public struct ProbeOptions: Sendable {
  public var operators: [OperatorSpec] = Catalogue.all
  public var dtypes: [DType] = DType.generated
  /// Largest probed rank.
  public var maxRank = 4
  /// Single-operator models per (operator, dtype, rank). Probing stops early at the first
  /// unsupported answer (the reason is per kernel, not per model).
  public var samples = 3
  /// Also probe the operator after and before a helper (relu, add or logical_not) in 2-node models.
  public var contexts = true
  public var seed: UInt64 = 1
  /// Worker limits; the worker is not recycled every 500 models here (models are tiny and one
  /// worker serves the whole probe).
  public var limits: WorkerLimits = {
    var l = WorkerLimits()
    l.maxModels = 20_000
    return l
  }()
  /// Re-probe everything instead of reusing cached results.
  public var refresh = false
  public init() {}
}

/// The (operator, dtype, rank) combinations to probe.
public enum ProbeCaseList {
  /// The input whose dtype names a combination: the first input with a type variable, else input 0.
  public static func keyInput(_ spec: OperatorSpec) -> Int {
    spec.inputs.firstIndex { $0.dtypes.variable != nil } ?? 0
  }

  public static func dtypes(_ spec: OperatorSpec, _ options: ProbeOptions) -> [DType] {
    guard !spec.inputs.isEmpty else { return [] }
    let allowed = spec.inputs[keyInput(spec)].dtypes.allowed
    return options.dtypes.filter(allowed.contains)
  }

  public static func ranks(_ spec: OperatorSpec, _ options: ProbeOptions) -> [Int] {
    guard !spec.inputs.isEmpty else { return [] }
    let k = keyInput(spec)
    if k == 0 {
      return spec.inputs[0].ranks.allowed([], maxRank: options.maxRank).map(Array.init) ?? []
    }
    // Probed through the output (backward insertion): any rank the generator can reach.
    return Array(0...options.maxRank)
  }

  public static func cases(_ options: ProbeOptions) -> [(spec: OperatorSpec, dtype: DType, rank: Int)] {
    var out: [(spec: OperatorSpec, dtype: DType, rank: Int)] = []
    for spec in options.operators {
      for d in dtypes(spec, options) {
        for r in ranks(spec, options) { out.append((spec, d, r)) }
      }
    }
    return out
  }
}

// MARK: - Prober

/// What one probe did.
public struct ProbeRun: Sendable {
  public var report: ProbeReport
  /// Combinations probed now (the others came from the cache).
  public var probed: Int
  public var cached: Int
  /// Models handed to the backend target (exported or not), and worker processes started.
  public var targetRuns: Int
  public var workerStarts: Int
  public var seconds: Double
  public var cachePath: String
}

/// Probes which (operator, dtype, rank) combinations a backend target implements, with one worker
/// for the whole probe, and caches the results per backend version.
///
/// Each combination gets a few seeded single-operator models: a graph input of the dtype and rank
/// (with a random small shape) that the generator, restricted to the operator, extends by one node
/// consuming it (forward insertion) or, for `where`, producing it (backward insertion); the
/// generator picks the other operands and the attributes. Each model is checked on the reference
/// and sent to the target. For every (operator, dtype) that ran, two 2-node models put the operator
/// after and before a helper (relu for floats, add for integers, logical_not for bool), at the
/// highest rank that ran: that is where fusions and layout passes live.
public final class Prober {
  public let target: BackendTarget
  public let version: String
  public let options: ProbeOptions
  private let worker: WorkerProcess
  private let differential = Differential()
  private var targetRuns = 0
  private var unavailable: String?

  public init(target: BackendTarget, version: String, options: ProbeOptions = ProbeOptions(), logPath: String)
  {
    self.target = target
    self.version = version
    self.options = options
    worker = WorkerProcess(command: target.command, limits: options.limits, logPath: logPath)
  }

  deinit { worker.stop() }

  /// Probes what `directory`'s cache does not hold yet (everything with `options.refresh`), merges,
  /// and saves the cache. Throws `ProbeUnavailable` when the backend answers `unavailable: ...`,
  /// and file errors from saving.
  /// `progress` gets (done, total) over the combinations that are not cached.
  public func run(directory: String, progress: ((Int, Int) -> Void)? = nil) throws -> ProbeRun {
    let clock = ContinuousClock()
    let start = clock.now
    let cachePath = ProbeCache.path(directory: directory, backend: target.name, version: version)
    var known: [String: ProbeResult] = [:]
    var report = ProbeReport(backend: target.name, version: version, samples: options.samples)
    if !options.refresh,
      let cached = ProbeCache.load(directory: directory, backend: target.name, version: version)
    {
      report = cached
      for r in cached.results { known[r.key] = r }
    }
    let cases = ProbeCaseList.cases(options)
    let todo = cases.filter { known[ProbeResult.key($0.spec.id, $0.dtype, $0.rank, nil)] == nil }
    var probed = 0
    var fresh: [ProbeResult] = []
    for (i, c) in todo.enumerated() {
      progress?(i, todo.count)
      let r = probeSingle(c.spec, c.dtype, c.rank)
      if let why = unavailable { throw ProbeUnavailable(why) }
      probed += 1
      known[r.key] = r
      fresh.append(r)
    }
    if options.contexts {
      var done = Set<String>()
      for r in known.values {
        if let c = r.context {
          done.insert("\(r.op)|\(r.dtype.rawValue)|\(c.split(separator: " ").first ?? "")")
        }
      }
      for spec in options.operators {
        for d in ProbeCaseList.dtypes(spec, options) {
          guard
            let rank = ProbeCaseList.ranks(spec, options).last(where: {
              known[ProbeResult.key(spec.id, d, $0, nil)]?.status == .supported
            })
          else { continue }
          for kind in ["after", "before"] where !done.contains("\(spec.id)|\(d.rawValue)|\(kind)") {
            let r = probeContext(spec, d, rank, before: kind == "before")
            if let why = unavailable { throw ProbeUnavailable(why) }
            known[r.key] = r
            fresh.append(r)
          }
        }
      }
    }
    if !todo.isEmpty { progress?(todo.count, todo.count) }
    worker.stop()
    if !fresh.isEmpty || options.refresh {
      report.samples = options.samples
      report.results = Prober.sorted(Array(known.values))
      try ProbeCache.save(report, directory: directory)
    }
    return ProbeRun(
      report: report, probed: probed, cached: cases.count - todo.count, targetRuns: targetRuns,
      workerStarts: worker.restarts, seconds: (clock.now - start) / .seconds(1), cachePath: cachePath)
  }

  static func sorted(_ results: [ProbeResult]) -> [ProbeResult] {
    let order = Dictionary(Catalogue.all.enumerated().map { ($1.id, $0) }, uniquingKeysWith: { a, _ in a })
    return results.sorted {
      let a = (order[$0.op] ?? Int.max, $0.op, $0.dtype, $0.rank)
      let b = (order[$1.op] ?? Int.max, $1.op, $1.dtype, $1.rank)
      if a != b { return a < b }
      return ($0.context ?? "") < ($1.context ?? "")
    }
  }

  // MARK: Models

  /// A deterministic seed for a case (FNV-1a over its description, mixed with the probe seed).
  private func seed(_ parts: String) -> UInt64 {
    var rng = SplitMix64(seed: stableHash(parts) ^ options.seed)
    return rng.next()
  }

  /// Input ranges to try, so that operators with restricted domains (log, sqrt, pow, reciprocal)
  /// and growing results (reduce_prod, cumsum on integers) find one that fits.
  private static func ranges(_ dtype: DType) -> [Interval] {
    if dtype == .bool { return [.boolean] }
    if dtype.isInteger { return [Interval(-8, 8), Interval(1, 4), Interval(-1, 1), Interval(0, 1)] }
    return [.unit, Interval(0.5, 1.5), Interval(0.1, 0.9), Interval(-0.5, 0.5)]
  }

  /// One single-operator model for the case, or `nil` if none could be built.
  public func model(_ spec: OperatorSpec, _ dtype: DType, _ rank: Int, sample: Int) -> Graph? {
    let key = ProbeCaseList.keyInput(spec)
    var o = GeneratorOptions()
    o.nodes = 1
    o.operators = [spec]
    o.dtype = dtype.isFloat ? dtype : .f32
    // One more than the probed rank, so that unsqueeze and expand can grow a probed rank-4 input.
    o.maxRank = options.maxRank + 1
    o.maxElements = 1024
    o.forwardProbability = key == 0 ? 1 : 0
    var generator = Generator(options: o)
    let ranges = Prober.ranges(dtype)
    for attempt in 0..<12 {
      var rng = SplitMix64(seed: seed("\(spec.id)|\(dtype.rawValue)|\(rank)|\(sample)|\(attempt)"))
      let maxDim = rank <= 2 ? 8 : 5
      // Unit dims are common (squeeze needs one, broadcasting likes them).
      let shape = (0..<rank).map { _ in rng.chance(0.25) ? 1 : rng.int(in: 2...maxDim) }
      let range = ranges[attempt % ranges.count]
      let base = Graph(inputs: [GraphInput(id: 0, type: TensorType(dtype, shape), range: range)])
      guard let g = generator.extend(base, seed: rng.next()), g.nodes.count == 1, g.nodes[0].op == spec.id
      else { continue }
      let n = g.nodes[0]
      let type = key == 0 ? g.types[n.inputs[0]] : n.types.first
      guard let type, type.dtype == dtype, type.shape.count == rank else { continue }
      return g
    }
    return nil
  }

  /// `g` with a helper inserted before operand `key` of its single node (which must be a graph
  /// input), or appended after its first output. The helper's input range keeps the operand's range.
  public static func withContext(_ g: Graph, before: Bool, key: Int) -> (Graph, String)? {
    guard let node = g.nodes.first else { return nil }
    var out = g
    func helper(_ d: DType) -> String? {
      if d.isFloat { return "relu" }
      if d.isInteger { return "add" }
      if d == .bool { return "logical_not" }
      return nil
    }
    if before {
      guard let o = node.outputs.first, let t = node.types.first, let h = helper(t.dtype) else { return nil }
      let id = g.nextValueID
      out.nodes.append(
        Node(op: h, inputs: h == "add" ? [o, o] : [o], outputs: [id], attributes: Attributes(), types: [t]))
      out.outputs = g.outputs.map { $0 == o ? id : $0 }
      if !out.outputs.contains(id) { out.outputs.append(id) }
      guard (try? out.verify()) != nil else { return nil }
      return (out, "before \(h)")
    }
    guard key < node.inputs.count, let idx = g.inputs.firstIndex(where: { $0.id == node.inputs[key] }) else {
      return nil
    }
    let input = g.inputs[idx]
    guard let h = helper(input.type.dtype) else { return nil }
    let fresh = g.nextValueID
    var range = input.range
    if h == "add" {
      // add(x, x) doubles: halve the range (integers: rounded inward).
      range = Interval((range.lo / 2).rounded(.up), (range.hi / 2).rounded(.down))
      guard range.lo <= range.hi else { return nil }
    }
    out.inputs[idx] = GraphInput(id: fresh, type: input.type, range: range)
    out.nodes.insert(
      Node(
        op: h, inputs: h == "add" ? [fresh, fresh] : [fresh], outputs: [input.id], attributes: Attributes(),
        types: [input.type]), at: 0)
    guard (try? out.verify()) != nil else { return nil }
    return (out, "after \(h)")
  }

  // MARK: Running

  private enum Outcome {
    case ran(Verdict)
    case unsupported(String)
    case failed(String)
    case invalid(String)
  }

  private func runModel(_ g: Graph) -> Outcome {
    let inputs = g.sampleInputs(seed: 0)
    let values: [ValueID: Tensor]
    do { values = try differential.referenceValues(g, inputs: inputs) } catch {
      return .invalid("reference: \(error.message)")
    }
    targetRuns += 1
    switch target.run(on: worker, graph: g, model: g.encoded(), inputs: inputs) {
    case .outputs(let outs): return .ran(differential.oracle.verdict(g, reference: values, actual: outs))
    case .unsupported(let why):
      if why.hasPrefix("unavailable:") {
        unavailable = String(why.dropFirst(12)).trimmingCharacters(in: .whitespaces)
      }
      return .unsupported(why.trimmingCharacters(in: .whitespacesAndNewlines))
    case .error(let stage, let message):
      return .failed("\(stage): \(message.trimmingCharacters(in: .whitespacesAndNewlines))")
    case .crash(let stage, let signal): return .failed("\(stage): killed by \(Signature.signalName(signal))")
    case .exit(let stage, let code): return .failed("\(stage): exited with status \(code)")
    case .hang(let stage): return .failed("\(stage): timed out")
    case .oom(let stage, let rss): return .failed("\(stage): over the memory limit (\(rss) MiB)")
    }
  }

  private struct Tally {
    var result: ProbeResult
    var unsupported: String?
    var invalid: String?

    init(_ op: String, _ dtype: DType, _ rank: Int, _ context: String?) {
      result = ProbeResult(
        op: op, dtype: dtype, rank: rank, context: context, status: .skipped, reason: nil, models: 0, ran: 0,
        mismatches: 0, mismatch: nil, failures: 0, failure: nil)
    }

    /// Records one outcome; false when probing this case further is pointless.
    mutating func add(_ outcome: Outcome) -> Bool {
      switch outcome {
      case .invalid(let why):
        invalid = invalid ?? why
        return true
      case .ran(let v):
        result.models += 1
        result.ran += 1
        if case .mismatch(let d) = v {
          result.mismatches += 1
          result.mismatch = result.mismatch ?? d.description
        }
        return true
      case .unsupported(let why):
        result.models += 1
        unsupported = unsupported ?? why
        return false
      case .failed(let message):
        result.models += 1
        result.failures += 1
        result.failure = result.failure ?? message
        return result.ran > 0 || result.failures < 2
      }
    }

    func finish(noModel: String) -> ProbeResult {
      var r = result
      if r.ran > 0 {
        r.status = .supported
        r.reason = nil
      } else if let u = unsupported {
        r.status = .unsupported
        r.reason = u
      } else if r.failures > 0 {
        r.status = .failing
        r.reason = r.failure
      } else {
        r.status = .skipped
        r.reason = invalid ?? noModel
      }
      return r
    }
  }

  func probeSingle(_ spec: OperatorSpec, _ dtype: DType, _ rank: Int) -> ProbeResult {
    var tally = Tally(spec.id, dtype, rank, nil)
    for s in 0..<options.samples {
      guard unavailable == nil, let g = model(spec, dtype, rank, sample: s) else { continue }
      if !tally.add(runModel(g)) { break }
    }
    return tally.finish(noModel: "no model generated")
  }

  /// The operator after (`before == false`) or before a helper, on the first sample model that can
  /// take it; one model.
  func probeContext(_ spec: OperatorSpec, _ dtype: DType, _ rank: Int, before: Bool) -> ProbeResult {
    for s in 0..<options.samples {
      guard let g = model(spec, dtype, rank, sample: s),
        let (c, name) = Prober.withContext(g, before: before, key: ProbeCaseList.keyInput(spec))
      else { continue }
      var tally = Tally(spec.id, dtype, rank, name)
      _ = tally.add(runModel(c))
      return tally.finish(noModel: "no model")
    }
    let name = before ? "before" : "after"
    return Tally(spec.id, dtype, rank, name).finish(noModel: "no \(name) model")
  }
}
