import IR
import Operators
import Tensors

/// The semantics-preserving rewrites of `EquivalentForms`.
///
/// **Exact** rewrites: on every value the rewritten graph computes where the original computed it,
/// every IEEE-faithful implementation gives the same bits (the sign of a zero and NaN payloads
/// aside, as in `Oracle.exactValues`): they only insert data movement (transpose, reshape, split,
/// concat, slice, squeeze), IEEE operations whose correctly rounded result is their operand
/// (`x * 1`, `x + -0`, `x - +0`, `x / 1`, `max(x, x)`, `-(-x)`, a `where` with a constant condition),
/// swap the operands of an operation whose IEEE result does not depend on their order, or apply an
/// elementwise operator to the same elements in another layout.
///
/// **Inexact** rewrites change the order of rounding steps (re-association, distribution, another
/// accumulation order or blocking for matmul, conv and sums): equal in real arithmetic, equal
/// within the dtype's tolerance in floating point.
///
/// Edge rewrites insert an identity after a value and redirect every use of the value (graph
/// outputs included) to its copy; node rewrites replace the node producing a value by an
/// equivalent subgraph that produces the same value id.
public enum RewriteKind: String, CaseIterable, Codable, Sendable {
  // MARK: Exact

  /// `x -> transpose(transpose(x, p), p⁻¹)` with `p` a random non-identity permutation (rank >= 2).
  /// Exact: both transposes copy elements; `p⁻¹ ∘ p` is the identity, so every element returns to
  /// its place.
  case transposeRoundTrip
  /// `x -> reshape(reshape(x, s), shape(x))` with `s` the flattened shape `[N]` or `[a, N/a]`
  /// (rank 1 to 4). Exact: reshape keeps the row-major order of the elements.
  case reshapeRoundTrip
  /// `x -> concat(split(x, axis, 2 or 3 parts), axis)`. Exact: split and concat copy consecutive
  /// blocks along the axis; concatenating them in order rebuilds `x`.
  case splitConcat
  /// `x -> squeeze(unsqueeze(x, axis), [axis])` (rank <= 5). Exact: both only change the shape.
  case unsqueezeSqueeze
  /// `x -> slice(x, axis, start 0 or -d, end d, step 1)` for a dim `d <= 64`: the slice covers the
  /// whole axis. Exact: a copy.
  case sliceWhole
  /// `x -> x * 1` (or `1 * x`) with a scalar constant 1, floats and integers. Exact: `x * 1` is
  /// `x` for every IEEE value (NaN stays NaN, `-0 * 1 = -0`, inf stays inf) and every integer.
  case multiplyByOne
  /// `x -> x + (-0.0)`, floats. Exact: `x + -0 = x` for every x, including `-0 + -0 = -0`
  /// (whereas `x + 0` would turn `-0` into `+0`).
  case addNegativeZero
  /// `x -> x - 0`, floats and integers. Exact: `x - +0 = x + -0 = x` (see `addNegativeZero`).
  case subtractZero
  /// `x -> x / 1`, floats and integers (integer division by 1 truncates nothing). Exact: IEEE
  /// division by 1 returns x, signed zeros, infinities and NaN included.
  case divideByOne
  /// `x -> max(x, x)` or `min(x, x)`, floats and integers. Exact: the maximum of two equal
  /// operands is that operand; a NaN propagates either way.
  case maxSelf
  /// `x -> neg(neg(x))`, floats and integers. Exact: negation flips the sign bit; twice restores
  /// it (integers wrap both times, so INT_MIN also returns).
  case doubleNegation
  /// `x -> where(true, x, 0)` or `where(false, 0, x)` with a scalar bool constant. Exact: the
  /// selected operand is copied.
  case whereTrue
  /// `op(a, b) -> op(b, a)` for add, mul, min, max, equal and the logical operators. Exact: IEEE
  /// addition and multiplication are commutative (up to NaN payloads), comparisons and logic are
  /// symmetric; min/max of `+0` and `-0` may return either zero in either order, and ONNX does not
  /// specify which (the oracle compares zeros without their sign).
  case commuteOperands
  /// `a + b -> a - (-b)`, floats and integers. Exact: IEEE subtraction is addition of the negated
  /// operand, and negation is exact (integers wrap consistently).
  case subtractNegation
  /// `u(x) -> transpose(u(transpose(x, p)), p⁻¹)` for an elementwise operator `u` with one input
  /// (rank >= 2), attributes and output dtype kept. Exact in the reference and for every
  /// implementation that computes `u` elementwise: each element goes through `u` once, elsewhere in
  /// memory. (An approximate `u`, exp or tanh, may be computed by another code path at another
  /// position, a vectorized body against a scalar tail: such outputs are approximate values and the
  /// oracle compares them at tolerance.)
  case transposeThroughUnary
  /// `reduce_max(x, axes) -> max(reduce_max(x1, axes), reduce_max(x2, axes))` with `x1, x2` the
  /// halves of `x` along a reduced axis (likewise reduce_min with min). Exact: the maximum of a set
  /// is the maximum of the maxima of a partition, NaN propagating; the sign of a zero maximum is
  /// unspecified (the operators' doc).
  case splitReduceMax

  // MARK: Inexact

  /// `(a + b) + c -> a + (b + c)` (and `a + (b + c) -> (a + b) + c`), likewise for mul (which
  /// covers `x * c1 * c2 -> x * (c1 * c2)`), floats. Inexact: floating-point addition and
  /// multiplication are not associative; the two orders round differently.
  case reassociate
  /// `a * (b + c) -> a * b + a * c` (also over sub), floats. Inexact: two products rounded
  /// separately and summed, against one sum rounded then multiplied.
  case distributeMul
  /// `matmul(a, b)` (b of rank 2) as a 1x1 conv2d: `a` reshaped to rows, transposed to
  /// `[1, K, M', 1]`, `b` transposed to `[N, K, 1, 1]`, and the result transposed and reshaped
  /// back. Inexact: the same dot products, but a target runs another kernel with another
  /// accumulation order or blocking.
  case matmulAsConv
  /// A conv2d with a 1x1 kernel and group 1 as a matmul: pads become a zero `pad`, strides step
  /// slices,
  /// `x` is transposed to `[N, H, W, C]` and reshaped to rows, the weights to `[C, O]`, and the
  /// result reshaped and transposed back to `[N, O, H, W]`. Inexact for the same reason.
  case conv1x1AsMatmul
  /// `matmul(a, b) -> concat(matmul(a, b1), matmul(a, b2), -1)` with `b1, b2` the halves of `b`
  /// along N (or `a` split along M and the results concatenated along -2). Inexact: each output
  /// element is the same dot product, but a target may block or vectorize the smaller products
  /// differently.
  case splitMatmul
  /// `reduce_sum(x, axes) -> reduce_sum(x1, axes) + reduce_sum(x2, axes)` with `x1, x2` the halves
  /// of `x` along a reduced axis. Inexact: a different summation order (integers: exact, wrapping).
  case splitReduceSum

  /// The exact kinds.
  public static let exact = allCases.filter(\.isExact)
  /// The inexact kinds.
  public static let inexact = allCases.filter { !$0.isExact }

  public var isExact: Bool {
    switch self {
    case .reassociate, .distributeMul, .matmulAsConv, .conv1x1AsMatmul, .splitMatmul, .splitReduceSum:
      return false
    default: return true
    }
  }

  // MARK: Sites

  /// The values where this rewrite may apply (edge rewrites: used values of suitable type; node
  /// rewrites: outputs of matching nodes), in graph order.
  func sites(in graph: Graph, operators: OperatorLookup) -> [ValueID] {
    let types = graph.types
    func edges(_ accept: (TensorType) -> Bool) -> [ValueID] {
      let used = GraphEditor.usedValues(graph)
      let candidates = graph.inputs.map(\.id) + graph.nodes.flatMap(\.outputs)
      return candidates.filter { used.contains($0) && types[$0].map(accept) == true }
    }
    func nodes(_ accept: (Node) -> Bool) -> [ValueID] {
      graph.nodes.filter { $0.outputs.count == 1 && accept($0) }.map { $0.outputs[0] }
    }
    let generated = Set(DType.generated)
    let numeric = Set(DType.floats + DType.integers)
    switch self {
    case .transposeRoundTrip: return edges { $0.shape.count >= 2 }
    case .reshapeRoundTrip: return edges { (1...4).contains($0.shape.count) }
    case .splitConcat:
      return edges { t in generated.contains(t.dtype) && t.shape.contains { $0 % 2 == 0 || $0 % 3 == 0 } }
    case .unsqueezeSqueeze: return edges { $0.shape.count <= 5 }
    case .sliceWhole: return edges { t in generated.contains(t.dtype) && t.shape.contains { $0 <= 64 } }
    case .multiplyByOne, .subtractZero, .divideByOne, .maxSelf, .doubleNegation:
      return edges { numeric.contains($0.dtype) }
    case .addNegativeZero: return edges { $0.dtype.isFloat }
    case .whereTrue: return edges { generated.contains($0.dtype) }
    case .commuteOperands:
      let ops: Set = ["add", "mul", "min", "max", "equal", "logical_and", "logical_or", "logical_xor"]
      return nodes { ops.contains($0.op) && $0.inputs[0] != $0.inputs[1] }
    case .subtractNegation: return nodes { $0.op == "add" && numeric.contains($0.types[0].dtype) }
    case .transposeThroughUnary:
      return nodes { n in
        guard n.inputs.count == 1, let spec = operators(n.op), spec.traits.contains(.elementwise),
          let t = types[n.inputs[0]]
        else { return false }
        return t.shape.count >= 2 && t.shape == n.types[0].shape
      }
    case .splitReduceMax, .splitReduceSum:
      let ops: Set = self == .splitReduceMax ? ["reduce_max", "reduce_min"] : ["reduce_sum"]
      return nodes { n in
        guard ops.contains(n.op), let t = types[n.inputs[0]] else { return false }
        return n.attributes.ints("axes").contains { t.shape[$0] % 2 == 0 }
      }
    case .reassociate, .distributeMul:
      var producer: [ValueID: Node] = [:]
      for n in graph.nodes { for o in n.outputs { producer[o] = n } }
      return nodes { n in
        guard n.types[0].dtype.isFloat else { return false }
        let inner: Set<String> =
          self == .reassociate
          ? (["add", "mul"].contains(n.op) ? [n.op] : []) : (n.op == "mul" ? ["add", "sub"] : [])
        return n.inputs.contains { producer[$0].map { inner.contains($0.op) } == true }
      }
    case .matmulAsConv:
      return nodes { n in n.op == "matmul" && types[n.inputs[1]]?.shape.count == 2 }
    case .conv1x1AsMatmul:
      return nodes { n in
        guard n.op == "conv2d", let w = types[n.inputs[1]], let x = types[n.inputs[0]] else { return false }
        let p = n.attributes.ints("pads")
        return w.shape[2] == 1 && w.shape[3] == 1 && n.attributes.int("group") == 1
          && x.shape[2] + p[0] + p[2] <= 64 && x.shape[3] + p[1] + p[3] <= 64
      }
    case .splitMatmul:
      return nodes { n in
        guard n.op == "matmul", let a = types[n.inputs[0]], let b = types[n.inputs[1]] else { return false }
        return b.shape.last! % 2 == 0 || a.shape[a.shape.count - 2] % 2 == 0
      }
    }
  }

  // MARK: Application

  /// Applies this rewrite at `site`; returns its detail, or `nil` if it does not apply.
  func apply(at site: ValueID, editor e: inout GraphEditor, rng: inout SplitMix64) -> String? {
    guard let t = e.types[site] else { return nil }
    switch self {
    case .transposeRoundTrip, .reshapeRoundTrip, .splitConcat, .unsqueezeSqueeze, .sliceWhole,
      .multiplyByOne, .addNegativeZero, .subtractZero, .divideByOne, .maxSelf, .doubleNegation, .whereTrue:
      return edge(site, t, &e, &rng)
    default:
      guard let i = e.producer(of: site) else { return nil }
      return node(i, site, &e, &rng)
    }
  }

  /// Edge rewrites: nodes computing a copy of `v` inserted after it, uses of `v` redirected.
  private func edge(_ v: ValueID, _ t: TensorType, _ e: inout GraphEditor, _ rng: inout SplitMix64) -> String?
  {
    var pos = e.position(after: v)
    let r = t.shape.count
    var detail = ""
    let copy: ValueID?
    func scalar(_ x: Double) -> ValueID { e.constant(t.dtype, [], [x]) }
    switch self {
    case .transposeRoundTrip:
      var p = Array(0..<r)
      repeat { p.shuffle(using: &rng) } while p == Array(0..<r)
      var inverse = p
      for (k, j) in p.enumerated() { inverse[j] = k }
      detail = "perm \(p)"
      copy = e.add("transpose", [v], ["perm": .ints(p)], at: &pos).flatMap {
        e.add("transpose", [$0], ["perm": .ints(inverse)], at: &pos)
      }
    case .reshapeRoundTrip:
      let n = t.elementCount
      var shapes: [[Int]] = t.shape == [n] ? [] : [[n]]
      for a in 2..<Swift.max(2, n) where n % a == 0 && [a, n / a] != t.shape { shapes.append([a, n / a]) }
      let shape =
        shapes.isEmpty ? [1, n] : (shapes.count > 1 && rng.chance(0.5) ? rng.pick(shapes) : shapes[0])
      detail = "via \(shape)"
      copy = e.add("reshape", [v], ["shape": .ints(shape)], at: &pos).flatMap {
        e.add("reshape", [$0], ["shape": .ints(t.shape)], at: &pos)
      }
    case .splitConcat:
      var choices: [(Int, Int)] = []
      for (axis, d) in t.shape.enumerated() {
        if d % 2 == 0 { choices.append((axis, 2)) }
        if d % 3 == 0 { choices.append((axis, 3)) }
      }
      guard !choices.isEmpty else { return nil }
      let (axis, parts) = rng.pick(choices)
      detail = "axis \(axis), \(parts) parts"
      guard
        let pieces = e.insert(
          "split", [v], ["axis": .int(axis), "num_outputs": .string(String(parts))], outputs: parts, at: &pos),
        var joined = e.add("concat", [pieces[0], pieces[1]], ["axis": .int(axis)], at: &pos)
      else { return nil }
      if parts == 3 {
        guard let j = e.add("concat", [joined, pieces[2]], ["axis": .int(axis)], at: &pos) else { return nil }
        joined = j
      }
      copy = joined
    case .unsqueezeSqueeze:
      let axis = rng.int(in: 0...r)
      detail = "axis \(axis)"
      copy = e.add("unsqueeze", [v], ["axis": .int(axis)], at: &pos).flatMap {
        e.add("squeeze", [$0], ["axes": .ints([axis])], at: &pos)
      }
    case .sliceWhole:
      let axes = t.shape.indices.filter { t.shape[$0] <= 64 }
      guard !axes.isEmpty else { return nil }
      let axis = rng.pick(axes)
      let d = t.shape[axis]
      let start = rng.chance(0.5) ? 0 : -d
      detail = "axis \(axis), \(start):\(d)"
      copy = e.add(
        "slice", [v], ["axis": .int(axis), "start": .int(start), "end": .int(d), "step": .int(1)], at: &pos)
    case .multiplyByOne:
      let one = scalar(1)
      let left = rng.chance(0.5)
      detail = left ? "1 * x" : "x * 1"
      copy = e.add("mul", left ? [one, v] : [v, one], at: &pos)
    case .addNegativeZero:
      let zero = scalar(-0.0)
      let left = rng.chance(0.5)
      detail = left ? "-0 + x" : "x + -0"
      copy = e.add("add", left ? [zero, v] : [v, zero], at: &pos)
    case .subtractZero:
      copy = e.add("sub", [v, scalar(0)], at: &pos)
    case .divideByOne:
      copy = e.add("div", [v, scalar(1)], at: &pos)
    case .maxSelf:
      let op = rng.chance(0.5) ? "max" : "min"
      detail = op
      copy = e.add(op, [v, v], at: &pos)
    case .doubleNegation:
      copy = e.add("neg", [v], at: &pos).flatMap { e.add("neg", [$0], at: &pos) }
    case .whereTrue:
      let zero = t.dtype == .bool ? e.constant(.bool, [], [0]) : scalar(0)
      if rng.chance(0.5) {
        detail = "where(true, x, 0)"
        copy = e.add("where", [e.constant(.bool, [], [1]), v, zero], at: &pos)
      } else {
        detail = "where(false, 0, x)"
        copy = e.add("where", [e.constant(.bool, [], [0]), zero, v], at: &pos)
      }
    default: return nil
    }
    guard let copy, e.types[copy] == t else { return nil }
    e.redirect(v, to: copy, from: pos)
    return detail
  }

  /// Node rewrites: node `i` (producing `v`) replaced by nodes whose last one produces `v`.
  private func node(_ i: Int, _ v: ValueID, _ e: inout GraphEditor, _ rng: inout SplitMix64) -> String? {
    let old = e.graph.nodes[i]
    let types = e.types
    let t = old.types[0]
    let x = old.inputs
    var producer: [ValueID: Node] = [:]
    for n in e.graph.nodes { for o in n.outputs { producer[o] = n } }
    e.graph.nodes.remove(at: i)
    var pos = i
    func random(_ p: Int) -> [Int] {
      var perm = Array(0..<p)
      repeat { perm.shuffle(using: &rng) } while perm == Array(0..<p)
      return perm
    }
    func inverse(_ p: [Int]) -> [Int] {
      var q = p
      for (k, j) in p.enumerated() { q[j] = k }
      return q
    }
    var detail = ""
    var result: ValueID?
    switch self {
    case .commuteOperands:
      var n = old
      n.inputs.reverse()
      e.graph.nodes.insert(n, at: i)
      return old.op
    case .subtractNegation:
      result = e.add("neg", [x[1]], at: &pos).flatMap { e.add("sub", [x[0], $0], at: &pos, keeping: v) }
    case .transposeThroughUnary:
      let p = random(t.shape.count)
      detail = "\(old.op), perm \(p)"
      guard let a = e.add("transpose", [x[0]], ["perm": .ints(p)], at: &pos),
        let b = e.add(old.op, [a], old.attributes.values, at: &pos)
      else { return nil }
      result = e.add("transpose", [b], ["perm": .ints(inverse(p))], at: &pos, keeping: v)
    case .splitReduceMax, .splitReduceSum:
      guard let xt = types[x[0]] else { return nil }
      let axes = old.attributes.ints("axes").filter { xt.shape[$0] % 2 == 0 }
      guard !axes.isEmpty else { return nil }
      let axis = rng.pick(axes)
      let combine = old.op == "reduce_sum" ? "add" : (old.op == "reduce_max" ? "max" : "min")
      detail = "\(old.op) axis \(axis)"
      guard
        let halves = e.insert(
          "split", [x[0]], ["axis": .int(axis), "num_outputs": .string("2")], outputs: 2, at: &pos),
        let a = e.add(old.op, [halves[0]], old.attributes.values, at: &pos),
        let b = e.add(old.op, [halves[1]], old.attributes.values, at: &pos)
      else { return nil }
      result = e.add(combine, [a, b], at: &pos, keeping: v)
    case .reassociate:
      // op(op(a, b), c) -> op(a, op(b, c)); op(c, op(a, b)) -> op(op(c, a), b).
      let sides = [0, 1].filter { producer[x[$0]]?.op == old.op }
      guard !sides.isEmpty else { return nil }
      let side = rng.pick(sides)
      let inner = producer[x[side]]!
      let (a, b) = (inner.inputs[0], inner.inputs[1])
      detail = old.op
      if side == 0 {
        result = e.add(old.op, [b, x[1]], at: &pos).flatMap { e.add(old.op, [a, $0], at: &pos, keeping: v) }
      } else {
        result = e.add(old.op, [x[0], a], at: &pos).flatMap { e.add(old.op, [$0, b], at: &pos, keeping: v) }
      }
    case .distributeMul:
      let sides = [0, 1].filter { ["add", "sub"].contains(producer[x[$0]]?.op ?? "") }
      guard !sides.isEmpty else { return nil }
      let side = rng.pick(sides)
      let inner = producer[x[side]]!
      let factor = x[1 - side]
      detail = "over \(inner.op)"
      guard let p = e.add("mul", [factor, inner.inputs[0]], at: &pos),
        let q = e.add("mul", [factor, inner.inputs[1]], at: &pos)
      else { return nil }
      result = e.add(inner.op, [p, q], at: &pos, keeping: v)
    case .matmulAsConv:
      guard let at = types[x[0]], let bt = types[x[1]] else { return nil }
      let (k, n) = (bt.shape[0], bt.shape[1])
      let rows = at.elementCount / k
      var a = x[0]
      if at.shape.count > 2 {
        guard let r = e.add("reshape", [a], ["shape": .ints([rows, k])], at: &pos) else { return nil }
        a = r
      }
      guard let aT = e.add("transpose", [a], ["perm": .ints([1, 0])], at: &pos),
        let x4 = e.add("reshape", [aT], ["shape": .ints([1, k, rows, 1])], at: &pos),
        let bT = e.add("transpose", [x[1]], ["perm": .ints([1, 0])], at: &pos),
        let w4 = e.add("reshape", [bT], ["shape": .ints([n, k, 1, 1])], at: &pos),
        let c = e.add(
          "conv2d", [x4, w4],
          [
            "strides": .ints([1, 1]), "pads": .ints([0, 0, 0, 0]), "dilations": .ints([1, 1]),
            "group": .int(1),
          ], at: &pos),
        let c2 = e.add("reshape", [c], ["shape": .ints([n, rows])], at: &pos)
      else { return nil }
      if at.shape.count > 2 {
        result = e.add("transpose", [c2], ["perm": .ints([1, 0])], at: &pos).flatMap {
          e.add("reshape", [$0], ["shape": .ints(t.shape)], at: &pos, keeping: v)
        }
      } else {
        result = e.add("transpose", [c2], ["perm": .ints([1, 0])], at: &pos, keeping: v)
      }
      detail = "[\(rows), \(k)] x [\(k), \(n)]"
    case .conv1x1AsMatmul:
      guard let xt = types[x[0]], let wt = types[x[1]] else { return nil }
      let s = old.attributes.ints("strides")
      let p = old.attributes.ints("pads")
      var input = x[0]
      var padded = xt.shape
      if p.contains(where: { $0 > 0 }) {
        guard
          let q = e.add(
            "pad", [input],
            [
              "pads_begin": .ints([0, 0, p[0], p[1]]), "pads_end": .ints([0, 0, p[2], p[3]]),
              "mode": .string("constant"), "value": .float(0),
            ], at: &pos)
        else { return nil }
        input = q
        padded = e.types[q]!.shape
      }
      for (axis, step) in zip([2, 3], s) where step > 1 {
        let d = padded[axis]
        guard
          let sl = e.add(
            "slice", [input], ["axis": .int(axis), "start": .int(0), "end": .int(d), "step": .int(step)],
            at: &pos)
        else { return nil }
        input = sl
      }
      let (nb, o, h, w) = (t.shape[0], t.shape[1], t.shape[2], t.shape[3])
      let c = wt.shape[1]
      guard let xT = e.add("transpose", [input], ["perm": .ints([0, 2, 3, 1])], at: &pos),
        let x2 = e.add("reshape", [xT], ["shape": .ints([nb * h * w, c])], at: &pos),
        let w2 = e.add("reshape", [x[1]], ["shape": .ints([o, c])], at: &pos),
        let wT = e.add("transpose", [w2], ["perm": .ints([1, 0])], at: &pos),
        let m = e.add("matmul", [x2, wT], at: &pos),
        let m4 = e.add("reshape", [m], ["shape": .ints([nb, h, w, o])], at: &pos)
      else { return nil }
      result = e.add("transpose", [m4], ["perm": .ints([0, 3, 1, 2])], at: &pos, keeping: v)
      detail = "strides \(s), pads \(p)"
    case .splitMatmul:
      guard let at = types[x[0]], let bt = types[x[1]] else { return nil }
      var choices: [Int] = []
      if bt.shape.last! % 2 == 0 { choices.append(0) }
      if at.shape[at.shape.count - 2] % 2 == 0 { choices.append(1) }
      guard !choices.isEmpty else { return nil }
      let alongM = rng.pick(choices) == 1
      let r = t.shape.count
      detail = alongM ? "along M" : "along N"
      if alongM {
        let axis = at.shape.count - 2
        guard
          let h = e.insert(
            "split", [x[0]], ["axis": .int(axis), "num_outputs": .string("2")], outputs: 2, at: &pos),
          let p = e.add("matmul", [h[0], x[1]], at: &pos),
          let q = e.add("matmul", [h[1], x[1]], at: &pos)
        else { return nil }
        result = e.add("concat", [p, q], ["axis": .int(r - 2)], at: &pos, keeping: v)
      } else {
        let axis = bt.shape.count - 1
        guard
          let h = e.insert(
            "split", [x[1]], ["axis": .int(axis), "num_outputs": .string("2")], outputs: 2, at: &pos),
          let p = e.add("matmul", [x[0], h[0]], at: &pos),
          let q = e.add("matmul", [x[0], h[1]], at: &pos)
        else { return nil }
        result = e.add("concat", [p, q], ["axis": .int(r - 1)], at: &pos, keeping: v)
      }
    default: return nil
    }
    guard result == v, e.types[v] == t else { return nil }
    return detail
  }
}
