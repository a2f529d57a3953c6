import IR
import Operators
import SMT
import Symbolic
import Tensors

extension State {
  /// Grafts `pattern` (exact, or one of its near misses with probability `nearMissRate`) as a unit:
  /// every node by forward insertion, node 0 on an existing value (the graft point `x`), later nodes
  /// on the pattern's own values, with pinned attributes, pinned dims and splat constants as the
  /// pattern says. All or nothing: `false` (and the model unchanged) if a node cannot be inserted or
  /// the graft would take more than `room` nodes.
  mutating func graft(_ pattern: Pattern, room: Int, _ gen: inout Generator) -> Bool {
    let miss =
      !pattern.nearMisses.isEmpty && rng.chance(options.nearMissRate) ? rng.pick(pattern.nearMisses) : nil
    let graft = pattern.variant(miss)
    guard graft.nodes.count + graft.taps.count <= room else { return false }
    var specs: [OperatorSpec] = []
    for n in graft.nodes {
      guard let spec = options.operators.first(where: { $0.id == n.op }) else { return false }
      specs.append(spec)
    }
    guard let (k, i) = firstUse(of: .graftPoint, in: graft) else { return place(graft, specs, at: nil, &gen) }
    // The graft point: a value that fits its first use; a few tries, since pinned attributes and
    // dims may fit some values of the model and not others.
    let input = specs[k].inputs[i]
    let dtypes = graft.dtypes ?? DType.floats
    var candidates = (order + nodes.flatMap(\.outputs)).filter { id in
      let t = slots[id]!.type
      return input.dtypes.allowed.contains(t.dtype) && (!t.dtype.isFloat || dtypes.contains(t.dtype))
        && (input.ranks.allowed([], maxRank: options.maxRank)?.contains(t.shape.count) ?? true)
        && graft.fits(t.shape)
    }
    for _ in 0..<4 where !candidates.isEmpty {
      let unused = candidates.filter { slots[$0]!.uses == 0 && slots[$0]!.kind == .node }
      let point = !unused.isEmpty && rng.chance(0.7) ? rng.pick(unused) : rng.pick(candidates)
      if place(graft, specs, at: point, &gen) { return true }
      candidates.removeAll { $0 == point }
    }
    return false
  }

  /// Grafts `graft` on `point` (its `x`); all or nothing.
  mutating func place(_ graft: Graft, _ specs: [OperatorSpec], at point: Int?, _ gen: inout Generator) -> Bool
  {
    let instance = nodes.filter { $0.pattern?.node == 0 }.count
    var next = self
    var outputs: [[Int]] = []
    for (k, n) in graft.nodes.enumerated() {
      let spec = specs[k]
      var operands: [Operand] = []
      var vars: [Variable] = []
      var fresh: [Int: PatternOperand] = [:]
      for (i, source) in n.inputs.enumerated() {
        let existing: Int?
        switch source {
        case .graftPoint: existing = point
        case .node(let j, let o): existing = o < outputs[j].count ? outputs[j][o] : nil
        default: existing = nil
        }
        if let id = existing {
          let t = next.slots[id]!.type
          operands.append(Operand(existing: id, dtype: t.dtype, dims: t.shape.map(Dim.constant)))
          continue
        }
        guard source.isFresh else { return false }
        if source != .any { fresh[i] = source }
        let dims: [Dim]
        if let pinned = n.shapes[i] {
          var ds: [Dim] = []
          for (d, p) in pinned.enumerated() {
            switch p {
            case .literal(let v): ds.append(.constant(v))
            case .graftPoint(let j):
              guard let point, let v = State.dim(next.slots[point]!.type.shape, j) else { return false }
              ds.append(.constant(v))
            case .node(let m, let j):
              guard let v = State.dim(next.slots[outputs[m][0]]!.type.shape, j) else { return false }
              ds.append(.constant(v))
            case .free:
              vars.append(Variable("x\(i).\(d)", 1...options.maxDim))
              ds.append(.symbol("x\(i).\(d)"))
            }
          }
          dims = ds
        } else {
          guard
            let allowed = spec.inputs[i].ranks.allowed(operands.map(\.dims.count), maxRank: options.maxRank),
            !allowed.isEmpty
          else { return false }
          let names = (0..<next.rng.int(in: allowed)).map { "x\(i).\($0)" }
          vars += names.map { Variable($0, 1...options.maxDim) }
          dims = names.map(Dim.symbol)
        }
        // The dtype is bound below, with the operator's type variables.
        operands.append(Operand(existing: nil, dtype: .f32, dims: dims))
      }
      var fixed: [Int: DType] = [:]
      for (i, o) in operands.enumerated() where o.existing != nil { fixed[i] = o.dtype }
      guard let dtypes = next.chooseDTypes(spec, fixed: fixed, output: nil, quantized: true) else {
        return false
      }
      for i in operands.indices where operands[i].existing == nil { operands[i].dtype = dtypes[i] }
      if let allowed = graft.dtypes,
        operands.contains(where: { $0.dtype.isFloat && !allowed.contains($0.dtype) })
      {
        return false
      }
      let tag = PatternTag(name: graft.pattern, variant: graft.variant, instance: instance, node: k)
      guard
        next.propose(
          spec, operands: operands, vars: vars, replacing: nil, pins: n.attributes, fresh: fresh, tag: tag,
          &gen)
      else { return false }
      outputs.append(next.nodes.last!.outputs)
    }
    for tap in graft.taps {
      guard case .node(let k, let o) = tap, o < outputs[k].count, next.tap(outputs[k][o], &gen) else {
        return false
      }
    }
    self = next
    return true
  }

  /// `graft` on a fresh input of a rank and dtype that fit the graft point's first use, then a
  /// consumer of the last node's output (`Generator.graftOnly`).
  mutating func graftAlone(_ graft: Graft, _ gen: inout Generator) -> Bool {
    var specs: [OperatorSpec] = []
    for n in graft.nodes {
      guard let spec = options.operators.first(where: { $0.id == n.op }) ?? Catalogue.spec(n.op) else {
        return false
      }
      specs.append(spec)
    }
    var point: Int? = nil
    if let (k, i) = firstUse(of: .graftPoint, in: graft) {
      let input = specs[k].inputs[i]
      guard let ranks = input.ranks.allowed([], maxRank: options.maxRank), !ranks.isEmpty else {
        return false
      }
      let dtypes = input.dtypes.allowed.filter { d in
        !d.isFloat || (graft.dtypes.map { $0.contains(d) } ?? (d == base))
      }
      guard !dtypes.isEmpty else { return false }
      let dtype = dtypes.contains(base) ? base : rng.pick(dtypes)
      var shape: [Int] = []
      var budget = options.maxElements
      let rank = graft.graftPoint?.count ?? rng.int(in: ranks)
      for i in 0..<rank {
        var d = ResidualSolver.binned(1, Swift.max(1, Swift.min(options.maxDim, budget)), &rng)
        if case .literal(let v)? = graft.graftPoint?[i] { d = v }
        shape.append(d)
        budget = Swift.max(1, budget / d)
      }
      let id = newID()
      let range = dtype.isFloat ? Interval.unit : State.defaultIntegerRange
      slots[id] = Slot(type: TensorType(dtype, shape), range: range, kind: .input)
      order.append(id)
      totalBytes += TensorType(dtype, shape).byteCount
      point = id
      // x computed by a node, as in a real model: some passes leave graph inputs alone.
      if let neg = Catalogue.spec("neg"), neg.inputs[0].dtypes.allowed.contains(dtype),
        insertForward(neg, consuming: id, &gen), let out = nodes.last?.outputs.first
      {
        point = out
      }
    }
    guard place(graft, specs, at: point, &gen), let last = nodes.last?.outputs.first else { return false }
    // One consumer of the last output (`neg` where it fits, else any operator of the selection).
    if let neg = Catalogue.spec("neg"), insertForward(neg, consuming: last, &gen) { return true }
    return tap(last, &gen)
  }

  /// A pattern of the selection, by weight (uniformly when every weight is 1).
  mutating func pickPattern() -> Pattern {
    let ps = options.patterns
    guard ps.contains(where: { $0.weight != 1 }) else { return rng.pick(ps) }
    var x = rng.unit() * ps.map(\.weight).reduce(0, +)
    for p in ps {
      x -= p.weight
      if x < 0 { return p }
    }
    return ps[ps.count - 1]
  }

  /// A second consumer of `value`: a random operator of the selection, forward-inserted on it.
  mutating func tap(_ value: Int, _ gen: inout Generator) -> Bool {
    for _ in 0..<12 {
      if insertForward(rng.pick(options.operators), consuming: value, &gen) { return true }
    }
    return false
  }

  /// The first (node, input) that reads `operand`.
  func firstUse(of operand: PatternOperand, in graft: Graft) -> (Int, Int)? {
    for (k, n) in graft.nodes.enumerated() {
      if let i = n.inputs.firstIndex(of: operand) { return (k, i) }
    }
    return nil
  }

  /// Dim `i` of `shape`, negative `i` counting from the end.
  static func dim(_ shape: [Int], _ i: Int) -> Int? {
    let j = i < 0 ? shape.count + i : i
    return shape.indices.contains(j) ? shape[j] : nil
  }
}
