import ArgumentParser
import Foundation
import Fuzzing

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
