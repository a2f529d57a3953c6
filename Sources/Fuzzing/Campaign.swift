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
  /// Equivalent-form oracle (`EquivalentForms`, `EquivalenceOracle`): each target also runs one
  /// rewritten form of every model it ran, and a disagreement with itself is a `mismatch` finding.
  /// Off by default; off, the campaign is unchanged.
  public var equivalence = false
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
  /// Buckets this shard created, by finding kind (absent in stats.json of earlier versions).
  public var bucketsByKind: [String: Int]? = nil
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
  /// Grafted optimizer patterns per target and pattern key (`PatternFiring.key`): instances run,
  /// instances the target rewrote.
  public var patterns: [String: [String: PatternCount]]? = nil
  /// Models per target whose rewrites the worker reported (every grafted model, and every 8th
  /// model), and how many of them the target's optimizer rewrote anything in. (These three are
  /// absent from the stats.json of earlier versions.)
  public var rewriteChecks: [String: Int]? = nil
  public var modelsRewritten: [String: Int]? = nil
  /// With `--equivalence`: per target, verdicts on equivalent forms (`agree`, `mismatch`,
  /// `unstable`, `failed`, `unsupported`, `flaky`), and per rewrite kind how many forms used it.
  public var equivalence: [String: [String: Int]]? = nil
  /// Models whose inputs or constants hold special values (`EdgeValues`), and per target how many
  /// of their differences the oracle found open in ONNX (`unstable`: an `ImplementationChoice` or
  /// a near-tie) and how many findings they gave (absent from earlier versions' stats.json).
  public var specialValueModels: Int? = nil
  public var specialValueUnstable: [String: Int]? = nil
  public var specialValueFindings: [String: Int]? = nil

  /// Run time over every run of the shard (resumes included).
  public var totalRunTime: Double { previousRunTime + runTime }
  /// Executions over all targets.
  public var totalExecs: Int { execs.values.reduce(0, +) }

  /// The stats file at `path` (a shard's `stats.json`), or nil if it is missing or unreadable.
  public static func read(_ path: String) -> CampaignStats? {
    FileManager.default.contents(atPath: path).flatMap {
      try? JSONDecoder().decode(CampaignStats.self, from: $0)
    }
  }
}

/// A fuzz campaign over one folder: generate, run every target in its worker, judge, bucket,
/// publish durably, keep novel models. See Docs/Campaigns.md.
///
/// The parts: `CampaignJournal` (the folder's state, resume, model indices), `CampaignLane` (one
/// generator and one worker per target, running models), `CampaignTriage` (the triage pipeline's
/// cache and budget), `CampaignPublisher` (buckets, instances and the corpus, published
/// atomically) and `CampaignCounters` (`stats.json`). The campaign probes the targets' precision,
/// runs the lanes and reports.
public final class Campaign: @unchecked Sendable {
  public let config: CampaignConfig
  /// The configured targets with the precision each really computes in (`PrecisionProbe`, run
  /// once per campaign folder and target at the start).
  public internal(set) var targets: [BackendTarget]
  let counters = CampaignCounters()
  let journal: CampaignJournal
  let publisher: CampaignPublisher
  let triage: CampaignTriage
  let failpoint: Failpoint
  let started = Date()
  private let lock = NSLock()
  private var stopRequested = false
  private let plotLock = NSLock()
  private var lastPlotRow = Date.distantPast

  public init(_ config: CampaignConfig) {
    self.config = config
    targets = config.targets
    journal = CampaignJournal(config: config)
    failpoint = Failpoint(armed: config.failpoint, counters: counters)
    publisher = CampaignPublisher(config: config, journal: journal, counters: counters, failpoint: failpoint)
    triage = CampaignTriage(config: config, started: started)
  }

  /// The seed of model `k`: a pure function of (campaign seed, shard, k), so any model can be
  /// regenerated alone with `dlsmith generate --seed`.
  public static func modelSeed(_ seed: UInt64, shard: Int, k: Int) -> UInt64 {
    var g = SplitMix64(seed: seed ^ (UInt64(shard) << 40) ^ UInt64(k))
    return g.next()
  }

  /// The seed a shard's campaign in `directory` was started with (its `stats.json`), if it has run.
  public static func storedSeed(directory: String, shard: Int) -> UInt64? {
    CampaignStats.read("\(directory)/.dlsmith/shard-\(shard)/stats.json")?.seed
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
      triage.stop()
      publisher.close()
      journal.close()
    }
    try journal.open(counters)
    publisher.open()
    probePrecision()
    let lanes = Swift.max(1, config.jobs)
    let patterns = Dictionary(
      config.generator.patterns.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
    let ticker = DispatchSource.makeTimerSource(queue: .global())
    ticker.schedule(deadline: .now() + 10, repeating: 10)
    ticker.setEventHandler { [weak self] in self?.pulse() }
    ticker.resume()
    DispatchQueue.concurrentPerform(iterations: lanes) { lane in
      CampaignLane(
        lane: lane, config: config, targets: targets, journal: journal, publisher: publisher, triage: triage,
        counters: counters, failpoint: failpoint, next: nextModel, requestStop: requestStop,
        writeStats: { self.writeStats() }, patterns: patterns
      ).run()
    }
    ticker.cancel()
    writeStats(final: true)
    let s = counters.snapshot
    return (s, s.findings.values.reduce(0, +) > 0)
  }

  /// Precision capabilities of the external targets: judged at the precision they compute in.
  func probePrecision() {
    guard config.probePrecision else { return }
    for i in targets.indices where targets[i].sendsONNX {
      let found = PrecisionProbe.cached(
        targets[i], state: journal.state, limits: config.limits, log: config.log)
      counters.update { stats in
        stats.capabilities = (stats.capabilities ?? [:]).merging([targets[i].name: found.map(\.description)])
        {
          _, b in b
        }
      }
      PrecisionProbe.apply(found, to: &targets[i])
    }
  }

  /// The next model index, unless a stop was requested or the time is up.
  func nextModel() -> Int? {
    lock.lock()
    let stop = stopRequested
    lock.unlock()
    if stop { return nil }
    if let t = config.maxTime, Date().timeIntervalSince(started) >= t { return nil }
    return journal.next()
  }

  // MARK: - Stats

  private func pulse() {
    let s = counters.snapshot
    let t = Date().timeIntervalSince(started)
    let execs = s.totalExecs
    config.log(
      String(
        format:
          "status: run_time=%.0fs models=%d (%.1f/s) execs=%d (%.1f/s) findings=%d new_buckets=%d corpus_added=%d rss_mb=%d",
        t, s.modelsGenerated, Double(s.modelsGenerated) / t, execs, Double(execs) / t,
        s.findings.values.reduce(0, +), s.newBuckets, s.corpusAdded, Campaign.peakRSSMB()))
    writeStats()
  }

  /// Writes stats.json and, at most once a second (or when `final`), a plot_data row.
  func writeStats(final: Bool = false) {
    let buckets =
      ((try? FileManager.default.contentsOfDirectory(atPath: config.directory + "/Crashes")) ?? []).filter {
        !$0.hasPrefix(".") && $0 != "README.md"
      }.count
    let s = counters.update { stats in
      stats.runTime = Date().timeIntervalSince(started)
      stats.peakRSSMB = Campaign.peakRSSMB()
      stats.updatedAt = ISO8601DateFormatter().string(from: Date())
      stats.bucketsTotal = buckets
      return stats
    }
    if let data = try? CampaignPublisher.encoder.encode(s) {
      try? Workdir.replaceFile(data, at: journal.shardState + "/stats.json")
    }
    // Stats over time, at most a row a second (lanes write stats every 2 s, the ticker every 10 s).
    let now = Date()
    let due = plotLock.withLock {
      guard final || now.timeIntervalSince(lastPlotRow) >= 1 else { return false }
      lastPlotRow = now
      return true
    }
    if due {
      let names = targets.map(\.name)
      PlotData.append(
        PlotData.row(s, targets: names),
        header: PlotData.header(targets: names), to: journal.shardState + "/plot_data.csv")
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
