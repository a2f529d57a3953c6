import ArgumentParser
import Foundation
import Fuzzing

struct Status: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Show a campaign folder's progress: per shard and buckets.")

  @Argument(help: "Campaign folder.") var directory: String = "."
  @Flag(help: "Print JSON.") var json = false

  func run() throws {
    let fm = FileManager.default
    let state = directory + "/.dlsmith"
    let shards = ((try? fm.contentsOfDirectory(atPath: state)) ?? []).filter { $0.hasPrefix("shard-") }
      .sorted()
    var all: [[String: Any]] = []
    for s in shards {
      guard let data = fm.contents(atPath: "\(state)/\(s)/stats.json"),
        let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any]
      else { continue }
      var o = object
      o["shard"] = s
      o["alive"] = lockHeld("\(state)/\(s)/lock")
      all.append(o)
    }
    let buckets = BucketRecord.all(in: directory + "/Crashes")
    if json {
      let records = buckets.map { b -> [String: Any] in
        let data = (try? JSONEncoder().encode(b.record)) ?? Data()
        var o = (try? JSONSerialization.jsonObject(with: data) as? [String: Any]) ?? [:]
        o["id"] = b.id
        o["kind"] = b.record.tuple.kind.rawValue
        o["backend"] = b.record.tuple.backend
        o["stage"] = b.record.tuple.stage
        return o
      }
      let doc: [String: Any] = ["shards": all, "buckets": records]
      let data = try JSONSerialization.data(withJSONObject: doc, options: [.prettyPrinted, .sortedKeys])
      print(String(decoding: data, as: UTF8.self))
      return
    }
    if all.isEmpty { print("no campaign state in \(state)") }
    for o in all {
      let models = o["modelsGenerated"] as? Int ?? 0
      let time = (o["runTime"] as? Double ?? 0) + (o["previousRunTime"] as? Double ?? 0)
      let execs = (o["execs"] as? [String: Int] ?? [:]).values.reduce(0, +)
      print(
        String(
          format:
            "%@: %@, run time %.0f s, %d models (%.1f/s), %d execs, findings %@, corpus +%d, peak RSS %d MiB",
          o["shard"] as? String ?? "?", (o["alive"] as? Bool ?? false) ? "running" : "stopped", time, models,
          Double(models) / max(time, 1e-9), execs, "\(o["findings"] as? [String: Int] ?? [:])",
          o["corpusAdded"] as? Int ?? 0, o["peakRSSMB"] as? Int ?? 0))
    }
    for o in all {
      for (target, caps) in (o["capabilities"] as? [String: [String]] ?? [:]).sorted(by: { $0.key < $1.key })
      {
        for c in caps { print("capability: \(target) \(c)") }
      }
    }
    print("\(buckets.count) bucket(s) in \(directory)/Crashes")
    for b in buckets {
      let verdict = b.record.triage.map { " [\($0.verdict.rawValue), \($0.nodesAfter) node(s)]" } ?? ""
      print("  \(b.id)  \(b.record.count)x  \(b.record.title)\(verdict)")
    }
  }

  func lockHeld(_ path: String) -> Bool {
    let fd = open(path, O_RDONLY)
    guard fd >= 0 else { return false }
    defer { close(fd) }
    if flock(fd, LOCK_SH | LOCK_NB) == 0 {
      flock(fd, LOCK_UN)
      return false
    }
    return true
  }
}
