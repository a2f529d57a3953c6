import Backends
import IR
import Operators
import Symbolic
import Tensors

/// The result of `Minimizer.minimize`: the smallest pair found, and what it cost.
public struct Minimized: Sendable {
  public var graph: Graph
  /// Explicit input values, in `graph.inputs` order.
  public var inputs: [Tensor]
  /// Predicate calls made.
  public var steps: Int
  /// Candidates the predicate accepted (each one replaced the current pair).
  public var accepted: Int

  public init(graph: Graph, inputs: [Tensor], steps: Int, accepted: Int) {
    self.graph = graph
    self.inputs = inputs
    self.steps = steps
    self.accepted = accepted
  }
}

/// Test-case reduction for findings: shrinks a (model, input values) pair while a predicate — "still
/// shows the same bug" — keeps holding.
///
/// The scheme is the one of syzkaller's program minimization and of delta debugging (ddmin): a
/// current pair for which the predicate holds, and candidate edits that make it smaller. Each
/// candidate goes through the same gate before the predicate sees it:
///
/// 0. **Isolate**: each node alone on its recorded inputs, in order; the first that keeps the
///    predicate replaces the model (a single wrong operator is found in one run per node).
/// 1. **Normalize**: drop dead code (nodes none of whose outputs is needed by the outputs, constants
///    and graph inputs nobody reads, removing a dropped input's tensor from the inputs), then
///    renumber canonically (inputs, constants, node outputs, in array order), so the text form of
///    equal graphs is equal.
/// 2. **Validate**: `verify(operators:)` must pass and every input tensor must match its
///    declaration. Invalid candidates never reach the predicate and cost no step.
/// 3. **Deduplicate**: a candidate whose canonical text, constant data and input values (bit
///    patterns) were already tried is skipped.
/// 4. **Test**: one step = one predicate call (at most `maxSteps`). On success the candidate becomes
///    the current pair and `progress` sees it, so a caller can checkpoint and resume.
///
/// If the normalized starting pair itself loses the bug (a backend that fails on a dead node),
/// dead-code elimination is switched off for the run and candidates are only renumbered.
///
/// Passes, repeated in this order until a whole round accepts nothing or the steps run out. Within
/// a pass candidates are tried greedily in a fixed order; after an accepted one, the candidate list
/// is rebuilt from the new pair and the search continues at the same position.
///
/// 1. **Outputs**: keep a single graph output (each in turn); failing that, drop one output at a
///    time. Then *promote* each node (first to last): its outputs become the graph outputs, so
///    everything downstream of it becomes dead and disappears. Then *retarget* each output to a
///    node it depends on (earliest first), keeping the other outputs: the chain below that node
///    disappears while what the other outputs need stays.
/// 2. **Cut edges** (nodes first to last, using the current pair's reference values, from
///    `ReferenceBackend.run(_:inputs:keepAll:)`): "cut above N" turns every node-produced input of
///    N into a new graph input carrying its recorded values, so N's ancestors disappear; "cut N"
///    replaces N's outputs, wherever used, by such recorded inputs and removes N. A recorded input's
///    range is the [min, max] of its finite values ([0, 0] if none). Then *bypass* each node with
///    one output: its readers (and the graph outputs) read its first input of the same type
///    instead, and it is removed, so a node between two others that the bug does not need goes
///    while they stay connected.
/// 3. **Shrink**: dims of graph inputs and constants (the leaves). First every leaf dim of one size
///    at once (sizes largest first: halved, then 1), which keeps matching dims matching (a matmul's
///    contraction dim); then per leaf all dims to 1, all dims halved, then each dim to 1 or halved.
///    Node output types are recomputed by `retyped(_:)`; input values and constant data are
///    truncated by index (element `[i, j, ...]` keeps its value), seeded constants keep their seed.
///    Then integer attributes (`.int`, `.ints`) move toward their domain's lower bound (to the bound,
///    then halfway; for lists all elements at once, then each), retyped.
/// 4. **Simplify**: attributes reset to `AttributeSpec.defaultValue` (retyped); constants become
///    explicit data of all zeros, all ones, or their values rounded to one decimal (dtype kept);
///    input values likewise, with the input's range set to the new values' [min, max]. Turning a
///    seeded constant into data is such an edit too, so it happens only if the predicate passes.
///
/// Deterministic: no global state, no randomness, candidates come from arrays in index order and
/// sorted keys; hashed sets are only used for membership.
public struct Minimizer: Sendable {
  public var operators: OperatorLookup
  /// The most predicate calls one `minimize` makes.
  public var maxSteps: Int

  public init(operators: @escaping OperatorLookup = Catalogue.spec, maxSteps: Int = 500) {
    self.operators = operators
    self.maxSteps = maxSteps
  }

  /// The smallest (graph, inputs) found for which `keeps` stays true, starting from a pair for
  /// which it is true (not re-checked).
  ///
  /// - Parameters:
  ///   - inputs: the values of `graph.inputs`, in order.
  ///   - keeps: the predicate; it only ever sees verified, canonically numbered candidates.
  ///   - progress: called after every accepted step with the new pair and the steps used so far.
  public func minimize(
    _ graph: Graph, inputs: [Tensor], keeping keeps: (Graph, [Tensor]) -> Bool,
    progress: (Graph, [Tensor], Int) -> Void = { _, _, _ in }
  ) -> Minimized {
    withoutActuallyEscaping(keeps) { keeps in
      withoutActuallyEscaping(progress) { progress in
        var search = Search(
          minimizer: self, keeps: keeps, progress: progress, graph: graph, inputs: inputs)
        search.run()
        return Minimized(
          graph: search.graph, inputs: search.inputs, steps: search.steps, accepted: search.accepted)
      }
    }
  }

  /// `graph` with every node's output types recomputed from its (possibly changed) input types and
  /// attributes by evaluating its rule concretely; `nil` if an operator is unknown, a rank or
  /// attribute is outside its domain, a rule rejects or a requirement fails, or a dim would be < 1.
  public func retyped(_ graph: Graph) -> Graph? {
    var g = graph
    var types: [ValueID: TensorType] = [:]
    for i in g.inputs {
      guard i.type.shape.allSatisfy({ $0 >= 1 }) else { return nil }
      types[i.id] = i.type
    }
    for c in g.constants {
      guard c.type.shape.allSatisfy({ $0 >= 1 }) else { return nil }
      types[c.id] = c.type
    }
    for n in g.nodes.indices {
      let node = g.nodes[n]
      guard let spec = operators(node.op), node.inputs.count == spec.inputs.count else { return nil }
      var ins: [TensorType] = []
      for v in node.inputs {
        guard let t = types[v] else { return nil }
        ins.append(t)
      }
      let ranks = ins.map(\.shape.count)
      for (i, input) in spec.inputs.enumerated() {
        guard let allowed = input.ranks.allowed(Array(ranks[..<i]), maxRank: 8), allowed.contains(ranks[i])
        else { return nil }
      }
      for a in spec.attributes where !a.accepts(node.attributes[a.name], ranks: ranks) { return nil }
      let context = RuleContext(
        inputs: ins.map { $0.shape.map(Dim.constant) }, dtypes: ins.map(\.dtype),
        attributes: node.attributes.symbolic)
      guard let rule = spec.rule(context), rule.requires.allSatisfy({ $0.evaluated(in: [:]) }),
        rule.outputs.count == node.outputs.count,
        let dtypes = spec.outputDTypes(
          inputs: ins.map(\.dtype), attributes: node.attributes, count: rule.outputs.count)
      else { return nil }
      var outs: [TensorType] = []
      for (dims, dtype) in zip(rule.outputs, dtypes) {
        var shape: [Int] = []
        for d in dims {
          guard let v = d.evaluated(in: [:]), v >= 1 else { return nil }
          shape.append(v)
        }
        outs.append(TensorType(dtype, shape))
      }
      g.nodes[n].types = outs
      for (v, t) in zip(node.outputs, outs) { types[v] = t }
    }
    return g
  }

  /// `graph` renumbered canonically: inputs, then constants, then node outputs, in array order,
  /// from 0. Uses of undefined ids become negative (still undefined) ids.
  public static func renumbered(_ graph: Graph) -> Graph {
    var g = graph
    var map: [ValueID: ValueID] = [:]
    var next = 0
    func assign(_ v: ValueID) -> ValueID {
      map[v] = next
      next += 1
      return next - 1
    }
    func use(_ v: ValueID) -> ValueID { map[v] ?? (-1 - v) }
    for k in g.inputs.indices { g.inputs[k].id = assign(g.inputs[k].id) }
    for k in g.constants.indices { g.constants[k].id = assign(g.constants[k].id) }
    for k in g.nodes.indices {
      g.nodes[k].inputs = g.nodes[k].inputs.map(use)
      g.nodes[k].outputs = g.nodes[k].outputs.map(assign)
    }
    g.outputs = g.outputs.map(use)
    return g
  }

  /// `graph` and `inputs` without dead code: nodes none of whose outputs is needed for the graph
  /// outputs, and constants and graph inputs (with their tensors) that nothing needed reads.
  public static func withoutDeadCode(_ graph: Graph, inputs: [Tensor]) -> (Graph, [Tensor]) {
    var needed = Set(graph.outputs)
    var keep = [Bool](repeating: false, count: graph.nodes.count)
    for k in graph.nodes.indices.reversed() where graph.nodes[k].outputs.contains(where: needed.contains) {
      keep[k] = true
      needed.formUnion(graph.nodes[k].inputs)
    }
    var g = graph
    g.nodes = graph.nodes.indices.filter { keep[$0] }.map { graph.nodes[$0] }
    g.constants = graph.constants.filter { needed.contains($0.id) }
    let kept = graph.inputs.indices.filter { needed.contains(graph.inputs[$0].id) }
    g.inputs = kept.map { graph.inputs[$0] }
    let x = inputs.count == graph.inputs.count ? kept.map { inputs[$0] } : inputs
    return (g, x)
  }

  /// `t` cut down to `shape` (no dim larger than `t`'s): element `[i, j, ...]` keeps its value.
  static func truncated(_ t: Tensor, to shape: [Int]) -> Tensor {
    guard shape != t.shape else { return t }
    let strides = Shape.strides(t.shape)
    let n = shape.reduce(1, *)
    var storage: [Double] = []
    storage.reserveCapacity(n)
    for i in 0..<n {
      storage.append(t.storage[Shape.offset(Shape.index(of: i, shape: shape), strides: strides)])
    }
    return Tensor(dtype: t.dtype, shape: shape, storage: storage)
  }

  /// [min, max] of the finite values, or [0, 0] if there are none.
  static func finiteRange(_ values: [Double]) -> Interval {
    var r: Interval?
    for x in values where x.isFinite { r = r.map { $0.hull(x) } ?? Interval(x, x) }
    return r ?? Interval(0, 0)
  }
}

// MARK: - The search

/// Dedup key: canonical text plus the bit patterns of constant data and input values.
private struct CandidateKey: Hashable {
  var text: String
  var bits: [UInt64]

  init(_ graph: Graph, _ inputs: [Tensor]) {
    text = graph.text
    bits = []
    for c in graph.constants {
      guard let data = c.data else { continue }
      bits.append(UInt64(c.id))
      bits.append(contentsOf: data.map(\.bitPattern))
    }
    for t in inputs {
      bits.append(UInt64(t.count))
      bits.append(contentsOf: t.storage.map(\.bitPattern))
    }
  }
}

/// A candidate edit of the current pair, computed on demand; `nil` when it does not apply.
private typealias Edit = () -> (Graph, [Tensor])?

/// One minimization run: the current pair, the budget and the tried candidates.
private struct Search {
  let minimizer: Minimizer
  let keeps: (Graph, [Tensor]) -> Bool
  let progress: (Graph, [Tensor], Int) -> Void
  var graph: Graph
  var inputs: [Tensor]
  var steps = 0
  var accepted = 0
  var seen: Set<CandidateKey> = []
  var eliminateDeadCode = true
  /// The finding's model holds special values (`EdgeValues`): its leaves may hold NaN, ±inf, zeros
  /// and subnormals where an operator's value domain excludes them (a -0 divisor is the question).
  let specialLeaves: Bool

  init(
    minimizer: Minimizer, keeps: @escaping (Graph, [Tensor]) -> Bool,
    progress: @escaping (Graph, [Tensor], Int) -> Void, graph: Graph, inputs: [Tensor]
  ) {
    self.minimizer = minimizer
    self.keeps = keeps
    self.progress = progress
    self.graph = graph
    self.inputs = inputs
    specialLeaves = graph.hasEdgeValues || inputs.contains(where: \.holdsSpecialValues)
  }

  var exhausted: Bool { steps >= minimizer.maxSteps }

  mutating func run() {
    seen.insert(CandidateKey(graph, inputs))
    // The normalized start; if it loses the bug, keep dead code for this run.
    let (g, x) = normalized(graph, inputs)
    if !seen.contains(CandidateKey(g, x)), !attempt(graph, inputs) {
      eliminateDeadCode = false
      _ = attempt(graph, inputs)
    }
    // Fast path: the first node that reproduces alone, on its recorded inputs, is the culprit (one
    // target run per node instead of hundreds when a single operator is wrong).
    greedy(Search.isolateEdits)
    while !exhausted {
      let before = accepted
      greedy(Search.outputEdits)
      greedy(Search.promoteEdits)
      greedy(Search.retargetEdits)
      greedy(Search.cutEdits)
      greedy(Search.bypassEdits)
      greedy(Search.dimEdits)
      greedy(Search.intAttributeEdits)
      greedy(Search.defaultAttributeEdits)
      greedy(Search.valueEdits)
      if accepted == before { break }
    }
  }

  // MARK: Gate

  func normalized(_ g: Graph, _ x: [Tensor]) -> (Graph, [Tensor]) {
    var (g, x) = (g, x)
    if eliminateDeadCode { (g, x) = Minimizer.withoutDeadCode(g, inputs: x) }
    return (Minimizer.renumbered(g), x)
  }

  func valid(_ g: Graph, _ x: [Tensor]) -> Bool {
    guard x.count == g.inputs.count else { return false }
    for (decl, t) in zip(g.inputs, x) {
      guard t.dtype == decl.type.dtype, t.shape == decl.type.shape, t.count == decl.type.elementCount
      else { return false }
    }
    do {
      try g.verify(operators: minimizer.operators)
    } catch {
      return false
    }
    return leavesInDomain(g, x)
  }

  /// Whether every graph input and constant lies in the value domain of each operator input it
  /// feeds (a divisor away from zero, a positive quantization scale, ...): simplifying a scale to 0
  /// would change which question the model asks, not make it smaller.
  func leavesInDomain(_ g: Graph, _ x: [Tensor]) -> Bool {
    var inputs: [ValueID: Tensor] = [:]
    for (decl, t) in zip(g.inputs, x) { inputs[decl.id] = t }
    let constants = Dictionary(g.constants.map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a })
    let types = g.types
    for n in g.nodes where n.inputs.contains(where: { inputs[$0] != nil || constants[$0] != nil }) {
      guard let spec = minimizer.operators(n.op) else { continue }
      var splats: [Int: Double] = [:]
      for (i, v) in n.inputs.enumerated() {
        if let s = constants[v]?.splat { splats[i] = s }
      }
      let context = ValueContext(
        shapes: n.inputs.map { types[$0]?.shape ?? [] }, dtypes: n.inputs.map { types[$0]?.dtype ?? .f32 },
        attributes: n.attributes, splats: splats)
      let domains = spec.domain(context)
      for (i, v) in n.inputs.enumerated() where i < domains.count {
        // Seeded constants are materialized only when a domain reads them.
        guard let domain = domains[i], let t = inputs[v] ?? constants[v]?.tensor, !t.storage.isEmpty
        else { continue }
        if specialLeaves {
          // Each element in the domain or a special value.
          let dtype = t.dtype
          guard t.storage.allSatisfy({ domain.contains(Interval($0, $0)) || dtype.isSpecial($0) })
          else { return false }
          continue
        }
        guard t.storage.allSatisfy(\.isFinite),
          domain.contains(Interval(t.storage.min()!, t.storage.max()!))
        else { return false }
      }
    }
    return true
  }

  /// Normalizes, validates, deduplicates and tests a candidate; adopts it if the predicate holds.
  mutating func attempt(_ candidate: Graph, _ candidateInputs: [Tensor]) -> Bool {
    guard !exhausted else { return false }
    let (g, x) = normalized(candidate, candidateInputs)
    guard valid(g, x), seen.insert(CandidateKey(g, x)).inserted else { return false }
    steps += 1
    guard keeps(g, x) else { return false }
    graph = g
    inputs = x
    accepted += 1
    progress(g, x, steps)
    return true
  }

  /// Tries the edits in order; after an accepted one rebuilds the list from the new pair and
  /// continues at the same position.
  mutating func greedy(_ make: (Search) -> () -> [Edit]) {
    var edits = make(self)()
    var k = 0
    while k < edits.count, !exhausted {
      if let (g, x) = edits[k](), attempt(g, x) {
        edits = make(self)()
      } else {
        k += 1
      }
    }
  }

  // MARK: Pass 1: outputs

  func outputEdits() -> [Edit] {
    let (g, x) = (graph, inputs)
    guard g.outputs.count > 1 else { return [] }
    var edits: [Edit] = g.outputs.map { o in
      {
        var c = g
        c.outputs = [o]
        return (c, x)
      }
    }
    if g.outputs.count > 2 {
      edits += g.outputs.indices.map { k in
        {
          var c = g
          c.outputs.remove(at: k)
          return (c, x)
        }
      }
    }
    return edits
  }

  func promoteEdits() -> [Edit] {
    let (g, x) = (graph, inputs)
    return g.nodes.indices.map { k in
      {
        guard g.outputs != g.nodes[k].outputs else { return nil }
        var c = g
        c.outputs = g.nodes[k].outputs
        return (c, x)
      }
    }
  }

  /// One output replaced by the outputs of a node it depends on (outputs in order, each ancestor
  /// earliest first), the others kept: the chain below that node disappears while what the other
  /// outputs need stays (a rewrite that needs a second consumer of a value, seen through a chain).
  func retargetEdits() -> [Edit] {
    let (g, x) = (graph, inputs)
    return g.outputs.indices.flatMap { i in
      g.ancestors(of: g.outputs[i]).filter { !g.nodes[$0].outputs.contains(g.outputs[i]) }.map { k in
        {
          var outputs: [ValueID] = []
          for v in g.outputs[..<i] + g.nodes[k].outputs + g.outputs[(i + 1)...] where !outputs.contains(v) {
            outputs.append(v)
          }
          var c = g
          c.outputs = outputs
          return (c, x)
        }
      }
    }
  }

  /// Each node (first to last) with one output removed, its readers and the graph outputs reading
  /// its first input of the same type instead. Not when that would make a graph input (or a value
  /// already among them) a graph output.
  func bypassEdits() -> [Edit] {
    let (g, x) = (graph, inputs)
    let types = g.types
    let computed = Set(g.nodes.flatMap(\.outputs))
    return g.nodes.indices.map { k in
      {
        let n = g.nodes[k]
        guard n.outputs.count == 1, let out = n.outputs.first,
          let source = n.inputs.first(where: { types[$0] == types[out] })
        else { return nil }
        if g.outputs.contains(out), !computed.contains(source) || g.outputs.contains(source) { return nil }
        var c = g
        c.nodes.remove(at: k)
        for i in c.nodes.indices { c.nodes[i].inputs = c.nodes[i].inputs.map { $0 == out ? source : $0 } }
        c.outputs = c.outputs.map { $0 == out ? source : $0 }
        return (c, x)
      }
    }
  }

  /// Each node alone (in order), its computed inputs replaced by their recorded values.
  func isolateEdits() -> [Edit] {
    let (g, x) = (graph, inputs)
    guard g.nodes.count > 1,
      let values = try? ReferenceBackend(operators: minimizer.operators).run(g, inputs: x, keepAll: true)
        .values
    else { return [] }
    let unpinned = Oracle.unpinnedValues(g, inputs: x, values: values, operators: minimizer.operators)
    return g.nodes.indices.map { k in
      { Minimizer.isolated(k, in: g, x, values: values, normalized: false, unpinned: unpinned) }
    }
  }

  // MARK: Pass 2: cutting edges

  func cutEdits() -> [Edit] {
    let (g, x) = (graph, inputs)
    guard
      let values = try? ReferenceBackend(operators: minimizer.operators).run(g, inputs: x, keepAll: true)
        .values
    else { return [] }
    let produced = Set(g.nodes.flatMap(\.outputs))
    let unpinned = Oracle.unpinnedValues(g, inputs: x, values: values, operators: minimizer.operators)
    var edits: [Edit] = []
    for k in g.nodes.indices {
      edits.append {
        var cut: [ValueID] = []
        for v in g.nodes[k].inputs where produced.contains(v) && !cut.contains(v) { cut.append(v) }
        guard !cut.isEmpty else { return nil }
        return Minimizer.recording(cut, in: g, x, values: values, unpinned: unpinned)
      }
      edits.append {
        guard
          let (recorded, y) = Minimizer.recording(
            g.nodes[k].outputs, in: g, x, values: values, unpinned: unpinned)
        else { return nil }
        var c = recorded
        c.nodes.remove(at: k)
        return (c, y)
      }
    }
    return edits
  }

  // MARK: Pass 3: shrinking

  func dimEdits() -> [Edit] {
    let (g, x) = (graph, inputs)
    let leaves = g.inputs.map(\.type.shape) + g.constants.map(\.type.shape)
    var targets: [[[Int]]] = []
    func add(_ shapes: [[Int]]) {
      if shapes != leaves && !targets.contains(shapes) { targets.append(shapes) }
    }
    let sizes = Set(leaves.joined().filter { $0 > 1 }).sorted(by: >)
    for s in sizes {
      for to in [s / 2, 1] { add(leaves.map { $0.map { $0 == s ? to : $0 } }) }
    }
    for j in leaves.indices {
      func with(_ shape: [Int]) -> [[Int]] {
        var l = leaves
        l[j] = shape
        return l
      }
      add(with(leaves[j].map { _ in 1 }))
      add(with(leaves[j].map { Swift.max(1, $0 / 2) }))
      for d in leaves[j].indices {
        for to in [1, Swift.max(1, leaves[j][d] / 2)] {
          var shape = leaves[j]
          shape[d] = to
          add(with(shape))
        }
      }
    }
    let m = minimizer
    return targets.map { shapes in { Search.resized(g, x, shapes, minimizer: m) } }
  }

  /// The pair with leaf shapes (inputs, then constants) set to `shapes`, values truncated, retyped.
  static func resized(_ graph: Graph, _ inputs: [Tensor], _ shapes: [[Int]], minimizer: Minimizer) -> (
    Graph, [Tensor]
  )? {
    var g = graph
    var x = inputs
    guard x.count == g.inputs.count else { return nil }
    for k in g.inputs.indices where g.inputs[k].type.shape != shapes[k] {
      g.inputs[k].type.shape = shapes[k]
      x[k] = Minimizer.truncated(x[k], to: shapes[k])
    }
    let offset = g.inputs.count
    for k in g.constants.indices where g.constants[k].type.shape != shapes[offset + k] {
      let c = g.constants[k]
      let shape = shapes[offset + k]
      g.constants[k].type.shape = shape
      if let data = c.data {
        g.constants[k].data =
          Minimizer.truncated(Tensor(dtype: c.type.dtype, shape: c.type.shape, storage: data), to: shape)
          .storage
      }
    }
    return minimizer.retyped(g).map { ($0, x) }
  }

  /// Integer attributes toward their domain's lower bound.
  func intAttributeEdits() -> [Edit] {
    var changes: [(node: Int, name: String, value: AttributeValue)] = []
    for (k, node) in graph.nodes.enumerated() {
      guard let spec = minimizer.operators(node.op) else { continue }
      for a in spec.attributes {
        switch (a.kind, node.attributes[a.name]) {
        case (.int(let r), .int(let v)) where v > r.lowerBound:
          let lo = r.lowerBound
          changes.append((k, a.name, .int(lo)))
          if lo + (v - lo) / 2 != lo { changes.append((k, a.name, .int(lo + (v - lo) / 2))) }
        case (.ints(_, let r), .ints(let vs)) where vs.contains(where: { $0 > r.lowerBound }):
          let lo = r.lowerBound
          changes.append((k, a.name, .ints(vs.map { _ in lo })))
          for i in vs.indices where vs[i] > lo {
            for to in [lo, lo + (vs[i] - lo) / 2] where to != vs[i] {
              var w = vs
              w[i] = to
              changes.append((k, a.name, .ints(w)))
            }
          }
        default: continue
        }
      }
    }
    return attributeEdits(changes)
  }

  // MARK: Pass 4: simplification

  func defaultAttributeEdits() -> [Edit] {
    var changes: [(node: Int, name: String, value: AttributeValue)] = []
    for (k, node) in graph.nodes.enumerated() {
      guard let spec = minimizer.operators(node.op) else { continue }
      for a in spec.attributes {
        if let d = a.defaultValue, node.attributes[a.name] != d { changes.append((k, a.name, d)) }
      }
    }
    return attributeEdits(changes)
  }

  func attributeEdits(_ changes: [(node: Int, name: String, value: AttributeValue)]) -> [Edit] {
    let (g, x) = (graph, inputs)
    let m = minimizer
    return changes.map { change in
      {
        var c = g
        c.nodes[change.node].attributes[change.name] = change.value
        return m.retyped(c).map { ($0, x) }
      }
    }
  }

  /// Simpler values in the dtype, simplest first: all zeros, all ones, rounded to one decimal. Only
  /// strictly simpler ones than `values` (all ones offers zeros only, all zeros nothing), so the
  /// pass cannot cycle.
  static func simpler(_ values: [Double], _ dtype: DType) -> [[Double]] {
    func same(_ a: [Double], _ b: [Double]) -> Bool {
      a.count == b.count && zip(a, b).allSatisfy { $0.bitPattern == $1.bitPattern }
    }
    let zeros = values.map { _ in dtype.rounded(0) }
    let ones = values.map { _ in dtype.rounded(1) }
    let rounded = values.map { $0.isFinite ? dtype.rounded(($0 * 10).rounded() / 10) : $0 }
    let ladder = [zeros, ones, rounded]
    let rank = ladder.firstIndex { same($0, values) } ?? ladder.count
    var out: [[Double]] = []
    for c in ladder[..<rank] where !out.contains(where: { same($0, c) }) { out.append(c) }
    return out
  }

  func valueEdits() -> [Edit] {
    let (g, x) = (graph, inputs)
    var edits: [Edit] = []
    for (k, c) in g.constants.enumerated() {
      let current = c.tensor.storage
      for data in Search.simpler(current, c.type.dtype) {
        edits.append {
          var n = g
          n.constants[k].data = data
          n.constants[k].range = Minimizer.finiteRange(data)
          return (n, x)
        }
      }
    }
    guard x.count == g.inputs.count else { return edits }
    for (k, t) in x.enumerated() {
      for data in Search.simpler(t.storage, t.dtype) {
        edits.append {
          var n = g
          var y = x
          y[k] = Tensor(dtype: t.dtype, shape: t.shape, storage: data)
          n.inputs[k].range = Minimizer.finiteRange(data)
          return (n, y)
        }
      }
    }
    return edits
  }
}

extension Minimizer {
  /// Node `k` alone: its computed inputs become graph inputs carrying their recorded values, its
  /// outputs the graph outputs; `normalized`, without dead code and renumbered (the minimizer's gate
  /// normalizes its own candidates). Used by the minimizer's isolate pass, `Reducer.localize` and
  /// the export-faithfulness bench. `unpinned`: `Oracle.unpinnedValues` of this run, computed here
  /// when not given (callers isolating every node compute it once).
  public static func isolated(
    _ k: Int, in graph: Graph, _ inputs: [Tensor], values: [ValueID: Tensor], normalized: Bool = true,
    unpinned: Set<ValueID>? = nil
  ) -> (Graph, [Tensor])? {
    let produced = Set(graph.nodes.flatMap(\.outputs))
    var cut: [ValueID] = []
    for v in graph.nodes[k].inputs where produced.contains(v) && !cut.contains(v) { cut.append(v) }
    let unpinned =
      unpinned ?? Oracle.unpinnedValues(graph, inputs: inputs, values: values)
    guard let (recorded, x) = recording(cut, in: graph, inputs, values: values, unpinned: unpinned) else {
      return nil
    }
    var single = recorded
    single.outputs = graph.nodes[k].outputs
    guard normalized else { return (single, x) }
    let (g, y) = withoutDeadCode(single, inputs: x)
    return (renumbered(g), y)
  }

  /// Node `k` fed by a different producer: like `isolated`, but each computed input is the output
  /// of `producer` (`neg` or `abs`) on a new graph input (for `neg` the negated recorded value, so
  /// node `k` reads exactly what it read; for `abs` the recorded value, so it reads its
  /// magnitude). Inputs whose dtype `producer` does not take stay graph inputs. `nil` when no
  /// input is computed or none can be fed. The cause test of a composite finding: if node `k`
  /// still fails behind another producer, it fails behind any computed input.
  public static func behind(
    _ producer: OperatorSpec.ID, _ k: Int, in graph: Graph, _ inputs: [Tensor], values: [ValueID: Tensor],
    operators: OperatorLookup = Catalogue.spec
  ) -> (Graph, [Tensor])? {
    guard let spec = operators(producer), let (alone, x) = isolated(k, in: graph, inputs, values: values)
    else { return nil }
    var g = alone
    var ins: [GraphInput] = []
    var xs: [Tensor] = []
    var fed: [Node] = []
    var next = g.nextValueID
    for (decl, t) in zip(alone.inputs, x) {
      guard g.nodes.contains(where: { $0.inputs.contains(decl.id) }),
        t.dtype.isFloat || [.i32, .i64].contains(t.dtype),
        spec.outputDTypes(inputs: [t.dtype], attributes: Attributes(), count: 1) == [t.dtype]
      else {
        ins.append(decl)
        xs.append(t)
        continue
      }
      let w = Tensor(
        dtype: t.dtype, shape: t.shape, storage: producer == "neg" ? t.storage.map { -$0 } : t.storage)
      ins.append(GraphInput(id: next, type: decl.type, range: Minimizer.finiteRange(w.storage)))
      xs.append(w)
      fed.append(Node(op: producer, inputs: [next], outputs: [decl.id], types: [decl.type]))
      next += 1
    }
    guard !fed.isEmpty else { return nil }
    g.inputs = ins
    g.nodes = fed + g.nodes
    guard (try? g.verify()) != nil else { return nil }
    return (renumbered(g), xs)
  }

  /// Replaces every use of `ids` (node inputs and graph outputs) by new graph inputs carrying their
  /// recorded values; `nil` when a value of `ids` is in `unpinned` (`Oracle.unpinnedValues`: one an
  /// implementation choice changes, NaN through max, an undefined cast): recording it would pin what
  /// ONNX leaves open.
  static func recording(
    _ ids: [ValueID], in graph: Graph, _ inputs: [Tensor], values: [ValueID: Tensor], unpinned: Set<ValueID>
  ) -> (Graph, [Tensor])? {
    guard !ids.contains(where: unpinned.contains) else { return nil }
    var g = graph
    var x = inputs
    let types = graph.types
    var replacement: [ValueID: ValueID] = [:]
    var next = graph.nextValueID
    for v in ids {
      guard let t = values[v], let type = types[v] else { return nil }
      g.inputs.append(GraphInput(id: next, type: type, range: Minimizer.finiteRange(t.storage)))
      x.append(t)
      replacement[v] = next
      next += 1
    }
    for k in g.nodes.indices { g.nodes[k].inputs = g.nodes[k].inputs.map { replacement[$0] ?? $0 } }
    g.outputs = g.outputs.map { replacement[$0] ?? $0 }
    return (g, x)
  }
}
