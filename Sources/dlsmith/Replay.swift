import ArgumentParser
import Foundation
import Fuzzing

/// Backend selection shared by commands that run workers.
struct TargetSelection: ParsableArguments {
  @Option(help: "Comma-separated backends; the reference is always the baseline.") var backends: String =
    "reference,fast"
  @Option(
    help: "Extra backend served by any program speaking the worker protocol: NAME=COMMAND (repeatable).")
  var worker: [String] = []
  @OptionGroup var passes: PassSelection

  func validate() throws {
    for w in worker where !w.contains("=") {
      throw ValidationError("--worker takes NAME=COMMAND, got '\(w)'")
    }
    let known = backendNames + worker.compactMap { $0.split(separator: "=").first.map(String.init) }
    for b in splitList(backends) where !known.contains(b) {
      throw ValidationError("unknown backend '\(b)' (available: \(known.joined(separator: ", ")))")
    }
  }

  var targets: [BackendTarget] {
    let extra = Dictionary(
      worker.map { w -> (String, [String]) in
        let parts = w.split(separator: "=", maxSplits: 1)
        return (String(parts[0]), parts[1].split(separator: " ").map(String.init))
      }, uniquingKeysWith: { a, _ in a })
    return splitList(backends).filter { $0 != "reference" }.map {
      workerTarget($0, passes: passes.passes, extra: extra)
    }
  }
}

struct Replay: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Run corpus models and bucket instances again: fixed, still failing or new signature.",
    discussion: "Exit 77 if any finding reproduces, 0 otherwise.")

  @Argument(help: "Model files, instance folders, buckets, or folders such as Corpus/ and Crashes/.")
  var paths: [String]
  @OptionGroup var selection: TargetSelection

  func run() throws {
    let replay = Fuzzing.Replay(
      targets: selection.targets, logDirectory: FileManager.default.temporaryDirectory.path)
    var reproduced = false
    var cases: [String] = []
    for p in paths {
      let found = Fuzzing.Replay.cases(under: p)
      if found.isEmpty { log("warning: \(p): no model files or instances found") }
      cases += found
    }
    var counts: [String: Int] = [:]
    for c in cases {
      for row in replay.run(c) {
        counts[row.status, default: 0] += 1
        if row.reproduces { reproduced = true }
        let detail = row.found.map { $0.title } ?? row.note
        print(
          "\(row.status.padding(toLength: 14, withPad: " ", startingAt: 0)) \(row.backend.padding(toLength: 10, withPad: " ", startingAt: 0)) \(row.path)\(detail.isEmpty ? "" : "  — \(detail)")"
        )
      }
    }
    log(
      "replayed \(cases.count) case(s): "
        + counts.keys.sorted().map { "\($0) \(counts[$0]!)" }.joined(separator: ", "))
    if reproduced { throw ExitCode(77) }
  }
}

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

struct Report: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Print a Markdown report of the buckets in a campaign folder.")

  @Argument(help: "Campaign folder.") var directory: String = "."

  func run() throws {
    let buckets = BucketRecord.all(in: directory + "/Crashes")
    print("# DLSmith findings in \(directory)\n")
    // Target bugs first; DLSmith's own defects (reference disagreements) and unstable differences
    // are classified apart, never read as target bugs.
    func klass(_ r: BucketRecord) -> Int {
      r.tuple.kind == .referenceDisagreement ? 1 : r.tuple.kind == .unstable ? 2 : 0
    }
    let sorted = buckets.sorted { (klass($0.record), $0.id) < (klass($1.record), $1.id) }
    let counts = [0, 1, 2].map { k in buckets.filter { klass($0.record) == k }.count }
    print(
      "\(counts[0]) target bug bucket(s), \(counts[1]) reference disagreement(s) (DLSmith defects), \(counts[2]) unstable\n"
    )
    print(
      "| bucket | kind | backend | stage | count | verdict | minimized | first seen | last seen | title |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    defer {
      let triaged = buckets.compactMap(\.record.triage)
      if !triaged.isEmpty {
        let small = triaged.filter { $0.nodesAfter <= 3 }.count
        let seconds = triaged.map(\.seconds).sorted()
        func pct(_ p: Double) -> Double {
          seconds[Swift.min(seconds.count - 1, Int(Double(seconds.count) * p))]
        }
        let verdicts = Dictionary(grouping: triaged, by: \.verdict.rawValue).mapValues(\.count)
        print(
          "\ntriage: \(small)/\(triaged.count) bucket(s) at <= 3 nodes; triage time median \(String(format: "%.1f", pct(0.5))) s, p95 \(String(format: "%.1f", pct(0.95))) s; verdicts: \(verdicts.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", "))"
        )
      }
    }
    for b in sorted {
      let t = b.record.triage
      print(
        "| \(b.id) | \(b.record.tuple.kind.rawValue) | \(b.record.tuple.backend) | \(b.record.tuple.stage) | \(b.record.count) | \(t?.verdict.rawValue ?? "-") | \(t.map { "\($0.nodesBefore) -> \($0.nodesAfter)" } ?? "-") | \(b.record.firstSeen) | \(b.record.lastSeen) | \(b.record.title) |"
      )
    }
    for b in sorted {
      print("\n## \(b.id): \(b.record.title)\n")
      if let t = b.record.triage { print("- triage: \(t.summary)") }
      for r in b.record.triage?.runs ?? [] where !r.detail.isEmpty {
        print("  - \(r.implementation) (\(r.sides)): \(r.detail)")
      }
      let instances =
        ((try? FileManager.default.contentsOfDirectory(atPath: "\(directory)/Crashes/\(b.id)/instances"))
        ?? []).sorted()
      for i in instances {
        let metaPath = "\(directory)/Crashes/\(b.id)/instances/\(i)/meta.json"
        let meta = FileManager.default.contents(atPath: metaPath).flatMap {
          try? JSONDecoder().decode(InstanceMeta.self, from: $0)
        }
        print("- `\(i)`: \(meta?.message ?? "")")
        if let r = meta?.replay { print("  - replay: `\(r)`") }
        if let g = meta?.regenerate { print("  - regenerate: `\(g)`") }
      }
    }
  }
}
