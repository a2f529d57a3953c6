import Backends
import Foundation
import IR
import Operators
import SMT
import Symbolic
import Tensors
import TestSupport
import Testing

/// One test over the whole catalogue: adding an operator needs no new test plumbing.
@Suite struct ConformanceTests {
  /// A one-node instance of `spec`: representative ranks, concrete sampled attributes, integer
  /// attributes and dims solved by Z3.
  static func instance(_ spec: OperatorSpec, dtypeIndex: Int) throws -> (Graph, Rule)? {
    var ranks: [Int] = []
    for i in spec.inputs {
      guard let allowed = i.ranks.allowed(ranks, maxRank: 5) else { return nil }
      ranks.append(Swift.min(Swift.max(allowed.lowerBound, 2), allowed.upperBound))
    }
    var attrs = SymbolicAttributes()
    var vars: [Variable] = []
    for a in spec.attributes {
      switch a.kind {
      case .int(let r):
        attrs.values[a.name] = .int(.symbol("@\(a.name)"))
        vars.append(Variable("@\(a.name)", r))
      case .ints(let len, let r):
        guard let n = len.count(ranks: ranks) else { return nil }
        let names = (0..<n).map { "@\(a.name).\($0)" }
        attrs.values[a.name] = .ints(names.map(Dim.symbol))
        vars += names.map { Variable($0, r) }
      case .float(let r): attrs.values[a.name] = .float(r.lowerBound)
      case .choice(let cs): attrs.values[a.name] = .string(cs[cs.count - 1])
      case .axis: attrs.values[a.name] = .int(-1)
      case .axes(let i): attrs.values[a.name] = .ints([.constant(ranks[i] - 1)])
      case .permutation(let i): attrs.values[a.name] = .ints((0..<ranks[i]).reversed().map(Dim.constant))
      case .dtype(let ds): attrs.values[a.name] = .string(ds[dtypeIndex % ds.count].rawValue)
      case .flag: attrs.values[a.name] = .int(1)
      case .text: return nil
      }
    }
    // Dtypes: bind each type variable to one allowed dtype.
    var bound: [String: DType] = [:]
    var dtypes: [DType] = []
    for i in spec.inputs {
      if let v = i.dtypes.variable, let d = bound[v] {
        dtypes.append(d)
      } else {
        let d = i.dtypes.allowed[dtypeIndex % i.dtypes.allowed.count]
        if let v = i.dtypes.variable { bound[v] = d }
        dtypes.append(d)
      }
    }
    let dims = ranks.enumerated().map { i, r in (0..<r).map { Dim.symbol("x\(i).\($0)") } }
    vars += dims.flatMap { $0 }.map { Variable($0.description, 1...12) }
    guard let rule = spec.rule(RuleContext(inputs: dims, dtypes: dtypes, attributes: attrs)) else {
      return nil
    }
    var constraints = rule.requires
    for o in rule.outputs { for d in o { constraints.append(d .>= 1) } }
    let solver = SMTSolver(timeoutMilliseconds: 2000, seed: 7)
    guard case .sat(let env) = try solver.solve(constraints, variables: vars) else { return nil }

    var concrete = Attributes()
    for (name, a) in attrs.values {
      switch a {
      case .int(let d): concrete[name] = .int(d.evaluated(in: env)!)
      case .ints(let ds): concrete[name] = .ints(ds.map { $0.evaluated(in: env)! })
      case .float(let f): concrete[name] = .float(f)
      case .string(let s): concrete[name] = .string(s)
      }
    }
    let shapes = dims.map { $0.map { $0.evaluated(in: env)! } }
    let outShapes = rule.outputs.map { $0.map { $0.evaluated(in: env)! } }
    guard let outTypes = spec.outputDTypes(inputs: dtypes, attributes: concrete, count: outShapes.count)
    else { return nil }
    let domains = spec.domain(ValueContext(shapes: shapes, dtypes: dtypes, attributes: concrete))
    var g = Graph()
    for (i, s) in shapes.enumerated() {
      var range = dtypes[i].isInteger ? Interval(-3, 3) : Interval(-1, 1)
      if i < domains.count, let d = domains[i] {
        range = d.freshRange(preferred: range, negativeSide: false)!
        if dtypes[i].isInteger { range = Interval(range.lo.rounded(.up), range.hi.rounded(.down)) }
      }
      if dtypes[i] == .bool { range = .boolean }
      g.inputs.append(GraphInput(id: i, type: TensorType(dtypes[i], s), range: range))
    }
    let outIDs = (0..<outShapes.count).map { shapes.count + $0 }
    g.nodes = [
      Node(
        op: spec.id, inputs: Array(0..<shapes.count), outputs: outIDs, attributes: concrete,
        types: zip(outTypes, outShapes).map { TensorType($0, $1) })
    ]
    g.outputs = outIDs
    return (g, rule)
  }

  @Test(arguments: Catalogue.everything.map(\.id))
  func operatorConforms(_ id: String) throws {
    let spec = try #require(Catalogue.spec(id))
    #expect(!spec.doc.isEmpty, "every operator states its semantics")
    var instances = 0
    for dtypeIndex in 0..<2 {
      guard let (graph, rule) = try Self.instance(spec, dtypeIndex: dtypeIndex) else { continue }
      instances += 1
      // 5. A one-node graph verifies (requires hold, declared shapes and dtypes equal the rule's).
      try graph.verify()
      // 2–3. The kernel's output shapes and dtypes equal the rule's.
      let outputs = try ReferenceBackend().run(graph, inputs: graph.sampleInputs(seed: 1))
      for (t, declared) in zip(outputs, graph.nodes[0].types) {
        #expect(t.shape == declared.shape, "\(id): kernel shape \(t.shape) vs rule \(declared.shape)")
        #expect(t.dtype == declared.dtype)
        #expect(
          t.storage.allSatisfy { declared.dtype.rounded($0).bitPattern == $0.bitPattern || $0.isNaN },
          "\(id): outputs are rounded into \(declared.dtype)")
      }
      // 4. The rule and the graph round-trip through Codable.
      let data = try JSONEncoder().encode(rule)
      #expect(try JSONDecoder().decode(Rule.self, from: data) == rule)
      #expect(try Graph(decoding: graph.encoded()) == graph)
    }
    // 1. The rule is satisfiable for some shapes.
    #expect(instances > 0, "\(id): no satisfiable instance found")
  }

  @Test func catalogueHasAtLeastSixtyUniqueOperators() {
    #expect(Catalogue.all.count >= 60)
    #expect(Set(Catalogue.all.map(\.id)).count == Catalogue.all.count)
  }
}
