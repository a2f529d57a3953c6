import Backends
import Foundation
import Kernels
import Operators
import Tensors
import TestSupport
import Testing

/// The fast kernels of the elementwise, reduction and normalization operators against the float64
/// reference (`OperatorSpec.evaluate`): exact for discrete operators and integer dtypes, within
/// `1e-5 * max(1, |ref|) * n` (n: the number of values combined into one output) for float math.
@Suite struct FastElementwiseTests {
  static let unaryIDs = [
    "relu", "leaky_relu", "elu", "selu", "sigmoid", "hard_sigmoid", "hard_swish", "tanh", "gelu", "erf",
    "exp", "log", "sqrt", "reciprocal", "abs", "neg", "sin", "cos", "atan", "asin", "sinh", "floor",
    "ceil", "round", "sign", "softplus", "softsign", "clip",
  ]
  static let arithmeticIDs = ["add", "sub", "mul", "div", "pow", "min", "max"]
  static let comparisonIDs = ["equal", "less", "less_equal", "greater", "greater_equal"]
  static let logicalIDs = ["logical_and", "logical_or", "logical_xor"]
  static let reductionIDs = ["reduce_sum", "reduce_mean", "reduce_max", "reduce_min", "reduce_prod"]
  static let otherIDs = [
    "logical_not", "where", "cast", "argmax", "argmin", "cumsum", "softmax", "log_softmax", "layer_norm",
    "batch_norm",
  ]
  static let allIDs = unaryIDs + arithmeticIDs + comparisonIDs + logicalIDs + reductionIDs + otherIDs

  /// Float operators whose results are exact (no rounding beyond the input values).
  static let exactFloatIDs: Set<String> = [
    "relu", "abs", "neg", "floor", "ceil", "round", "sign", "clip", "min", "max", "reduce_max",
    "reduce_min", "where", "cast",
  ]
}

// MARK: - Helpers

extension FastElementwiseTests {
  /// Runs `id` on both backends and compares every output.
  func check(
    _ id: String, _ inputs: [Tensor], _ attrs: [String: AttributeValue] = [:], length: Int = 1,
    sourceLocation: SourceLocation = #_sourceLocation
  ) {
    let attributes = Attributes(attrs)
    guard let spec = Catalogue.spec(id), let kernel = FastKernels.table[id] else {
      Issue.record("no spec or fast kernel for \(id)", sourceLocation: sourceLocation)
      return
    }
    let reference = spec.evaluate(inputs, attributes: attributes)
    let fast = kernel(attributes, inputs.map(FastTensor.init))
    #expect(fast.count == reference.count, "\(id): output count", sourceLocation: sourceLocation)
    for (f, r) in zip(fast, reference) {
      let what = "\(id) \(attrs) on \(inputs.map { "\($0.dtype)\($0.shape)" })"
      guard f.dtype == r.dtype, f.shape == r.shape else {
        Issue.record(
          "\(what): fast \(f.dtype)\(f.shape) vs reference \(r.dtype)\(r.shape)",
          sourceLocation: sourceLocation)
        continue
      }
      let exact = !r.dtype.isFloat || Self.exactFloatIDs.contains(id)
      let fv = f.tensor.storage
      for i in 0..<fv.count {
        let a = fv[i]
        let b = r.storage[i]
        let ok: Bool
        if a.isNaN || b.isNaN {
          ok = a.isNaN && b.isNaN
        } else if exact || a.isInfinite || b.isInfinite {
          ok = a == b
        } else {
          ok = Swift.abs(a - b) <= 1e-5 * Swift.max(1, Swift.abs(b)) * Double(Swift.max(length, 1))
        }
        if !ok {
          Issue.record("\(what): element \(i): fast \(a) vs reference \(b)", sourceLocation: sourceLocation)
          return
        }
      }
    }
  }

  /// A seed per test and operator id.
  func seed(_ base: UInt64, _ id: String) -> UInt64 {
    id.utf8.reduce(base) { $0 &* 31 &+ UInt64($1) }
  }

  /// Seeded random shapes and values.
  struct Gen {
    var rng: SplitMix64

    init(_ seed: UInt64) { rng = SplitMix64(seed: seed) }

    /// A shape with `rank` in `ranks` and 1...200 elements.
    mutating func shape(_ ranks: ClosedRange<Int> = 0...4) -> [Int] {
      while true {
        let r = rng.int(in: ranks)
        let s = (0..<r).map { _ in rng.int(in: 1...7) }
        if s.reduce(1, *) <= 200 { return s }
      }
    }

    /// A shape that broadcasts to `shape`: a suffix of it with some dims replaced by 1.
    mutating func partner(of shape: [Int]) -> [Int] {
      if rng.chance(0.35) { return shape }
      let k = rng.int(in: 0...shape.count)
      return shape.suffix(k).map { rng.chance(0.4) ? 1 : $0 }
    }

    mutating func floats(_ shape: [Int], _ lo: Double, _ hi: Double, nan: Double = 0) -> Tensor {
      let n = shape.reduce(1, *)
      let v = (0..<n).map { _ in rng.chance(nan) ? Double.nan : Double(Float(lo + (hi - lo) * rng.unit())) }
      return Tensor(dtype: .f32, shape: shape, storage: v)
    }

    /// Floats with |x| in [lo, hi] and a random sign.
    mutating func awayFromZero(_ shape: [Int], _ lo: Double, _ hi: Double) -> Tensor {
      let t = floats(shape, lo, hi)
      return Tensor(dtype: .f32, shape: shape, storage: t.storage.map { rng.chance(0.5) ? -$0 : $0 })
    }

    /// Values from a small set, so that ties and equalities are common.
    mutating func coarse(_ shape: [Int], _ dtype: DType, nan: Double = 0) -> Tensor {
      let n = shape.reduce(1, *)
      let v = (0..<n).map { _ -> Double in
        if dtype == .f32 && rng.chance(nan) { return .nan }
        if dtype == .bool { return Double(rng.int(in: 0...1)) }
        return Double(rng.int(in: -4...4)) * (dtype == .f32 ? 0.5 : 1)
      }
      return Tensor(dtype: dtype, shape: shape, storage: v)
    }

    mutating func ints(_ shape: [Int], _ dtype: DType, _ range: ClosedRange<Int>, nonzero: Bool = false)
      -> Tensor
    {
      let n = shape.reduce(1, *)
      let v = (0..<n).map { _ -> Double in
        var x = rng.int(in: range)
        if nonzero && x == 0 { x = 1 }
        return Double(x)
      }
      return Tensor(dtype: dtype, shape: shape, storage: v)
    }

    /// Sorted, distinct, non-empty axes of a rank-`r` tensor.
    mutating func axes(rank r: Int) -> [Int] {
      while true {
        let a = (0..<r).filter { _ in rng.chance(0.5) }
        if !a.isEmpty { return a }
      }
    }

    /// An axis of a rank-`r` tensor, sometimes negative.
    mutating func axis(rank r: Int) -> Int {
      let a = rng.int(in: 0...(r - 1))
      return rng.chance(0.3) ? a - r : a
    }
  }

  /// The input interval of a float unary op (its declared domain, or a range where the float32
  /// result stays finite and well conditioned).
  static func unaryRange(_ id: String) -> (Double, Double) {
    switch id {
    case "log": return (0.1, 10)
    case "sqrt": return (0, 10)
    case "asin": return (-1, 1)
    case "exp": return (-10, 10)
    case "sinh": return (-5, 5)
    case "sin", "cos": return (-6, 6)
    default: return (-8, 8)
    }
  }

  static func unaryAttributes(_ id: String, _ g: inout Gen) -> [String: AttributeValue] {
    switch id {
    case "leaky_relu": return ["alpha": .float(0.01 + 0.49 * g.rng.unit())]
    case "elu": return ["alpha": .float(0.1 + 1.9 * g.rng.unit())]
    case "clip": return ["min": .float(-6 * g.rng.unit()), "max": .float(6 * g.rng.unit())]
    default: return [:]
    }
  }
}

// MARK: - Random comparisons with the reference

extension FastElementwiseTests {
  @Test(arguments: unaryIDs) func unaryMatchesReference(id: String) {
    var g = Gen(seed(0x0A11, id))
    for _ in 0..<12 {
      let shape = g.shape()
      let attrs = Self.unaryAttributes(id, &g)
      if id == "reciprocal" {
        check(id, [g.awayFromZero(shape, 0.1, 8)], attrs)
      } else {
        let (lo, hi) = Self.unaryRange(id)
        check(id, [g.floats(shape, lo, hi)], attrs)
      }
      if ["relu", "leaky_relu", "clip", "sign", "abs", "neg", "round", "floor", "ceil"].contains(id) {
        // NaN propagation and exact ties (multiples of 0.5).
        check(id, [g.floats(shape, -3, 3, nan: 0.2)], attrs)
        check(id, [g.coarse(shape, .f32, nan: 0.1)], attrs)
      }
      if ["abs", "neg", "sign"].contains(id) {
        check(id, [g.ints(shape, .i32, -1000...1000)], attrs)
        check(id, [g.ints(shape, .i64, -1_000_000...1_000_000)], attrs)
      }
    }
  }

  @Test(arguments: arithmeticIDs) func arithmeticMatchesReference(id: String) {
    var g = Gen(seed(0x0B22, id))
    for _ in 0..<16 {
      let shape = g.shape()
      let sa = g.partner(of: shape)
      let sb = g.partner(of: shape)
      let (a, b) = g.rng.chance(0.5) ? (sa, sb) : (sb, sa)
      switch id {
      case "pow": check(id, [g.floats(a, 0.1, 10), g.floats(b, -3, 3)])
      case "div": check(id, [g.floats(a, -10, 10), g.awayFromZero(b, 0.1, 10)])
      case "min", "max":
        check(id, [g.floats(a, -10, 10, nan: 0.1), g.floats(b, -10, 10, nan: 0.1)])
        check(id, [g.coarse(a, .f32), g.coarse(b, .f32)])
      default: check(id, [g.floats(a, -10, 10, nan: 0.05), g.floats(b, -10, 10)])
      }
      guard id != "pow" else { continue }
      // Integers: |a|, |b| < 50000 keep the reference's float64 products exact; i32 wraps.
      let nonzero = id == "div"
      check(id, [g.ints(a, .i32, -50000...50000), g.ints(b, .i32, -50000...50000, nonzero: nonzero)])
      check(id, [g.ints(a, .i64, -50000...50000), g.ints(b, .i64, -50000...50000, nonzero: nonzero)])
      check(id, [g.ints(a, .i32, -9...9), g.ints(b, .i32, -9...9, nonzero: nonzero)])
    }
  }

  @Test(arguments: comparisonIDs) func comparisonMatchesReference(id: String) {
    var g = Gen(seed(0x0C33, id))
    for _ in 0..<12 {
      let shape = g.shape()
      let a = g.partner(of: shape)
      let b = g.partner(of: shape)
      check(id, [g.coarse(a, .f32, nan: 0.15), g.coarse(b, .f32, nan: 0.15)])
      check(id, [g.floats(a, -1, 1), g.floats(b, -1, 1)])
      check(id, [g.coarse(a, .i32), g.coarse(b, .i32)])
      check(id, [g.coarse(a, .i64), g.coarse(b, .i64)])
      check(id, [g.coarse(a, .bool), g.coarse(b, .bool)])
    }
  }

  @Test func logicalAndWhereMatchReference() {
    var g = Gen(0x0D44)
    for _ in 0..<20 {
      let shape = g.shape()
      let a = g.partner(of: shape)
      let b = g.partner(of: shape)
      let c = g.partner(of: shape)
      for id in Self.logicalIDs { check(id, [g.coarse(a, .bool), g.coarse(b, .bool)]) }
      check("logical_not", [g.coarse(shape, .bool)])
      check("where", [g.coarse(a, .bool), g.floats(b, -5, 5, nan: 0.1), g.floats(c, -5, 5)])
      check("where", [g.coarse(c, .bool), g.ints(a, .i64, -99...99), g.ints(b, .i64, -99...99)])
      check("where", [g.coarse(b, .bool), g.ints(c, .i32, -99...99), g.ints(a, .i32, -99...99)])
      check("where", [g.coarse(a, .bool), g.coarse(b, .bool), g.coarse(c, .bool)])
    }
  }

  @Test func castMatchesReference() {
    var g = Gen(0x0E55)
    let specials: [Double] = [
      .nan, -.infinity, 0, -0.0, 0.5, -0.5, 1.5, -1.5, 2.5, 0.99999994, 2_147_483_520, 3e9, -3e9,
      4_294_967_296, 1e10, -1e10, 9_223_371_487_098_961_920, 1e19, -1e19, 3e19, 1e-30,
    ].map { Double(Float($0)) }
    // Not 1e30 and beyond: for |x| >= 2^84 the reference's i32 wrap is inexact (`t - lo` rounds in
    // float64) and gives -2^31 instead of 0; `castEdgeCases` pins the fast result.
    for _ in 0..<10 {
      let shape = g.shape()
      let n = shape.reduce(1, *)
      let wide = Tensor(
        dtype: .f32, shape: shape,
        storage: (0..<n).map { _ in
          g.rng.chance(0.5) ? g.rng.pick(specials) : Double(Float(2e4 * g.rng.unit() - 1e4))
        })
      for to in ["f32", "i32", "i64", "bool"] {
        let attrs: [String: AttributeValue] = ["to": .string(to)]
        check("cast", [wide], attrs)
        check("cast", [g.ints(shape, .i32, Int(Int32.min)...Int(Int32.max))], attrs)
        // i64 values beyond 2^24 that are exact in float64, so the reference rounds them once.
        check("cast", [g.ints(shape, .i64, -(1 << 52)...(1 << 52))], attrs)
        check("cast", [g.coarse(shape, .bool)], attrs)
      }
    }
  }

  @Test(arguments: reductionIDs) func reductionMatchesReference(id: String) {
    var g = Gen(seed(0x0F66, id))
    for _ in 0..<20 {
      let shape = g.shape(1...4)
      let axes = g.axes(rank: shape.count)
      let attrs: [String: AttributeValue] = ["axes": .ints(axes), "keepdims": .int(g.rng.int(in: 0...1))]
      let n = axes.reduce(1) { $0 * shape[$1] }
      if id == "reduce_prod" {
        let b = Swift.min(1.5, Foundation.pow(1e4, 1 / Double(n)))
        check(id, [g.floats(shape, -b, b)], attrs, length: n)
        check(id, [g.ints(shape, .i32, -2...2)], attrs)
        check(id, [g.ints(shape, .i64, -3...3)], attrs)
        continue
      }
      check(id, [g.floats(shape, -2, 2)], attrs, length: n)
      check(id, [g.floats(shape, -2, 2, nan: 0.05)], attrs, length: n)
      if id != "reduce_mean" {
        check(id, [g.ints(shape, .i32, Int(Int32.min) / 2...Int(Int32.max) / 2)], attrs)
        check(id, [g.ints(shape, .i64, -1_000_000...1_000_000)], attrs)
      }
    }
  }

  @Test func argExtremeMatchesReference() {
    var g = Gen(0x1077)
    for _ in 0..<30 {
      let shape = g.shape(1...4)
      let attrs: [String: AttributeValue] = [
        "axis": .int(g.axis(rank: shape.count)), "keepdims": .int(g.rng.int(in: 0...1)),
      ]
      for id in ["argmax", "argmin"] {
        check(id, [g.coarse(shape, .f32)], attrs)
        check(id, [g.coarse(shape, .f32, nan: 0.1)], attrs)
        check(id, [g.floats(shape, -1, 1)], attrs)
        check(id, [g.coarse(shape, .i32)], attrs)
        check(id, [g.coarse(shape, .i64)], attrs)
      }
    }
  }

  @Test func cumsumMatchesReference() {
    var g = Gen(0x1188)
    for _ in 0..<30 {
      let shape = g.shape(1...4)
      let axis = g.axis(rank: shape.count)
      let attrs: [String: AttributeValue] = [
        "axis": .int(axis), "exclusive": .int(g.rng.int(in: 0...1)), "reverse": .int(g.rng.int(in: 0...1)),
      ]
      let n = shape[axis < 0 ? axis + shape.count : axis]
      check("cumsum", [g.floats(shape, -2, 2)], attrs, length: n)
      check("cumsum", [g.floats(shape, -2, 2, nan: 0.05)], attrs, length: n)
      check("cumsum", [g.ints(shape, .i32, Int(Int32.min) / 2...Int(Int32.max) / 2)], attrs)
      check("cumsum", [g.ints(shape, .i64, -1_000_000...1_000_000)], attrs)
    }
  }

  @Test func softmaxMatchesReference() {
    var g = Gen(0x1299)
    for _ in 0..<30 {
      let shape = g.shape(1...4)
      let axis = g.axis(rank: shape.count)
      let n = shape[axis < 0 ? axis + shape.count : axis]
      for id in ["softmax", "log_softmax"] {
        check(id, [g.floats(shape, -8, 8)], ["axis": .int(axis)], length: n)
        check(id, [g.floats(shape, -8, 8, nan: 0.05)], ["axis": .int(axis)], length: n)
      }
    }
  }

  @Test func layerNormMatchesReference() {
    var g = Gen(0x13AA)
    for _ in 0..<30 {
      let shape = g.shape(1...4)
      let axis = g.axis(rank: shape.count)
      let normalized = Array(shape[(axis < 0 ? axis + shape.count : axis)...])
      let lead = g.rng.int(in: 0...(shape.count - normalized.count))
      let pshape = [Int](repeating: 1, count: lead) + normalized
      let attrs: [String: AttributeValue] = [
        "axis": .int(axis), "epsilon": .float(g.rng.pick([1e-5, 1e-4, 1e-3])),
      ]
      let n = normalized.reduce(1, *)
      check(
        "layer_norm", [g.floats(shape, -2, 2), g.floats(pshape, -2, 2), g.floats(pshape, -2, 2)], attrs,
        length: n)
    }
  }

  @Test func batchNormMatchesReference() {
    var g = Gen(0x14BB)
    for _ in 0..<30 {
      let shape = g.shape(2...5)
      let c = [shape[1]]
      let attrs: [String: AttributeValue] = ["epsilon": .float(g.rng.pick([1e-5, 1e-4, 1e-3]))]
      check(
        "batch_norm",
        [
          g.floats(shape, -3, 3), g.floats(c, -2, 2), g.floats(c, -2, 2), g.floats(c, -2, 2),
          g.floats(c, 0.1, 4),
        ],
        attrs)
    }
  }
}

// MARK: - Hand-computed edge cases

extension FastElementwiseTests {
  func fast(_ id: String, _ inputs: [FastTensor], _ attrs: [String: AttributeValue] = [:]) -> FastTensor {
    FastKernels.table[id]!(Attributes(attrs), inputs)[0]
  }
  func f32(_ v: [Float], _ shape: [Int]? = nil) -> FastTensor {
    FastTensor(floats: v, shape: shape ?? [v.count])
  }
  func ints(_ v: [Int64], _ dtype: DType, _ shape: [Int]? = nil) -> FastTensor {
    FastTensor(ints: v, dtype: dtype, shape: shape ?? [v.count])
  }

  @Test func tableHasEveryClaimedOperator() {
    for id in Self.allIDs {
      #expect(FastKernels.table[id] != nil, "missing fast kernel \(id)")
      #expect(Catalogue.spec(id) != nil, "no catalogue operator \(id)")
    }
  }

  @Test func roundingTiesAndSigns() {
    #expect(fast("round", [f32([0.5, 1.5, 2.5, -0.5, -2.5, 2.4, -2.6])]).floats == [0, 2, 2, -0, -2, 2, -3])
    let s = fast("sign", [f32([-0.0, 0, -3, 4, .nan])]).floats
    #expect(s[0] == 0 && s[0].sign == .plus && s[1] == 0 && s[2] == -1 && s[3] == 1 && s[4].isNaN)
    #expect(fast("sign", [ints([-5, 0, 7], .i32)]).ints == [-1, 0, 1])
    #expect(fast("floor", [f32([-1.5, 1.5])]).floats == [-2, 1])
    #expect(fast("ceil", [f32([-1.5, 1.5])]).floats == [-1, 2])
  }

  @Test func nanPropagation() {
    #expect(fast("relu", [f32([.nan, -1, 2])]).floats[0].isNaN)
    let clipped = fast("clip", [f32([.nan, -9, 9, 0.5])], ["min": .float(-1), "max": .float(1)]).floats
    #expect(clipped[0].isNaN && Array(clipped[1...]) == [-1, 1, 0.5])
    // min > max gives max.
    #expect(fast("clip", [f32([0, 5])], ["min": .float(2), "max": .float(1)]).floats == [1, 1])
    #expect(fast("max", [f32([1, .nan]), f32([.nan, 0])]).floats.allSatisfy { $0.isNaN })
    #expect(fast("min", [f32([1, .nan]), f32([.nan, 0])]).floats.allSatisfy { $0.isNaN })
    #expect(fast("less", [f32([.nan, 1]), f32([1, .nan])]).ints == [0, 0])
    #expect(fast("equal", [f32([.nan]), f32([.nan])]).ints == [0])
    #expect(fast("greater_equal", [f32([.nan, 2]), f32([0, 2])]).ints == [0, 1])
    let sm = fast("softmax", [f32([1, .nan, 2, 1, 2, 3], [2, 3])], ["axis": .int(-1)]).floats
    #expect(sm[..<3].allSatisfy { $0.isNaN } && !sm[3...].contains { $0.isNaN })
    let rmax = fast(
      "reduce_max", [f32([1, .nan, 3, 1, 2, 3], [2, 3])], ["axes": .ints([1]), "keepdims": .int(0)])
    #expect(rmax.floats[0].isNaN && rmax.floats[1] == 3 && rmax.shape == [2])
  }

  @Test func argExtremeTiesAndNaN() {
    let attrs: [String: AttributeValue] = ["axis": .int(0), "keepdims": .int(0)]
    #expect(fast("argmax", [f32([1, 3, 3, 2])], attrs).ints == [1])
    #expect(fast("argmin", [f32([2, 0, -0.0, 0])], attrs).ints == [1])
    #expect(fast("argmax", [f32([1, .nan, 5, .nan])], attrs).ints == [1])
    #expect(fast("argmin", [f32([1, .nan, -5, .nan])], attrs).ints == [1])
    #expect(fast("argmax", [ints([4, 9, 9], .i32)], attrs).ints == [1])
    let columns = fast(
      "argmax", [f32([1, 5, 3, 5, .nan, 0], [2, 3])], ["axis": .int(0), "keepdims": .int(1)])
    #expect(columns.ints == [1, 1, 0] && columns.shape == [1, 3] && columns.dtype == .i64)
  }

  @Test func castEdgeCases() {
    let x = f32([.nan, .infinity, -.infinity, 2.9, -2.9, 3e9, 1e30])
    #expect(
      fast("cast", [x], ["to": .string("i32")]).ints == [
        0, 2_147_483_647, -2_147_483_648, 2, -2, -1_294_967_296, 0,
      ])
    // The reference represents +inf cast to i64 as 2^63 (not an Int64); the fast backend saturates.
    #expect(fast("cast", [x], ["to": .string("i64")]).ints == [0, .max, .min, 2, -2, 3_000_000_000, 0])
    #expect(fast("cast", [f32([0, -0.0, .nan, 0.1])], ["to": .string("bool")]).ints == [0, 0, 1, 1])
    #expect(fast("cast", [ints([16_777_217, -3], .i64)], ["to": .string("f32")]).floats == [16_777_216, -3])
    #expect(fast("cast", [ints([4_294_967_297], .i64)], ["to": .string("i32")]).ints == [1])
  }

  @Test func integerWrapAndTruncation() {
    #expect(fast("div", [ints([7, -7, 7, -7], .i32), ints([2, 2, -2, -2], .i32)]).ints == [3, -3, -3, 3])
    #expect(fast("div", [ints([.min], .i64), ints([-1], .i64)]).ints == [.min])
    #expect(fast("div", [ints([-2_147_483_648], .i32), ints([-1], .i32)]).ints == [-2_147_483_648])
    #expect(fast("add", [ints([2_147_483_647], .i32), ints([1], .i32)]).ints == [-2_147_483_648])
    #expect(fast("neg", [ints([-2_147_483_648], .i32)]).ints == [-2_147_483_648])
    #expect(fast("abs", [ints([.min, -4], .i64)]).ints == [.min, 4])
    #expect(fast("mul", [ints([65536], .i32), ints([65536], .i32)]).ints == [0])
  }

  @Test func broadcastingShapes() {
    // [2, 1, 3] + [4, 1] -> [2, 4, 3]; scalar operands; rank-0 result.
    let a = f32((0..<6).map(Float.init), [2, 1, 3])
    let b = f32([0, 10, 20, 30], [4, 1])
    let r = fast("add", [a, b])
    #expect(r.shape == [2, 4, 3])
    #expect(r.floats[0..<6] == [0, 1, 2, 10, 11, 12] && r.floats[12..<15] == [3, 4, 5])
    #expect(fast("mul", [f32([2], []), f32([1, 2, 3])]).floats == [2, 4, 6])
    #expect(fast("sub", [f32([1, 2, 3]), f32([1], [])]).floats == [0, 1, 2])
    let scalar = fast("add", [f32([1], []), f32([2], [1])])
    #expect(scalar.shape == [1] && scalar.floats == [3])
    let w = fast("where", [ints([1, 0], .bool, [2, 1]), f32([1, 2, 3], [3]), f32([-1], [])])
    #expect(w.shape == [2, 3] && w.floats == [1, 2, 3, -1, -1, -1])
  }

  @Test func cumsumFlags() {
    let x = f32([1, 2, 3, 4])
    func run(_ e: Int, _ r: Int) -> [Float] {
      fast("cumsum", [x], ["axis": .int(0), "exclusive": .int(e), "reverse": .int(r)]).floats
    }
    #expect(run(0, 0) == [1, 3, 6, 10])
    #expect(run(1, 0) == [0, 1, 3, 6])
    #expect(run(0, 1) == [10, 9, 7, 4])
    #expect(run(1, 1) == [9, 7, 4, 0])
  }
}
