import Foundation

/// `dlsmith report DIR`: the buckets of a campaign folder as Markdown, one table row per bucket
/// (`| <sig16> | <kind> | …`, which CI greps) and a section per bucket with its instances.
public enum MarkdownReport {
  public static func render(_ folder: CampaignFolder) -> String {
    var out = ""
    func line(_ text: String) { out += text + "\n" }
    let buckets = folder.buckets
    line("# DLSmith findings in \(folder.path)\n")
    // Target bugs first; DLSmith's own defects (reference disagreements) and unstable differences
    // are classified apart, never read as target bugs.
    let sorted = buckets.sorted {
      ($0.record.tuple.kind.reportClass, $0.id) < ($1.record.tuple.kind.reportClass, $1.id)
    }
    let counts = FindingKind.ReportClass.allCases.map { k in
      buckets.filter { $0.record.tuple.kind.reportClass == k }.count
    }
    line(
      "\(counts[0]) target bug bucket(s), \(counts[1]) reference disagreement(s) (DLSmith defects), \(counts[2]) unstable\n"
    )
    line("| bucket | kind | backend | stage | count | verdict | minimized | first seen | last seen | title |")
    line("|---|---|---|---|---|---|---|---|---|---|")
    for b in sorted {
      let t = b.record.triage
      line(
        "| \(b.id) | \(b.record.tuple.kind.rawValue) | \(b.record.tuple.backend) | \(b.record.tuple.stage) | \(b.record.count) | \(t?.verdict.rawValue ?? "-") | \(t.map { "\($0.nodesBefore) -> \($0.nodesAfter)" } ?? "-") | \(b.record.firstSeen) | \(b.record.lastSeen) | \(b.record.title) |"
      )
    }
    for b in sorted {
      line("\n## \(b.id): \(b.record.title)\n")
      if let t = b.record.triage { line("- triage: \(t.summary)") }
      for r in b.record.triage?.runs ?? [] where !r.detail.isEmpty {
        line("  - \(r.implementation) (\(r.sides)): \(r.detail)")
      }
      for i in b.instances {
        let meta = FileManager.default.contents(
          atPath: "\(folder.path)/Crashes/\(b.id)/instances/\(i)/meta.json"
        ).flatMap { try? JSONDecoder().decode(InstanceMeta.self, from: $0) }
        line("- `\(i)`: \(meta?.message ?? "")")
        if let r = meta?.replay { line("  - replay: `\(r)`") }
        if let g = meta?.regenerate { line("  - regenerate: `\(g)`") }
      }
    }
    let patterns = PatternSummary.lines(folder.shards.compactMap(\.stats))
    if !patterns.isEmpty {
      line("\n## Optimizer patterns\n")
      for p in patterns { line("- \(p)") }
    }
    for l in SpecialValueSummary.lines(folder.shards.compactMap(\.stats)) {
      line("\n## Special values\n")
      line("- \(l)")
    }
    let triaged = buckets.compactMap(\.record.triage)
    if !triaged.isEmpty {
      let small = triaged.filter { $0.nodesAfter <= 3 }.count
      let seconds = triaged.map(\.seconds).sorted()
      func pct(_ p: Double) -> Double {
        seconds[Swift.min(seconds.count - 1, Int(Double(seconds.count) * p))]
      }
      let verdicts = Dictionary(grouping: triaged, by: \.verdict.rawValue).mapValues(\.count)
      line(
        "\ntriage: \(small)/\(triaged.count) bucket(s) at <= 3 nodes; triage time median \(String(format: "%.1f", pct(0.5))) s, p95 \(String(format: "%.1f", pct(0.95))) s; verdicts: \(verdicts.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", "))"
      )
    }
    return out
  }
}

extension FindingKind {
  /// How reports group buckets: target bugs apart from DLSmith's own defects and from unstable
  /// differences.
  public enum ReportClass: Int, CaseIterable, Comparable, Sendable {
    case targetBug, referenceDisagreement, unstable

    public static func < (a: Self, b: Self) -> Bool { a.rawValue < b.rawValue }
  }

  public var reportClass: ReportClass {
    self == .referenceDisagreement ? .referenceDisagreement : self == .unstable ? .unstable : .targetBug
  }
}
