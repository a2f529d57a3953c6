import Generation
import IR
import ONNX
import Operators

/// How often a target rewrote the optimizer patterns grafted into the models it ran.
public struct PatternCount: Codable, Sendable, Equatable {
  /// Instances the target ran (and reported its rewrites for).
  public var ran = 0
  /// Instances whose `rewritten` nodes the target all rewrote.
  public var fired = 0
  public init(ran: Int = 0, fired: Int = 0) {
    self.ran = ran
    self.fired = fired
  }
}

/// Which grafted pattern instances a target rewrote, from the nodes its worker says it rewrote
/// (`WorkerMessage.rewritten`: the ONNX names `vN` of their first outputs).
public enum PatternFiring {
  /// The counter key of a grafted instance: the pattern's name, `name~variant` for a near miss.
  public static func key(_ tag: PatternTag) -> String { key(name: tag.name, variant: tag.variant) }

  static func key(name: String, variant: String?) -> String { variant.map { "\(name)~\($0)" } ?? name }

  /// What an optimizer that is ours (a `StagedBackend`: the fast backend's passes) rewrote: the
  /// names `vN` of the nodes of `original` whose first output `optimized` no longer produces with
  /// the same operator (removed, folded, or fused). The same rule the Python worker applies to
  /// onnxruntime's optimized model.
  public static func rewritten(_ original: Graph, _ optimized: Graph) -> [String] {
    var producer: [ValueID: OperatorSpec.ID] = [:]
    for n in optimized.nodes { for o in n.outputs { producer[o] = n.op } }
    return original.nodes.compactMap { n in
      guard let o = n.outputs.first, producer[o] != n.op else { return nil }
      return ONNXExport.name(o)
    }
  }

  /// For every grafted instance in `graph` whose pattern is known and whose `rewritten` nodes are all
  /// still in the graph: its key and whether the target rewrote every one of them.
  public static func outcomes(_ graph: Graph, rewritten: [String], patterns: [String: Pattern]) -> [(
    key: String, fired: Bool
  )] {
    struct Instance: Hashable {
      var name: String
      var variant: String?
      var instance: Int
    }
    var nodes: [Instance: [Int: ValueID]] = [:]
    var order: [Instance] = []
    for n in graph.nodes {
      guard let t = n.pattern, let out = n.outputs.first else { continue }
      let i = Instance(name: t.name, variant: t.variant, instance: t.instance)
      if nodes[i] == nil { order.append(i) }
      nodes[i, default: [:]][t.node] = out
    }
    let names = Set(rewritten)
    return order.compactMap { i in
      guard let p = patterns[i.name], let ids = nodes[i] else { return nil }
      let outs = p.rewritten.compactMap { ids[$0] }
      guard outs.count == p.rewritten.count else { return nil }
      let key = key(name: i.name, variant: i.variant)
      return (key, outs.allSatisfy { names.contains(ONNXExport.name($0)) })
    }
  }
}

extension CampaignStats {
  /// Counts what a target's worker reported for one model: the model was checked, whether anything
  /// was rewritten, and each grafted instance's outcome.
  mutating func recordRewrites(target: String, graph: Graph, rewritten: [String], patterns: [String: Pattern])
  {
    rewriteChecks = rewriteChecks ?? [:]
    modelsRewritten = modelsRewritten ?? [:]
    rewriteChecks![target, default: 0] += 1
    if !rewritten.isEmpty { modelsRewritten![target, default: 0] += 1 }
    // Only the patterns of this target's libraries (`ort.*` for ort, ort-basic, ...).
    let outcomes = PatternFiring.outcomes(graph, rewritten: rewritten, patterns: patterns).filter {
      PatternLibrary.serves($0.key, backend: target)
    }
    if outcomes.isEmpty { return }
    var counts = self.patterns?[target] ?? [:]
    for (key, fired) in outcomes {
      counts[key, default: PatternCount()].ran += 1
      if fired { counts[key]!.fired += 1 }
    }
    self.patterns = self.patterns ?? [:]
    self.patterns![target] = counts
  }

  /// Distinct exact patterns (near misses aside) that fired at least once, over all targets.
  public var patternsFired: Int {
    (patterns ?? [:]).values.reduce(0) { n, counts in
      n + counts.filter { !$0.key.contains("~") && $0.value.fired > 0 }.count
    }
  }
}

/// What `status` and the reports say about grafted patterns, over a campaign's shards.
public enum PatternSummary {
  /// One line per target with rewrite checks: exact patterns fired at least once, instances run and
  /// fired, near misses the target still rewrote, and the share of checked models it rewrote
  /// anything in. Empty when no shard asked a target for rewrites.
  public static func lines(_ stats: [CampaignStats]) -> [String] {
    var counts: [String: [String: PatternCount]] = [:]
    var checks: [String: Int] = [:]
    var rewritten: [String: Int] = [:]
    for s in stats {
      for (t, byKey) in s.patterns ?? [:] {
        for (k, c) in byKey {
          counts[t, default: [:]][k, default: PatternCount()].ran += c.ran
          counts[t, default: [:]][k, default: PatternCount()].fired += c.fired
        }
      }
      for (t, n) in s.rewriteChecks ?? [:] { checks[t, default: 0] += n }
      for (t, n) in s.modelsRewritten ?? [:] { rewritten[t, default: 0] += n }
    }
    return checks.keys.sorted().map { t in
      let byKey = counts[t] ?? [:]
      let exact = byKey.filter { !$0.key.contains("~") }
      let misses = byKey.filter { $0.key.contains("~") }
      let share = 100 * Double(rewritten[t] ?? 0) / Double(Swift.max(1, checks[t] ?? 0))
      if byKey.isEmpty {
        return String(
          format:
            "patterns on %@: none grafted; the optimizer rewrote something in %.0f%% of %d models checked", t,
          share, checks[t] ?? 0)
      }
      return
        "patterns on \(t): \(exact.filter { $0.value.fired > 0 }.count) of \(exact.count) grafted patterns fired; "
        + "instances \(exact.values.map(\.fired).reduce(0, +))/\(exact.values.map(\.ran).reduce(0, +)) fired, "
        + "near misses \(misses.values.map(\.fired).reduce(0, +))/\(misses.values.map(\.ran).reduce(0, +)) still rewritten; "
        + String(
          format: "the optimizer rewrote something in %.0f%% of %d models checked", share, checks[t] ?? 0)
    }
  }
}
