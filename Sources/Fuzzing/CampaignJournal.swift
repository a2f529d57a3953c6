import Foundation

/// A campaign's counters (`stats.json`), shared by its lanes, publisher and triage under one lock.
final class CampaignCounters: @unchecked Sendable {
  private let lock = NSLock()
  private var stats = CampaignStats()

  /// Reads or changes the counters atomically.
  @discardableResult
  func update<T>(_ body: (inout CampaignStats) -> T) -> T {
    lock.lock()
    defer { lock.unlock() }
    return body(&stats)
  }

  var snapshot: CampaignStats { update { $0 } }

  /// Findings recorded so far.
  var findings: Int { update { $0.findings.values.reduce(0, +) } }
}

/// Test-only fault injection: `kill -9` of the campaign itself at a named point of the first
/// finding's write path (`CampaignConfig.failpoint`).
struct Failpoint: Sendable {
  let armed: String?
  let counters: CampaignCounters

  /// The publication points fire on the first finding; `after-journal` fires at the first model
  /// journalled after a finding was recorded.
  func callAsFunction(_ name: String) {
    guard armed == name else { return }
    if name != "after-journal" || counters.findings >= 1 { kill(getpid(), SIGKILL) }
  }
}

/// A campaign folder's state (`.dlsmith/`): the lock, the journal of started and finished models,
/// refusing to clobber, archiving on `--fresh`, resuming (in-flight models re-run, findings
/// recounted from disk), the corpus as it was at the start, and the campaign's record. Hands out
/// model indices.
final class CampaignJournal: @unchecked Sendable {
  let config: CampaignConfig
  /// `<directory>/.dlsmith`: state shared by the shards.
  let state: String
  /// `<directory>/.dlsmith/shard-<i>`: this shard's journal, stats and worker logs.
  let shardState: String
  private let lock = NSLock()
  private var handle: FileHandle?
  private var lockFD: Int32 = -1
  private var nextK = 0
  private var pending: [Int] = []
  /// The corpus as it was when the campaign started (kept for resume: models added since then
  /// must not change which model a given index grows from).
  private(set) var corpusPaths: [String] = []

  init(config: CampaignConfig) {
    self.config = config
    state = config.directory + "/.dlsmith"
    shardState = state + "/shard-\(config.shardIndex)"
  }

  /// Prepares the folder: lock, refuse to clobber, archive on `--fresh`, read the journal on
  /// resume (the counters continue from disk).
  func open(_ counters: CampaignCounters) throws {
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
    if config.resume, let stored = Campaign.storedSeed(directory: config.directory, shard: config.shardIndex),
      stored != config.seed
    {
      throw CampaignError(
        "\(config.directory): shard \(config.shardIndex) was started with seed \(stored), not \(config.seed): resume it with --seed \(stored) or without --seed (another seed would repeat or skip models)"
      )
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
      let findings = recountFindings()
      counters.update { stats in
        if let old = CampaignStats.read(shardState + "/stats.json") {
          stats = old
          stats.previousRunTime += old.runTime
          stats.runTime = 0
        }
        // stats.json may lag behind a kill -9: the journal is the truth for what completed.
        stats.modelsGenerated = started.values.filter { $0 }.count
        stats.findings = findings
      }
      config.log("resuming at model \(nextK); re-running \(pending.count) model(s) that were in flight")
    }
    let snapshot = shardState + "/corpus-at-start"
    if config.resume, let text = try? String(contentsOfFile: snapshot, encoding: .utf8) {
      corpusPaths = text.split(separator: "\n").map(String.init)
    } else {
      corpusPaths = Replay.cases(under: config.directory + "/Corpus").filter { $0.hasSuffix(".dlsmith.json") }
      try Workdir.replaceFile(Data((corpusPaths.joined(separator: "\n") + "\n").utf8), at: snapshot)
    }
    if !corpusPaths.isEmpty { config.log("corpus: \(corpusPaths.count) model(s) to grow from") }
    if !fm.fileExists(atPath: journalPath) { _ = fm.createFile(atPath: journalPath, contents: nil) }
    handle = FileHandle(forWritingAtPath: journalPath)
    handle?.seekToEndOfFile()
    counters.update { $0.seed = config.seed }
    try writeRecord()
  }

  /// `campaign.json` (seed, shard, targets, nodes: written once) and the command line appended to
  /// `cmdline`.
  private func writeRecord() throws {
    let fm = FileManager.default
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

  func close() {
    try? handle?.close()
    if lockFD >= 0 { Foundation.close(lockFD) }
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

  /// Appends `start K` or `done K`.
  func append(_ line: String) {
    lock.lock()
    handle?.write(Data((line + "\n").utf8))
    lock.unlock()
  }

  /// The next model index: in-flight ones from an interrupted run first, then new ones up to
  /// `maxModels`.
  func next() -> Int? {
    lock.lock()
    defer { lock.unlock() }
    if !pending.isEmpty { return pending.removeFirst() }
    if let m = config.maxModels, nextK >= m { return nil }
    defer { nextK += 1 }
    return nextK
  }
}
