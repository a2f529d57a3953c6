import Generation
import IR
import ONNX

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
  public static func key(_ tag: PatternTag) -> String {
    tag.variant.map { "\(tag.name)~\($0)" } ?? tag.name
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
      let key = i.variant.map { "\(i.name)~\($0)" } ?? i.name
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
    let outcomes = PatternFiring.outcomes(graph, rewritten: rewritten, patterns: patterns)
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
