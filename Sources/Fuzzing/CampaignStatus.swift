import Foundation

/// What `dlsmith status` prints about a campaign folder: a line per shard, the targets'
/// capabilities, the buckets; or all of it as JSON, with each shard's last plot_data row.
public enum CampaignStatus {
  /// One line for a shard.
  public static func line(_ s: CampaignFolder.ShardState) -> String {
    guard let st = s.stats else { return "\(s.name): \(s.alive ? "starting" : "no stats yet")" }
    let time = st.totalRunTime
    let execs = st.totalExecs
    let findings = st.findings.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(
      separator: ", ")
    return String(
      format:
        "%@: %@, run time %.0f s, %d models (%.1f/s), %d execs, findings: %@, corpus +%d, peak RSS %d MiB",
      s.name, s.alive ? "running" : "stopped", time, st.modelsGenerated,
      Double(st.modelsGenerated) / max(time, 1e-9), execs, findings.isEmpty ? "none" : findings,
      st.corpusAdded,
      st.peakRSSMB)
  }

  public static func text(_ folder: CampaignFolder) -> String {
    var out: [String] = []
    if folder.shards.isEmpty { out.append("no campaign state in \(folder.path)/.dlsmith") }
    out += folder.shards.map(line)
    for s in folder.shards {
      for (target, caps) in (s.stats?.capabilities ?? [:]).sorted(by: { $0.key < $1.key }) {
        for c in caps { out.append("capability: \(target) \(c)") }
      }
    }
    out += PatternSummary.lines(folder.shards.compactMap(\.stats))
    out += SpecialValueSummary.lines(folder.shards.compactMap(\.stats))
    out.append("\(folder.buckets.count) bucket(s) in \(folder.path)/Crashes")
    for b in folder.buckets {
      let verdict = b.record.triage.map { " [\($0.verdict.rawValue), \($0.nodesAfter) node(s)]" } ?? ""
      out.append("  \(b.id)  \(b.record.count)x  \(b.record.title)\(verdict)")
    }
    return out.joined(separator: "\n") + "\n"
  }

  /// The status as a JSON document: `shards` (stats.json, `shard`, `alive`, `lastPlot`: the last
  /// plot_data row with numbers as numbers) and `buckets` (bucket.json with `id`, `kind`, `backend`,
  /// `stage`, `instances`).
  public static func json(_ folder: CampaignFolder) throws -> Data {
    func object<T: Encodable>(_ value: T) -> [String: Any] {
      let data = (try? JSONEncoder().encode(value)) ?? Data()
      return (try? JSONSerialization.jsonObject(with: data) as? [String: Any]) ?? [:]
    }
    let shards = folder.shards.map { s -> [String: Any] in
      var o = s.stats.map(object) ?? [:]
      o["shard"] = s.name
      o["alive"] = s.alive
      if let last = s.plot.last {
        o["lastPlot"] = last.mapValues { v -> Any in Double(v).map { $0 } ?? v }
      }
      return o
    }
    let buckets = folder.buckets.map { b -> [String: Any] in
      var o = object(b.record)
      o["id"] = b.id
      o["kind"] = b.record.tuple.kind.rawValue
      o["backend"] = b.record.tuple.backend
      o["stage"] = b.record.tuple.stage
      o["instances"] = b.instances
      return o
    }
    return try JSONSerialization.data(
      withJSONObject: ["directory": folder.path, "shards": shards, "buckets": buckets],
      options: [.prettyPrinted, .sortedKeys])
  }
}
