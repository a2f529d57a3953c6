import Foundation
import Generation
import IR
import Kernels
import Tensors

/// Publication: instances and buckets written atomically (temp folder, fsync, rename), bucket
/// records repaired from disk, novel models kept in the corpus (by the features they add).
final class CampaignPublisher: @unchecked Sendable {
  let config: CampaignConfig
  /// `<directory>/.dlsmith` (its `tmp/` stages what is published).
  let state: String
  let shardState: String
  let counters: CampaignCounters
  let failpoint: Failpoint
  private let lock = NSLock()
  private var features = Set<String>()
  private var featureLog: FileHandle?

  init(config: CampaignConfig, journal: CampaignJournal, counters: CampaignCounters, failpoint: Failpoint) {
    self.config = config
    state = journal.state
    shardState = journal.shardState
    self.counters = counters
    self.failpoint = failpoint
  }

  /// Reads the features seen so far (resume) and opens their log.
  func open() {
    let path = shardState + "/features"
    if let text = try? String(contentsOfFile: path, encoding: .utf8) {
      features = Set(text.split(separator: "\n").map(String.init))
    }
    if !FileManager.default.fileExists(atPath: path) {
      _ = FileManager.default.createFile(atPath: path, contents: nil)
    }
    featureLog = FileHandle(forWritingAtPath: path)
    featureLog?.seekToEndOfFile()
  }

  func close() { try? featureLog?.close() }

  // MARK: - Publication

  /// Publishes one instance into its bucket, creating the bucket if needed. Idempotent: the same
  /// (shard, k, backend) instance published twice is stored and counted once.
  func record(
    _ f: Finding, k: Int, seed: UInt64, graph: Graph, inputs: [Tensor], expected: [Tensor],
    target: BackendTarget, log: String, minimized: Minimized? = nil, evidence: TriageEvidence? = nil,
    form: EquivalentForm? = nil
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
        if let form {
          // The equivalent form the target disagreed on, and the rewrites that made it.
          try Workdir.writeFile(form.graph.encoded(), to: tmp + "/form.dlsmith.json")
          try Workdir.writeFile(
            Data((form.rewrites.map(\.description).joined(separator: "\n") + "\n").utf8),
            to: tmp + "/rewrites.txt")
        }
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
      counters.update { stats in
        stats.findings[sig.kind.rawValue, default: 0] += 1
        if isNew {
          stats.newBuckets += 1
          stats.bucketsByKind = (stats.bucketsByKind ?? [:]).merging(
            [sig.kind.rawValue: 1], uniquingKeysWith: +)
        }
      }
    } catch {
      config.log("error: cannot record finding in \(bucket): \(error)")
    }
  }

  /// Creates the bucket folder, with the triage evidence and the minimized model of its first
  /// instance (`minimized/`), published atomically as one folder.
  func createBucket(
    _ sig: Signature, at bucket: String, evidence: TriageEvidence?, minimized: Minimized?, message: String
  ) throws {
    let tmp = "\(state)/tmp/s\(config.shardIndex)-\(UUID().uuidString)"
    try FileManager.default.createDirectory(atPath: tmp + "/instances", withIntermediateDirectories: true)
    try Workdir.writeFile(Data((sig.title + "\n").utf8), to: tmp + "/description")
    if let minimized {
      try FileManager.default.createDirectory(atPath: tmp + "/minimized", withIntermediateDirectories: true)
      try Workdir.writeFile(minimized.graph.encoded(), to: tmp + "/minimized/model.dlsmith.json")
      try Workdir.writeFile(
        try CampaignPublisher.encoder.encode(minimized.inputs.map(EncodedTensor.init)),
        to: tmp + "/minimized/inputs.json")
    }
    let now = ISO8601DateFormatter().string(from: Date())
    var record = BucketRecord(
      signature: sig.hash, tuple: sig, title: sig.title, count: 0, firstSeen: now, lastSeen: now,
      status: "new")
    record.triage = evidence
    record.message = String(message.prefix(2000))
    try Workdir.writeFile(try CampaignPublisher.encoder.encode(record), to: tmp + "/bucket.json")
    _ = try Workdir.publish(tmp, to: bucket)
  }

  func updateBucket(_ sig: Signature, at bucket: String, increment: Bool) throws {
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
    try Workdir.replaceFile(try CampaignPublisher.encoder.encode(record), at: path)
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
    let fs = CampaignPublisher.features(g)
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
      if rename(tmp, path) == 0 { counters.update { $0.corpusAdded += 1 } }
    } catch {
      config.log("error: cannot add \(path) to the corpus: \(error)")
    }
  }

}
