import ArgumentParser
import Foundation
import Operators
import Symbolic
import Tensors

struct Ops: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "List the operator catalogue with signatures and shape rules.",
    discussion: "Rules are shown for a representative rank of each input, with symbolic dims and attributes.")

  @Flag(help: "Print JSON instead of text.") var json = false

  func run() throws {
    let entries = Catalogue.everything.map(OpEntry.init)
    if json {
      let enc = JSONEncoder()
      enc.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
      let data = (try? enc.encode(entries)) ?? Data()
      FileHandle.standardOutput.write(data + Data("\n".utf8))
      return
    }
    for e in entries {
      print(
        "\(e.id) (\(e.family)): \(e.inputs.joined(separator: ", ")) -> \(e.outputs.joined(separator: ", "))")
      if !e.attributes.isEmpty { print("  attributes: \(e.attributes.joined(separator: "; "))") }
      if let rule = e.rule {
        if !rule.requires.isEmpty {
          print("  requires: \(rule.requires.map(\.description).joined(separator: " && "))")
        }
        print(
          "  shape: "
            + rule.outputs.map { "[" + $0.map(\.description).joined(separator: ", ") + "]" }.joined(
              separator: ", "))
      }
      print("  \(e.doc)")
      if let s = e.specialValues { print("  special values: \(s)") }
    }
    log("\(entries.count) operators")
  }
}

struct OpEntry: Encodable {
  var id: String
  var family: String
  var doc: String
  var inputs: [String]
  var outputs: [String]
  var attributes: [String]
  var traits: [String]
  var specialValues: String?
  var rule: Rule?

  init(_ spec: OperatorSpec) {
    id = spec.id
    family = spec.family.rawValue
    doc = spec.doc
    traits = spec.traits.map(\.rawValue).sorted()
    specialValues = spec.specialValues
    inputs = spec.inputs.map { i in
      let t = i.dtypes.variable.map { "\($0)∈" } ?? ""
      return
        "\(i.name): \(t){\(i.dtypes.allowed.map(\.rawValue).joined(separator: ","))} rank \(OpEntry.describe(i.ranks))\(i.role == .weight ? " (weight)" : "")"
    }
    outputs = spec.outputTypes.map {
      switch $0 {
      case .same(let v): return v
      case .fixed(let d): return d.rawValue
      case .attribute(let a): return "dtype of @\(a)"
      }
    }
    attributes = spec.attributes.map { a in
      let d = a.defaultValue.map { " = \($0)" } ?? ""
      return "\(a.name): \(OpEntry.describe(a.kind))\(d)"
    }
    // A representative instance: each input at its smallest rank >= 2 (or its only rank).
    var ranks: [Int] = []
    for i in spec.inputs {
      guard let allowed = i.ranks.allowed(ranks, maxRank: 4) else { break }
      ranks.append(Swift.min(Swift.max(allowed.lowerBound, 2), allowed.upperBound))
    }
    rule = nil
    guard ranks.count == spec.inputs.count else { return }
    var attrs = SymbolicAttributes()
    for a in spec.attributes {
      switch a.kind {
      case .int: attrs.values[a.name] = .int(.symbol(a.name))
      case .ints(let len, _):
        let n = len.count(ranks: ranks) ?? 0
        attrs.values[a.name] = .ints((0..<Swift.max(n, 0)).map { .symbol("\(a.name)\($0)") })
      case .float(let r): attrs.values[a.name] = .float(r.lowerBound)
      case .choice(let cs): attrs.values[a.name] = .string(cs[0])
      case .axis: attrs.values[a.name] = .int(0)
      case .axes: attrs.values[a.name] = .ints([0])
      case .permutation(let i): attrs.values[a.name] = .ints((0..<ranks[i]).reversed().map(Dim.constant))
      case .dtype(let ds): attrs.values[a.name] = .string(ds[0].rawValue)
      case .flag: attrs.values[a.name] = .int(0)
      case .text: attrs.values[a.name] = .string("")
      }
    }
    let names = ["x", "y", "z", "u", "v", "w"]
    let dims = ranks.enumerated().map { i, r in (0..<r).map { Dim.symbol("\(names[Swift.min(i, 5)])\($0)") } }
    rule = spec.rule(
      RuleContext(inputs: dims, dtypes: spec.inputs.map { $0.dtypes.allowed[0] }, attributes: attrs))
  }

  static func describe(_ r: RankRule) -> String {
    switch r {
    case .range(let c):
      return c.lowerBound == c.upperBound ? "\(c.lowerBound)" : "\(c.lowerBound)...\(c.upperBound)"
    case .same(let i, let off): return off == 0 ? "= rank(input \(i))" : "= rank(input \(i)) + \(off)"
    case .upTo(let i, let lo): return "\(lo)...rank(input \(i))"
    }
  }

  static func describe(_ k: AttributeSpec.Kind) -> String {
    switch k {
    case .int(let r): return "int in \(r.lowerBound)...\(r.upperBound)"
    case .ints(let len, let r): return "ints(\(len)) in \(r.lowerBound)...\(r.upperBound)"
    case .float(let r): return "float in \(r.lowerBound)...\(r.upperBound)"
    case .choice(let cs): return "one of \(cs.joined(separator: "|"))"
    case .axis(let i, let extra): return extra == 0 ? "axis of input \(i)" : "axis of input \(i) (+\(extra))"
    case .axes(let i): return "axes of input \(i)"
    case .permutation(let i): return "permutation of input \(i)"
    case .dtype(let ds): return "dtype in \(ds.map(\.rawValue).joined(separator: "|"))"
    case .flag: return "flag"
    case .text: return "text"
    }
  }
}
