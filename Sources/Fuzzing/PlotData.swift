import Foundation

/// A shard's stats over time: `.dlsmith/shard-<i>/plot_data.csv`, one row per stats write (at most
/// one a second), appended with a single `write` so a `kill -9` can at worst leave a torn last line,
/// which `read` ignores.
///
/// Columns: `time` (seconds since the campaign's first start, previous runs included), `models`,
/// `valid`, `execs_<target>` per target, `buckets_<kind>` per finding kind (buckets this shard
/// created), `corpus` (models this shard added), `rss_mb`, `models_per_s` (this run), `patterns_fired`
/// (grafted patterns that fired at least once on some target: pattern coverage over time).
public enum PlotData {
  public static func header(targets: [String]) -> [String] {
    ["time", "models", "valid"] + targets.map { "execs_\($0)" }
      + FindingKind.allCases.map { "buckets_\($0.rawValue)" } + [
        "corpus", "rss_mb", "models_per_s", "patterns_fired",
      ]
  }

  /// The row for `stats` under `header`'s columns.
  public static func row(_ stats: CampaignStats, targets: [String]) -> [String] {
    let time = stats.totalRunTime
    let rate = stats.runTime > 0 ? Double(stats.modelsGenerated) / stats.runTime : 0
    return [String(format: "%.1f", time), "\(stats.modelsGenerated)", "\(stats.modelsValid)"]
      + targets.map { "\(stats.execs[$0] ?? 0)" }
      + FindingKind.allCases.map { "\(stats.bucketsByKind?[$0.rawValue] ?? 0)" }
      + [
        "\(stats.corpusAdded)", "\(stats.peakRSSMB)", String(format: "%.2f", rate), "\(stats.patternsFired)",
      ]
  }

  /// Appends `row` to the file at `path`, writing `header` first if the file is new or empty.
  public static func append(_ row: [String], header: [String], to path: String) {
    let fm = FileManager.default
    var text = row.joined(separator: ",") + "\n"
    if (try? fm.attributesOfItem(atPath: path)[.size] as? Int) ?? 0 == 0 {
      text = header.joined(separator: ",") + "\n" + text
      _ = fm.createFile(atPath: path, contents: nil)
    }
    guard let h = FileHandle(forWritingAtPath: path) else { return }
    h.seekToEndOfFile()
    h.write(Data(text.utf8))
    try? h.close()
  }

  /// The rows of a plot_data file as dictionaries by column; lines with another number of fields
  /// than the header (a torn last line) are skipped.
  public static func read(_ path: String) -> [[String: String]] {
    guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return [] }
    let lines = text.split(separator: "\n", omittingEmptySubsequences: true)
    guard let first = lines.first else { return [] }
    let columns = first.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
    return lines.dropFirst().compactMap { line in
      let fields = line.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
      // A file begun by an earlier version has fewer columns in its header: extra fields are ignored.
      guard fields.count >= columns.count, fields.allSatisfy({ !$0.isEmpty }) else { return nil }
      return Dictionary(uniqueKeysWithValues: zip(columns, fields))
    }
  }
}
