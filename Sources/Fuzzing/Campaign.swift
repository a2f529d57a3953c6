import Backends
import Foundation
import Generation
import IR
import Kernels
import Operators
import Tensors

/// A backend under test in a campaign: its name and the worker command that runs it.
public struct BackendTarget: Sendable, Codable, Hashable {
  public var name: String
  public var command: [String]
  /// Whether the worker needs each model as ONNX too (`WorkerRequest.onnx`), as the Python worker does.
  public var sendsONNX = false
  /// Dtypes this target computes at another precision (`Oracle.computedAs`): a capability of the
  /// target, found by `dlsmith probe` or known for the named targets (`BackendTarget.knownPrecision`),
  /// judged at the precision used instead of filed as one bucket per operator.
  public var computedAs: [DType: DType] = [:]
  /// Operators whose results in a dtype are approximate on this target (contracted multiply-adds,
  /// approximate division), found by the precision probe.
  public var approximateOps: [DType: [String]] = [:]

  public init(name: String, command: [String], sendsONNX: Bool = false, computedAs: [DType: DType] = [:]) {
    self.name = name
    self.command = command
    self.sendsONNX = sendsONNX
    self.computedAs = computedAs
  }

  public init(from decoder: any Decoder) throws {
    let c = try decoder.container(keyedBy: CodingKeys.self)
    name = try c.decode(String.self, forKey: .name)
    command = try c.decode([String].self, forKey: .command)
    sendsONNX = try c.decodeIfPresent(Bool.self, forKey: .sendsONNX) ?? false
    computedAs = try c.decodeIfPresent([DType: DType].self, forKey: .computedAs) ?? [:]
    approximateOps = try c.decodeIfPresent([DType: [String]].self, forKey: .approximateOps) ?? [:]
  }
}

/// Everything a campaign needs, explicit.
public struct CampaignConfig: Sendable {
  public var directory: String
  public var seed: UInt64
  public var targets: [BackendTarget]
  public var generator = GeneratorOptions()
  public var maxModels: Int?
  public var maxTime: Double?
  public var jobs = 1
  public var shardIndex = 0
  public var totalShards = 1
  public var resume = false
  public var fresh = false
  public var stopOnFirst = false
  public var saveUnstable = false
  public var limits = WorkerLimits()
  public var tolerances = Tolerances()
  public var instancesPerBucket = 5
  /// Triage findings (localize, minimize, sign by cause, consensus); off only in tests of raw
  /// bucketing.
  public var minimizeMismatches = true
  /// Independent implementations per target name for consensus triage
  /// (`BackendTarget.independent(of:)`, resolved by the caller).
  public var consensus: [String: [BackendTarget]] = [:]
  /// Probe the external targets' float precision at the start (`PrecisionProbe`).
  public var probePrecision = true
  /// The target whose outputs are the expected values, instead of the in-process reference: for
  /// models with operators only external targets run (ONNX operators learned from onnxruntime).
  /// Its own failures are findings; when it fails, the other targets are not compared. Mismatches
  /// are not minimized (minimization needs the reference).
  public var oracleTarget: String?
  /// Share of models grown from a corpus model rather than generated from scratch.
  public var mutationRate = 0.25
  /// Test-only fault injection: `kill -9` of the campaign itself at a named point of the first
  /// finding's write path (`after-journal`, `mid-publish`, `after-publish`, `after-bucket`).
  public var failpoint: String?
  /// The command line to record and the replay command's program name.
  public var commandLine: [String] = []
  public var log: @Sendable (String) -> Void = { FileHandle.standardError.write(Data(($0 + "\n").utf8)) }

  public init(directory: String, seed: UInt64, targets: [BackendTarget]) {
    self.directory = directory
    self.seed = seed
    self.targets = targets
  }
}

/// What a campaign did, for the caller and `stats.json`.
public struct CampaignStats: Codable, Sendable {
  public var seed: UInt64 = 0
  public var modelsGenerated = 0
  public var modelsValid = 0
  public var execs: [String: Int] = [:]
  public var findings: [String: Int] = [:]
  public var newBuckets = 0
  public var bucketsTotal = 0
  public var corpusAdded = 0
  public var unsupported = 0
  public var hangConfirmations = 0
  public var flaky = 0
  public var workerRestarts = 0
  public var runTime = 0.0
  public var previousRunTime = 0.0
  public var peakRSSMB = 0
  public var lastCompleted = -1
  public var updatedAt = ""
  /// Precision capabilities per target (`PrecisionProbe`), as sentences.
  public var capabilities: [String: [String]]? = nil
}

/// A fuzz campaign over one folder: generate, run every target in its worker, judge, bucket,
/// publish durably, keep novel models. See Docs/Campaigns.md.
public final class Campaign: @unchecked Sendable {
  public let config: CampaignConfig
  /// The configured targets with the precision each really computes in (`PrecisionProbe`, run
  /// once per campaign folder and target at the start).
  public internal(set) var targets: [BackendTarget]
  let state: String
  let shardState: String
  let lock = NSLock()
  var stats = CampaignStats()
  var nextK = 0
  var pending: [Int] = []
  var stopRequested = false
  var features = Set<String>()
  var featureLog: FileHandle?
  var journal: FileHandle?
  var lockFD: Int32 = -1
  var triaged: [String: (signature: Signature, evidence: TriageEvidence)] = [:]
  var corpusPaths: [String] = []
  var minimizations = 0
  var minimizationSeconds = 0.0
  let started = Date()
  /// Independent implementations' workers, kept between triages.
  let consensusWorkers = WorkerPool()

  public init(_ config: CampaignConfig) {
    self.config = config
    targets = config.targets
    state = config.directory + "/.dlsmith"
    shardState = state + "/shard-\(config.shardIndex)"
  }

  /// The seed of model `k`: a pure function of (campaign seed, shard, k), so any model can be
  /// regenerated alone with `dlsmith generate --seed`.
  public static func modelSeed(_ seed: UInt64, shard: Int, k: Int) -> UInt64 {
    var g = SplitMix64(seed: seed ^ (UInt64(shard) << 40) ^ UInt64(k))
    return g.next()
  }

  public func requestStop() {
    lock.lock()
    stopRequested = true
    lock.unlock()
  }

  // MARK: - Run

  /// Runs until the budget is spent, `requestStop()`, or (with `stopOnFirst`) a finding.
  /// Returns whether a finding was recorded.
  public func run() throws -> (stats: CampaignStats, found: Bool) {
    defer {
      consensusWorkers.stopAll()
      try? journal?.close()
      try? featureLog?.close()
      if lockFD >= 0 { close(lockFD) }
    }
    try prepare()
    let lanes = Swift.max(1, config.jobs)
    let ticker = DispatchSource.makeTimerSource(queue: .global())
    ticker.schedule(deadline: .now() + 10, repeating: 10)
    ticker.setEventHandler { [weak self] in self?.pulse() }
    ticker.resume()
    DispatchQueue.concurrentPerform(iterations: lanes) { lane in runLane(lane) }
    ticker.cancel()
    writeStats()
    lock.lock()
    let s = stats
    lock.unlock()
    return (s, s.findings.values.reduce(0, +) > 0)
  }

  func runLane(_ lane: Int) {
    var generator = Generator(options: config.generator)
    let workers = targets.map { t in
      WorkerProcess(
        command: t.command, limits: config.limits, logPath: "\(shardState)/worker-\(lane)-\(t.name).log")
    }
    defer {
      for w in workers { w.stop() }
      lock.lock()
      stats.workerRestarts += workers.map(\.restarts).reduce(0, +)
      lock.unlock()
    }
    var lastStats = Date()
    while let k = nextModel() {
      appendJournal("start \(k)")
      failpoint("after-journal")
      let seed = Campaign.modelSeed(config.seed, shard: config.shardIndex, k: k)
      var graph = generator.generate(seed: seed)
      var parent: String?
      // A quarter of the models grow a corpus model instead (mutation); the choice is a function of
      // the model seed and the corpus as it was when the campaign started.
      var pick = SplitMix64(seed: seed ^ 0xC0DE)
      if !corpusPaths.isEmpty, pick.chance(config.mutationRate) {
        let path = corpusPaths[pick.int(in: 0...(corpusPaths.count - 1))]
        if let base = try? Graph(contentsOf: path), let grown = generator.extend(base, seed: seed) {
          graph = grown
          parent = path
        }
      }
      let inputs = graph.sampleInputs(seed: seed)
      let found = runModel(k: k, seed: seed, graph: graph, inputs: inputs, workers: workers, parent: parent)
      appendJournal("done \(k)")
      lock.lock()
      stats.modelsGenerated += 1
      stats.lastCompleted = Swift.max(stats.lastCompleted, k)
      if found && config.stopOnFirst { stopRequested = true }
      lock.unlock()
      if Date().timeIntervalSince(lastStats) > 2 {
        writeStats()
        lastStats = Date()
      }
    }
  }

  /// Runs one model on every target; returns whether a finding was recorded.
  func runModel(
    k: Int, seed: UInt64, graph: Graph, inputs: [Tensor], workers: [WorkerProcess], parent: String? = nil
  ) -> Bool {
    let differential = Differential(oracle: Oracle(tolerances: config.tolerances))
    let model = graph.encoded()
    let onnx = targets.contains(where: \.sendsONNX) ? BackendTarget.exportONNX(graph) : nil
    let values: [ValueID: Tensor]
    var oracleRun: (index: Int, outcome: WorkerOutcome)?
    if let name = config.oracleTarget, let i = targets.firstIndex(where: { $0.name == name }) {
      let outcome = targets[i].run(
        on: workers[i], graph: graph, model: model, inputs: inputs, onnx: onnx)
      oracleRun = (i, outcome)
      if case .outputs(let ts) = outcome, ts.count == graph.outputs.count {
        values = Dictionary(zip(graph.outputs, ts), uniquingKeysWith: { a, _ in a })
      } else {
        values = [:]
      }
    } else {
      guard let v = try? differential.referenceValues(graph, inputs: inputs) else {
        config.log("model \(k) (seed \(seed)): the reference cannot run it; skipped (a generator bug)")
        return false
      }
      values = v
    }
    if !values.isEmpty {
      lock.lock()
      stats.modelsValid += 1
      lock.unlock()
    }
    let expected = graph.outputs.compactMap { values[$0] }
    var found = false
    for (index, (target, worker)) in zip(targets, workers).enumerated() {
      // Without expected values (the oracle target failed), only the oracle's own failure counts.
      if values.isEmpty && oracleRun?.index != index { continue }
      var outcome =
        oracleRun?.index == index
        ? oracleRun!.outcome : target.run(on: worker, graph: graph, model: model, inputs: inputs, onnx: onnx)
      lock.lock()
      stats.execs[target.name, default: 0] += 1
      lock.unlock()
      if case .hang(let stage) = outcome {
        // Confirm on a fresh worker with twice the time, as AFL++ does.
        var longer = config.limits
        longer.compileTimeout *= 2
        longer.executeTimeout *= 2
        let confirm = WorkerProcess(
          command: target.command, limits: longer, logPath: worker.logPath + ".confirm")
        let again = target.run(on: confirm, graph: graph, model: model, inputs: inputs, onnx: onnx)
        confirm.stop()
        lock.lock()
        stats.hangConfirmations += 1
        lock.unlock()
        switch again {
        case .hang:
          outcome = .hang(stage: stage)
        case .outputs, .unsupported:
          config.log(
            "model \(k): \(target.name) hung once at \(stage) but not on the rerun (flaky); not saved")
          continue
        default:
          // The rerun failed another way (a slow allocation that hit the clock first and the memory
          // limit on the rerun, say): the rerun's outcome is the finding.
          outcome = again
        }
      }
      if case .unsupported = outcome {
        lock.lock()
        stats.unsupported += 1
        lock.unlock()
      }
      guard
        let finding = Judge(oracle: oracle(for: target)).finding(
          outcome, target: target.name, graph: graph, values: values)
      else {
        continue
      }
      if finding.signature.kind == .unstable && !config.saveUnstable { continue }
      if finding.signature.kind == .mismatch,
        case .outputs(let again) = target.run(
          on: worker, graph: graph, model: model, inputs: inputs, onnx: onnx),
        Judge(oracle: oracle(for: target)).finding(
          .outputs(again), target: target.name, graph: graph, values: values) == nil
      {
        // The same worker gave a correct answer on a rerun: flaky output, not saved as a bug.
        lock.lock()
        stats.flaky += 1
        lock.unlock()
        config.log(
          "model \(k): \(target.name) gave a wrong answer once and a right one on the rerun (flaky); not saved"
        )
        continue
      }
      // Triage: localize, minimize (the first instance of every cause, within the budget), sign
      // by cause, and ask independent implementations.
      var kept = finding
      var minimized: Minimized?
      var evidence: TriageEvidence?
      // The instance's log is the target's stderr for this model, before triage runs more on it.
      let log = worker.logTail()
      if config.minimizeMismatches && config.oracleTarget == nil {
        (kept, minimized, evidence) = triage(
          finding, graph: graph, inputs: inputs, target: target, worker: worker)
        if kept.signature.kind == .unstable && !config.saveUnstable { continue }
      }
      found = found || kept.signature.kind.isTargetBug
      record(
        kept, k: k, seed: seed, graph: graph, inputs: inputs, expected: expected, target: target,
        log: log, minimized: minimized, evidence: evidence)
    }
    keepIfNovel(graph, seed: seed)
    return found
  }

  /// Kills the campaign at the named point: the publication points fire on the first finding;
  /// `after-journal` fires at the first model journalled after a finding was recorded.
  func failpoint(_ name: String) {
    guard config.failpoint == name else { return }
    lock.lock()
    let recorded = stats.findings.values.reduce(0, +)
    lock.unlock()
    if name != "after-journal" || recorded >= 1 { kill(getpid(), SIGKILL) }
  }

  // MARK: - Stats

  private func pulse() {
    lock.lock()
    let s = stats
    lock.unlock()
    let t = Date().timeIntervalSince(started)
    let execs = s.execs.values.reduce(0, +)
    config.log(
      String(
        format:
          "status: run_time=%.0fs models=%d (%.1f/s) execs=%d (%.1f/s) findings=%d new_buckets=%d corpus_added=%d rss_mb=%d",
        t, s.modelsGenerated, Double(s.modelsGenerated) / t, execs, Double(execs) / t,
        s.findings.values.reduce(0, +), s.newBuckets, s.corpusAdded, Campaign.peakRSSMB()))
    writeStats()
  }

  func writeStats() {
    lock.lock()
    stats.runTime = Date().timeIntervalSince(started)
    stats.peakRSSMB = Campaign.peakRSSMB()
    stats.updatedAt = ISO8601DateFormatter().string(from: Date())
    stats.bucketsTotal =
      ((try? FileManager.default.contentsOfDirectory(atPath: config.directory + "/Crashes")) ?? []).filter {
        !$0.hasPrefix(".") && $0 != "README.md"
      }.count
    let s = stats
    lock.unlock()
    if let data = try? Campaign.encoder.encode(s) {
      try? Workdir.replaceFile(data, at: shardState + "/stats.json")
    }
  }

  /// Peak resident memory of this process (getrusage), MiB.
  public static func peakRSSMB() -> Int {
    var usage = rusage()
    getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &usage)
    return usage.ru_maxrss / 1024
  }
}

public enum DLSmithVersion {
  public static let string = "0.2.0"
}
