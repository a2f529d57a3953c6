import Foundation

/// `dlsmith merge OUT DIR...`: campaign folders (one per shard, or whole campaigns, or earlier
/// merges) merged into one.
///
/// - Buckets by signature (`Crashes/<sig16>/`): a bucket new to `OUT` is copied whole (its record,
///   minimized model and instances); a bucket already there gains the instances it lacks (by name:
///   `s<shard>-k<model>-<backend>` is unique within a campaign) and a minimized model if it had none.
/// - Counts: each bucket record keeps its count per source (`BucketRecord.contributions`, keyed by
///   the campaign seed and shards the source ran), and the count is their sum. A source merged again
///   replaces its own contribution (the larger wins: a running shard only grows), so merging twice,
///   or merging a folder with a merge that already holds it, counts nothing twice.
/// - Corpus by content hash (`Corpus/<2>/<sha256>.dlsmith.json`, the hash recomputed from the bytes).
/// - Shard state (`stats.json`, `plot_data.csv`, `features`) per shard for status and report: a
///   shard seen again is replaced only by a copy that ran more models; two different shards with
///   the same index (other seeds) are kept apart as `shard-<i>.<seed>`.
///
/// Every item is staged under `OUT/.dlsmith/tmp/` and published by rename, and every record is
/// derived from the sources, never incremented: after a `kill -9` the rerun completes the merge to
/// exactly what an uninterrupted merge writes. The first source that has a bucket gives its title,
/// triage and first instance; merge the same folders in the same order for the same result.
public struct CampaignMerge {
  public var output: String
  public var sources: [String]
  public var log: @Sendable (String) -> Void = { _ in }
  /// Test hook: `SIGKILL` this process after that many publications.
  public var killAfter: Int?

  public init(output: String, sources: [String]) {
    self.output = output
    self.sources = sources
  }

  public struct Summary: Sendable, Equatable, CustomStringConvertible {
    public var bucketsAdded = 0
    public var bucketsUpdated = 0
    public var instancesAdded = 0
    public var corpusAdded = 0
    public var shardsCopied = 0
    public var description: String {
      "\(bucketsAdded) bucket(s) added, \(bucketsUpdated) updated, \(instancesAdded) instance(s) added, \(corpusAdded) corpus model(s) added, \(shardsCopied) shard state(s) copied"
    }
  }

  private final class Progress {
    var summary = Summary()
    var published = 0
  }

  public func run() throws -> Summary {
    let fm = FileManager.default
    let out = URL(fileURLWithPath: output).standardizedFileURL.path
    for s in sources {
      var isDirectory: ObjCBool = false
      guard fm.fileExists(atPath: s, isDirectory: &isDirectory), isDirectory.boolValue else {
        throw CampaignError("\(s): no such campaign folder")
      }
      guard ["Crashes", "Corpus", ".dlsmith"].contains(where: { fm.fileExists(atPath: "\(s)/\($0)") }) else {
        throw CampaignError("\(s): not a campaign folder (no Crashes/, Corpus/ or .dlsmith/)")
      }
      let source = URL(fileURLWithPath: s).standardizedFileURL.path
      guard source != out, !out.hasPrefix(source + "/"), !source.hasPrefix(out + "/") else {
        throw CampaignError("\(s): the output \(output) cannot be a source or inside one, or hold one")
      }
    }
    let state = out + "/.dlsmith"
    try fm.createDirectory(atPath: state + "/tmp", withIntermediateDirectories: true)
    let lock: Int32
    do {
      lock = try Workdir.lock(state + "/merge.lock")
    } catch {
      throw CampaignError("\(output): another merge is writing into it (lock \(state)/merge.lock)")
    }
    defer { close(lock) }
    for shard in ((try? fm.contentsOfDirectory(atPath: state)) ?? []) where shard.hasPrefix("shard-") {
      if Workdir.lockHeld("\(state)/\(shard)/lock") {
        throw CampaignError("\(output): a campaign is running in it (\(shard)); merge into another folder")
      }
    }
    // Staging left by an interrupted merge.
    for t in (try? fm.contentsOfDirectory(atPath: state + "/tmp")) ?? [] where t.hasPrefix("merge-") {
      try? fm.removeItem(atPath: "\(state)/tmp/\(t)")
    }
    let progress = Progress()
    for s in sources {
      let folder = try CampaignFolder.read(s)
      log("merging \(s): \(folder.buckets.count) bucket(s), \(folder.shards.count) shard(s)")
      let key = CampaignMerge.sourceKey(folder)
      for b in folder.buckets { try mergeBucket(b, from: s, key: key, into: out, progress) }
      try mergeCorpus(from: s, into: out, progress)
      for shard in folder.shards { try mergeShard(shard, from: s, into: out, progress) }
    }
    for t in (try? fm.contentsOfDirectory(atPath: state + "/tmp")) ?? [] where t.hasPrefix("merge-") {
      try? fm.removeItem(atPath: "\(state)/tmp/\(t)")
    }
    return progress.summary
  }

  /// Who a source's bucket counts belong to: the campaign seed and the shards its folder holds.
  static func sourceKey(_ folder: CampaignFolder) -> String {
    let shards = folder.shards.map { s in "\(s.stats.map { "\($0.seed)" } ?? "?")/\(s.name)" }
    return shards.isEmpty
      ? "folder:" + (folder.path as NSString).lastPathComponent : shards.joined(separator: "+")
  }

  private func stage(_ out: String) throws -> String {
    let tmp = "\(out)/.dlsmith/tmp/merge-\(UUID().uuidString)"
    try FileManager.default.createDirectory(atPath: tmp, withIntermediateDirectories: true)
    return tmp
  }

  /// Publishes a staged item; counts it for the kill hook.
  private func publish(_ tmp: String, to destination: String, _ progress: Progress) throws -> Bool {
    let done = try Workdir.publish(tmp, to: destination)
    published(progress)
    return done
  }

  /// Counts a publication; the test hook kills the process after `killAfter` of them.
  private func published(_ progress: Progress) {
    progress.published += 1
    if let k = killAfter, progress.published >= k { kill(getpid(), SIGKILL) }
  }

  /// Copies the tree at `source` to `destination` (which must not exist), each file fsynced.
  private static func copyTree(_ source: String, to destination: String) throws {
    let fm = FileManager.default
    var isDirectory: ObjCBool = false
    guard fm.fileExists(atPath: source, isDirectory: &isDirectory) else { return }
    if isDirectory.boolValue {
      try fm.createDirectory(atPath: destination, withIntermediateDirectories: true)
      for entry in try fm.contentsOfDirectory(atPath: source) {
        try copyTree(source + "/" + entry, to: destination + "/" + entry)
      }
      Workdir.fsync(path: destination)
    } else {
      guard let data = fm.contents(atPath: source) else { throw CampaignError("\(source): cannot read") }
      try Workdir.writeFile(data, to: destination)
    }
  }

  private func mergeBucket(
    _ b: CampaignFolder.Bucket, from source: String, key: String, into out: String, _ progress: Progress
  ) throws {
    let fm = FileManager.default
    let src = "\(source)/Crashes/\(b.id)"
    let dst = "\(out)/Crashes/\(b.id)"
    let incoming = b.record.contributions ?? [key: b.record.count]
    guard let existing = BucketRecord.read(bucket: dst) else {
      let tmp = try stage(out)
      try CampaignMerge.copyTree(src, to: tmp + "/bucket")
      var record = b.record
      record.contributions = incoming
      record.count = Swift.max(incoming.values.reduce(0, +), b.instances.count)
      try Workdir.replaceFile(try CampaignPublisher.encoder.encode(record), at: tmp + "/bucket/bucket.json")
      if try publish(tmp + "/bucket", to: dst, progress) {
        progress.summary.bucketsAdded += 1
        progress.summary.instancesAdded += b.instances.count
      }
      try? fm.removeItem(atPath: tmp)
      return
    }
    var changed = false
    for name in b.instances where !fm.fileExists(atPath: "\(dst)/instances/\(name)") {
      let tmp = try stage(out)
      try CampaignMerge.copyTree("\(src)/instances/\(name)", to: tmp + "/instance")
      if try publish(tmp + "/instance", to: "\(dst)/instances/\(name)", progress) {
        progress.summary.instancesAdded += 1
        changed = true
      }
      try? fm.removeItem(atPath: tmp)
    }
    if !fm.fileExists(atPath: dst + "/minimized"), fm.fileExists(atPath: src + "/minimized") {
      let tmp = try stage(out)
      try CampaignMerge.copyTree(src + "/minimized", to: tmp + "/minimized")
      changed = try publish(tmp + "/minimized", to: dst + "/minimized", progress) || changed
      try? fm.removeItem(atPath: tmp)
    }
    var record = existing
    record.contributions = (existing.contributions ?? [:]).merging(incoming, uniquingKeysWith: Swift.max)
    let stored = ((try? fm.contentsOfDirectory(atPath: dst + "/instances")) ?? []).count
    record.count = Swift.max(record.contributions!.values.reduce(0, +), stored)
    record.firstSeen = Swift.min(existing.firstSeen, b.record.firstSeen)
    record.lastSeen = Swift.max(existing.lastSeen, b.record.lastSeen)
    if record.triage == nil, let t = b.record.triage {
      record.triage = t
      record.message = record.message ?? b.record.message
    }
    let data = try CampaignPublisher.encoder.encode(record)
    if data != fm.contents(atPath: dst + "/bucket.json") {
      try Workdir.replaceFile(data, at: dst + "/bucket.json")
      changed = true
    }
    if changed { progress.summary.bucketsUpdated += 1 }
  }

  private func mergeCorpus(from source: String, into out: String, _ progress: Progress) throws {
    let fm = FileManager.default
    let corpus = source + "/Corpus"
    for prefix in ((try? fm.contentsOfDirectory(atPath: corpus)) ?? []).sorted() {
      for file in ((try? fm.contentsOfDirectory(atPath: "\(corpus)/\(prefix)")) ?? []).sorted()
      where file.hasSuffix(".dlsmith.json") {
        guard let bytes = fm.contents(atPath: "\(corpus)/\(prefix)/\(file)") else { continue }
        let hash = SHA256.hex(Array(bytes))
        let dir = "\(out)/Corpus/\(hash.prefix(2))"
        let path = "\(dir)/\(hash).dlsmith.json"
        guard !fm.fileExists(atPath: path) else { continue }
        try fm.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let tmp = try stage(out)
        try Workdir.writeFile(bytes, to: tmp + "/model.json")
        if rename(tmp + "/model.json", path) == 0 {
          Workdir.fsync(path: dir)
          progress.summary.corpusAdded += 1
          published(progress)
        }
        try? fm.removeItem(atPath: tmp)
      }
    }
  }

  /// The files of a shard's state that readers of a merged folder use.
  static let shardFiles = ["stats.json", "plot_data.csv", "features"]

  private func mergeShard(
    _ shard: CampaignFolder.ShardState, from source: String, into out: String, _ progress: Progress
  ) throws {
    let fm = FileManager.default
    guard let stats = shard.stats else { return }
    // The same shard (seed and index) goes to the same place; another seed's shard of the same
    // index goes beside it.
    var name = shard.name
    func occupant(_ name: String) -> CampaignStats? {
      CampaignStats.read("\(out)/.dlsmith/\(name)/stats.json")
    }
    if let o = occupant(name), o.seed != stats.seed { name = "\(shard.name).\(stats.seed)" }
    let dst = "\(out)/.dlsmith/\(name)"
    if let o = occupant(name), o.modelsGenerated >= stats.modelsGenerated { return }
    let tmp = try stage(out)
    try fm.createDirectory(atPath: tmp + "/shard", withIntermediateDirectories: true)
    for f in CampaignMerge.shardFiles {
      try CampaignMerge.copyTree("\(source)/.dlsmith/\(shard.name)/\(f)", to: "\(tmp)/shard/\(f)")
    }
    if fm.fileExists(atPath: dst) {
      // Replaced by the longer run: the old copy is moved aside first (a kill between the renames
      // leaves no copy, and the rerun publishes this one).
      let old = try stage(out)
      guard rename(dst, old + "/old") == 0 else {
        throw CampaignError("\(dst): cannot replace (errno \(errno))")
      }
    }
    if try publish(tmp + "/shard", to: dst, progress) { progress.summary.shardsCopied += 1 }
    try? fm.removeItem(atPath: tmp)
  }
}
