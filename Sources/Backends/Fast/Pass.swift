import IR
import Kernels
import Operators
import Tensors

/// One graph optimization of the fast backend: a named, documented, individually switchable
/// rewrite `Graph -> Graph` that preserves meaning (the rewritten graph verifies under
/// `FusedOperators.lookup` and computes the same values up to float32 rounding).
///
/// A pass is made of `rules`, each of which records its name in a `RuleCounts` every time it
/// rewrites the graph (`apply(_:counting:)`), so that generation can be measured against them
/// (`dlsmith bench rules`).
public struct Pass: Sendable {
  public let name: String
  public let summary: String
  /// The rewrite rules of this pass (each named `<pass>.<rule>`), in the order the pass tries them.
  public let rules: [RewriteRule]
  let rewrite: @Sendable (Graph, inout RuleCounts) -> Graph

  public init(
    name: String, summary: String, rules: [RewriteRule],
    rewrite: @escaping @Sendable (Graph, inout RuleCounts) -> Graph
  ) {
    for r in rules { precondition(r.name.hasPrefix(name + "."), "rule \(r.name) of pass \(name)") }
    self.name = name
    self.summary = summary
    self.rules = rules
    self.rewrite = rewrite
  }

  /// A pass without named rules (a composition of passes, or one made up by a test).
  public init(name: String, summary: String, apply: @escaping @Sendable (Graph) -> Graph) {
    self.init(name: name, summary: summary, rules: []) { g, _ in apply(g) }
  }

  /// The rewritten graph.
  public func apply(_ graph: Graph) -> Graph {
    var fired = RuleCounts()
    return rewrite(graph, &fired)
  }

  /// The rewritten graph; adds what each rule rewrote to `fired` (rules of other passes too, when
  /// this pass runs them to clean up: most end with `dce`, `layout` with `algebraic`).
  public func apply(_ graph: Graph, counting fired: inout RuleCounts) -> Graph { rewrite(graph, &fired) }

  /// Every pass, in pipeline order.
  public static let all: [Pass] = [
    constantFolding, algebraic, commonSubexpressions, batchNormFolding, linearFusion, elementwiseFusion,
    layout,
    deadCode,
  ]

  public static var names: [String] { all.map(\.name) }

  /// Every rule of every pass, in pipeline order.
  public static let allRules: [RewriteRule] = all.flatMap(\.rules)

  static let ruleNames = Set(allRules.map(\.name))

  /// Parses `all`, `none` or a comma-separated list of pass names (kept in pipeline order).
  public static func parse(_ text: String) -> Result<[Pass], PassListError> {
    if text == "all" { return .success(all) }
    if text == "none" { return .success([]) }
    let wanted = text.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
    let unknown = wanted.filter { w in !all.contains { $0.name == w } }
    if !unknown.isEmpty { return .failure(PassListError(unknown: unknown)) }
    return .success(all.filter { wanted.contains($0.name) })
  }
}

/// One rewrite rule of a pass: `algebraic.add-zero`, `fusion.conv-bias`.
public struct RewriteRule: Sendable, Hashable, CustomStringConvertible {
  /// `<pass>.<rule>`.
  public let name: String
  /// What it rewrites, in one line.
  public let summary: String

  init(_ name: String, _ summary: String) {
    self.name = name
    self.summary = summary
  }

  public var description: String { name }
}

/// How many times each rule fired, by rule name (rules that did not fire are absent).
public struct RuleCounts: Sendable, Equatable {
  public private(set) var counts: [String: Int] = [:]

  public init() {}

  /// The times `name` fired.
  public subscript(_ name: String) -> Int { counts[name] ?? 0 }

  /// Records that `rule` rewrote the graph `times` times.
  mutating func record(_ rule: RewriteRule, times: Int = 1) {
    guard times > 0 else { return }
    assert(Pass.ruleNames.contains(rule.name), "rule \(rule.name) is not in its pass's rules")
    counts[rule.name, default: 0] += times
  }
}

public struct PassListError: Error, CustomStringConvertible {
  public let unknown: [String]
  public var description: String {
    "unknown pass(es) \(unknown.joined(separator: ", ")); valid: all, none, or a list of \(Pass.names.joined(separator: ", "))"
  }
}

// MARK: - Graph utilities shared by the passes

extension Graph {
  /// The node producing each value.
  var producers: [ValueID: Int] {
    var p: [ValueID: Int] = [:]
    for (i, n) in nodes.enumerated() { for o in n.outputs { p[o] = i } }
    return p
  }

  /// How many times each value is consumed (by nodes and as a graph output).
  var useCounts: [ValueID: Int] {
    var u: [ValueID: Int] = [:]
    for n in nodes { for v in n.inputs { u[v, default: 0] += 1 } }
    for o in outputs { u[o, default: 0] += 1 }
    return u
  }

  var constantsByID: [ValueID: Constant] { Dictionary(uniqueKeysWithValues: constants.map { ($0.id, $0) }) }

  /// Replaces every use of `old` (node inputs and graph outputs) with `new`.
  mutating func replaceUses(of old: ValueID, with new: ValueID) {
    for i in nodes.indices { nodes[i].inputs = nodes[i].inputs.map { $0 == old ? new : $0 } }
    outputs = outputs.map { $0 == old ? new : $0 }
  }

  /// Adds a constant with explicit data and returns its id.
  mutating func addConstant(_ t: Tensor) -> ValueID {
    let id = nextValueID
    let finite = t.storage.filter(\.isFinite)
    let range = Interval(finite.min() ?? 0, finite.max() ?? 0)
    constants.append(
      Constant(id: id, type: TensorType(t.dtype, t.shape), range: range, seed: 0, data: t.storage))
    return id
  }
}

extension Constant {
  /// All elements equal `v`.
  func isUniform(_ v: Double) -> Bool { tensor.storage.allSatisfy { $0 == v } }
}

// MARK: - Dead code

extension RewriteRule {
  static let dceNode = RewriteRule("dce.node", "a node none of whose results is used is dropped")
  static let dceConstant = RewriteRule("dce.constant", "a constant nobody reads is dropped")
  static let cseConstant = RewriteRule(
    "cse.constant", "a constant equal to an earlier one (type and data) is replaced by it")
  static let cseNode = RewriteRule(
    "cse.node", "a node with the operator, inputs and attributes of an earlier one is replaced by it")
}

extension Pass {
  /// Removes nodes whose results nobody uses and constants nobody reads. Graph inputs stay: they are
  /// the model's signature.
  public static let deadCode = Pass(
    name: "dce", summary: "dead code elimination: drop nodes and constants whose values are never used",
    rules: [.dceNode, .dceConstant]
  ) { g, fired in
    var g = g
    var live = Set(g.outputs)
    var keep = [Bool](repeating: false, count: g.nodes.count)
    for i in stride(from: g.nodes.count - 1, through: 0, by: -1)
    where g.nodes[i].outputs.contains(where: live.contains) {
      keep[i] = true
      live.formUnion(g.nodes[i].inputs)
    }
    let (nodes, constants) = (g.nodes.count, g.constants.count)
    g.nodes = zip(g.nodes, keep).filter(\.1).map(\.0)
    g.constants = g.constants.filter { live.contains($0.id) }
    fired.record(.dceNode, times: nodes - g.nodes.count)
    fired.record(.dceConstant, times: constants - g.constants.count)
    return g
  }

  // MARK: Common subexpressions

  /// Merges nodes with the same operator, inputs and attributes, and identical constants.
  public static let commonSubexpressions = Pass(
    name: "cse", summary: "common subexpression elimination: merge identical constants and identical nodes",
    rules: [.cseConstant, .cseNode]
  ) { g, fired in
    var g = g
    // A graph output keeps its own value id (the signature must not change), so it is never merged
    // away; later duplicates may still merge into it.
    let isOutput = Set(g.outputs)
    var seenConstants: [Constant: ValueID] = [:]
    for c in g.constants {
      var key = c
      key.id = 0
      if let first = seenConstants[key], !isOutput.contains(c.id) {
        g.replaceUses(of: c.id, with: first)
        fired.record(.cseConstant)
      } else if seenConstants[key] == nil {
        seenConstants[key] = c.id
      }
    }
    // Nodes in order, with earlier merges applied to their inputs. A node whose outputs are graph
    // outputs is kept (the signature must not change), but later duplicates may still merge into it.
    var rename: [ValueID: ValueID] = [:]
    var seen: [String: Node] = [:]
    var kept: [Node] = []
    for var n in g.nodes {
      n.inputs = n.inputs.map { rename[$0] ?? $0 }
      let attrs = n.attributes.values.keys.sorted().map {
        "\($0)=\(n.attributes.values[$0].map { "\($0)" } ?? "")"
      }
      let key = "\(n.op)|\(n.inputs)|\(attrs)"
      if let first = seen[key], first.types == n.types, !n.outputs.contains(where: isOutput.contains) {
        for (a, b) in zip(n.outputs, first.outputs) { rename[a] = b }
        fired.record(.cseNode)
        continue
      }
      if seen[key] == nil { seen[key] = n }
      kept.append(n)
    }
    g.nodes = kept
    return deadCode.apply(g, counting: &fired)
  }
}

/// Keeps the first occurrence of each element.
func uniqued<T: Hashable>(_ xs: [T]) -> [T] {
  var seen = Set<T>()
  return xs.filter { seen.insert($0).inserted }
}
