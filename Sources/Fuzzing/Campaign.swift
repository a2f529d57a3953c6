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
  public private(set) var targets: [BackendTarget]
  /// What the precision probe found, per target: reported once, never as buckets.
  public private(set) var capabilities: [String: [PrecisionProbe.Capability]] = [:]
  let state: String
  let shardState: String
  private let lock = NSLock()
  private var stats = CampaignStats()
  private var nextK = 0
  private var pending: [Int] = []
  private var stopRequested = false
  private var features = Set<String>()
  private var featureLog: FileHandle?
  private var journal: FileHandle?
  private var lockFD: Int32 = -1
  private var triaged: [String: (signature: Signature, evidence: TriageEvidence)] = [:]
  private var corpusPaths: [String] = []
  private var minimizations = 0
  private var minimizationSeconds = 0.0
  private let started = Date()

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

  // MARK: - Setup

  /// Prepares the folder: lock, refuse to clobber, archive on `--fresh`, read the journal on resume.
  func prepare() throws {
    let fm = FileManager.default
    try fm.createDirectory(atPath: shardState, withIntermediateDirectories: true)
    try fm.createDirectory(atPath: state + "/tmp", withIntermediateDirectories: true)
    lockFD = try Workdir.lock(shardState + "/lock")
    let journalPath = shardState + "/journal"
    let hasWork = fm.fileExists(atPath: journalPath) || fm.fileExists(atPath: shardState + "/stats.json")
    if hasWork && !config.resume && !config.fresh {
      throw CampaignError(
        "\(config.directory) holds campaign state (\(shardState)); use --resume to continue it or --fresh to archive it and start over"
      )
    }
    if hasWork && config.fresh {
      let stamp = ISO8601DateFormatter().string(from: Date()).replacingOccurrences(of: ":", with: "-")
      let archive = state + "/archive/\(stamp)-shard-\(config.shardIndex)"
      try fm.createDirectory(atPath: archive, withIntermediateDirectories: true)
      for entry in try fm.contentsOfDirectory(atPath: shardState) where entry != "lock" {
        try fm.moveItem(atPath: shardState + "/" + entry, toPath: archive + "/" + entry)
      }
      config.log("archived previous campaign state to \(archive)")
    }
    // Leftover staging from an interrupted run is never a finding: it was not published.
    for entry in (try? fm.contentsOfDirectory(atPath: state + "/tmp")) ?? []
    where entry.hasPrefix("s\(config.shardIndex)-") {
      try? fm.removeItem(atPath: state + "/tmp/" + entry)
    }
    if config.resume, let text = try? String(contentsOfFile: journalPath, encoding: .utf8) {
      var started: [Int: Bool] = [:]
      var maxK = -1
      for line in text.split(separator: "\n") {
        let parts = line.split(separator: " ")
        guard parts.count >= 2, let k = Int(parts[1]) else { continue }
        maxK = Swift.max(maxK, k)
        if parts[0] == "start" { started[k] = started[k] ?? false }
        if parts[0] == "done" { started[k] = true }
      }
      pending = started.filter { !$0.value }.map(\.key).sorted()
      nextK = maxK + 1
      if let data = fm.contents(atPath: shardState + "/stats.json"),
        let old = try? JSONDecoder().decode(CampaignStats.self, from: data)
      {
        stats = old
        stats.previousRunTime += old.runTime
        stats.runTime = 0
      }
      // stats.json may lag behind a kill -9: the journal is the truth for what completed.
      stats.modelsGenerated = started.values.filter { $0 }.count
      stats.findings = recountFindings()
      config.log("resuming at model \(nextK); re-running \(pending.count) model(s) that were in flight")
    }
    if let text = try? String(contentsOfFile: shardState + "/features", encoding: .utf8) {
      features = Set(text.split(separator: "\n").map(String.init))
    }
    // The corpus as it was when the campaign started, kept for resume: models added since then must
    // not change which model a given index grows from.
    let snapshot = shardState + "/corpus-at-start"
    if config.resume, let text = try? String(contentsOfFile: snapshot, encoding: .utf8) {
      corpusPaths = text.split(separator: "\n").map(String.init)
    } else {
      corpusPaths = Replay.cases(under: config.directory + "/Corpus").filter { $0.hasSuffix(".dlsmith.json") }
      try Workdir.replaceFile(Data((corpusPaths.joined(separator: "\n") + "\n").utf8), at: snapshot)
    }
    if !corpusPaths.isEmpty { config.log("corpus: \(corpusPaths.count) model(s) to grow from") }
    // Precision capabilities of the external targets: judged at the precision they compute in.
    if config.probePrecision {
      for i in targets.indices where targets[i].sendsONNX {
        let found = PrecisionProbe.cached(targets[i], state: state, limits: config.limits, log: config.log)
        capabilities[targets[i].name] = found
        stats.capabilities = (stats.capabilities ?? [:]).merging([targets[i].name: found.map(\.description)])
        { _, b in b }
        for c in found { targets[i].computedAs[c.dtype] = targets[i].computedAs[c.dtype] ?? c.computedAs }
      }
    }
    if !fm.fileExists(atPath: journalPath) { _ = fm.createFile(atPath: journalPath, contents: nil) }
    if !fm.fileExists(atPath: shardState + "/features") {
      _ = fm.createFile(atPath: shardState + "/features", contents: nil)
    }
    journal = FileHandle(forWritingAtPath: journalPath)
    journal?.seekToEndOfFile()
    featureLog = FileHandle(forWritingAtPath: shardState + "/features")
    featureLog?.seekToEndOfFile()
    stats.seed = config.seed
    let record = [
      "seed": "\(config.seed)", "shard": "\(config.shardIndex)/\(config.totalShards)",
      "targets": config.targets.map(\.name).joined(separator: ","), "nodes": "\(config.generator.nodes)",
    ]
    let enc = JSONEncoder()
    enc.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
    if !fm.fileExists(atPath: state + "/campaign.json"), let data = try? enc.encode(record) {
      try Workdir.replaceFile(data, at: state + "/campaign.json")
    }
    let cmd =
      "# \(ISO8601DateFormatter().string(from: Date()))\n" + config.commandLine.joined(separator: "\n") + "\n"
    if let h = FileHandle(forWritingAtPath: state + "/cmdline")
      ?? (fm.createFile(atPath: state + "/cmdline", contents: nil)
        ? FileHandle(forWritingAtPath: state + "/cmdline") : nil)
    {
      h.seekToEndOfFile()
      h.write(Data(cmd.utf8))
      try? h.close()
    }
  }

  /// Findings of this shard by kind, counted from the published instances on disk.
  func recountFindings() -> [String: Int] {
    let fm = FileManager.default
    let crashes = config.directory + "/Crashes"
    var counts: [String: Int] = [:]
    for b in (try? fm.contentsOfDirectory(atPath: crashes)) ?? [] {
      guard let record = BucketRecord.read(bucket: "\(crashes)/\(b)") else { continue }
      let mine = ((try? fm.contentsOfDirectory(atPath: "\(crashes)/\(b)/instances")) ?? []).filter {
        $0.hasPrefix("s\(config.shardIndex)-")
      }
      if !mine.isEmpty { counts[record.tuple.kind.rawValue, default: 0] += mine.count }
    }
    return counts
  }

  private func appendJournal(_ line: String) {
    lock.lock()
    journal?.write(Data((line + "\n").utf8))
    lock.unlock()
  }

  /// Takes the next model index: in-flight ones from an interrupted run first.
  private func nextModel() -> Int? {
    lock.lock()
    defer { lock.unlock() }
    if stopRequested { return nil }
    if let t = config.maxTime, Date().timeIntervalSince(started) >= t { return nil }
    if !pending.isEmpty { return pending.removeFirst() }
    if let m = config.maxModels, nextK >= m { return nil }
    defer { nextK += 1 }
    return nextK
  }

  // MARK: - Run

  /// Runs until the budget is spent, `requestStop()`, or (with `stopOnFirst`) a finding.
  /// Returns whether a finding was recorded.
  public func run() throws -> (stats: CampaignStats, found: Bool) {
    defer {
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

  private func runLane(_ lane: Int) {
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
      if config.minimizeMismatches && config.oracleTarget == nil {
        (kept, minimized, evidence) = triage(
          finding, graph: graph, inputs: inputs, target: target, lane: worker.logPath)
        if kept.signature.kind == .unstable && !config.saveUnstable { continue }
      }
      found = found || kept.signature.kind.isTargetBug
      record(
        kept, k: k, seed: seed, graph: graph, inputs: inputs, expected: expected, target: target,
        log: worker.logTail(), minimized: minimized, evidence: evidence)
    }
    keepIfNovel(graph, seed: seed)
    return found
  }

  /// The oracle for one target: external (ONNX) targets may differ by one quantization step.
  func oracle(for target: BackendTarget) -> Oracle {
    Oracle(tolerances: config.tolerances).for(target)
  }

  /// Triages a finding (`Triage`). Results are cached by the unminimized signature, so a cause
  /// seen again is signed without another run; minimizing is budgeted (the first 50 freely, then up
  /// to a third of the run time), so a target that is wrong on every model does not stall the
  /// campaign: past the budget findings are localized and signed but not minimized.
  func triage(_ f: Finding, graph: Graph, inputs: [Tensor], target: BackendTarget, lane: String)
    -> (Finding, Minimized?, TriageEvidence?)
  {
    lock.lock()
    let cached = triaged[f.signature.hash]
    let budget = minimizations < 50 || minimizationSeconds < Date().timeIntervalSince(started) / 3
    if cached == nil && budget { minimizations += 1 }
    lock.unlock()
    if let cached {
      var g = f
      g.signature = cached.signature
      return (g, nil, cached.evidence)
    }
    var t = Triage(target: target, judge: Judge(oracle: oracle(for: target)), logPath: lane + ".triage")
    t.limits = config.limits
    t.minimize = budget
    t.consensus = config.consensus[target.name] ?? []
    let began = Date()
    let result = t.run(f, graph: graph, inputs: inputs)
    lock.lock()
    minimizationSeconds += Date().timeIntervalSince(began)
    triaged[f.signature.hash] = (result.finding.signature, result.evidence)
    lock.unlock()
    config.log("triage: \(result.finding.signature.title): \(result.evidence.summary)")
    return (result.finding, result.minimized, result.evidence)
  }

  /// Kills the campaign at the named point: the publication points fire on the first finding;
  /// `after-journal` fires at the first model journalled after a finding was recorded.
  private func failpoint(_ name: String) {
    guard config.failpoint == name else { return }
    lock.lock()
    let recorded = stats.findings.values.reduce(0, +)
    lock.unlock()
    if name != "after-journal" || recorded >= 1 { kill(getpid(), SIGKILL) }
  }

  // MARK: - Publication

  /// Publishes one instance into its bucket, creating the bucket if needed. Idempotent: the same
  /// (shard, k, backend) instance published twice is stored and counted once.
  func record(
    _ f: Finding, k: Int, seed: UInt64, graph: Graph, inputs: [Tensor], expected: [Tensor],
    target: BackendTarget, log: String, minimized: Minimized? = nil, evidence: TriageEvidence? = nil
  ) {
    let fm = FileManager.default
    let sig = f.signature
    let bucket = "\(config.directory)/Crashes/\(sig.short)"
    let name = "s\(config.shardIndex)-k\(String(k).leftPadded(to: 9))-\(target.name)"
    let instanceDir = bucket + "/instances/" + name
    if fm.fileExists(atPath: instanceDir) {
      // Published before an interruption: not counted again, but the bucket record is repaired.
      try? updateBucket(sig, at: bucket, increment: false)
      return
    }
    do {
      lock.lock()
      let isNew = !fm.fileExists(atPath: bucket)
      lock.unlock()
      if isNew {
        try createBucket(sig, at: bucket, evidence: evidence, minimized: minimized, message: f.message)
      }
      let existing = ((try? fm.contentsOfDirectory(atPath: bucket + "/instances")) ?? []).count
      if existing < config.instancesPerBucket {
        let tmp = "\(state)/tmp/s\(config.shardIndex)-\(UUID().uuidString)"
        try fm.createDirectory(atPath: tmp, withIntermediateDirectories: true)
        let enc = JSONEncoder()
        enc.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
        try Workdir.writeFile(graph.encoded(), to: tmp + "/model.dlsmith.json")
        try Workdir.writeFile(try enc.encode(inputs.map(EncodedTensor.init)), to: tmp + "/inputs.json")
        try Workdir.writeFile(try enc.encode(expected.map(EncodedTensor.init)), to: tmp + "/expected.json")
        if let actual = f.actual {
          try Workdir.writeFile(try enc.encode(actual.map(EncodedTensor.init)), to: tmp + "/actual.json")
        }
        if let minimized {
          try fm.createDirectory(atPath: tmp + "/minimized", withIntermediateDirectories: true)
          try Workdir.writeFile(minimized.graph.encoded(), to: tmp + "/minimized/model.dlsmith.json")
          try Workdir.writeFile(
            try enc.encode(minimized.inputs.map(EncodedTensor.init)), to: tmp + "/minimized/inputs.json")
        }
        try Workdir.writeFile(
          Data((f.message + "\n\n--- worker stderr (tail) ---\n" + log).utf8), to: tmp + "/log.txt")
        let replay = "dlsmith replay \(bucket)/instances/\(name) --backends \(target.name)"
        let regenerate =
          "dlsmith generate --seed \(seed) --kind \(config.generator.kind.rawValue) --nodes \(config.generator.nodes) --dtype \(config.generator.dtype?.rawValue ?? "mixed") --max-elements \(config.generator.maxElements) --max-rank \(config.generator.maxRank)"
          + (config.generator.requantVariants == RequantVariant.allCases
            ? "" : " --requant " + config.generator.requantVariants.map(\.rawValue).joined(separator: ","))
        let meta = InstanceMeta(
          seed: "\(seed)", campaignSeed: "\(config.seed)", k: "\(k)", shard: "\(config.shardIndex)",
          backend: target.name, worker: target.command.joined(separator: " "), kind: sig.kind.rawValue,
          stage: sig.stage, message: f.message, signature: sig.hash, toolVersion: DLSmithVersion.string,
          replay: replay, regenerate: regenerate, triage: evidence)
        try Workdir.writeFile(try enc.encode(meta), to: tmp + "/meta.json")
        failpoint("mid-publish")
        _ = try Workdir.publish(tmp, to: instanceDir)
        failpoint("after-publish")
        config.log("finding: \(sig.title)\n  replay: \(replay)")
      }
      try updateBucket(sig, at: bucket, increment: true)
      failpoint("after-bucket")
      lock.lock()
      stats.findings[sig.kind.rawValue, default: 0] += 1
      if isNew { stats.newBuckets += 1 }
      lock.unlock()
    } catch {
      config.log("error: cannot record finding in \(bucket): \(error)")
    }
  }

  /// Creates the bucket folder, with the triage evidence and the minimized model of its first
  /// instance (`minimized/`), published atomically as one folder.
  private func createBucket(
    _ sig: Signature, at bucket: String, evidence: TriageEvidence?, minimized: Minimized?, message: String
  ) throws {
    let tmp = "\(state)/tmp/s\(config.shardIndex)-\(UUID().uuidString)"
    try FileManager.default.createDirectory(atPath: tmp + "/instances", withIntermediateDirectories: true)
    try Workdir.writeFile(Data((sig.title + "\n").utf8), to: tmp + "/description")
    if let minimized {
      try FileManager.default.createDirectory(atPath: tmp + "/minimized", withIntermediateDirectories: true)
      try Workdir.writeFile(minimized.graph.encoded(), to: tmp + "/minimized/model.dlsmith.json")
      try Workdir.writeFile(
        try Campaign.encoder.encode(minimized.inputs.map(EncodedTensor.init)),
        to: tmp + "/minimized/inputs.json")
    }
    let now = ISO8601DateFormatter().string(from: Date())
    var record = BucketRecord(
      signature: sig.hash, tuple: sig, title: sig.title, count: 0, firstSeen: now, lastSeen: now,
      status: "new")
    record.triage = evidence
    record.message = String(message.prefix(2000))
    try Workdir.writeFile(try Campaign.encoder.encode(record), to: tmp + "/bucket.json")
    _ = try Workdir.publish(tmp, to: bucket)
  }

  private func updateBucket(_ sig: Signature, at bucket: String, increment: Bool) throws {
    lock.lock()
    defer { lock.unlock() }
    let path = bucket + "/bucket.json"
    guard var record = BucketRecord.read(bucket: bucket) else { return }
    // The count is the number of instances ever recorded: derived from disk, so a re-run after
    // resume does not count twice.
    record.count = Swift.max(
      record.count + (increment ? 1 : 0),
      ((try? FileManager.default.contentsOfDirectory(atPath: bucket + "/instances")) ?? []).count)
    record.lastSeen = ISO8601DateFormatter().string(from: Date())
    try Workdir.replaceFile(try Campaign.encoder.encode(record), at: path)
  }

  static let encoder: JSONEncoder = {
    let e = JSONEncoder()
    e.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
    return e
  }()

  // MARK: - Corpus

  /// Features of a model: operator pairs along edges and (operator, dtype).
  static func features(_ g: Graph) -> [String] {
    var producer: [ValueID: String] = [:]
    for n in g.nodes { for o in n.outputs { producer[o] = n.op } }
    var out: [String] = []
    for n in g.nodes {
      for t in n.types { out.append("t:\(n.op):\(t.dtype.rawValue)") }
      for v in n.inputs { if let p = producer[v] { out.append("e:\(p)>\(n.op)") } }
    }
    return out
  }

  /// Keeps the model in `Corpus/` (content-addressed) if it adds a feature never seen before.
  func keepIfNovel(_ g: Graph, seed: UInt64) {
    let fs = Campaign.features(g)
    lock.lock()
    let new = fs.filter { !features.contains($0) }
    for f in new { features.insert(f) }
    if !new.isEmpty {
      featureLog?.write(Data((Array(Set(new)).sorted().joined(separator: "\n") + "\n").utf8))
    }
    lock.unlock()
    guard !new.isEmpty else { return }
    let bytes = g.encoded()
    let hash = SHA256.hex(Array(bytes))
    let dir = "\(config.directory)/Corpus/\(hash.prefix(2))"
    let path = "\(dir)/\(hash).dlsmith.json"
    guard !FileManager.default.fileExists(atPath: path) else { return }
    do {
      try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
      let tmp = "\(state)/tmp/s\(config.shardIndex)-\(UUID().uuidString).json"
      try Workdir.writeFile(bytes, to: tmp)
      if rename(tmp, path) == 0 {
        lock.lock()
        stats.corpusAdded += 1
        lock.unlock()
      }
    } catch {
      config.log("error: cannot add \(path) to the corpus: \(error)")
    }
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
