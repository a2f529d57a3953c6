import Backends
import Foundation
import Fuzzing
import Generation
import IR
import Operators
import Tensors
import TestSupport
import Testing

/// A backend built for these tests: the reference, with output 0's elements replaced by `patch`.
struct PatchingBackend: Backend {
  var patch: [Int: Double]
  var name: String { "patching" }
  func supports(_ op: OperatorSpec.ID, _ dtype: DType) -> Bool { true }
  func run(_ graph: Graph, inputs: [Tensor]) throws(BackendError) -> [Tensor] {
    var outs = try ReferenceBackend().run(graph, inputs: inputs)
    for (i, v) in patch { outs[0].storage[i] = v }
    return outs
  }
}

/// Special values (`EdgeValues`) in generated models, and how the oracle judges them: results that
/// IEEE and ONNX pin are compared, results ONNX leaves to the implementation are `unstable`.
@Suite struct SpecialValueTests {
  func verdict(_ g: Graph, _ inputs: [Tensor], patch: [Int: Double]) throws -> Verdict {
    let values = try ReferenceBackend().run(g, inputs: inputs, keepAll: true).values
    let actual = try PatchingBackend(patch: patch).run(g, inputs: inputs)
    return Oracle().verdict(g, reference: values, actual: actual)
  }

  func isUnstable(_ v: Verdict) -> Bool { if case .unstable = v { return true } else { return false } }
  func isMismatch(_ v: Verdict) -> Bool { if case .mismatch = v { return true } else { return false } }

  // MARK: Generation

  @Test func specialValuesChangeNothingButTheValues() {
    var plain = GeneratorOptions()
    plain.nodes = 6
    var special = plain
    special.edgeRate = 0.5
    var a = Generator(options: plain)
    var b = Generator(options: special)
    var withEdges = 0
    var crossed = 0
    for seed in UInt64(0)..<60 {
      let g0 = a.generate(seed: seed)
      let g1 = b.generate(seed: seed)
      if g1.hasEdgeValues { withEdges += 1 }
      // Up to crossed clip bounds, put back in order here.
      var uncrossed = g1.withoutEdgeValues
      for i in uncrossed.nodes.indices where uncrossed.nodes[i].op == "clip" {
        let a = uncrossed.nodes[i].attributes
        let (lo, hi) = (a.float("min"), a.float("max"))
        if lo > hi {
          crossed += 1
          uncrossed.nodes[i].attributes.values["min"] = .float(hi)
          uncrossed.nodes[i].attributes.values["max"] = .float(lo)
        }
      }
      #expect(uncrossed.encoded() == g0.encoded(), "seed \(seed)")
    }
    #expect((15...45).contains(withEdges), "\(withEdges) of 60 models with special values at rate 0.5")
    #expect(crossed > 0, "no clip had its bounds crossed")
  }

  @Test func everyKindIsDrawnAndTheSameSeedGivesTheSameBits() {
    var options = GeneratorOptions()
    options.nodes = 6
    options.edgeRate = 1
    var generator = Generator(options: options)
    var seen = Set<String>()
    for seed in UInt64(0)..<80 {
      let g = generator.generate(seed: seed)
      let first = g.sampleInputs(seed: 3)
      let again = g.sampleInputs(seed: 3)
      for (x, y) in zip(first, again) {
        #expect(x.storage.map(\.bitPattern) == y.storage.map(\.bitPattern))
      }
      for t in first + g.constants.map(\.tensor) where t.dtype.isFloat {
        for v in t.storage {
          if v.isNaN { seen.insert("nan") }
          if v == .infinity { seen.insert("inf") }
          if v == -.infinity { seen.insert("-inf") }
          if v == 0 && v.sign == .minus { seen.insert("-0") }
          if v != 0 && Swift.abs(v) < t.dtype.smallestNormal { seen.insert("subnormal") }
        }
      }
    }
    #expect(seen == ["nan", "inf", "-inf", "-0", "subnormal"], "\(seen.sorted())")
  }

  @Test func constantsGetOnlyFiniteSpecialValues() {
    var options = GeneratorOptions()
    options.edgeRate = 1
    var generator = Generator(options: options)
    for seed in UInt64(0)..<60 {
      for c in generator.generate(seed: seed).constants {
        let finiteKinds = c.edges?.kinds.allSatisfy { $0.isFinite } ?? true
        let finiteValues = c.tensor.storage.allSatisfy { $0.isFinite }
        #expect(finiteKinds && finiteValues, "constant %\(c.id) of seed \(seed)")
      }
    }
  }

  @Test func tiesAreExactMidpoints() {
    var rng = SplitMix64(seed: 9)
    var values = (0..<400).map { Double(Float(Double($0) * 0.37 - 70)) }
    EdgeValues(share: 1, kinds: [.halfway]).apply(to: &values, .f32, &rng)
    var narrowing = 0
    for v in values {
      #expect(DType.f32.rounded(v) == v)
      if v - v.rounded(.down) == 0.5 { continue }
      // Between two neighbours of bf16 or f16: rounding to it moves it by exactly half a step.
      let isTie = [DType.bf16, .f16].contains { d in
        let r = d.rounded(v)
        let other = 2 * v - r
        return r != v && d.rounded(other) == other
      }
      #expect(isTie, "\(v) is not a tie")
      narrowing += 1
    }
    #expect(narrowing > 100, "\(narrowing) narrowing-cast ties of 400")
  }

  // MARK: What the oracle pins

  @Test func crossedClipBoundsGiveMax() throws {
    var b = GraphBuilder()
    let x = b.input([3])
    let gOut = b("clip", x, attributes: ["min": .float(2), "max": .float(-1)])
    let g = b.build(outputs: [gOut])
    let inputs = [tensor([-5, 0.5, 7], [3], .f32)]
    let out = try ReferenceBackend().run(g, inputs: inputs)[0]
    #expect(out.storage == [-1, -1, -1])
    // max(min(x, max), min) instead gives `min`: a mismatch.
    #expect(isMismatch(try verdict(g, inputs, patch: [0: 2])))
  }

  @Test func aNarrowingCastRoundsTiesToEven() throws {
    var b = GraphBuilder()
    let x = b.input([2])
    let gOut = b("cast", x, attributes: ["to": .string("bf16")])
    let g = b.build(outputs: [gOut])
    // 1 + 2^-7 + 2^-8 lies halfway between the bf16 numbers 1 + 2^-7 and 1 + 2^-6: to even is the
    // latter; truncating gives the former.
    let inputs = [tensor([1 + 0x1p-7 + 0x1p-8, 1], [2], .f32)]
    let truncated = try verdict(g, inputs, patch: [0: 1 + 0x1p-7])
    guard case .mismatch(let d) = truncated else {
      Issue.record("\(truncated)")
      return
    }
    #expect(d.kind == .rounding)
  }

  @Test func aLostNaNIsAMismatch() throws {
    var b = GraphBuilder()
    let x = b.input([4])
    let gOut = b("add", x, b.constant([1], data: [1]))
    let g = b.build(outputs: [gOut])
    let inputs = [tensor([0.5, .nan, -1, 2], [4], .f32)]
    #expect(isMismatch(try verdict(g, inputs, patch: [1: 1])))
    #expect(try verdict(g, inputs, patch: [:]) == .agree)
  }

  @Test func aNaNThroughMaxOrRelu() throws {
    var b = GraphBuilder()
    let x = b.input([4])
    let y = b.input([4])
    let gOut = b("relu", b("max", x, y))
    let g = b.build(outputs: [gOut])
    let inputs = [tensor([0.5, .nan, -1, 2], [4], .f32), tensor([1, 3, 1, 1], [4], .f32)]
    // max(NaN, 3): NaN (the reference), or 3 if the NaN is ignored: ONNX does not say.
    let ignored = try verdict(g, inputs, patch: [1: 3])
    #expect(isUnstable(ignored), "\(ignored)")
    // An element without NaN is still compared.
    #expect(isMismatch(try verdict(g, inputs, patch: [1: 3, 2: 5])))
  }

  /// A reduction by order that reads a NaN may give any element of its window: OpenVINO's argmin
  /// gives the last index of `[1, nan, 2]`, a running `m > x ? m : x` maximum of `[5, nan, 3]` is 3.
  @Test func aNaNInAReductionByOrderLeavesItsWindowOpen() throws {
    var b = GraphBuilder()
    let x = b.input([2, 3])
    let arg = b("argmin", x, attributes: ["axis": .int(1), "keepdims": .int(0)])
    let g = b.build(outputs: [arg])
    let inputs = [tensor([1, .nan, 2, 4, 0, 5], [2, 3], .f32)]
    #expect(isUnstable(try verdict(g, inputs, patch: [0: 2])))
    // The row without NaN is pinned: argmin([4, 0, 5]) is 1.
    #expect(isMismatch(try verdict(g, inputs, patch: [1: 2])))
    // A comparison after the arg-reduction: -1 <= 7 and 0 <= 7 alike; the high sentinel is not.
    var d = GraphBuilder()
    let z = d.input([2, 10])
    let idx = d("argmin", z, attributes: ["axis": .int(1), "keepdims": .int(0)])
    let le = d("less_equal", idx, d.constant([1], .i64, data: [7]))
    let cmp = d.build(outputs: [le])
    var row = [Double](repeating: 5, count: 20)
    row[2] = .nan
    row[3] = -1  // the reference: index 2 (NaN wins); NaN read as ±inf: 2 or 3; all <= 7
    row[8] = 0  // a target whose running minimum restarts after the NaN gives 8: 8 <= 7 is false
    #expect(isUnstable(try verdict(cmp, [tensor(row, [2, 10], .f32)], patch: [0: 0])))
    var c = GraphBuilder()
    let y = c.input([3])
    let maxOut = c("reduce_max", y, attributes: ["axes": .ints([0]), "keepdims": .int(1)])
    let m = c.build(outputs: [maxOut])
    #expect(isUnstable(try verdict(m, [tensor([5, .nan, 3], [3], .f32)], patch: [0: 3])))
  }

  /// A NaN choice decides whether a NaN is ignored or picked; a picked NaN stays NaN: min(NaN, NaN)
  /// is NaN in every implementation, so a sum over it is NaN, and 0 there is a mismatch.
  @Test func aPickedNaNStaysNaN() throws {
    var b = GraphBuilder()
    let x = b.input([2])
    let m = b("min", x, x)
    let sumOut = b("reduce_sum", m, attributes: ["axes": .ints([0]), "keepdims": .int(1)])
    let g = b.build(outputs: [sumOut])
    #expect(isMismatch(try verdict(g, [tensor([.nan, 1], [2], .f32)], patch: [0: 0])))
    // min(NaN, -inf) is -inf when the NaN is ignored (OpenVINO: min(NaN, y) = y): open.
    var c = GraphBuilder()
    let y = c.input([2])
    let z = c.input([2])
    let minOut = c("min", y, z)
    let h = c.build(outputs: [minOut])
    let inputs = [tensor([.nan, 1], [2], .f32), tensor([-.infinity, 2], [2], .f32)]
    #expect(isUnstable(try verdict(h, inputs, patch: [0: -.infinity])))
  }

  /// An output whose difference ONNX leaves open does not hide a mismatch at a later output.
  @Test func anOpenOutputDoesNotHideALaterMismatch() throws {
    var b = GraphBuilder()
    let x = b.input([2])
    let first = b("max", x, b.constant([1], data: [0.5]))
    let second = b("add", x, x)
    let g = b.build(outputs: [first, second])
    let inputs = [tensor([.nan, 1], [2], .f32)]
    let values = try ReferenceBackend().run(g, inputs: inputs, keepAll: true).values
    var actual = try ReferenceBackend().run(g, inputs: inputs)
    actual[0].storage[0] = 0.5  // max(NaN, 0.5) = 0.5: open
    #expect(isUnstable(Oracle().verdict(g, reference: values, actual: actual)))
    actual[1].storage[1] = 3  // 1 + 1 = 3: a bug
    #expect(isMismatch(Oracle().verdict(g, reference: values, actual: actual)))
  }

  @Test func maxPoolingOverNegativeInfinityIsNegativeInfinity() throws {
    var b = GraphBuilder()
    let x = b.input([1, 1, 4])
    let attrs: [String: AttributeValue] = [
      "kernel_shape": .ints([1]), "strides": .ints([1]), "pads": .ints([0, 0]), "dilations": .ints([1]),
    ]
    let gOut = b("max_pool1d", x, attributes: attrs)
    let g = b.build(outputs: [gOut])
    let inputs = [tensor([0.5, -.infinity, -1, 2], [1, 1, 4], .f32)]
    // onnxruntime's MaxPool gives -FLT_MAX here: a maximum of -inf alone is -inf.
    #expect(isMismatch(try verdict(g, inputs, patch: [1: -Double(Float.greatestFiniteMagnitude)])))
  }

  @Test func theSignOfAComputedZeroIsOpen() throws {
    var b = GraphBuilder()
    let x = b.input([3])
    let gOut = b("reciprocal", b("relu", x))
    let g = b.build(outputs: [gOut])
    let inputs = [tensor([-0.0, 2, -3], [3], .f32)]
    // relu(-0) may be -0 or +0: 1/relu(-0) is +inf or -inf.
    #expect(isUnstable(try verdict(g, inputs, patch: [0: -.infinity])))
    // 1/relu(-3) = 1/0: the same question; 1/relu(2) is pinned.
    #expect(isMismatch(try verdict(g, inputs, patch: [1: 0.25])))
  }

  @Test func undefinedCastsAreOpenDefinedOnesArePinned() throws {
    var b = GraphBuilder()
    let x = b.input([3])
    let gOut = b("cast", x, attributes: ["to": .string("i32")])
    let g = b.build(outputs: [gOut])
    let inputs = [tensor([.nan, 2.75, .infinity], [3], .f32)]
    #expect(isUnstable(try verdict(g, inputs, patch: [0: -2_147_483_648])))
    #expect(isUnstable(try verdict(g, inputs, patch: [2: 0])))
    #expect(isMismatch(try verdict(g, inputs, patch: [1: 3])))
  }

  @Test func infinityThroughApproximateOperators() throws {
    var b = GraphBuilder()
    let x = b.input([2])
    let sigOut = b("sigmoid", x)
    let sig = b.build(outputs: [sigOut])
    let inputs = [tensor([.infinity, -.infinity], [2], .f32)]
    // sigmoid(inf) is 1 whichever formula computes it: a NaN there is a bug.
    #expect(isMismatch(try verdict(sig, inputs, patch: [0: .nan])))
    #expect(try verdict(sig, inputs, patch: [:]) == .agree)
    // softsign(inf) = inf / (1 + inf) is NaN by the formula, 1 in the limit: open.
    var c = GraphBuilder()
    let y = c.input([2])
    let softOut = c("softsign", y)
    let soft = c.build(outputs: [softOut])
    #expect(isUnstable(try verdict(soft, inputs, patch: [0: 1])))
  }

  @Test func flushingSubnormalsIsOpen() throws {
    var b = GraphBuilder()
    let x = b.input([2])
    let gOut = b("mul", x, b.constant([1], data: [0x1p100]))
    let g = b.build(outputs: [gOut])
    let tiny = Double(Float.leastNormalMagnitude) / 4
    let inputs = [tensor([tiny, 1], [2], .f32)]
    #expect(isUnstable(try verdict(g, inputs, patch: [0: 0])))
    #expect(isMismatch(try verdict(g, inputs, patch: [1: 0])))
  }

  /// What the minimizer may freeze into a repro's inputs: not a value an implementation choice
  /// changes (here an undefined cast and a maximum with NaN), so a repro never pins what ONNX
  /// leaves open.
  @Test func unpinnedValuesAreTheOnesAChoiceChanges() throws {
    var b = GraphBuilder()
    let x = b.input([3])
    let cast = b("cast", x, attributes: ["to": .string("i32")])
    let sum = b("reduce_sum", cast, attributes: ["axes": .ints([0]), "keepdims": .int(1)])
    let doubled = b("add", x, x)
    let maxed = b("max", doubled, b.constant([1], data: [0.5]))
    let g = b.build(outputs: [sum, maxed])
    let finite = [tensor([1.5, -2, 3], [3], .f32)]
    let special = [tensor([1.5, .infinity, .nan], [3], .f32)]
    func unpinned(_ inputs: [Tensor]) throws -> Set<ValueID> {
      let values = try ReferenceBackend().run(g, inputs: inputs, keepAll: true).values
      return Oracle.unpinnedValues(g, inputs: inputs, values: values, operators: Catalogue.spec)
    }
    #expect(try unpinned(finite) == [])
    #expect(try unpinned(special) == [cast, sum, maxed])
  }

  // MARK: The reference's semantics, per operator

  /// Every elementwise operator with float operands, on NaN: comparisons are false, casts to a float
  /// dtype keep NaN, and every other float result is NaN, as the declarations document.
  @Test func theReferencePropagatesNaNThroughEveryElementwiseOperator() {
    var checked: [String] = []
    for spec in Catalogue.all where spec.traits.contains(.elementwise) && spec.specialValues != nil {
      guard spec.inputs.allSatisfy({ $0.dtypes.allowed.contains(.f32) }) else { continue }
      let args = spec.inputs.map { _ in tensor([.nan], [1], .f32) }
      var attributes = Attributes()
      for a in spec.attributes { if let d = a.defaultValue { attributes.values[a.name] = d } }
      if spec.id == "cast" { attributes.values["to"] = .string("f16") }
      let out = spec.evaluate(args, attributes: attributes)[0]
      if out.dtype == .bool {
        let expected: Double = spec.id == "not_equal" ? 1 : 0
        #expect(out.storage == [expected], "\(spec.id)(NaN) = \(out.storage)")
      } else {
        #expect(out.storage[0].isNaN, "\(spec.id)(NaN) = \(out.storage)")
      }
      checked.append(spec.id)
    }
    #expect(checked.count >= 35, "\(checked)")
  }

  /// Docs/SpecialValues.md lists every operator with float operands, with the text `dlsmith ops`
  /// prints for it.
  @Test func theDocumentListsEveryOperator() throws {
    let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
      .deletingLastPathComponent()
    let doc = try String(contentsOf: root.appendingPathComponent("Docs/SpecialValues.md"), encoding: .utf8)
    for spec in Catalogue.everything {
      guard let text = spec.specialValues else { continue }
      #expect(
        doc.contains("| `\(spec.id)` | \(text) |"), "Docs/SpecialValues.md: \(spec.id) missing or stale")
    }
  }
}
