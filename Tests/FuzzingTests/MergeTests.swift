import Foundation
import Fuzzing
import TestSupport
import Testing

/// `dlsmith merge` and the shard defaults a cluster scheduler sets.
@Suite(.serialized) struct MergeTests {
  /// Two shards of one campaign (as an Indexed Job runs them), each in its own folder, against a
  /// worker that crashes on every model with an `add`: both shards fill the same bucket.
  static func shards() throws -> [URL] {
    let root = temporaryDirectory()
    let worker = builtExecutable("dlsmith-faulty-worker").path
    return try (0..<2).map { i in
      let dir = root.appendingPathComponent("shard-\(i)")
      let r = try runDLSmith([
        "fuzz", "-o", dir.path, "--seed", "5", "--max-models", "8", "--nodes", "6", "--ops",
        "add,relu,mul,sigmoid",
        "--backends", "reference,faulty", "--worker", "faulty=\(worker) --mode crash --on add",
        "--shard-index", "\(i)", "--total-shards", "2",
      ])
      guard r.status == 0 else { throw CampaignError("the shard campaign failed: \(r.stderr)") }
      return dir
    }
  }

  /// Every file under `dir` (relative path to bytes), without the merge's lock and staging.
  static func tree(_ dir: URL) -> [String: Data] {
    var out: [String: Data] = [:]
    let base = dir.standardizedFileURL.path
    guard let e = FileManager.default.enumerator(atPath: base) else { return out }
    while let rel = e.nextObject() as? String {
      if rel == ".dlsmith/merge.lock" || rel.hasPrefix(".dlsmith/tmp") { continue }
      var isDirectory: ObjCBool = false
      _ = FileManager.default.fileExists(atPath: base + "/" + rel, isDirectory: &isDirectory)
      if !isDirectory.boolValue { out[rel] = FileManager.default.contents(atPath: base + "/" + rel) }
    }
    return out
  }

  static func merge(_ out: URL, _ sources: [URL], extra: [String] = []) throws -> Int32 {
    try runDLSmith(["merge", out.path] + sources.map(\.path) + extra).status
  }

  @Test func mergedBucketsSumTheShardsAndMergingAgainChangesNothing() throws {
    let shards = try Self.shards()
    let out = temporaryDirectory().appendingPathComponent("merged")
    #expect(try Self.merge(out, shards) == 0)
    let folders = try shards.map { try CampaignFolder.read($0.path) }
    let merged = try CampaignFolder.read(out.path)
    let ids = Set(folders.flatMap { $0.buckets.map(\.id) })
    #expect(!ids.isEmpty, "the shards must find something for this test to mean anything")
    #expect(Set(merged.buckets.map(\.id)) == ids)
    for b in merged.buckets {
      let parts = folders.compactMap { f in f.buckets.first { $0.id == b.id } }
      #expect(b.record.count == parts.map(\.record.count).reduce(0, +), "bucket \(b.id): counts summed")
      #expect(b.instances == Array(Set(parts.flatMap(\.instances))).sorted(), "instances united by name")
      #expect(b.record.firstSeen == parts.map(\.record.firstSeen).min())
      #expect(b.record.lastSeen == parts.map(\.record.lastSeen).max())
    }
    #expect(merged.shards.map(\.name) == ["shard-0", "shard-1"])
    #expect(merged.shards.allSatisfy { !$0.plot.isEmpty && $0.stats?.modelsGenerated == 8 })
    let corpus = Set(
      shards.flatMap { s in Self.tree(s).keys.filter { $0.hasPrefix("Corpus/") } })
    #expect(Set(Self.tree(out).keys.filter { $0.hasPrefix("Corpus/") }) == corpus)

    let before = Self.tree(out)
    #expect(try Self.merge(out, shards) == 0)
    #expect(Self.tree(out) == before, "merging twice changes nothing")
    // A shard merged with a merge that already holds it is not counted twice.
    let again = temporaryDirectory().appendingPathComponent("again")
    #expect(try Self.merge(again, [shards[0], out, shards[1]]) == 0)
    #expect(
      try CampaignFolder.read(again.path).buckets.map(\.record.count) == merged.buckets.map(\.record.count))
  }

  /// kill -9 after each publication in turn, then a rerun: the folder equals an uninterrupted merge.
  @Test func killNineDuringMergeThenRerunGivesTheSameFolder() throws {
    let shards = try Self.shards()
    let truth = temporaryDirectory().appendingPathComponent("truth")
    #expect(try Self.merge(truth, shards) == 0)
    let expected = Self.tree(truth)
    for k in [1, 2, 3, 5, 8, 13] {
      let out = temporaryDirectory().appendingPathComponent("killed")
      let killed = try Self.merge(out, shards, extra: ["--kill-after", "\(k)"])
      #expect(killed != 0, "killed after \(k) publications")
      #expect(try Self.merge(out, shards) == 0)
      #expect(Self.tree(out) == expected, "killed after \(k) publications, then rerun")
      let tmp = out.appendingPathComponent(".dlsmith/tmp").path
      #expect(((try? FileManager.default.contentsOfDirectory(atPath: tmp)) ?? []).isEmpty, "no staging left")
    }
  }

  @Test func badSourcesAreRefusedWithTheirName() throws {
    let shards = try Self.shards()
    let out = temporaryDirectory()
    let missing = out.appendingPathComponent("nope").path
    let r = try runDLSmith(["merge", out.appendingPathComponent("m").path, missing])
    #expect(r.status == 1)
    #expect(r.stderr.contains(missing))
    let inside = try runDLSmith(["merge", shards[0].appendingPathComponent("m").path, shards[0].path])
    #expect(inside.status == 1)
    #expect(inside.stderr.contains("cannot be a source or inside one"))
  }

  @Test(
    arguments: [
      ([:], nil, nil, Shard(index: 0, total: 1)),
      (["JOB_COMPLETION_INDEX": "2", "JOB_COMPLETIONS": "4"], nil, nil, Shard(index: 2, total: 4)),
      (
        ["SLURM_ARRAY_TASK_ID": "7", "SLURM_ARRAY_TASK_MIN": "5", "SLURM_ARRAY_TASK_COUNT": "3"], nil, nil,
        Shard(index: 2, total: 3)
      ),
      (["JOB_COMPLETION_INDEX": "2", "JOB_COMPLETIONS": "4"], 1, nil, Shard(index: 1, total: 4)),
      (["SLURM_ARRAY_TASK_ID": "1", "SLURM_ARRAY_TASK_COUNT": "2"], nil, 8, Shard(index: 1, total: 8)),
    ] as [([String: String], Int?, Int?, Shard)])
  func theShardComesFromTheFlagsElseTheScheduler(
    _ env: [String: String], _ index: Int?, _ total: Int?, _ expected: Shard
  ) throws {
    #expect(try Shard.resolve(index: index, total: total, environment: env) == expected)
  }

  /// Shards of one campaign seed draw disjoint model seeds (`Campaign.modelSeed`), so they never
  /// repeat each other's models; and a shard's models follow from the campaign seed alone.
  @Test func shardsDrawDisjointModelSeeds() {
    for campaign: UInt64 in [0, 2026, UInt64(UInt32.max)] {
      var seen = Set<UInt64>()
      for shard in 0..<8 {
        for k in 0..<5000 { seen.insert(Campaign.modelSeed(campaign, shard: shard, k: k)) }
      }
      #expect(seen.count == 8 * 5000, "campaign seed \(campaign)")
    }
    #expect(Campaign.modelSeed(7, shard: 1, k: 3) == Campaign.modelSeed(7, shard: 1, k: 3))
  }

  @Test func aShardOutsideItsCountIsAnError() {
    #expect(throws: Shard.Invalid.self) {
      try Shard.resolve(index: nil, total: nil, environment: ["JOB_COMPLETION_INDEX": "3"])
    }
    #expect(throws: Shard.Invalid.self) {
      try Shard.resolve(index: nil, total: nil, environment: ["SLURM_ARRAY_TASK_ID": "x"])
    }
  }

  @Test func fuzzTakesTheShardFromTheEnvironment() throws {
    let dir = temporaryDirectory()
    let r = try runDLSmith(
      ["fuzz", "-o", dir.path, "--seed", "3", "--max-models", "2", "--nodes", "4"],
      environment: ["JOB_COMPLETION_INDEX": "1", "JOB_COMPLETIONS": "3"])
    #expect(r.status == 0)
    let folder = try CampaignFolder.read(dir.path)
    #expect(folder.shards.map(\.name) == ["shard-1"])
  }

  @Test func statusJSONHasEachShardsLastPlotRow() throws {
    let out = temporaryDirectory().appendingPathComponent("merged")
    #expect(try Self.merge(out, try Self.shards()) == 0)
    let r = try runDLSmith(["status", out.path, "--json"])
    #expect(r.status == 0)
    let doc = try #require(try JSONSerialization.jsonObject(with: r.stdout) as? [String: Any])
    let shards = try #require(doc["shards"] as? [[String: Any]])
    #expect(shards.map { $0["shard"] as? String } == ["shard-0", "shard-1"])
    for s in shards {
      let last = try #require(s["lastPlot"] as? [String: Any], "\(s)")
      #expect(last["models"] as? Double == 8)
      #expect(last["execs_faulty"] as? Double == 8)
    }
    #expect((doc["buckets"] as? [[String: Any]])?.isEmpty == false)
  }

  /// `--watch` off a terminal appends a stamped snapshot per refresh.
  @Test func statusWatchRefreshes() throws {
    let dir = temporaryDirectory()
    let p = Process()
    p.executableURL = dlsmithExecutable()
    p.arguments = ["status", dir.path, "--watch", "--interval", "0.1"]
    let pipe = Pipe()
    p.standardOutput = pipe
    p.standardError = FileHandle.nullDevice
    try p.run()
    var text = ""
    while text.components(separatedBy: "--- ").count < 4 {
      let chunk = pipe.fileHandleForReading.availableData
      if chunk.isEmpty { break }
      text += String(decoding: chunk, as: UTF8.self)
    }
    // SIGKILL: children of the test process start with SIGTERM blocked.
    kill(p.processIdentifier, SIGKILL)
    p.waitUntilExit()
    #expect(text.components(separatedBy: "--- ").count >= 4, "three snapshots: \(text)")
    #expect(text.contains("0 bucket(s) in \(dir.path)/Crashes"))
  }
}
