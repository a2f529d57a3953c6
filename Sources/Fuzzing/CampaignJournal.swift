import Backends
import Foundation
import Generation
import IR
import Kernels
import Operators
import Tensors

/// The campaign's journal and state: locking the folder, refusing to clobber it, archiving on
/// `--fresh`, resuming (in-flight models re-run, findings recounted from disk), and handing out
/// model indices.
extension Campaign {
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
        stats.capabilities = (stats.capabilities ?? [:]).merging([targets[i].name: found.map(\.description)])
        { _, b in b }
        PrecisionProbe.apply(found, to: &targets[i])
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

  func appendJournal(_ line: String) {
    lock.lock()
    journal?.write(Data((line + "\n").utf8))
    lock.unlock()
  }

  /// Takes the next model index: in-flight ones from an interrupted run first.
  func nextModel() -> Int? {
    lock.lock()
    defer { lock.unlock() }
    if stopRequested { return nil }
    if let t = config.maxTime, Date().timeIntervalSince(started) >= t { return nil }
    if !pending.isEmpty { return pending.removeFirst() }
    if let m = config.maxModels, nextK >= m { return nil }
    defer { nextK += 1 }
    return nextK
  }

}
