import Operators
import Symbolic
import Tensors

/// Size limits a model must respect to be accepted (files claiming absurd sizes are rejected before
/// anything is allocated).
public struct SizeLimits: Sendable, Hashable {
  public var maxRank = 8
  public var maxElementsPerTensor = 1 << 24
  public var maxTotalBytes = 1 << 30
  public var maxNodes = 100_000

  public init() {}
  public static let `default` = SizeLimits()
}

/// Looks operators up by id; the hand-written catalogue by default.
public typealias OperatorLookup = @Sendable (OperatorSpec.ID) -> OperatorSpec?

extension Graph {
  /// Checks every invariant: unique ids, def-before-use, known operators, arity, attribute domains,
  /// ranks, dtypes, requires-clauses, declared output shapes equal to the rule evaluated
  /// concretely, constant data, size limits and outputs.
  public func verify(
    operators lookup: OperatorLookup = Catalogue.spec, limits: SizeLimits = .default
  ) throws(IRError) {
    var defined: [ValueID: TensorType] = [:]
    var totalBytes = 0

    func define(_ id: ValueID, _ type: TensorType, _ what: String) throws(IRError) {
      guard defined[id] == nil else { throw IRError(.duplicateValue, "%\(id) is defined twice (\(what))") }
      guard type.shape.count <= limits.maxRank else {
        throw IRError(.limits, "%\(id) has rank \(type.shape.count) > \(limits.maxRank)")
      }
      guard type.shape.allSatisfy({ $0 >= 1 }) else {
        throw IRError(.limits, "%\(id) has a non-positive dimension: \(type)")
      }
      var elements = 1
      for d in type.shape {
        let (p, o) = elements.multipliedReportingOverflow(by: d)
        guard !o, p <= limits.maxElementsPerTensor else {
          throw IRError(.limits, "%\(id) \(type) exceeds \(limits.maxElementsPerTensor) elements")
        }
        elements = p
      }
      totalBytes += elements * type.dtype.byteSize
      guard totalBytes <= limits.maxTotalBytes else {
        throw IRError(.limits, "model exceeds \(limits.maxTotalBytes) bytes of tensors at %\(id)")
      }
      defined[id] = type
    }

    guard nodes.count <= limits.maxNodes else {
      throw IRError(.limits, "\(nodes.count) nodes exceed the limit of \(limits.maxNodes)")
    }
    for i in inputs {
      guard i.range.lo <= i.range.hi else {
        throw IRError(.limits, "input %\(i.id) has an empty range \(i.range)")
      }
      try define(i.id, i.type, "input")
    }
    for c in constants {
      try define(c.id, c.type, "constant")
      if let data = c.data, data.count != c.type.elementCount {
        throw IRError(.constantData, "constant %\(c.id) has \(data.count) values for \(c.type)")
      }
    }
    for (index, node) in nodes.enumerated() {
      try verify(node: node, index: index, defined: defined, lookup: lookup)
      for (v, t) in zip(node.outputs, node.types) { try define(v, t, "output of node \(index)") }
    }
    guard !outputs.isEmpty else { throw IRError(.outputs, "the graph has no outputs") }
    for o in outputs where defined[o] == nil {
      throw IRError(.undefinedValue, "output %\(o) is not defined")
    }
    guard Set(outputs).count == outputs.count else { throw IRError(.outputs, "an output is listed twice") }
  }

  private func verify(
    node: Node, index: Int, defined: [ValueID: TensorType], lookup: OperatorLookup
  ) throws(IRError) {
    let at = "node \(index) (\(node.op))"
    guard let spec = lookup(node.op) else {
      throw IRError(.unknownOperator, "\(at): unknown operator '\(node.op)'")
    }
    var inTypes: [TensorType] = []
    for v in node.inputs {
      guard let t = defined[v] else {
        throw IRError(.undefinedValue, "\(at): input %\(v) is not defined before use")
      }
      inTypes.append(t)
    }
    let types: [TensorType]
    do {
      types = try spec.check(inputs: inTypes, attributes: node.attributes)
    } catch {
      throw IRError(error.kind, "\(at): \(error.message)")
    }
    guard node.outputs.count == node.types.count else {
      throw IRError(.arity, "\(at): \(node.outputs.count) outputs but \(node.types.count) types")
    }
    guard types.count == node.outputs.count else {
      throw IRError(
        .arity, "\(at): the rule gives \(types.count) outputs, the node has \(node.outputs.count)")
    }
    for (k, type) in types.enumerated() where type != node.types[k] {
      throw IRError(
        .shapeMismatch,
        "\(at): output %\(node.outputs[k]) is declared \(node.types[k]) but the rule gives \(type)")
    }
  }
}

extension OperatorSpec {
  /// The output types of one call with these input types and attributes, or why the call is
  /// invalid: arity, input ranks, attribute names and domains, the shape rule and its requires-
  /// clauses, input dtypes. This is the operator's type checker, used by `Graph.verify` and as the
  /// reference target's answer when rules are inferred from traces.
  public func check(inputs inTypes: [TensorType], attributes: Attributes) throws(IRError) -> [TensorType] {
    guard inTypes.count == inputs.count else {
      throw IRError(.arity, "takes \(inputs.count) inputs, has \(inTypes.count)")
    }
    let ranks = inTypes.map(\.shape.count)
    for (i, input) in inputs.enumerated() {
      guard let allowed = input.ranks.allowed(Array(ranks[..<i]), maxRank: 8), allowed.contains(ranks[i])
      else {
        throw IRError(.rank, "input \(input.name) has rank \(ranks[i]), which the operator does not accept")
      }
    }
    let declared = Set(self.attributes.map(\.name))
    for name in attributes.values.keys.sorted() where !declared.contains(name) {
      throw IRError(.attribute, "unknown attribute '\(name)'")
    }
    for a in self.attributes where !a.accepts(attributes[a.name], ranks: ranks) {
      let shown = attributes[a.name].map { "\($0)" } ?? "missing"
      throw IRError(.attribute, "attribute '\(a.name)' = \(shown) is outside its domain")
    }
    let context = RuleContext(
      inputs: inTypes.map { $0.shape.map(Dim.constant) }, dtypes: inTypes.map(\.dtype),
      attributes: attributes.symbolic)
    guard let rule = rule(context) else {
      throw IRError(.shapeRule, "the shape rule does not apply to inputs \(inTypes)")
    }
    for p in rule.requires where !p.evaluated(in: [:]) {
      throw IRError(.shapeRule, "requirement \(p) fails for inputs \(inTypes)")
    }
    guard
      let dtypes = outputDTypes(
        inputs: inTypes.map(\.dtype), attributes: attributes, count: rule.outputs.count)
    else {
      throw IRError(.dtype, "input dtypes \(inTypes.map(\.dtype.rawValue)) are not accepted")
    }
    var types: [TensorType] = []
    for (dims, dtype) in zip(rule.outputs, dtypes) {
      var shape: [Int] = []
      for d in dims {
        guard let v = d.evaluated(in: [:]) else {
          throw IRError(.shapeRule, "an output dimension \(d) is undefined for inputs \(inTypes)")
        }
        shape.append(v)
      }
      types.append(TensorType(dtype, shape))
    }
    return types
  }
}
