import Backends
import Kernels
import Operators
import Symbolic
import Tensors
import Testing

// MARK: - Helpers

/// Output shapes of `id`'s rule evaluated concretely, or `nil` if the rule does not apply or a
/// requirement fails (as `Graph.verify` does).
private func ruleOutputs(_ id: String, _ inputs: [Tensor], _ attributes: Attributes) -> [[Int]]? {
  let spec = Catalogue.spec(id)!
  let ranks = inputs.map(\.rank)
  for (i, input) in spec.inputs.enumerated() {
    guard let allowed = input.ranks.allowed(Array(ranks[..<i]), maxRank: 8), allowed.contains(ranks[i]) else {
      return nil
    }
  }
  for a in spec.attributes where !a.accepts(attributes[a.name], ranks: ranks) { return nil }
  let context = RuleContext(
    inputs: inputs.map { $0.shape.map(Dim.constant) }, dtypes: inputs.map(\.dtype),
    attributes: attributes.symbolic)
  guard let rule = spec.rule(context), rule.requires.allSatisfy({ $0.evaluated(in: [:]) }) else { return nil }
  var shapes: [[Int]] = []
  for dims in rule.outputs {
    let s = dims.compactMap { $0.evaluated(in: [:]) }
    guard s.count == dims.count, s.allSatisfy({ $0 >= 1 }) else { return nil }
    shapes.append(s)
  }
  return shapes
}

/// Random values of `dtype`: floats in [-1, 1] (exact in float32), i32/i64 over a signed range,
/// bool 0/1.
private func randomTensor(_ shape: [Int], _ dtype: DType = .f32, _ rng: inout SplitMix64) -> Tensor {
  let n = shape.reduce(1, *)
  let values: [Double] = (0..<n).map { _ in
    switch dtype {
    case .f32: return Double(Float(rng.unit() * 2 - 1))
    case .i32: return Double(rng.int(in: -2_000_000_000...2_000_000_000))
    case .i64: return Double(rng.int(in: -(1 << 50)...(1 << 50)))
    case .bool: return Double(rng.int(in: 0...1))
    default: return 0
    }
  }
  return Tensor(dtype: dtype, shape: shape, storage: values)
}

private func randomShape(rank: Int, _ dims: ClosedRange<Int>, _ rng: inout SplitMix64) -> [Int] {
  (0..<rank).map { _ in rng.int(in: dims) }
}

private func ints(_ n: Int, _ r: ClosedRange<Int>, _ rng: inout SplitMix64) -> AttributeValue {
  .ints((0..<n).map { _ in rng.int(in: r) })
}

private let movementDTypes: [DType] = [.f32, .i32, .i64, .bool]

/// Runs the fast kernel of `id`, or `nil` when it is missing.
private func fast(_ id: String, _ inputs: [Tensor], _ attributes: Attributes) -> [Tensor]? {
  guard let kernel = FastKernels.table[id] else { return nil }
  return kernel(attributes, inputs.map(FastTensor.init)).map(\.tensor)
}

/// A draw: inputs and attributes (the rule is checked by the caller).
private typealias Draw = (inputs: [Tensor], attributes: Attributes)

/// Runs `trials` seeded draws of `id` whose rule holds and checks every output with `check`
/// (fast, reference, draw). Returns the number of accepted draws.
@discardableResult
private func exercise(
  _ id: String, trials: Int = 60, seed: UInt64,
  draw: (inout SplitMix64) -> Draw,
  check: (Tensor, Tensor, Draw, Int) -> Void
) -> Int {
  var rng = SplitMix64(seed: seed)
  var accepted = 0
  var attempts = 0
  while accepted < trials && attempts < trials * 50 {
    attempts += 1
    let d = draw(&rng)
    guard let shapes = ruleOutputs(id, d.inputs, d.attributes) else { continue }
    accepted += 1
    let spec = Catalogue.spec(id)!
    let ref = spec.evaluate(d.inputs, attributes: d.attributes)
    guard let got = fast(id, d.inputs, d.attributes) else {
      Issue.record("\(id): no fast kernel")
      return accepted
    }
    #expect(got.count == ref.count, "\(id): \(got.count) outputs, reference \(ref.count)")
    for (k, (g, r)) in zip(got, ref).enumerated() {
      #expect(g.shape == shapes[k] && r.shape == shapes[k], "\(id): shape \(g.shape) vs rule \(shapes[k])")
      #expect(g.dtype == r.dtype, "\(id): dtype \(g.dtype) vs \(r.dtype)")
      guard g.shape == r.shape else { continue }
      check(g, r, d, k)
    }
  }
  #expect(accepted >= trials / 2, "\(id): only \(accepted) valid draws in \(attempts) attempts")
  return accepted
}

/// Exact equality: NaN equals NaN, and float zeros must carry the same sign.
private func expectExact(_ id: String, _ got: Tensor, _ ref: Tensor, _ d: Draw) {
  let same = zip(got.storage, ref.storage).allSatisfy { a, b in
    (a.isNaN && b.isNaN) || (a == b && (got.dtype != .f32 || a.sign == b.sign))
  }
  #expect(
    same, "\(id): mismatch for \(d.inputs.map(\.shape)) \(d.inputs.first?.dtype ?? .f32) \(d.attributes)")
}

/// `|got - ref| <= tolerance * (1 + bound)` elementwise, `bound` from the same op run on absolute
/// values (the sum of |a||b| over the reduction).
private func expectClose(
  _ id: String, _ got: Tensor, _ ref: Tensor, bound: Tensor, tolerance: Double, _ d: Draw
) {
  var worst = 0.0
  var ok = true
  for i in 0..<ref.count {
    let (a, b) = (got.storage[i], ref.storage[i])
    if a.isNaN || b.isNaN {
      if !(a.isNaN && b.isNaN) { ok = false }
      continue
    }
    let err = abs(a - b) / (1 + bound.storage[i])
    worst = Swift.max(worst, err)
    if err > tolerance { ok = false }
  }
  #expect(ok, "\(id): relative error \(worst) > \(tolerance) for \(d.inputs.map(\.shape)) \(d.attributes)")
}

/// The reference op on absolute values: per output, a bound on the sum of |terms|.
private func absBound(_ id: String, _ d: Draw) -> Tensor {
  let absInputs = d.inputs.map { t in
    Tensor(dtype: t.dtype, shape: t.shape, storage: t.storage.map { abs($0) })
  }
  var attrs = d.attributes
  for name in ["alpha", "beta"] {
    if case .float(let v)? = attrs[name] { attrs[name] = .float(abs(v)) }
  }
  return Catalogue.spec(id)!.reference(attrs, absInputs)[0]
}

// MARK: - Draws

private func convDraw(spatial n: Int) -> (inout SplitMix64) -> Draw {
  { rng in
    let g = rng.int(in: 1...3)
    let cg = rng.int(in: 1...3)
    let og = rng.int(in: 1...3)
    let k = randomShape(rank: n, 1...4, &rng)
    let s = randomShape(rank: n, (n == 1 ? 3 : 2)...12, &rng)
    let x = randomTensor([rng.int(in: 1...2), g * cg] + s, .f32, &rng)
    let w = randomTensor([g * og, cg] + k, .f32, &rng)
    let attrs = Attributes([
      "strides": ints(n, 1...3, &rng), "pads": ints(2 * n, 0...3, &rng), "dilations": ints(n, 1...2, &rng),
      "group": .int(g),
    ])
    return ([x, w], attrs)
  }
}

private func poolDraw(spatial n: Int, max isMax: Bool) -> (inout SplitMix64) -> Draw {
  { rng in
    let s = randomShape(rank: n, 1...12, &rng)
    var x = randomTensor([rng.int(in: 1...2), rng.int(in: 1...3)] + s, .f32, &rng)
    if isMax && rng.chance(0.3) {
      // A few NaNs and infinities: NaN must win over everything.
      for _ in 0..<3 { x.storage[rng.int(in: 0...(x.count - 1))] = rng.pick([.nan, .infinity, -.infinity]) }
    }
    var attrs = Attributes([
      "kernel_shape": ints(n, 1...4, &rng), "strides": ints(n, 1...3, &rng), "pads": ints(2 * n, 0...3, &rng),
    ])
    if isMax {
      attrs["dilations"] = ints(n, 1...2, &rng)
    } else {
      attrs["count_include_pad"] = .int(rng.int(in: 0...1))
    }
    return ([x], attrs)
  }
}

// MARK: - Tests

@Suite struct FastLinearTests {
  @Test func everyOpHasAFastKernel() {
    let ids = [
      "matmul", "gemm", "conv1d", "conv2d", "conv_transpose2d", "max_pool1d", "max_pool2d", "avg_pool1d",
      "avg_pool2d", "global_avg_pool", "resize", "reshape", "flatten", "transpose", "squeeze", "unsqueeze",
      "concat", "split", "slice", "pad", "expand", "tile", "gather",
    ]
    for id in ids {
      #expect(Catalogue.spec(id) != nil, "\(id) is not in the catalogue")
      #expect(FastKernels.table[id] != nil, "\(id) has no fast kernel")
    }
  }

  // MARK: Linear

  @Test func matmul() {
    exercise("matmul", seed: 1) { rng in
      let batchRank = rng.int(in: 0...2)
      let batch = randomShape(rank: batchRank, 1...3, &rng)
      func operandBatch(_ rng: inout SplitMix64) -> [Int] {
        let r = rng.int(in: 0...batchRank)
        return batch.suffix(r).map { rng.chance(0.3) ? 1 : $0 }
      }
      let big = rng.chance(0.2)
      let (m, k, n) = (
        rng.int(in: 1...(big ? 70 : 8)), rng.int(in: 1...(big ? 90 : 8)), rng.int(in: 1...(big ? 70 : 8))
      )
      let a = randomTensor(operandBatch(&rng) + [m, k], .f32, &rng)
      let b = randomTensor(operandBatch(&rng) + [k, n], .f32, &rng)
      return ([a, b], Attributes())
    } check: { g, r, d, _ in
      expectClose("matmul", g, r, bound: absBound("matmul", d), tolerance: 1e-5, d)
    }
  }

  @Test func gemm() {
    exercise("gemm", seed: 2) { rng in
      let (m, k, n) = (rng.int(in: 1...12), rng.int(in: 1...12), rng.int(in: 1...12))
      let ta = rng.int(in: 0...1)
      let tb = rng.int(in: 0...1)
      let a = randomTensor(ta == 1 ? [k, m] : [m, k], .f32, &rng)
      let b = randomTensor(tb == 1 ? [n, k] : [k, n], .f32, &rng)
      let cRank = rng.int(in: 0...2)
      let cShape = [m, n].suffix(cRank).map { rng.chance(0.4) ? 1 : $0 }
      let c = randomTensor(cShape, .f32, &rng)
      func scalar(_ rng: inout SplitMix64) -> AttributeValue {
        .float(rng.chance(0.15) ? rng.pick([0, 1, -1]) : Double(Float(rng.unit() * 4 - 2)))
      }
      let attrs = Attributes([
        "alpha": scalar(&rng), "beta": scalar(&rng), "trans_a": .int(ta), "trans_b": .int(tb),
      ])
      return ([a, b, c], attrs)
    } check: { g, r, d, _ in
      expectClose("gemm", g, r, bound: absBound("gemm", d), tolerance: 1e-5, d)
    }
  }

  @Test(arguments: zip(["conv1d", "conv2d"], [1, 2]))
  func convolution(_ id: String, _ n: Int) {
    exercise(id, trials: 80, seed: 3 + UInt64(n), draw: convDraw(spatial: n)) { g, r, d, _ in
      expectClose(id, g, r, bound: absBound(id, d), tolerance: 1e-5, d)
    }
  }

  /// Small im2col blocks force banded GEMMs (several output-row bands per image and group).
  @Test func convolutionInBands() {
    var rng = SplitMix64(seed: 11)
    var checked = 0
    for _ in 0..<200 where checked < 30 {
      let d = convDraw(spatial: 2)(&rng)
      guard ruleOutputs("conv2d", d.inputs, d.attributes) != nil else { continue }
      checked += 1
      let a = d.attributes
      let got = Fast.conv(
        FastTensor(d.inputs[0]), FastTensor(d.inputs[1]), strides: a.ints("strides"), pads: a.ints("pads"),
        dilations: a.ints("dilations"), group: a.int("group"), blockFloats: rng.int(in: 1...64)
      ).tensor
      let ref = Catalogue.spec("conv2d")!.evaluate(d.inputs, attributes: a)[0]
      #expect(got.shape == ref.shape)
      if got.shape == ref.shape {
        expectClose("conv2d", got, ref, bound: absBound("conv2d", d), tolerance: 1e-5, d)
      }
    }
    #expect(checked == 30)
  }

  @Test func convTranspose2d() {
    exercise("conv_transpose2d", trials: 80, seed: 6) { rng in
      let g = rng.int(in: 1...2)
      let cg = rng.int(in: 1...3)
      let og = rng.int(in: 1...3)
      let x = randomTensor([rng.int(in: 1...2), g * cg] + randomShape(rank: 2, 1...7, &rng), .f32, &rng)
      let w = randomTensor([g * cg, og] + randomShape(rank: 2, 1...4, &rng), .f32, &rng)
      let attrs = Attributes([
        "strides": ints(2, 1...3, &rng), "pads": ints(4, 0...3, &rng), "dilations": ints(2, 1...2, &rng),
        "output_padding": ints(2, 0...2, &rng), "group": .int(g),
      ])
      return ([x, w], attrs)
    } check: { g, r, d, _ in
      expectClose("conv_transpose2d", g, r, bound: absBound("conv_transpose2d", d), tolerance: 1e-5, d)
    }
  }

  @Test(arguments: zip(["max_pool1d", "max_pool2d"], [1, 2]))
  func maxPool(_ id: String, _ n: Int) {
    exercise(id, trials: 80, seed: 7 + UInt64(n), draw: poolDraw(spatial: n, max: true)) { g, r, d, _ in
      expectExact(id, g, r, d)
    }
  }

  @Test(arguments: zip(["avg_pool1d", "avg_pool2d"], [1, 2]))
  func avgPool(_ id: String, _ n: Int) {
    exercise(id, trials: 80, seed: 9 + UInt64(n), draw: poolDraw(spatial: n, max: false)) { g, r, d, _ in
      // Float32 sums of at most 16 cells: error <= 16 u * mean |cell| plus the final roundings.
      expectClose(id, g, r, bound: absBound(id, d), tolerance: 1.5e-6, d)
    }
  }

  @Test func globalAvgPool() {
    exercise("global_avg_pool", seed: 12) { rng in
      let rank = rng.int(in: 3...5)
      return (
        [randomTensor(randomShape(rank: rank, 1...(rank == 3 ? 40 : 6), &rng), .f32, &rng)], Attributes()
      )
    } check: { g, r, d, _ in
      let inner = d.inputs[0].shape[2...].reduce(1, *)
      expectClose(
        "global_avg_pool", g, r, bound: absBound("global_avg_pool", d),
        tolerance: 1e-6 + Double(inner) * 0x1p-24, d)
    }
  }

  @Test func resize() {
    exercise("resize", seed: 13) { rng in
      let rank = rng.int(in: 3...5)
      let x = randomTensor(
        randomShape(rank: 2, 1...2, &rng) + randomShape(rank: rank - 2, 1...(rank == 3 ? 20 : 6), &rng), .f32,
        &rng)
      return ([x], Attributes(["sizes": ints(rank - 2, 1...(rank == 5 ? 12 : 64), &rng)]))
    } check: { g, r, d, _ in
      expectExact("resize", g, r, d)
    }
  }

  // MARK: Layout

  /// Runs a data-movement op over every fast dtype with exact comparison.
  private func movement(_ id: String, seed: UInt64, draw: @escaping (DType, inout SplitMix64) -> Draw) {
    for (i, dtype) in movementDTypes.enumerated() {
      exercise(id, trials: 40, seed: seed &* 16 &+ UInt64(i)) { rng in
        draw(dtype, &rng)
      } check: { g, r, d, _ in
        expectExact(id, g, r, d)
      }
    }
  }

  @Test func reshape() {
    movement("reshape", seed: 20) { dtype, rng in
      let x = randomTensor(randomShape(rank: rng.int(in: 0...5), 1...4, &rng), dtype, &rng)
      // Split the element count into 1...4 factors.
      var rest = x.count
      var target: [Int] = []
      for _ in 0..<rng.int(in: 0...3) {
        let divisors = (1...rest).filter { rest % $0 == 0 }
        let f = rng.pick(divisors)
        target.append(f)
        rest /= f
      }
      target.append(rest)
      target.shuffle(using: &rng)
      return ([x], Attributes(["shape": .ints(target)]))
    }
  }

  @Test func flatten() {
    movement("flatten", seed: 21) { dtype, rng in
      let r = rng.int(in: 1...5)
      let x = randomTensor(randomShape(rank: r, 1...4, &rng), dtype, &rng)
      return ([x], Attributes(["axis": .int(rng.int(in: -r...r))]))
    }
  }

  @Test func transpose() {
    movement("transpose", seed: 22) { dtype, rng in
      let r = rng.int(in: 1...6)
      let x = randomTensor(randomShape(rank: r, 1...4, &rng), dtype, &rng)
      return ([x], Attributes(["perm": .ints(Array(0..<r).shuffled(using: &rng))]))
    }
  }

  @Test func squeeze() {
    movement("squeeze", seed: 23) { dtype, rng in
      let r = rng.int(in: 1...6)
      let shape = (0..<r).map { _ in rng.chance(0.5) ? 1 : rng.int(in: 1...4) }
      let ones = shape.indices.filter { shape[$0] == 1 && rng.chance(0.7) }
      return ([randomTensor(shape, dtype, &rng)], Attributes(["axes": .ints(ones)]))
    }
  }

  @Test func unsqueeze() {
    movement("unsqueeze", seed: 24) { dtype, rng in
      let r = rng.int(in: 0...5)
      let x = randomTensor(randomShape(rank: r, 1...4, &rng), dtype, &rng)
      return ([x], Attributes(["axis": .int(rng.int(in: -(r + 1)...r))]))
    }
  }

  @Test func concat() {
    movement("concat", seed: 25) { dtype, rng in
      let r = rng.int(in: 1...5)
      let axis = rng.int(in: 0...(r - 1))
      let a = randomShape(rank: r, 1...4, &rng)
      var b = a
      b[axis] = rng.int(in: 1...4)
      let attrs = Attributes(["axis": .int(rng.chance(0.5) ? axis : axis - r)])
      return ([randomTensor(a, dtype, &rng), randomTensor(b, dtype, &rng)], attrs)
    }
  }

  @Test func split() {
    movement("split", seed: 26) { dtype, rng in
      let r = rng.int(in: 1...5)
      let axis = rng.int(in: 0...(r - 1))
      let parts = rng.int(in: 2...3)
      var shape = randomShape(rank: r, 1...4, &rng)
      shape[axis] = parts * rng.int(in: 1...3)
      let attrs = Attributes([
        "axis": .int(rng.chance(0.5) ? axis : axis - r), "num_outputs": .string(String(parts)),
      ])
      return ([randomTensor(shape, dtype, &rng)], attrs)
    }
  }

  @Test func slice() {
    movement("slice", seed: 27) { dtype, rng in
      let r = rng.int(in: 1...5)
      let shape = randomShape(rank: r, 1...7, &rng)
      let axis = rng.int(in: 0...(r - 1))
      let d = shape[axis]
      let end = rng.pick(Array((1 - d)...d).filter { $0 != 0 })
      let attrs = Attributes([
        "axis": .int(rng.chance(0.5) ? axis : axis - r), "start": .int(rng.int(in: -d...(d - 1))),
        "end": .int(end), "step": .int(rng.int(in: 1...3)),
      ])
      return ([randomTensor(shape, dtype, &rng)], attrs)
    }
  }

  @Test func pad() {
    movement("pad", seed: 28) { dtype, rng in
      let r = rng.int(in: 1...4)
      let x = randomTensor(randomShape(rank: r, 1...5, &rng), dtype, &rng)
      let value = rng.chance(0.3) ? rng.pick([0, 1, -1, 0.5, -0.0]) : rng.unit() * 2 - 1
      let attrs = Attributes([
        "pads_begin": ints(r, 0...3, &rng), "pads_end": ints(r, 0...3, &rng),
        "mode": .string(rng.pick(["constant", "reflect", "edge"])), "value": .float(value),
      ])
      return ([x], attrs)
    }
  }

  @Test func expand() {
    movement("expand", seed: 29) { dtype, rng in
      let out = randomShape(rank: rng.int(in: 1...5), 1...4, &rng)
      let xr = rng.int(in: 0...out.count)
      let xs = out.suffix(xr).map { rng.chance(0.5) ? 1 : $0 }
      // The target may itself hold 1s where x has the extent, and may be shorter than x.
      var target = out.map { rng.chance(0.2) ? 1 : $0 }
      if rng.chance(0.2) { target = Array(target.suffix(rng.int(in: 1...target.count))) }
      return ([randomTensor(xs, dtype, &rng)], Attributes(["shape": .ints(target)]))
    }
  }

  @Test func tile() {
    movement("tile", seed: 30) { dtype, rng in
      let r = rng.int(in: 1...5)
      let x = randomTensor(randomShape(rank: r, 1...3, &rng), dtype, &rng)
      return ([x], Attributes(["repeats": ints(r, 1...3, &rng)]))
    }
  }

  @Test func gather() {
    movement("gather", seed: 31) { dtype, rng in
      let r = rng.int(in: 1...4)
      let shape = randomShape(rank: r, 1...5, &rng)
      let axis = rng.int(in: 0...(r - 1))
      let d = shape[axis]
      let indexShape = randomShape(rank: rng.int(in: 0...2), 1...4, &rng)
      let indices = Tensor(
        dtype: rng.pick([.i32, .i64]), shape: indexShape,
        storage: (0..<indexShape.reduce(1, *)).map { _ in Double(rng.int(in: -d...(d - 1))) })
      let attrs = Attributes(["axis": .int(rng.chance(0.5) ? axis : axis - r)])
      return ([randomTensor(shape, dtype, &rng), indices], attrs)
    }
  }
}
