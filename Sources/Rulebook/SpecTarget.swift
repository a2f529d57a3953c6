import Backends
import IR
import Operators
import Tensors

/// The built-in backends as trace targets: `reference` (the float64 interpreter) and `fast`.
///
/// A call is answered the way a framework answers it: the operator's type checker
/// (`OperatorSpec.check`: ranks, attribute domains, shape rule, dtypes) rejects an invalid call
/// with its message, and a call it accepts runs as a one-node model on the backend, whose actual
/// output tensors give the recorded shapes. A kernel that disagrees with its own rule is an error
/// answer (and a finding), not a crash. Only the operator's signature (inputs, ranks, dtypes,
/// attribute kinds) is used to sample calls; the shape rule is never read to make them valid.
public struct SpecTarget: TraceTarget {
  public let name: String
  let specs: [OperatorSpec]
  let byID: [String: OperatorSpec]
  let backend: any Backend
  /// Largest rank sampled for an operand.
  public var maxRank = 5
  /// Calls whose inputs exceed this many elements are answered as errors without running.
  public var maxElements = 1 << 12

  /// - Parameters:
  ///   - name: `reference` or `fast`.
  ///   - specs: the operators to offer (default: the whole catalogue).
  public init?(name: String, specs: [OperatorSpec] = Catalogue.everything) {
    switch name {
    case "reference": backend = ReferenceBackend()
    case "fast": backend = FastBackend()
    default: return nil
    }
    self.name = name
    self.specs = specs
    byID = Dictionary(specs.map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a })
  }

  public var operators: [String] { specs.map(\.id) }

  public func template(_ op: String, _ rng: inout SplitMix64) -> CallTemplate? {
    guard let spec = byID[op] else { return nil }
    var ranks: [Int] = []
    for input in spec.inputs {
      guard let allowed = input.ranks.allowed(ranks, maxRank: maxRank) else { return nil }
      ranks.append(rng.int(in: allowed))
    }
    guard let dtypes = SpecTarget.dtypes(spec, &rng) else { return nil }
    var attributes: [String: CallTemplate.Attribute] = [:]
    var domains: [String: ClosedRange<Int>] = [:]
    for a in spec.attributes {
      switch a.kind {
      case .int(let r):
        attributes[a.name] = .int
        domains[a.name] = r
      case .ints(let length, let r):
        guard let n = length.sample(ranks: ranks, maxRank: maxRank, &rng) else { return nil }
        attributes[a.name] = .ints(length: n)
        domains[a.name] = r
      case .float(let r):
        attributes[a.name] = .float(
          (a.defaultValue.flatMap { if case .float(let f) = $0 { f } else { nil } }) ?? r.lowerBound)
      case .choice, .axis, .axes, .permutation, .flag:
        guard let v = a.kind.sampleSelector(ranks: ranks, &rng) else { return nil }
        attributes[a.name] = .fixed(v)
      case .dtype(let ds): attributes[a.name] = .fixed(.string(rng.pick(ds).rawValue))
      case .text: return nil
      }
    }
    let operands = zip(spec.inputs, zip(dtypes, ranks)).map { input, dr in
      CallTemplate.Operand.tensor(name: input.name, dtype: dr.0, rank: dr.1)
    }
    return CallTemplate(
      op: op, operands: operands, attributes: attributes, outputs: spec.outputTypes.count,
      attributeDomains: domains)
  }

  /// Input dtypes honouring shared type variables; f32 where allowed half of the time.
  static func dtypes(_ spec: OperatorSpec, _ rng: inout SplitMix64) -> [DType]? {
    var bound: [String: DType] = [:]
    var out: [DType] = []
    for input in spec.inputs {
      let c = input.dtypes
      if let v = c.variable, let b = bound[v] {
        guard c.allowed.contains(b) else { return nil }
        out.append(b)
        continue
      }
      guard !c.allowed.isEmpty else { return nil }
      let d = c.allowed.contains(.f32) && rng.chance(0.5) ? DType.f32 : rng.pick(c.allowed)
      if let v = c.variable { bound[v] = d }
      out.append(d)
    }
    return out
  }

  /// The key a generator-side context maps to: the same text `template` produces for these
  /// ranks, dtypes and attributes, so an inferred rule is found for the instance it was learned on.
  public static func key(
    _ spec: OperatorSpec, ranks: [Int], dtypes: [DType], attributes: SymbolicAttributes
  ) -> String? {
    var attrs: [String: CallTemplate.Attribute] = [:]
    for a in spec.attributes {
      guard let v = attributes.values[a.name] else { return nil }
      switch (a.kind, v) {
      case (.int, _): attrs[a.name] = .int
      case (.ints, .ints(let l)): attrs[a.name] = .ints(length: l.count)
      case (.float, _): attrs[a.name] = .float(0)
      case (_, .int(let d)):
        guard let c = d.constantValue else { return nil }
        attrs[a.name] = .fixed(.int(c))
      case (_, .ints(let ds)):
        let cs = ds.compactMap(\.constantValue)
        guard cs.count == ds.count else { return nil }
        attrs[a.name] = .fixed(.ints(cs))
      case (_, .string(let s)): attrs[a.name] = .fixed(.string(s))
      case (_, .float(let f)): attrs[a.name] = .fixed(.float(f))
      }
    }
    let operands = zip(spec.inputs, zip(dtypes, ranks)).map { input, dr in
      CallTemplate.Operand.tensor(name: input.name, dtype: dr.0, rank: dr.1)
    }
    return CallTemplate(op: spec.id, operands: operands, attributes: attrs, outputs: spec.outputTypes.count)
      .key
  }

  public func answer(_ calls: [Call]) -> [Answer] { calls.map(answer) }

  /// The type checker's answer alone (no kernel): output shapes or the error. The hand-written
  /// rule's verdict, against which inferred rules are checked.
  public func check(_ call: Call) -> Answer {
    switch checked(call) {
    case .success(let c): return .valid(c.2.map(\.shape), dtypes: c.2.map(\.dtype))
    case .failure(let e): return .invalid(e.message)
    }
  }

  func checked(_ call: Call) -> Result<(OperatorSpec, [TensorType], [TensorType]), TargetError> {
    guard let spec = byID[call.op] else { return .failure(TargetError("unknown operator '\(call.op)'")) }
    var types: [TensorType] = []
    for o in call.operands {
      guard case .tensor(let d, let shape) = o else { return .failure(TargetError("unsupported operand")) }
      guard shape.allSatisfy({ $0 >= 1 }) else {
        return .failure(TargetError("input has a non-positive dimension: \(shape)"))
      }
      types.append(TensorType(d, shape))
    }
    do {
      return .success((spec, types, try spec.check(inputs: types, attributes: Attributes(call.attributes))))
    } catch {
      return .failure(TargetError(error.message))
    }
  }

  func answer(_ call: Call) -> Answer {
    let spec: OperatorSpec
    let types: [TensorType]
    let outTypes: [TensorType]
    switch checked(call) {
    case .failure(let e): return .invalid(e.message)
    case .success(let c): (spec, types, outTypes) = c
    }
    let attributes = Attributes(call.attributes)
    guard types.allSatisfy({ $0.elementCount <= maxElements }),
      outTypes.allSatisfy({ $0.elementCount <= 1 << 13 })
    else { return .skipped("too large to run") }
    // One-node model with inputs inside the operator's value domains.
    let domains = spec.domain(
      ValueContext(shapes: types.map(\.shape), dtypes: types.map(\.dtype), attributes: attributes))
    var graph = Graph()
    var ids: [ValueID] = []
    for (i, t) in types.enumerated() {
      let range =
        (i < domains.count ? domains[i] : nil).flatMap {
          $0.freshRange(preferred: .unit, negativeSide: false)
        } ?? .unit
      graph.inputs.append(GraphInput(id: i, type: t, range: range))
      ids.append(i)
    }
    let outs = (0..<outTypes.count).map { types.count + $0 }
    graph.nodes.append(Node(op: call.op, inputs: ids, outputs: outs, attributes: attributes, types: outTypes))
    graph.outputs = outs
    do {
      let results = try backend.run(graph, inputs: graph.sampleInputs(seed: 1))
      return .valid(results.map(\.shape), dtypes: results.map(\.dtype))
    } catch {
      return .invalid("\(name) backend: \(error)")
    }
  }
}
