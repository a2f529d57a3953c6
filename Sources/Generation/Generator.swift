import IR
import Operators
import SMT
import Symbolic
import Tensors

/// Counters over everything a generator did, for `dlsmith bench generate`.
public struct GenerationStats: Sendable {
  public var models = 0
  public var attempts = 0
  public var forwardInserted = 0
  public var backwardInserted = 0
  public var rejectedSignature = 0
  public var rejectedUnsolved = 0
  public var rejectedValues = 0
  public var fastPathSolved = 0
  public var provedInfeasible = 0
  public var solverCalls = 0
  public var solverContexts = 0
  public var solverSat = 0
  public var solverUnknown = 0
  /// Wall time spent in the Z3 fallback, including context creation.
  public var solverSeconds = 0.0
  public var contextSeconds = 0.0
  /// Patterns grafted whole, and graft attempts that failed (no fitting graft point or shapes).
  public var grafted = 0
  public var graftsFailed = 0
  public init() {}
}

/// NNSmith-style incremental model synthesis, concrete first.
///
/// A model grows one operator at a time by **forward insertion** (the operator consumes existing
/// values; missing operands become new graph inputs or constants) or **backward insertion** (the
/// operator produces an existing graph input, whose place it takes; its operands are new inputs).
/// Shapes of existing values are concrete; each insertion leaves a small residual problem over the
/// new operands' dims and the operator's integer attributes. `ResidualSolver` decides it by
/// propagation and binned sampling; Z3 (`SMTSolver`, one context per model, created only when
/// needed) is the fallback for the few problems that sampling cannot crack, with random bin
/// preferences for diversity. Value ranges are propagated with every insertion so that operators
/// with restricted domains get valid inputs and no result overflows its dtype.
///
/// Everything is drawn from one `SplitMix64` seeded by the model seed, and no `Set` or
/// `Dictionary` order reaches the model, so a seed gives the same bytes in any process.
public struct Generator {
  public var options: GeneratorOptions
  public internal(set) var stats = GenerationStats()
  var residual = ResidualSolver()

  public init(options: GeneratorOptions) { self.options = options }

  /// Mutates `base`: grows it by `options.nodes` operators drawn from `seed` (forward insertion on
  /// its values, backward insertion on its inputs). `nil` if `base` cannot be grown (its value
  /// ranges cannot be recomputed, or no operator could be inserted).
  public mutating func extend(_ base: Graph, seed: UInt64) -> Graph? {
    stats.models += 1
    guard var state = State(options: options, seed: seed, base: base) else { return nil }
    state.grow(to: base.nodes.count + options.nodes, &self)
    guard state.nodes.count > base.nodes.count else { return nil }
    return state.finish()
  }

  /// A model that is `pattern` (or its near miss) grafted on one fresh graph input, plus one
  /// consumer of its last node's output (several passes leave a node whose output is a graph
  /// output alone): what a pattern's firing test runs. `nil` if this seed's input does not fit.
  public mutating func graftOnly(_ pattern: Pattern, nearMiss: Pattern.NearMiss? = nil, seed: UInt64)
    -> Graph?
  {
    stats.models += 1
    var state = State(options: options, seed: seed)
    guard state.graftAlone(pattern.variant(nearMiss), &self) else { return nil }
    return state.finish()
  }

  /// Generates one model from `seed`.
  public mutating func generate(seed: UInt64) -> Graph {
    stats.models += 1
    var rng = SplitMix64(seed: seed)
    while true {
      var state = State(options: options, seed: rng.next())
      state.run(&self)
      guard let g = state.finish() else { continue }
      switch options.kind {
      case .float: return EdgeValuePlan.assign(g, rate: options.edgeRate, seed: seed)
      case .binary, .spiking: return g
      case .int8, .mixed:
        // Quantize the float graph (post-training, calibrated on its own seeded inputs).
        var q = Quantizer()
        q.variants = options.requantVariants
        if options.kind == .mixed { q.conversionRate = 0.5 }
        if let m = q.quantize(g, seed: rng.next()) { return m }
        stats.rejectedValues += 1
      }
    }
  }
}

// MARK: - Model under construction

struct Slot {
  enum Kind { case input, constant, node }
  var type: TensorType
  var range: Interval
  var kind: Kind
  var uses = 0
  var seed: UInt64 = 0
  var data: [Double]? = nil

  /// The one value of a constant whose elements are all equal.
  var splat: Double? { kind == .constant ? Constant.splat(data) : nil }
}

struct State {
  let options: GeneratorOptions
  var rng: SplitMix64
  var slots: [Int: Slot] = [:]
  var order: [Int] = []  // creation order of inputs and constants
  var nodes: [Node] = []
  var nextID = 0
  var smt: SMTSolver?
  let base: DType
  var totalBytes = 0

  init(options: GeneratorOptions, seed: UInt64) {
    self.options = options
    self.rng = SplitMix64(seed: seed)
    base = options.dtype ?? DType.floats[Int(seed % 4)]
  }

  mutating func newID() -> Int {
    defer { nextID += 1 }
    return nextID
  }

  /// The state of an existing model, to grow it further (mutation). `nil` if a value range cannot
  /// be recomputed (an operator outside the selection and the catalogue).
  init?(options: GeneratorOptions, seed: UInt64, base graph: Graph) {
    self.init(options: options, seed: seed)
    for i in graph.inputs {
      slots[i.id] = Slot(type: i.type, range: i.range, kind: .input)
      order.append(i.id)
    }
    for c in graph.constants {
      let range =
        c.data.map { d in Interval(d.filter(\.isFinite).min() ?? 0, d.filter(\.isFinite).max() ?? 0) }
        ?? c.range
      slots[c.id] = Slot(type: c.type, range: range, kind: .constant, seed: c.seed, data: c.data)
      order.append(c.id)
    }
    for n in graph.nodes {
      for (o, t) in zip(n.outputs, n.types) { slots[o] = Slot(type: t, range: .everything, kind: .node) }
      for v in n.inputs { slots[v]?.uses += 1 }
    }
    nodes = graph.nodes
    nextID = graph.nextValueID
    totalBytes = graph.types.values.map(\.byteCount).reduce(0, +)
    guard repropagate() else { return nil }
  }

  mutating func run(_ gen: inout Generator) {
    // One initial input with a binned random shape.
    let rank = rng.int(in: 0...options.maxRank)
    var shape: [Int] = []
    var budget = options.maxElements
    for _ in 0..<rank {
      let d = ResidualSolver.binned(1, Swift.max(1, Swift.min(options.maxDim, budget)), &rng)
      shape.append(d)
      budget /= d
    }
    let id = newID()
    slots[id] = Slot(type: TensorType(base, shape), range: .unit, kind: .input)
    order.append(id)
    totalBytes += TensorType(base, shape).byteCount

    grow(to: options.nodes, &gen)
  }

  /// Inserts operators until the model has `target` nodes (or the attempt budget runs out).
  mutating func grow(to target: Int, _ gen: inout Generator) {
    var attempts = 0
    let budget = (target - nodes.count) * 30
    while nodes.count < target && attempts < budget {
      attempts += 1
      gen.stats.attempts += 1
      if !options.patterns.isEmpty, rng.chance(options.patternRate) {
        if graft(pickPattern(), room: target - nodes.count, &gen) {
          gen.stats.grafted += 1
        } else {
          gen.stats.graftsFailed += 1
        }
        continue
      }
      let spec = rng.pick(options.operators)
      let forward = rng.chance(options.forwardProbability)
      if forward {
        if insertForward(spec, &gen) { gen.stats.forwardInserted += 1 }
      } else if insertBackward(spec, &gen) {
        gen.stats.backwardInserted += 1
      }
    }
  }

  /// The finished graph with canonical value ids (inputs, constants, node outputs in order).
  func finish() -> Graph? {
    guard !nodes.isEmpty else { return nil }
    var renumber: [Int: Int] = [:]
    var next = 0
    let liveOrder = order.filter { slots[$0]!.uses > 0 }
    for id in liveOrder where slots[id]!.kind == .input {
      renumber[id] = next
      next += 1
    }
    for id in liveOrder where slots[id]!.kind == .constant {
      renumber[id] = next
      next += 1
    }
    for n in nodes {
      for o in n.outputs {
        renumber[o] = next
        next += 1
      }
    }
    var g = Graph()
    for id in liveOrder {
      let s = slots[id]!
      if s.kind == .input {
        g.inputs.append(GraphInput(id: renumber[id]!, type: s.type, range: s.range))
      } else {
        g.constants.append(
          Constant(id: renumber[id]!, type: s.type, range: s.range, seed: s.seed, data: s.data))
      }
    }
    for n in nodes {
      var m = n
      m.inputs = n.inputs.map { renumber[$0]! }
      m.outputs = n.outputs.map { renumber[$0]! }
      g.nodes.append(m)
      for o in n.outputs where slots[o]!.uses == 0 { g.outputs.append(renumber[o]!) }
    }
    return g
  }
}

// MARK: - Insertion

/// One operand of a proposed node: an existing value or a new one with symbolic dims.
struct Operand {
  var existing: Int?
  var dtype: DType
  var dims: [Dim]
}

extension State {
  static let defaultDataRange = Interval(-1, 1)
  static let defaultWeightRange = Interval(-0.5, 0.5)
  static let defaultIntegerRange = Interval(-8, 8)

  /// `x` rounded to three significant digits, so attributes read well in text and JSON.
  static func threeDigits(_ x: Double) -> Double {
    guard x != 0, x.isFinite else { return x }
    var scale = 1.0
    while abs(x) * scale < 100 { scale *= 10 }
    while abs(x) * scale >= 1000 { scale /= 10 }
    return (x * scale).rounded() / scale
  }

  /// Whether `value` is the `sqrt` of a value whose range's lower bound is positive.
  func positiveSquareRoot(_ value: Int) -> Bool {
    guard let n = nodes.last(where: { $0.outputs.contains(value) }), n.op == "sqrt",
      let input = n.inputs.first
    else { return false }
    return (slots[input]?.range.lo ?? 0) > 0
  }

  /// Largest magnitude a generated value may reach in `dtype` (a margin below overflow, and a bound
  /// that keeps float comparisons meaningful).
  static func cap(_ dtype: DType) -> Double {
    dtype == .bool ? 1 : Swift.min(dtype.maxValue / 64, 1e6)
  }

  /// Every bit pattern of a packed-word dtype.
  static func bitPatterns(_ dtype: DType) -> Interval {
    dtype == .i32 ? Interval(-2_147_483_648, 2_147_483_647) : Interval(-cap(dtype), cap(dtype))
  }

  /// Binds the dtype variables of `spec` for the given fixed choices; picks the rest.
  /// Grafted patterns (`quantized`) may also pick quantized dtypes (a QDQ pair's zero point).
  mutating func chooseDTypes(
    _ spec: OperatorSpec, fixed: [Int: DType], output: DType?, quantized: Bool = false
  )
    -> [DType]?
  {
    var bound: [String: DType] = [:]
    if let output, let first = spec.outputTypes.first {
      switch first {
      case .same(let v): bound[v] = output
      case .fixed(let d): if d != output { return nil }
      case .attribute: break
      }
    }
    for (i, d) in fixed.sorted(by: { $0.key < $1.key }) {
      let c = spec.inputs[i].dtypes
      guard c.allowed.contains(d) else { return nil }
      if let v = c.variable {
        if let b = bound[v], b != d { return nil }
        bound[v] = d
      }
    }
    var result: [DType] = []
    for (i, input) in spec.inputs.enumerated() {
      if let d = fixed[i] {
        result.append(d)
        continue
      }
      let c = input.dtypes
      if let v = c.variable, let b = bound[v] {
        guard c.allowed.contains(b) else { return nil }
        result.append(b)
        continue
      }
      let d: DType
      if c.allowed.contains(base) && !(options.dtype == nil && rng.chance(0.2)) {
        d = base
      } else {
        let pool = c.allowed.filter {
          (quantized || !$0.isQuantized) && (!$0.isFloat || options.dtype == nil || $0 == base)
        }
        guard !pool.isEmpty else { return nil }
        d = rng.pick(pool)
      }
      if let v = c.variable { bound[v] = d }
      result.append(d)
    }
    return result
  }

  /// Samples concrete attributes and names symbolic ones.
  mutating func attributes(
    _ spec: OperatorSpec, ranks: [Int], outputDType: DType?, pins: [String: AttributeValue] = [:]
  ) -> (SymbolicAttributes, [Variable])? {
    var attrs = SymbolicAttributes()
    var vars: [Variable] = []
    for a in spec.attributes {
      if let pinned = pins[a.name] {
        guard a.accepts(pinned, ranks: ranks) else { return nil }
        attrs.values[a.name] = SymbolicAttribute(pinned)
        continue
      }
      switch a.kind {
      case .int(let r):
        vars.append(Variable("@\(a.name)", r))
        attrs.values[a.name] = .int(.symbol("@\(a.name)"))
      case .ints(let length, let r):
        guard let n = length.sample(ranks: ranks, maxRank: options.maxRank, &rng) else { return nil }
        let names = (0..<n).map { "@\(a.name).\($0)" }
        vars += names.map { Variable($0, r) }
        attrs.values[a.name] = .ints(names.map(Dim.symbol))
      case .float(let r):
        let x = r.lowerBound + (r.upperBound - r.lowerBound) * rng.unit()
        // A float32 value (ONNX float attributes are float32): what the IR stores is what targets get.
        let v = Swift.min(Swift.max(State.threeDigits(x), r.lowerBound), r.upperBound)
        attrs.values[a.name] = .float(Double(Float(v)))
      case .choice, .axis, .axes, .permutation, .flag:
        guard let v = a.kind.sampleSelector(ranks: ranks, &rng) else { return nil }
        attrs.values[a.name] = SymbolicAttribute(v)
      case .dtype(let ds):
        if let outputDType {
          guard ds.contains(outputDType) else { return nil }
          attrs.values[a.name] = .string(outputDType.rawValue)
        } else {
          let pool = ds.filter { !$0.isFloat || options.dtype == nil || $0 == base }
          guard !pool.isEmpty else { return nil }
          attrs.values[a.name] = .string(rng.pick(pool).rawValue)
        }
      case .text:
        return nil
      }
    }
    return (attrs, vars)
  }

  /// Forward insertion of `spec`; its operand 0 is `forced` when given (a tap of a grafted pattern),
  /// else an existing value drawn at random.
  mutating func insertForward(_ spec: OperatorSpec, consuming forced: Int? = nil, _ gen: inout Generator)
    -> Bool
  {
    guard let first = spec.inputs.first else { return false }
    // Operand 0: an existing value of an acceptable dtype and rank.
    let candidates = (order + nodes.flatMap(\.outputs)).filter { id in
      let t = slots[id]!.type
      return first.dtypes.allowed.contains(t.dtype)
        && (first.ranks.allowed([], maxRank: options.maxRank)?.contains(t.shape.count) ?? false)
    }
    // A fresh current input now and then (not on every draw: `lif_fixed` would then crowd the
    // float-fed spiking operators out of the models).
    if forced == nil, State.takesFixedPointCurrents(spec), rng.chance(0.1) {
      return insertFixedPointEntry(spec, &gen)
    }
    guard !candidates.isEmpty else {
      gen.stats.rejectedSignature += 1
      return false
    }
    let pick: Int
    if let forced {
      guard candidates.contains(forced) else { return false }
      pick = forced
    } else {
      // Prefer values nobody consumes yet, so models grow deep rather than wide.
      let unused = candidates.filter { slots[$0]!.uses == 0 && slots[$0]!.kind == .node }
      pick = (!unused.isEmpty && rng.chance(0.7)) ? rng.pick(unused) : rng.pick(candidates)
    }
    var operands = [
      Operand(existing: pick, dtype: slots[pick]!.type.dtype, dims: slots[pick]!.type.shape.map(Dim.constant))
    ]
    guard let dtypes = chooseDTypes(spec, fixed: [0: operands[0].dtype], output: nil) else {
      gen.stats.rejectedSignature += 1
      return false
    }
    var vars: [Variable] = []
    for i in 1..<Swift.max(1, spec.inputs.count) where i < spec.inputs.count {
      let input = spec.inputs[i]
      guard let allowed = input.ranks.allowed(operands.map(\.dims.count), maxRank: options.maxRank) else {
        gen.stats.rejectedSignature += 1
        return false
      }
      let reuse = (order + nodes.flatMap(\.outputs)).filter { id in
        let t = slots[id]!.type
        return t.dtype == dtypes[i] && allowed.contains(t.shape.count) && id != pick
      }
      if input.role == .data, !reuse.isEmpty, rng.chance(0.5) {
        let id = rng.pick(reuse)
        operands.append(
          Operand(existing: id, dtype: dtypes[i], dims: slots[id]!.type.shape.map(Dim.constant)))
      } else {
        let r = rng.int(in: allowed)
        let names = (0..<r).map { "x\(i).\($0)" }
        vars += names.map { Variable($0, 1...options.maxDim) }
        operands.append(Operand(existing: nil, dtype: dtypes[i], dims: names.map(Dim.symbol)))
      }
    }
    return propose(spec, operands: operands, vars: vars, replacing: nil, &gen)
  }

  /// A spiking operator whose first input is integer currents (`lif_fixed`): no glue operator
  /// produces them, so the generator gives it a fresh integer graph input, the fixed-point
  /// current path of a neuromorphic chip (Loihi takes integer synaptic input).
  static func takesFixedPointCurrents(_ spec: OperatorSpec) -> Bool {
    spec.family == .spiking && spec.inputs.count == 1
      && spec.inputs[0].dtypes.allowed.allSatisfy { $0.isInteger && !$0.isQuantized }
  }

  /// Forward insertion of a `takesFixedPointCurrents` operator on a fresh integer input.
  mutating func insertFixedPointEntry(_ spec: OperatorSpec, _ gen: inout Generator) -> Bool {
    let input = spec.inputs[0]
    guard let allowed = input.ranks.allowed([], maxRank: options.maxRank), !allowed.isEmpty else {
      gen.stats.rejectedSignature += 1
      return false
    }
    let r = rng.int(in: allowed)
    let names = (0..<r).map { "x0.\($0)" }
    let operand = Operand(existing: nil, dtype: rng.pick(input.dtypes.allowed), dims: names.map(Dim.symbol))
    return propose(
      spec, operands: [operand], vars: names.map { Variable($0, 1...options.maxDim) }, replacing: nil, &gen)
  }

  /// Fixed-point currents inside `domain` (for `lif_fixed`, -4096...4096): `0...m` or `-m...m` with
  /// `m` binned over the domain, so small and near-full-scale currents both occur.
  mutating func fixedPointCurrents(_ domain: ValueDomain?) -> Interval? {
    guard let allowed = domain?.allowed, allowed.lo.isFinite, allowed.hi.isFinite, allowed.hi >= 1 else {
      return nil
    }
    let m = Double(ResidualSolver.binned(1, Int(allowed.hi), &rng))
    let r = Interval(rng.chance(0.5) ? Swift.max(-m, allowed.lo.rounded(.up)) : 0, m)
    return domain!.contains(r) ? r : nil
  }

  mutating func insertBackward(_ spec: OperatorSpec, _ gen: inout Generator) -> Bool {
    let placeholders = order.filter { slots[$0]!.kind == .input }
    guard !placeholders.isEmpty else { return false }
    let target = rng.pick(placeholders)
    let t = slots[target]!.type
    var fixed: [Int: DType] = [:]
    if case .attribute = spec.outputTypes.first, let c = spec.inputs.first {
      // cast: pick any source dtype.
      let pool = c.dtypes.allowed.filter {
        !$0.isQuantized && (!$0.isFloat || options.dtype == nil || $0 == base)
      }
      guard !pool.isEmpty else { return false }
      fixed[0] = rng.pick(pool)
    }
    guard let dtypes = chooseDTypes(spec, fixed: fixed, output: t.dtype) else {
      gen.stats.rejectedSignature += 1
      return false
    }
    var operands: [Operand] = []
    var vars: [Variable] = []
    for (i, input) in spec.inputs.enumerated() {
      guard let allowed = input.ranks.allowed(operands.map(\.dims.count), maxRank: options.maxRank) else {
        gen.stats.rejectedSignature += 1
        return false
      }
      // Elementwise-like ops usually keep the rank: bias the first operand toward it.
      let r =
        (i == 0 && allowed.contains(t.shape.count) && rng.chance(0.5)) ? t.shape.count : rng.int(in: allowed)
      let names = (0..<r).map { "x\(i).\($0)" }
      vars += names.map { Variable($0, 1...options.maxDim) }
      operands.append(Operand(existing: nil, dtype: dtypes[i], dims: names.map(Dim.symbol)))
    }
    return propose(spec, operands: operands, vars: vars, replacing: target, &gen)
  }

  /// Solves the residual problem of one insertion and commits it if everything checks out.
  ///
  /// A grafted pattern node passes its pinned attributes (`pins`), how its fresh operands are made
  /// (`fresh`: `.constant`, `.splat`, `.input`; otherwise by role) and its `tag`.
  mutating func propose(
    _ spec: OperatorSpec, operands: [Operand], vars dimVars: [Variable], replacing target: Int?,
    pins: [String: AttributeValue] = [:], fresh: [Int: PatternOperand] = [:], tag: PatternTag? = nil,
    _ gen: inout Generator
  ) -> Bool {
    let ranks = operands.map(\.dims.count)
    let targetType = target.map { slots[$0]!.type }
    guard
      let (symAttrs, attrVars) = attributes(spec, ranks: ranks, outputDType: targetType?.dtype, pins: pins)
    else {
      gen.stats.rejectedSignature += 1
      return false
    }
    let context = RuleContext(
      inputs: operands.map(\.dims), dtypes: operands.map(\.dtype), attributes: symAttrs)
    guard let rule = spec.rule(context), !rule.outputs.isEmpty,
      rule.outputs.allSatisfy({ $0.count <= options.maxRank })
    else {
      gen.stats.rejectedSignature += 1
      return false
    }
    var constraints = rule.requires
    for o in rule.outputs {
      for d in o { constraints.append(d .>= 1) }
      if !o.isEmpty { constraints.append(Dim.product(o) .<= .constant(options.maxElements)) }
    }
    for op in operands where op.existing == nil && !op.dims.isEmpty {
      constraints.append(Dim.product(op.dims) .<= .constant(options.maxElements))
    }
    if let targetType {
      guard rule.outputs.count == 1, rule.outputs[0].count == targetType.shape.count else {
        gen.stats.rejectedSignature += 1
        return false
      }
      for (d, v) in zip(rule.outputs[0], targetType.shape) { constraints.append(d .== .constant(v)) }
    }
    // Attributes first: once strides, pads and groups are fixed, dims follow by propagation.
    let variables = attrVars + dimVars
    let env: [String: Int]
    if let s = residual(constraints, variables, &gen) {
      env = s
    } else {
      gen.stats.rejectedUnsolved += 1
      return false
    }

    // Concretize.
    var attributes = Attributes()
    for (name, a) in symAttrs.values {
      switch a {
      case .int(let d): attributes[name] = .int(d.evaluated(in: env) ?? 0)
      case .ints(let ds): attributes[name] = .ints(ds.map { $0.evaluated(in: env) ?? 0 })
      case .float(let f): attributes[name] = .float(f)
      case .string(let s): attributes[name] = .string(s)
      }
    }
    let shapes = operands.map { $0.dims.map { $0.evaluated(in: env) ?? 0 } }
    var outShapes: [[Int]] = []
    for o in rule.outputs {
      let s = o.map { $0.evaluated(in: env) }
      guard s.allSatisfy({ ($0 ?? 0) >= 1 }) else { return false }
      outShapes.append(s.map { $0! })
    }
    guard
      let outDTypes = spec.outputDTypes(
        inputs: operands.map(\.dtype), attributes: attributes, count: outShapes.count)
    else {
      gen.stats.rejectedSignature += 1
      return false
    }
    var newBytes = 0
    for (op, s) in zip(operands, shapes) where op.existing == nil {
      newBytes += TensorType(op.dtype, s).byteCount
    }
    for (d, s) in zip(outDTypes, outShapes) { newBytes += TensorType(d, s).byteCount }
    guard totalBytes + newBytes <= options.maxTotalBytes else { return false }

    // Values: domains for operands, ranges for results.
    var splats: [Int: Double] = [:]
    for (i, op) in operands.enumerated() {
      if let id = op.existing {
        if let v = slots[id]!.splat { splats[i] = v }
      } else if case .splat(let v) = fresh[i] {
        splats[i] = op.dtype.rounded(v)
      }
    }
    let valueContext = ValueContext(
      shapes: shapes, dtypes: operands.map(\.dtype), attributes: attributes, splats: splats)
    let domains = spec.domain(valueContext)
    var inRanges: [Interval] = []
    for (i, op) in operands.enumerated() {
      let domain = i < domains.count ? domains[i] : nil
      if let id = op.existing {
        let r = slots[id]!.range
        // A grafted pattern may divide by a square root that range analysis cannot keep away from
        // zero (LayerNorm divides by sqrt(variance + epsilon): `image` pads sqrt's range below zero
        // by 1% of its width). For grafted nodes, a sqrt of a range whose lower bound is positive is
        // taken as positive; nothing else is (sign(argmin(x)) looks just as padded, and is 0).
        let inDomain = domain.map { d in
          d.contains(r) || (tag != nil && d.allowed.contains(r) && positiveSquareRoot(id))
        }
        if inDomain == false {
          gen.stats.rejectedValues += 1
          return false
        }
        inRanges.append(r)
      } else if case .splat(let v) = fresh[i] {
        let x = op.dtype.rounded(v)
        guard x.isFinite, domain?.contains(Interval(x, x)) ?? true else {
          gen.stats.rejectedValues += 1
          return false
        }
        inRanges.append(Interval(x, x))
      } else {
        let fresh =
          spec.inputs[i].packed
          ? State.bitPatterns(op.dtype)
          : i == 0 && State.takesFixedPointCurrents(spec)
            ? fixedPointCurrents(domain) : freshRange(op.dtype, spec.inputs[i].role, domain)
        guard let r = fresh else {
          gen.stats.rejectedValues += 1
          return false
        }
        inRanges.append(r)
      }
    }
    let outRanges = spec.range(valueContext, inRanges)
    guard outRanges.count >= outShapes.count,
      zip(outDTypes, outRanges).allSatisfy({ d, r in
        !r.lo.isNaN && !r.hi.isNaN && r.lo <= r.hi
          && (r.magnitude <= State.cap(d) || spec.traits.contains(.packedOutput))
      })
    else {
      gen.stats.rejectedValues += 1
      return false
    }

    // Commit (on a copy when a backward insertion must re-check downstream ranges).
    var next = self
    var inputIDs: [Int] = []
    for (i, op) in operands.enumerated() {
      if let id = op.existing {
        next.slots[id]!.uses += 1
        inputIDs.append(id)
        continue
      }
      let id = next.newID()
      let isConstant: Bool
      var data: [Double]? = nil
      switch fresh[i] {
      case .constant?: isConstant = true
      case .splat?:
        isConstant = true
        data = [Double](repeating: inRanges[i].lo, count: TensorType(op.dtype, shapes[i]).elementCount)
      case .input?: isConstant = false
      default: isConstant = spec.inputs[i].role == .weight
      }
      next.slots[id] = Slot(
        type: TensorType(op.dtype, shapes[i]), range: inRanges[i], kind: isConstant ? .constant : .input,
        uses: 1, seed: isConstant && data == nil ? next.rng.next() : 0, data: data)
      next.order.append(id)
      inputIDs.append(id)
    }
    var outputIDs: [Int] = []
    for k in 0..<outShapes.count {
      let id = (k == 0 ? target : nil) ?? next.newID()
      let uses = target != nil ? slots[id]!.uses : 0
      next.slots[id] = Slot(
        type: TensorType(outDTypes[k], outShapes[k]), range: outRanges[k], kind: .node, uses: uses)
      outputIDs.append(id)
    }
    let node = Node(
      op: spec.id, inputs: inputIDs, outputs: outputIDs, attributes: attributes,
      types: zip(outDTypes, outShapes).map { TensorType($0, $1) }, pattern: tag)
    if let target {
      next.order.removeAll { $0 == target }
      next.nodes.insert(node, at: 0)
      guard next.repropagate() else {
        gen.stats.rejectedValues += 1
        return false
      }
      next.totalBytes += newBytes - slots[target]!.type.byteCount
    } else {
      next.nodes.append(node)
      next.totalBytes += newBytes
    }
    self = next
    return true
  }

  /// A range for a fresh operand of `dtype` inside `domain`.
  mutating func freshRange(_ dtype: DType, _ role: InputSpec.Role, _ domain: ValueDomain?) -> Interval? {
    let preferred: Interval
    if dtype == .bool { return .boolean }
    if dtype.isInteger {
      preferred = State.defaultIntegerRange
    } else {
      preferred = role == .weight ? State.defaultWeightRange : State.defaultDataRange
    }
    guard
      var r = domain.map({ $0.freshRange(preferred: preferred, negativeSide: rng.chance(0.5)) }) ?? preferred
    else { return nil }
    if dtype.isInteger {
      r = Interval(r.lo.rounded(.up), r.hi.rounded(.down))
      if r.lo > r.hi || !(domain?.contains(r) ?? true) { return nil }
    }
    return r
  }

  /// Recomputes every node's value ranges in order; false if a domain or cap is now violated.
  mutating func repropagate() -> Bool {
    for node in nodes {
      guard let spec = options.operators.first(where: { $0.id == node.op }) ?? Catalogue.spec(node.op) else {
        return false
      }
      let ins = node.inputs.map { slots[$0]! }
      var splats: [Int: Double] = [:]
      for (i, s) in ins.enumerated() { if let v = s.splat { splats[i] = v } }
      let ctx = ValueContext(
        shapes: ins.map(\.type.shape), dtypes: ins.map(\.type.dtype), attributes: node.attributes,
        splats: splats)
      let domains = spec.domain(ctx)
      for (i, s) in ins.enumerated() where i < domains.count {
        if let d = domains[i], !d.contains(s.range) { return false }
      }
      let outs = spec.range(ctx, ins.map(\.range))
      for (k, o) in node.outputs.enumerated() {
        guard k < outs.count, outs[k].lo <= outs[k].hi,
          outs[k].magnitude <= State.cap(node.types[k].dtype) || spec.traits.contains(.packedOutput)
        else { return false }
        slots[o]!.range = outs[k]
      }
    }
    return true
  }

  /// Fast path first, then Z3 with random bin preferences.
  mutating func residual(_ constraints: [Constraint], _ variables: [Variable], _ gen: inout Generator)
    -> [String: Int]?
  {
    if variables.isEmpty {
      return constraints.allSatisfy({ $0.evaluated(in: [:]) }) ? [:] : nil
    }
    switch gen.residual.solve(constraints, variables, &rng) {
    case .solved(let s):
      gen.stats.fastPathSolved += 1
      return s
    case .infeasible:
      // Propagation proved it (e.g. a kept reduced dim of 1 against 5): no solver needed.
      gen.stats.provedInfeasible += 1
      return nil
    case .unknown: break
    }
    if smt == nil {
      gen.stats.solverContexts += 1
      let t0 = ContinuousClock.now
      defer { gen.stats.contextSeconds += (ContinuousClock.now - t0) / .seconds(1) }
      smt = SMTSolver(
        timeoutMilliseconds: options.solverTimeoutMilliseconds, resourceLimit: options.solverResourceLimit,
        seed: UInt32(truncatingIfNeeded: rng.next()))
    }
    var preferences: [Constraint] = []
    for v in variables where rng.chance(0.5) {
      let x = ResidualSolver.binned(v.domain.lowerBound, v.domain.upperBound, &rng)
      let lo = x <= 1 ? x : 1 << (Int.bitWidth - x.leadingZeroBitCount - 1)
      preferences.append(Dim.symbol(v.name) .>= .constant(lo))
      preferences.append(Dim.symbol(v.name) .<= .constant(Swift.max(x, 2 * lo - 1)))
    }
    gen.stats.solverCalls += 1
    let started = ContinuousClock.now
    defer { gen.stats.solverSeconds += (ContinuousClock.now - started) / .seconds(1) }
    guard let smt, let outcome = try? smt.solve(constraints, variables: variables, preferences: preferences)
    else { return nil }
    switch outcome {
    case .sat(let s):
      gen.stats.solverSat += 1
      return s
    case .unknown:
      gen.stats.solverUnknown += 1
      return nil
    case .unsat: return nil
    }
  }
}
