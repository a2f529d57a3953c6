import Backends
import Fuzzing
import Generation
import IR
import Operators
import Tensors
import TestSupport
import Testing

/// A faulty backend built for these tests: evaluates every node with the reference kernel and
/// rounds each result with `intermediate` (instead of once to its dtype), and the graph outputs
/// with `final`.
struct RoundingFaultBackend: Backend {
  var name: String
  var intermediate: @Sendable (DType, Double) -> Double
  var final: @Sendable (DType, Double) -> Double
  func supports(_ op: OperatorSpec.ID, _ dtype: DType) -> Bool { true }
  func run(_ graph: Graph, inputs: [Tensor]) throws(BackendError) -> [Tensor] {
    var values: [ValueID: Tensor] = [:]
    for (i, t) in zip(graph.inputs, inputs) { values[i.id] = t }
    for c in graph.constants { values[c.id] = c.tensor }
    for n in graph.nodes {
      guard let spec = Catalogue.spec(n.op) else { throw BackendError(.compile, "unknown \(n.op)") }
      let outs = spec.reference(n.attributes, n.inputs.map { values[$0]! })
      for (o, t) in zip(n.outputs, outs) {
        values[o] = Tensor(
          dtype: t.dtype, shape: t.shape, storage: t.storage.map { intermediate(t.dtype, $0) })
      }
    }
    return graph.outputs.map { id in
      let t = values[id]!
      return Tensor(dtype: t.dtype, shape: t.shape, storage: t.storage.map { final(t.dtype, $0) })
    }
  }

  /// Runs f16 graphs in f32: f16 results are rounded to f32 only, and to f16 once at the outputs.
  static let f16InF32 = RoundingFaultBackend(
    name: "f16-in-f32", intermediate: { d, x in d == .f16 ? DType.f32.rounded(x) : d.rounded(x) },
    final: { d, x in d.rounded(x) })
  /// Double-rounds bf16: every bf16 result is rounded to f32 first, then to bf16.
  static let bf16DoubleRounding = RoundingFaultBackend(
    name: "bf16-double",
    intermediate: { d, x in d == .bf16 ? d.rounded(DType.f32.rounded(x)) : d.rounded(x) },
    final: { d, x in d.rounded(x) })
}

@Suite struct ExactOracleTests {
  struct Tally: CustomStringConvertible {
    var models = 0
    /// Models whose outputs the fault changes at all (bit patterns).
    var affected = 0
    var mismatch = 0
    var rounding = 0
    var unstable = 0
    var agree = 0
    /// Affected models where a differing output is exact, and how many of those were mismatches.
    var exactAffected = 0
    var exactCaught = 0
    var description: String {
      "\(models) models, \(affected) affected by the fault: \(mismatch) mismatch (\(rounding) of class rounding), \(unstable) unstable, \(agree) agree; \(exactCaught) of the \(exactAffected) with a differing exact output caught"
    }
  }

  /// Runs `backend` on `count` generated models of `options` and tallies the oracle's verdicts on
  /// the models the fault affects.
  func tally(
    _ backend: RoundingFaultBackend, _ options: GeneratorOptions, count: Int,
    inputs transform: ([Tensor]) -> [Tensor] = { $0 }
  ) throws -> Tally {
    var generator = Generator(options: options)
    var t = Tally()
    for seed in 1...UInt64(count) {
      let g = generator.generate(seed: seed)
      let inputs = transform(g.sampleInputs(seed: seed))
      guard let values = try? ReferenceBackend().run(g, inputs: inputs, keepAll: true).values else {
        continue
      }
      t.models += 1
      let actual = try backend.run(g, inputs: inputs)
      let expected = g.outputs.map { values[$0]! }
      func differs(_ e: Tensor, _ a: Tensor) -> Bool {
        zip(e.storage, a.storage).contains { x, y in !(x == y || (x.isNaN && y.isNaN)) }
      }
      guard zip(expected, actual).contains(where: differs) else { continue }
      t.affected += 1
      let exact = Oracle().exactValues(g, values)
      let exactDiffers = zip(g.outputs, zip(expected, actual)).contains { id, p in
        exact.contains(id) && p.0.dtype.isFloat && differs(p.0, p.1)
      }
      if exactDiffers { t.exactAffected += 1 }
      switch Oracle().verdict(g, reference: values, actual: actual) {
      case .mismatch(let d):
        t.mismatch += 1
        if exactDiffers { t.exactCaught += 1 }
        if d.kind == .rounding { t.rounding += 1 }
      case .unstable: t.unstable += 1
      default: t.agree += 1
      }
    }
    return t
  }

  /// Mostly exact operators, with a few approximate ones among them.
  static let mix = [
    "add", "sub", "mul", "div", "sqrt", "relu", "max", "min", "abs", "neg", "floor", "clip", "where", "cast",
    "reshape", "transpose", "concat", "slice", "reduce_max", "less", "exp", "tanh", "matmul", "reduce_sum",
  ].compactMap(Catalogue.spec)

  @Test func f16GraphsRunInF32AreCaught() throws {
    var o = GeneratorOptions()
    o.dtype = .f16
    o.nodes = 8
    o.operators = Self.mix
    o.solverResourceLimit = 200_000
    let t = try tally(.f16InF32, o, count: 150)
    print("f16 run in f32 without rounding between operators: \(t)")
    // Wherever the fault changes an exact output, the oracle catches it (a mismatch of class
    // rounding: the old f16 tolerance of 1e-2 let every one of these pass). Where it only changes
    // approximate outputs (after exp, tanh, matmul, sums), the difference is within tolerance and
    // no faithful implementation is bound to the bit, so those models agree or are unstable.
    #expect(t.affected >= 30, "\(t)")
    #expect(t.exactAffected >= 10, "\(t)")
    #expect(t.exactCaught == t.exactAffected, "\(t)")
    #expect(t.rounding >= 10, "\(t)")
  }

  @Test func bf16DoubleRoundingIsCaught() throws {
    // Double rounding shows on correctly rounded operations whose exact result is not a float32:
    // divisions, square roots and casts from f64.
    var o = GeneratorOptions()
    o.dtype = nil
    o.nodes = 8
    o.solverResourceLimit = 200_000
    o.operators = ["cast", "div", "sqrt", "add", "mul", "relu", "max", "reshape"].compactMap(Catalogue.spec)
    let t = try tally(.bf16DoubleRounding, o, count: 300, inputs: { $0.map(Self.nearBF16Ties) })
    print("bf16 double rounding (f64 -> f32 -> bf16): \(t)")
    #expect(t.affected >= 3, "\(t)")
    #expect(t.exactCaught == t.exactAffected, "\(t)")
    #expect(t.mismatch == t.affected, "every affected model is a mismatch: \(t)")
  }

  /// f64 values moved next to a bf16 rounding tie: just above (or below) the midpoint between two
  /// bf16 neighbours, by less than half a float32 ulp. Rounded once they go up (down); rounded to
  /// float32 first they land on the tie and round to even: half of them differ.
  static func nearBF16Ties(_ t: Tensor) -> Tensor {
    guard t.dtype == .f64 else { return t }
    var rng = SplitMix64(seed: 99)
    return Tensor(
      dtype: .f64, shape: t.shape,
      storage: t.storage.map { v in
        guard v.isFinite, v != 0 else { return v }
        let b = DType.bf16.rounded(v)
        let q = Double(sign: .plus, exponent: b.exponent - 7, significand: 1)
        let tiny = q * 0x1p-20
        return b + (b < 0 ? -q : q) / 2 + (rng.chance(0.5) ? tiny : -tiny)
      })
  }

  @Test func exactValuesFollowTheDeclarations() throws {
    var b = GraphBuilder()
    let x = b.input([4], .f16)
    let y = b.input([4], .f16)
    let s = b("add", x, y)
    let e = b("exp", s)
    let m = b("mul", e, x)
    let c = b("cast", b("mul", x, y), attributes: ["to": .string("i32")])
    let g = b.build(outputs: [s, m, c])
    let inputs = [
      Tensor(rounding: [1, 2, 3, 4], dtype: .f16, shape: [4]),
      Tensor(rounding: [0.5, 0.25, 1e4, 3], dtype: .f16, shape: [4]),
    ]
    let values = try ReferenceBackend().run(g, inputs: inputs, keepAll: true).values
    let exact = Oracle().exactValues(g, values)
    #expect(exact.contains(s))
    #expect(!exact.contains(e) && !exact.contains(m))
    #expect(exact.contains(c), "3e4 fits i32")
    // A float-to-integer cast out of range (here of inf: 3 * 6e4 overflows f16) is undefined in
    // ONNX: not exact.
    let big = [inputs[0], Tensor(rounding: [0.5, 0.25, 6e4, 3], dtype: .f16, shape: [4])]
    let big2 = try ReferenceBackend().run(g, inputs: big, keepAll: true).values
    #expect(!Oracle().exactValues(g, big2).contains(c))
    var o = Oracle()
    o.computedAs = [.f16: .f32]
    #expect(
      !o.exactValues(g, values).contains(s), "a dtype computed at another precision has no exact values")
  }

  @Test func oneUlpOnAnExactValueIsARoundingMismatch() throws {
    var b = GraphBuilder()
    let x = b.input([3], .f16)
    let y = b.input([3], .f16)
    let q = b("div", x, y)
    let g = b.build(outputs: [q])
    let inputs = [
      Tensor(rounding: [1, 2, 5], dtype: .f16, shape: [3]),
      Tensor(rounding: [3, 3, 3], dtype: .f16, shape: [3]),
    ]
    let values = try ReferenceBackend().run(g, inputs: inputs, keepAll: true).values
    var actual = try ReferenceBackend().run(g, inputs: inputs)
    #expect(Oracle().verdict(g, reference: values, actual: actual) == .agree)
    actual[0].storage[1] = DType.f16.rounded(values[g.outputs[0]]!.storage[1] * (1 + 1.0 / 1024))
    guard case .mismatch(let d) = Oracle().verdict(g, reference: values, actual: actual) else {
      Issue.record("one ulp on an exact f16 value must be a mismatch")
      return
    }
    #expect(d.kind == .rounding)
    // The same difference on an approximate value (exp) is within tolerance.
    var c = GraphBuilder()
    let z = c.input([3], .f16)
    let ez = c("exp", z)
    let h = c.build(outputs: [ez])
    let zi = [Tensor(rounding: [0.1, 0.2, 0.3], dtype: .f16, shape: [3])]
    let hv = try ReferenceBackend().run(h, inputs: zi, keepAll: true).values
    var ha = try ReferenceBackend().run(h, inputs: zi)
    ha[0].storage[1] = DType.f16.rounded(ha[0].storage[1] * (1 + 1.0 / 1024))
    #expect(Oracle().verdict(h, reference: hv, actual: ha) == .agree)
  }

  @Test func hardSwishConstantIsEitherReading() throws {
    // ONNX's HardSwish text says alpha = 1/6, its function body float32(1/6): a target using 1/6
    // in f64 (TVM) is faithful too, while a real error is still caught.
    var b = GraphBuilder()
    let x = b.input([4], .f64)
    let h = b("hard_swish", x)
    let g = b.build(outputs: [h])
    let inputs = [Tensor(dtype: .f64, shape: [4], storage: [-2.5, -0.1, 0.7, 2.9])]
    let values = try ReferenceBackend().run(g, inputs: inputs, keepAll: true).values
    let exactSixth = Tensor(
      dtype: .f64, shape: [4],
      storage: inputs[0].storage.map { $0 * Swift.min(1, Swift.max(0, $0 / 6 + 0.5)) })
    #expect(exactSixth.storage != values[h]!.storage, "the two readings differ in f64")
    #expect(Oracle().verdict(g, reference: values, actual: [exactSixth]) == .agree)
    var wrong = exactSixth
    wrong.storage[2] += 1e-2
    guard case .mismatch = Oracle().verdict(g, reference: values, actual: [wrong]) else {
      Issue.record("a real error must still be a mismatch")
      return
    }
  }

  @Test func aComparisonWithItsOwnCopyIsANearTie() throws {
    // greater(e, copy of e) on an approximate e: a target that rounds e for one reader and not the
    // other (ONNX Runtime's f16) answers true. The guard moves the two operands in opposite
    // directions, so this is unstable; the same flip far from a tie stays a mismatch.
    var b = GraphBuilder()
    let x = b.input([1, 3], .f16)
    let far = b.input([1, 3], .f16)
    let e = b("erf", x)
    let copy = b("unsqueeze", e, attributes: ["axis": .int(0)])
    let tie = b("greater", e, copy)
    let apart = b("greater", e, far)
    let g = b.build(outputs: [tie, apart])
    let inputs = [
      Tensor(rounding: [0.004353, 0.5, -0.25], dtype: .f16, shape: [1, 3]),
      Tensor(rounding: [2, 2, 2], dtype: .f16, shape: [1, 3]),
    ]
    let values = try ReferenceBackend().run(g, inputs: inputs, keepAll: true).values
    for oracle in [
      Oracle(),
      {
        var o = Oracle()
        o.computedAs = [.f16: .f32]
        return o
      }(),
    ] {
      var flipTie = g.outputs.map { values[$0]! }
      flipTie[0].storage[0] = 1 - flipTie[0].storage[0]
      guard case .unstable = oracle.verdict(g, reference: values, actual: flipTie) else {
        Issue.record("a comparison of a value with its copy is a tie: \(oracle.computedAs)")
        return
      }
      var flipApart = g.outputs.map { values[$0]! }
      flipApart[1].storage[0] = 1 - flipApart[1].storage[0]
      guard case .mismatch = oracle.verdict(g, reference: values, actual: flipApart) else {
        Issue.record("a comparison far from a tie must stay a mismatch: \(oracle.computedAs)")
        return
      }
    }
  }

  @Test func illConditionedNodesStayUnstable() throws {
    func layerNorm(_ xs: [Double]) throws -> (Graph, [Tensor]) {
      var b = GraphBuilder()
      let x = b.input([1, 8], .f16)
      let s = b.input([8], .f16)
      let t = b.input([8], .f16)
      let n = b("layer_norm", x, s, t, attributes: ["axis": .int(-1), "epsilon": .float(1e-5)])
      let g = b.build(outputs: [n])
      return (
        g,
        [
          Tensor(rounding: xs, dtype: .f16, shape: [1, 8]), Tensor(filled: 1, dtype: .f16, shape: [8]),
          Tensor(filled: 0, dtype: .f16, shape: [8]),
        ]
      )
    }
    // Nearly constant values: one ulp decides the normalized result.
    let (g, nearlyConstant) = try layerNorm([100, 100, 100, 100.0625, 100, 100, 100, 100])
    #expect(Oracle().illConditioned(g, nearlyConstant))
    let (h, spread) = try layerNorm([-1, 0.5, 2, -3, 1, 0.25, -0.75, 4])
    #expect(!Oracle().illConditioned(h, spread))
    // A chain: the same layer_norm after an exp over nearly constant values (the f16 exp of
    // values one ulp apart decides the statistics); exact chains and discontinuous ones are not
    // judged so.
    var b = GraphBuilder()
    let x = b.input([1, 8], .f16)
    let s = b.input([8], .f16)
    let t = b.input([8], .f16)
    let e = b("exp", x)
    let n = b("layer_norm", e, s, t, attributes: ["axis": .int(-1), "epsilon": .float(1e-5)])
    let chain = b.build(outputs: [n])
    let inputs = [
      Tensor(rounding: [2, 2, 2, 2.001, 2, 2, 2, 2], dtype: .f16, shape: [1, 8]),
      Tensor(filled: 1, dtype: .f16, shape: [8]), Tensor(filled: 0, dtype: .f16, shape: [8]),
    ]
    #expect(Oracle().illConditioned(chain, inputs))
    var c = GraphBuilder()
    let y = c.input([4], .f16)
    let r = c("add", c("relu", y), y)
    let exactChain = c.build(outputs: [r])
    #expect(!Oracle().illConditioned(exactChain, [Tensor(rounding: [1, 2, 3, 4], dtype: .f16, shape: [4])]))
  }
}

@Suite struct PrecisionProbeTests {
  func outputs(_ backend: any Backend, _ m: (Graph, [Tensor])?) throws -> [Double]? {
    guard let m else { return nil }
    return try backend.run(m.0, inputs: m.1)[0].storage
  }

  @Test func findsTheFaultyBackendsPrecision() throws {
    // f16 graphs run in f32 without rounding between operators: the chain keeps 24 bits.
    let f = RoundingFaultBackend.f16InF32
    let c = PrecisionProbe.interpret(
      dtype: .f16, chain: try outputs(f, PrecisionProbe.chainModel(.f16)),
      single: try outputs(f, PrecisionProbe.singleModel(.f16)))
    #expect(c == [PrecisionProbe.Capability(dtype: .f16, computedAs: .f32, how: "chain")])
    // The reference rounds every operator: nothing to report, in any dtype.
    for d in [DType.f16, .bf16, .f32, .f64] {
      let r = ReferenceBackend()
      let found = PrecisionProbe.interpret(
        dtype: d, chain: try outputs(r, PrecisionProbe.chainModel(d)),
        single: try outputs(r, PrecisionProbe.singleModel(d)), fma: try outputs(r, PrecisionProbe.fmaModel(d))
      )
      #expect(found.isEmpty, "\(d): \(found)")
    }
  }

  @Test func capabilityEmulationReproducesTheFaultyBackend() throws {
    // The f16-in-f32 backend is what an oracle told "f16 is computed in f32" emulates, bit for bit:
    // triage files its mismatches under the capability instead of as buckets.
    var o = GeneratorOptions()
    o.dtype = .f16
    o.nodes = 8
    o.operators = ExactOracleTests.mix
    o.solverResourceLimit = 200_000
    var generator = Generator(options: o)
    var oracle = Oracle()
    oracle.computedAs = [.f16: .f32]
    var explained = 0
    for seed in UInt64(1)...40 {
      let g = generator.generate(seed: seed)
      let inputs = g.sampleInputs(seed: seed)
      guard let actual = try? RoundingFaultBackend.f16InF32.run(g, inputs: inputs),
        let emulated = oracle.emulated(g, inputs: inputs)
      else { continue }
      #expect(
        zip(actual, emulated).allSatisfy { a, e in
          zip(a.storage, e.storage).allSatisfy { $0 == $1 || ($0.isNaN && $1.isNaN) }
        }, "seed \(seed)")
      if Oracle.close(emulated, actual, oracle: oracle) { explained += 1 }
    }
    #expect(explained >= 30, "\(explained)")
  }

  @Test func findsSplitRounding() throws {
    // A value kept unrounded for one reader and rounded for another (s - copy(s) is 2^-12 in f16).
    let f = RoundingFaultBackend.f16InF32
    let chain = try outputs(f, PrecisionProbe.chainModel(.f16))
    let single = try outputs(f, PrecisionProbe.singleModel(.f16))
    let twoReadings = [Double](repeating: 0x1p-12, count: 4)
    #expect(
      PrecisionProbe.interpret(dtype: .f16, chain: chain, single: single, split: twoReadings) == [
        PrecisionProbe.Capability(dtype: .f16, computedAs: .f32, how: "chain"),
        PrecisionProbe.Capability(dtype: .f16, computedAs: .f32, how: "split"),
      ])
    // One reading: the fault backend keeps every value in f32, so the copy equals the value.
    let consistent = try outputs(f, PrecisionProbe.splitModel(.f16))
    #expect(consistent == [0, 0, 0, 0])
    #expect(PrecisionProbe.interpret(dtype: .f16, chain: chain, single: single, split: consistent).count == 1)
    // The reference gives 0 in every dtype.
    for d in [DType.f16, .bf16, .f32, .f64] {
      #expect(try outputs(ReferenceBackend(), PrecisionProbe.splitModel(d))?.allSatisfy { $0 == 0 } == true)
    }
  }

  @Test func findsF64ComputedAsF32() {
    // OpenVINO 2026.4 divides f64 in f32 by multiplying with the reciprocal: x * f32(1/3).
    let (_, inputs) = PrecisionProbe.singleModel(.f64)
    let third = Double(Float(1.0 / 3))
    let results = inputs[0].storage.map { Double(Float(Float($0) * Float(third))) }
    #expect(
      PrecisionProbe.interpret(dtype: .f64, chain: nil, single: results)
        == [PrecisionProbe.Capability(dtype: .f64, computedAs: .f32, how: "single")])
  }

  @Test func findsContractionAndApproximateDivision() throws {
    // A fused multiply-add keeps the product's low bits; a reciprocal-multiplied f32 division is
    // within two ulps but not correctly rounded.
    let (g, inputs) = try #require(PrecisionProbe.fmaModel(.f32))
    let a = inputs[0].storage[0]
    let fused = DType.f32.rounded(a * inputs[1].storage[0] + inputs[2].storage[0])
    let rounded = try ReferenceBackend().run(g, inputs: inputs)[0].storage
    #expect(fused != 0 && rounded == [0])
    let (_, x) = PrecisionProbe.singleModel(.f32)
    let third = Float(1.0 / 3)
    let divided = x[0].storage.map { Double(Float($0) * third) }
    let found = PrecisionProbe.interpret(dtype: .f32, chain: nil, single: divided, fma: [fused])
    #expect(found.map(\.how) == ["division", "fma"], "\(found)")
    // The oracle then treats those operators' f32 results as approximate.
    var o = Oracle()
    for c in found { o.approximateOps[c.dtype, default: []].formUnion(c.operators) }
    var b = GraphBuilder()
    let p = b.input([2])
    let q = b.input([2])
    let d = b("div", p, q)
    let s = b("sub", p, q)
    let h = b.build(outputs: [d, s])
    let values = try ReferenceBackend().run(h, inputs: h.sampleInputs(seed: 1), keepAll: true).values
    #expect(o.exactValues(h, values).isDisjoint(with: [d, s]))
    #expect(Oracle().exactValues(h, values).isSuperset(of: [d, s]))
  }
}
