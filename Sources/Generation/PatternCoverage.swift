import IR

/// How many models contain each pattern (exact or any near miss), for `dlsmith bench generate
/// --patterns ...`: a pattern never grafted has a graft point, shape or value condition the
/// generator cannot meet, and is listed.
public struct PatternCoverage: Sendable {
  public let patterns: [Pattern]
  public private(set) var models = 0
  /// Models containing the pattern's exact form, and any of its near misses, by pattern name.
  public private(set) var exact: [String: Int] = [:]
  public private(set) var nearMiss: [String: Int] = [:]

  public init(patterns: [Pattern]) { self.patterns = patterns }

  public mutating func add(_ graph: Graph) {
    models += 1
    var seenExact = Set<String>()
    var seenMiss = Set<String>()
    for n in graph.nodes {
      guard let t = n.pattern else { continue }
      if t.variant == nil { seenExact.insert(t.name) } else { seenMiss.insert(t.name) }
    }
    for name in seenExact { exact[name, default: 0] += 1 }
    for name in seenMiss { nearMiss[name, default: 0] += 1 }
  }

  /// Patterns grafted in their exact form at least once.
  public var grafted: Int { patterns.filter { (exact[$0.name] ?? 0) > 0 }.count }

  /// A summary line, then one line per pattern never grafted exactly.
  public var lines: [String] {
    var out = [
      "patterns: \(grafted)/\(patterns.count) grafted exactly at least once over \(models) models; "
        + "models with a pattern: exact \(exact.values.reduce(0, +)) graft(s), near miss \(nearMiss.values.reduce(0, +))"
    ]
    for p in patterns where (exact[p.name] ?? 0) == 0 {
      out.append("  never grafted: \(p.name) (\(p.nodes.map(\.op).joined(separator: " -> ")))")
    }
    return out
  }
}
