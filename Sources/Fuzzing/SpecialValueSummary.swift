import Foundation

/// What `status` and the reports say about special values (`EdgeValues`), over a campaign's shards.
public enum SpecialValueSummary {
  /// One line: models with special values, and per target the differences in them the oracle judged
  /// open in ONNX (unstable) and the findings. Empty when no model held special values.
  public static func lines(_ stats: [CampaignStats]) -> [String] {
    let models = stats.compactMap(\.specialValueModels).reduce(0, +)
    let generated = stats.map(\.modelsGenerated).reduce(0, +)
    guard models > 0 else { return [] }
    var unstable: [String: Int] = [:]
    var findings: [String: Int] = [:]
    for s in stats {
      for (t, n) in s.specialValueUnstable ?? [:] { unstable[t, default: 0] += n }
      for (t, n) in s.specialValueFindings ?? [:] { findings[t, default: 0] += n }
    }
    let targets = Set(unstable.keys).union(findings.keys).sorted()
    let perTarget = targets.map { t in
      "\(t): \(unstable[t] ?? 0) difference(s) left open by ONNX (unstable), \(findings[t] ?? 0) finding(s)"
    }
    let share = 100 * Double(models) / Double(Swift.max(1, generated))
    return [
      String(format: "special values (±0, ±inf, NaN, subnormals, ties) in %d models (%.0f%%)", models, share)
        + (perTarget.isEmpty ? "" : "; " + perTarget.joined(separator: "; "))
    ]
  }
}
