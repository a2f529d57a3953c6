import IR
import Operators
import Tensors

// Equivalent forms of a model (metamorphic testing, issue #16 part 3; PolyJuice's idea without
// equality saturation): rewrite a graph into another graph that computes the same function, run a
// target on both, and compare the target with itself. No reference is needed, so learned ONNX
// operators and dtypes the reference does not model are covered too.
//
// The rewrites themselves are in EquivalenceRewrites.swift; the comparison is EquivalenceOracle.

/// One rewrite applied to a graph: its kind and where (the value it rewrote, `%N` of the original
/// graph).
public struct AppliedRewrite: Hashable, Sendable, Codable, CustomStringConvertible {
  public var kind: RewriteKind
  /// The value of the original graph whose computation was rewritten (an edge rewrite inserts the
  /// identity after it; a node rewrite replaces the node producing it).
  public var site: ValueID
  /// The detail chosen (permutation, axis, intermediate shape, operator, ...).
  public var detail: String

  public init(kind: RewriteKind, site: ValueID, detail: String) {
    self.kind = kind
    self.site = site
    self.detail = detail
  }

  public var description: String { "\(kind.rawValue)@%\(site)" + (detail.isEmpty ? "" : "(\(detail))") }
}

/// A graph rewritten into an equivalent form, with the rewrites applied in order.
public struct EquivalentForm: Hashable, Sendable {
  public var graph: Graph
  public var rewrites: [AppliedRewrite]

  public init(graph: Graph, rewrites: [AppliedRewrite]) {
    self.graph = graph
    self.rewrites = rewrites
  }

  /// Whether every rewrite is exact: then every value that is exact in the original graph (see
  /// `Oracle.exactValues`) is computed bit for bit alike by every faithful implementation.
  public var isExact: Bool { rewrites.allSatisfy(\.kind.isExact) }

  /// The distinct rewrite kinds, sorted: `transposeRoundTrip,whereTrue`.
  public var kindsText: String {
    Set(rewrites.map(\.kind.rawValue)).sorted().joined(separator: ",")
  }
}

/// Produces equivalent forms of a graph: up to `maxRewrites` rewrites, each of a kind drawn
/// uniformly among the kinds that apply somewhere in the graph (so a kind that applies rarely is
/// still used whenever it can be), at a site drawn uniformly among that kind's sites. Every
/// rewritten graph verifies (`Graph.verify`) and keeps every operator's input inside its value
/// domain (`Graph.valueRangesHold`, from the stored ranges of inputs and constants); a rewrite that
/// would break either is not applied.
///
/// Deterministic: the same graph and the same seed give the same form, byte for byte.
public struct EquivalentForms: Sendable {
  /// The kinds to draw from (all by default; `RewriteKind.exact` for exact-only forms).
  public var kinds: [RewriteKind]
  /// Largest number of rewrites in one form (at least one is applied when any kind applies).
  public var maxRewrites: Int
  public var operators: OperatorLookup

  public init(
    kinds: [RewriteKind] = RewriteKind.allCases, maxRewrites: Int = 3,
    operators: @escaping OperatorLookup = Catalogue.spec
  ) {
    self.kinds = kinds
    self.maxRewrites = maxRewrites
    self.operators = operators
  }

  /// An equivalent form of `graph` drawn with `SplitMix64(seed)`.
  public func form(of graph: Graph, seed: UInt64) -> EquivalentForm {
    var rng = SplitMix64(seed: seed)
    return form(of: graph, rng: &rng)
  }

  /// An equivalent form of `graph`: between 1 and `maxRewrites` rewrites (none if no kind applies).
  public func form(of graph: Graph, rng: inout SplitMix64) -> EquivalentForm {
    let count = rng.int(in: 1...Swift.max(1, maxRewrites))
    var current = graph
    var applied: [AppliedRewrite] = []
    let originalIDs = Set(graph.nodes.flatMap(\.outputs) + graph.inputs.map(\.id) + graph.constants.map(\.id))
    for _ in 0..<count {
      // Kinds in a random order; the first that applies at one of its sites is used.
      var order = kinds
      order.shuffle(using: &rng)
      var done = false
      for kind in order {
        // Sites are values of the original graph only: a rewrite does not rewrite another's nodes.
        let sites = kind.sites(in: current, operators: operators).filter { originalIDs.contains($0) }
        guard !sites.isEmpty else { continue }
        var candidates = sites
        candidates.shuffle(using: &rng)
        for site in candidates.prefix(4) {
          if let (g, r) = apply(kind, at: site, to: current, rng: &rng) {
            current = g
            applied.append(r)
            done = true
            break
          }
        }
        if done { break }
      }
      if !done { break }
    }
    return EquivalentForm(graph: current, rewrites: applied)
  }

  /// One rewrite of `kind` at `site`, or `nil` if it does not apply there or the result does not
  /// verify or leaves a value domain.
  public func apply(_ kind: RewriteKind, at site: ValueID, to graph: Graph, rng: inout SplitMix64) -> (
    Graph, AppliedRewrite
  )? {
    var editor = GraphEditor(graph, operators: operators)
    guard let detail = kind.apply(at: site, editor: &editor, rng: &rng) else { return nil }
    editor.pruneNewlyDead(original: graph)
    let g = editor.graph
    guard (try? g.verify(operators: operators)) != nil else { return nil }
    if graph.valueRangesHold(operators: operators), !g.valueRangesHold(operators: operators) { return nil }
    return (g, AppliedRewrite(kind: kind, site: site, detail: detail))
  }

  /// Every applicable kind applied once at its first site (for tests and `dlsmith` diagnostics):
  /// the kinds that applied, each on its own copy of `graph`.
  public func each(of graph: Graph, seed: UInt64) -> [EquivalentForm] {
    var rng = SplitMix64(seed: seed)
    var forms: [EquivalentForm] = []
    for kind in kinds {
      let sites = kind.sites(in: graph, operators: operators)
      for site in sites.prefix(4) {
        if let (g, r) = apply(kind, at: site, to: graph, rng: &rng) {
          forms.append(EquivalentForm(graph: g, rewrites: [r]))
          break
        }
      }
    }
    return forms
  }
}

// MARK: - Editing

/// Edits a graph while keeping definition order: new nodes go right after a given node index,
/// new constants at the end of the constants, uses of a value are redirected after a point.
struct GraphEditor {
  var graph: Graph
  let operators: OperatorLookup
  private var next: ValueID

  init(_ graph: Graph, operators: @escaping OperatorLookup) {
    self.graph = graph
    self.operators = operators
    next = graph.nextValueID
  }

  mutating func freshID() -> ValueID {
    defer { next += 1 }
    return next
  }

  var types: [ValueID: TensorType] { graph.types }

  /// The index of the node producing `v`, or `nil` for graph inputs and constants.
  func producer(of v: ValueID) -> Int? { graph.nodes.firstIndex { $0.outputs.contains(v) } }

  /// A constant holding `data` (row-major, representable in `dtype`).
  mutating func constant(_ dtype: DType, _ shape: [Int], _ data: [Double]) -> ValueID {
    let id = freshID()
    let lo = data.min() ?? 0
    let hi = data.max() ?? 0
    graph.constants.append(
      Constant(id: id, type: TensorType(dtype, shape), range: Interval(lo, hi), seed: 0, data: data))
    return id
  }

  /// A node of `op` on `inputs` with its output types from the operator's rule, or `nil` if the
  /// rule rejects it. Not inserted.
  func node(
    _ op: String, _ inputs: [ValueID], _ attributes: [String: AttributeValue] = [:], outputs: [ValueID]
  )
    -> Node?
  {
    guard let spec = operators(op) else { return nil }
    let t = types
    let ins = inputs.compactMap { t[$0] }
    guard ins.count == inputs.count else { return nil }
    let attrs = Attributes(attributes)
    guard let out = try? spec.check(inputs: ins, attributes: attrs), out.count == outputs.count else {
      return nil
    }
    return Node(op: op, inputs: inputs, outputs: outputs, attributes: attrs, types: out)
  }

  /// Appends `op` at node position `position` (advanced past it) with fresh output ids; returns
  /// them, or `nil` if the rule rejects the call.
  mutating func insert(
    _ op: String, _ inputs: [ValueID], _ attributes: [String: AttributeValue] = [:], outputs count: Int = 1,
    at position: inout Int, keeping id: ValueID? = nil
  ) -> [ValueID]? {
    let outs = id.map { [$0] } ?? (0..<count).map { _ in freshID() }
    guard let n = node(op, inputs, attributes, outputs: outs) else { return nil }
    graph.nodes.insert(n, at: position)
    position += 1
    return outs
  }

  /// Single-output `insert`.
  mutating func add(
    _ op: String, _ inputs: [ValueID], _ attributes: [String: AttributeValue] = [:], at position: inout Int,
    keeping id: ValueID? = nil
  ) -> ValueID? {
    insert(op, inputs, attributes, at: &position, keeping: id)?.first
  }

  /// Replaces every use of `old` by `new` in nodes from index `from` on, and in the graph outputs.
  mutating func redirect(_ old: ValueID, to new: ValueID, from: Int) {
    for i in from..<graph.nodes.count {
      graph.nodes[i].inputs = graph.nodes[i].inputs.map { $0 == old ? new : $0 }
    }
    graph.outputs = graph.outputs.map { $0 == old ? new : $0 }
  }

  /// Where to insert nodes computing from `v`: right after its producer, or first.
  func position(after v: ValueID) -> Int { producer(of: v).map { $0 + 1 } ?? 0 }

  /// Removes nodes that were used in `original` (some output consumed or a graph output) and no
  /// longer are, repeatedly (a replaced node's producers may follow it).
  mutating func pruneNewlyDead(original: Graph) {
    let usedBefore = Self.usedValues(original)
    while true {
      let used = Self.usedValues(graph)
      guard
        let i = graph.nodes.lastIndex(where: { n in
          n.outputs.allSatisfy { !used.contains($0) } && n.outputs.contains(where: usedBefore.contains)
        })
      else { return }
      graph.nodes.remove(at: i)
    }
  }

  static func usedValues(_ g: Graph) -> Set<ValueID> {
    Set(g.nodes.flatMap(\.inputs)).union(g.outputs)
  }

  /// The nodes reading `v`.
  func consumers(of v: ValueID) -> [Int] { graph.nodes.indices.filter { graph.nodes[$0].inputs.contains(v) } }
}

// MARK: - Value ranges

extension Graph {
  /// Every value's range, propagated from the stored ranges of inputs and constants through each
  /// operator's value rule (as the generator does), with a constant holding one repeated value
  /// passed as a splat. `nil` for values downstream of an unknown operator.
  public func valueRanges(operators: OperatorLookup = Catalogue.spec) -> [ValueID: Interval] {
    var ranges: [ValueID: Interval] = [:]
    var splats: [ValueID: Double] = [:]
    for i in inputs { ranges[i.id] = i.range }
    for c in constants {
      ranges[c.id] = c.range
      if let v = c.splat { splats[c.id] = v }
    }
    for n in nodes {
      guard let spec = operators(n.op) else { continue }
      let ins = n.inputs.compactMap { ranges[$0] }
      guard ins.count == n.inputs.count else { continue }
      let t = types
      var s: [Int: Double] = [:]
      for (k, v) in n.inputs.enumerated() { if let x = splats[v] { s[k] = x } }
      let ctx = ValueContext(
        shapes: n.inputs.map { t[$0]?.shape ?? [] }, dtypes: n.inputs.map { t[$0]?.dtype ?? .f32 },
        attributes: n.attributes, splats: s)
      for (o, r) in zip(n.outputs, spec.range(ctx, ins)) { ranges[o] = r }
    }
    return ranges
  }

  /// Whether every operator input lies inside the operator's value domain and every computed float
  /// value's range stays well inside its dtype (the generator's cap, `min(max / 64, 1e6)`), by the
  /// propagated ranges.
  public func valueRangesHold(operators: OperatorLookup = Catalogue.spec) -> Bool {
    let ranges = valueRanges(operators: operators)
    let t = types
    for n in nodes {
      guard let spec = operators(n.op) else { continue }
      var s: [Int: Double] = [:]
      for (k, v) in n.inputs.enumerated() {
        if let c = constants.first(where: { $0.id == v }), let d = c.data, let f = d.first,
          d.allSatisfy({ $0 == f })
        {
          s[k] = f
        }
      }
      let ctx = ValueContext(
        shapes: n.inputs.map { t[$0]?.shape ?? [] }, dtypes: n.inputs.map { t[$0]?.dtype ?? .f32 },
        attributes: n.attributes, splats: s)
      for (k, d) in spec.domain(ctx).enumerated() where k < n.inputs.count {
        guard let d, let r = ranges[n.inputs[k]] else { continue }
        if !d.contains(r) { return false }
      }
      if spec.traits.contains(.packedOutput) { continue }
      for (o, ty) in zip(n.outputs, n.types) where ty.dtype.isFloat {
        guard let r = ranges[o] else { continue }
        if !(r.lo <= r.hi) || r.magnitude > Swift.min(ty.dtype.maxValue / 64, 1e6) { return false }
      }
    }
    return true
  }
}
