import Foundation
import Generation
import IR
import ONNX
import Operators

/// Mines patterns from what a target does: random models run on the target's worker with
/// `rewrites`, and every connected group of rewritten nodes (at most `maxNodes`) becomes a candidate
/// pattern: its nodes in order, the group's first outside value as the graft point `x`, constants
/// as `const` (one repeated value as `const:V`), other outside values as `any`, the attributes that
/// are not solved (floats, choices, axes, permutations, flags) pinned. Candidates are counted by
/// their text; `library` keeps those seen at least twice that no existing pattern already has the
/// same operator sequence, weighted by count. The library grows from what the target is seen to
/// rewrite (`dlsmith bench patterns --mine N`).
public struct PatternMiner {
  public var maxNodes = 4
  public private(set) var models = 0
  public private(set) var rewrittenModels = 0
  public private(set) var counts: [String: Int] = [:]
  private var examples: [String: MinedPattern] = [:]

  public init() {}

  struct MinedPattern {
    var nodes: [[String: Any]]
    var ops: [String]
  }

  /// Adds one model and the names `vN` of the nodes its target rewrote.
  public mutating func add(_ graph: Graph, rewritten: [String]) {
    models += 1
    let names = Set(rewritten)
    let hit = graph.nodes.indices.filter { i in
      graph.nodes[i].outputs.first.map { names.contains(ONNXExport.name($0)) } ?? false
    }
    guard !hit.isEmpty else { return }
    rewrittenModels += 1
    var producer: [ValueID: Int] = [:]
    for (i, n) in graph.nodes.enumerated() { for o in n.outputs { producer[o] = i } }
    // Connected groups of rewritten nodes (edges: one consumes the other's output).
    var group: [Int: Int] = [:]
    func find(_ i: Int) -> Int { group[i] == i ? i : find(group[i]!) }
    for i in hit { group[i] = i }
    for i in hit {
      for v in graph.nodes[i].inputs {
        if let p = producer[v], group[p] != nil { group[find(i)] = find(p) }
      }
    }
    let groups = Dictionary(grouping: hit, by: find).values.map { $0.sorted() }.sorted { $0[0] < $1[0] }
    let constants = Dictionary(graph.constants.map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a })
    for members in groups where members.count <= maxNodes {
      guard let mined = Self.candidate(graph, members, producer: producer, constants: constants) else {
        continue
      }
      let key = Self.key(mined.nodes)
      counts[key, default: 0] += 1
      if examples[key] == nil { examples[key] = mined }
    }
  }

  static func candidate(
    _ g: Graph, _ members: [Int], producer: [ValueID: Int], constants: [ValueID: Constant]
  ) -> MinedPattern? {
    var index: [Int: Int] = [:]
    for (k, i) in members.enumerated() { index[i] = k }
    var graftPoint: ValueID?
    var nodes: [[String: Any]] = []
    for i in members {
      let n = g.nodes[i]
      guard let spec = Catalogue.spec(n.op) else { return nil }
      var inputs: [String] = []
      var shapes: [String: [String]] = [:]
      for (j, v) in n.inputs.enumerated() {
        if let p = producer[v], let k = index[p] {
          let out = g.nodes[p].outputs.firstIndex(of: v) ?? 0
          inputs.append(out == 0 ? "#\(k)" : "#\(k).\(out)")
        } else if let c = constants[v] {
          if let v = c.splat, c.type.shape.isEmpty {
            inputs.append("const:\(formatFloat(v))")
            shapes["\(j)"] = []
          } else {
            inputs.append("const")
          }
        } else if graftPoint == nil || graftPoint == v {
          graftPoint = v
          inputs.append("x")
        } else {
          inputs.append("any")
        }
      }
      var attributes: [String: Any] = [:]
      for a in spec.attributes where !a.isSymbolic {
        switch n.attributes[a.name] {
        case .float(let f)?: attributes[a.name] = f
        case .int(let v)?: attributes[a.name] = v
        case .ints(let v)?: attributes[a.name] = v
        case .string(let s)?: attributes[a.name] = s
        case nil: break
        }
      }
      var node: [String: Any] = ["op": n.op, "inputs": inputs]
      if !attributes.isEmpty { node["attributes"] = attributes }
      if !shapes.isEmpty { node["shapes"] = shapes }
      nodes.append(node)
    }
    return MinedPattern(nodes: nodes, ops: members.map { g.nodes[$0].op })
  }

  static func key(_ nodes: [[String: Any]]) -> String {
    let data = (try? JSONSerialization.data(withJSONObject: nodes, options: [.sortedKeys])) ?? Data()
    return String(decoding: data, as: UTF8.self)
  }

  /// The mined library: candidates seen at least `minCount` times whose operator sequence no pattern
  /// of `existing` has, most frequent first, as JSON in the `Patterns/<target>.json` format.
  public func library(target: String, existing: [Pattern], minCount: Int = 2, note: String) -> Data {
    let known = Set(existing.map { $0.nodes.map(\.op) })
    let ranked = counts.filter { $0.value >= minCount }.sorted { ($1.value, $0.key) < ($0.value, $1.key) }
    var patterns: [[String: Any]] = []
    var used = Set<String>()
    for (key, count) in ranked {
      guard let m = examples[key], !known.contains(m.ops) else { continue }
      var name = "\(target).mined_\(m.ops.joined(separator: "_"))"
      var k = 2
      while used.contains(name) {
        name = "\(target).mined_\(m.ops.joined(separator: "_"))_\(k)"
        k += 1
      }
      used.insert(name)
      patterns.append([
        "name": name, "origin": "mined: \(note); rewritten in \(count) model(s)",
        "nodes": m.nodes, "rewritten": Array(m.nodes.indices), "weight": Double(count),
        "conditions": "seen rewritten by \(target); conditions not analysed",
      ])
    }
    let file: [String: Any] = ["target": target, "patterns": patterns]
    return (try? JSONSerialization.data(withJSONObject: file, options: [.prettyPrinted, .sortedKeys]))
      ?? Data()
  }
}
