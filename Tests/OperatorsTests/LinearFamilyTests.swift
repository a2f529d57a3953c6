import Foundation
import Operators
import Symbolic
import Tensors
import Testing

/// A float64 tensor (or of `dtype`) from row-major values.
private func tensor(_ shape: [Int], _ values: [Double], _ dtype: DType = .f64) -> Tensor {
  Tensor(rounding: values, dtype: dtype, shape: shape)
}

/// The shape rule evaluated on concrete shapes: `nil` if it does not apply, else whether every
/// requirement holds and the output shapes.
private func concreteRule(
  _ id: String, _ shapes: [[Int]], _ attributes: [String: AttributeValue] = [:]
) -> (holds: Bool, outputs: [[Int?]])? {
  let spec = Catalogue.spec(id)!
  let context = RuleContext(
    inputs: shapes.map { $0.map(Dim.constant) }, dtypes: shapes.map { _ in .f64 },
    attributes: Attributes(attributes).symbolic)
  guard let rule = spec.rule(context) else { return nil }
  return (
    rule.requires.allSatisfy { $0.evaluated(in: [:]) }, rule.outputs.map { $0.map { $0.evaluated(in: [:]) } }
  )
}

/// Runs an op and checks it against its own shape rule and value range.
private func run(_ id: String, _ inputs: [Tensor], _ attributes: [String: AttributeValue] = [:]) -> Tensor {
  let spec = Catalogue.spec(id)!
  let attrs = Attributes(attributes)
  let out = spec.evaluate(inputs, attributes: attrs)
  #expect(out.count == 1)
  let rule = concreteRule(id, inputs.map(\.shape), attributes)
  #expect(rule?.holds == true, "\(id): requirements do not hold for \(inputs.map(\.shape))")
  #expect(
    rule?.outputs == [out[0].shape],
    "\(id): rule shape \(String(describing: rule?.outputs)) vs kernel \(out[0].shape)")
  let context = ValueContext(shapes: inputs.map(\.shape), dtypes: inputs.map(\.dtype), attributes: attrs)
  let ranges = inputs.map { t in Interval(t.storage.min() ?? 0, t.storage.max() ?? 0) }
  let range = spec.range(context, ranges)[0]
  for v in out[0].storage where !v.isNaN {
    #expect(range.contains(v), "\(id): \(v) outside declared range \(range)")
  }
  return out[0]
}

private func close(_ a: [Double], _ b: [Double], tolerance: Double = 1e-12) -> Bool {
  a.count == b.count && zip(a, b).allSatisfy { abs($0 - $1) <= tolerance * Swift.max(1, abs($1)) }
}

private func ints(_ v: Int...) -> AttributeValue { .ints(v) }

@Suite struct LinearFamilyTests {
  @Test func everyOpIsRegistered() {
    let ids = [
      "matmul", "gemm", "conv1d", "conv2d", "conv_transpose2d", "max_pool1d", "max_pool2d", "avg_pool1d",
      "avg_pool2d", "global_avg_pool", "batch_norm", "layer_norm", "softmax", "log_softmax",
    ]
    for id in ids {
      let spec = Catalogue.spec(id)
      #expect(spec != nil, "\(id) missing")
      // max pooling also takes int8/uint8 (a quantized max keeps its input's parameters).
      let floats = spec?.inputs.allSatisfy { Set($0.dtypes.allowed).isSuperset(of: DType.floats) } == true
      #expect(floats, "\(id) takes every float dtype")
      #expect(spec?.inputs.allSatisfy { $0.dtypes == .float } == true || id.hasPrefix("max_pool"))
      #expect(spec?.outputTypes == [.same("T")])
      #expect(spec?.doc.contains("float64") == true)
    }
  }

  // MARK: - Matrix products

  @Test func matmul2x3by3x2() {
    let a = tensor([2, 3], [1, 2, 3, 4, 5, 6])
    let b = tensor([3, 2], [7, 8, 9, 10, 11, 12])
    let y = run("matmul", [a, b])
    #expect(y.shape == [2, 2])
    #expect(y.storage == [58, 64, 139, 154])
  }

  @Test func matmulBroadcastsBatch() {
    // a = [I, 2I], b = [[1, 2], [3, 4]] shared by both batches.
    let a = tensor([2, 2, 2], [1, 0, 0, 1, 2, 0, 0, 2])
    let b = tensor([2, 2], [1, 2, 3, 4])
    let y = run("matmul", [a, b])
    #expect(y.shape == [2, 2, 2])
    #expect(y.storage == [1, 2, 3, 4, 2, 4, 6, 8])
    #expect(concreteRule("matmul", [[3, 1, 2, 5], [4, 5, 6]])?.outputs == [[3, 4, 2, 6]])
    #expect(concreteRule("matmul", [[2, 3], [4, 5]])?.holds == false)
    #expect(concreteRule("matmul", [[2, 2, 3], [3, 3, 5]])?.holds == false)
  }

  @Test func gemmWithTransposeAlphaBetaAndBias() {
    // A stored [3, 2] with trans_a: A' = [[1, 2, 3], [4, 5, 6]]; B = [[1, 0], [0, 1], [1, 1]].
    // A'B = [[4, 5], [10, 11]]; 2 * A'B + 0.5 * [1, -1] (broadcast over rows).
    let a = tensor([3, 2], [1, 4, 2, 5, 3, 6])
    let b = tensor([3, 2], [1, 0, 0, 1, 1, 1])
    let c = tensor([2], [1, -1])
    let attrs: [String: AttributeValue] = [
      "alpha": .float(2), "beta": .float(0.5), "trans_a": .int(1), "trans_b": .int(0),
    ]
    let y = run("gemm", [a, b, c], attrs)
    #expect(y.shape == [2, 2])
    #expect(y.storage == [8.5, 9.5, 20.5, 21.5])
    // trans_b with a scalar bias.
    let bt = tensor([2, 3], [1, 0, 1, 0, 1, 1])
    let y2 = run(
      "gemm", [tensor([2, 3], [1, 2, 3, 4, 5, 6]), bt, tensor([], [10])],
      ["alpha": .float(1), "beta": .float(1), "trans_a": .int(0), "trans_b": .int(1)])
    #expect(y2.storage == [14, 15, 20, 21])
    // C of shape [2, 1] broadcasts; [3] does not.
    let base: [String: AttributeValue] = [
      "alpha": .float(1), "beta": .float(1), "trans_a": .int(0), "trans_b": .int(0),
    ]
    #expect(concreteRule("gemm", [[2, 3], [3, 4], [2, 1]], base)?.holds == true)
    #expect(concreteRule("gemm", [[2, 3], [3, 4], [3]], base)?.holds == false)
  }

  // MARK: - Convolutions

  private static func convAttributes(strides: [Int], pads: [Int], dilations: [Int], group: Int) -> [String:
    AttributeValue]
  {
    ["strides": .ints(strides), "pads": .ints(pads), "dilations": .ints(dilations), "group": .int(group)]
  }

  @Test func conv2dStride2Pad1() {
    // x = w = 1...9 (3x3). Output (3 + 2 - 3) / 2 + 1 = 2; e.g. out[0,0] = 1*5 + 2*6 + 4*8 + 5*9 = 94.
    let x = tensor([1, 1, 3, 3], (1...9).map(Double.init))
    let w = tensor([1, 1, 3, 3], (1...9).map(Double.init))
    let y = run(
      "conv2d", [x, w],
      Self.convAttributes(strides: [2, 2], pads: [1, 1, 1, 1], dilations: [1, 1], group: 1))
    #expect(y.shape == [1, 1, 2, 2])
    #expect(y.storage == [94, 106, 106, 94])
  }

  @Test func conv2dAsymmetricPadsAndChannels() {
    // Two input channels summed by a 1x1 kernel [1, 10]; pads end only: row/col 2 are zeros.
    let x = tensor([1, 2, 2, 2], [1, 2, 3, 4, 5, 6, 7, 8])
    let w = tensor([1, 2, 1, 1], [1, 10])
    let y = run(
      "conv2d", [x, w],
      Self.convAttributes(strides: [1, 1], pads: [0, 0, 1, 1], dilations: [1, 1], group: 1))
    #expect(y.shape == [1, 1, 3, 3])
    #expect(y.storage == [51, 62, 0, 73, 84, 0, 0, 0, 0])
  }

  @Test func conv1dGroupedDilated() {
    // group 2: out channel 0 = c0[0] + c0[2] = 4, out channel 1 = c1[0] - c1[2] = -2.
    let x = tensor([1, 2, 3], [1, 2, 3, 4, 5, 6])
    let w = tensor([2, 1, 2], [1, 1, 1, -1])
    let y = run("conv1d", [x, w], Self.convAttributes(strides: [1], pads: [0, 0], dilations: [2], group: 2))
    #expect(y.shape == [1, 2, 1])
    #expect(y.storage == [4, -2])
    // group must divide C and O, and w[1] * group == C.
    let bad = Self.convAttributes(strides: [1], pads: [0, 0], dilations: [1], group: 2)
    #expect(concreteRule("conv1d", [[1, 4, 5], [3, 2, 1]], bad)?.holds == false)
    #expect(concreteRule("conv1d", [[1, 4, 5], [4, 4, 1]], bad)?.holds == false)
    #expect(concreteRule("conv1d", [[1, 4, 5], [4, 2, 1]], bad)?.holds == true)
    // padded size must cover the dilated kernel: 2 + 0 < 2 * (3 - 1) + 1.
    #expect(
      concreteRule(
        "conv1d", [[1, 1, 2], [1, 1, 3]],
        Self.convAttributes(strides: [1], pads: [0, 0], dilations: [2], group: 1))?.holds == false)
    #expect(
      concreteRule(
        "conv2d", [[1, 1, 3], [1, 1, 3]],
        Self.convAttributes(strides: [1], pads: [0, 0], dilations: [1], group: 1)) == nil)
  }

  @Test func conv2dRuleIsSymbolic() {
    // Symbolic dims and attributes: the rule must not need constants; binding them agrees with
    // the concrete evaluation.
    let spec = Catalogue.spec("conv2d")!
    let sym = SymbolicAttributes([
      "strides": .ints([.symbol("s0"), .symbol("s1")]),
      "pads": .ints([.symbol("p0"), .symbol("p1"), .symbol("p2"), .symbol("p3")]),
      "dilations": .ints([.symbol("d0"), .symbol("d1")]), "group": .int(.symbol("g")),
    ])
    let x: [Dim] = [.symbol("n"), .symbol("c"), .symbol("h"), .symbol("w")]
    let w: [Dim] = [.symbol("o"), .symbol("cg"), .symbol("kh"), .symbol("kw")]
    let rule = spec.rule(RuleContext(inputs: [x, w], dtypes: [.f32, .f32], attributes: sym))!
    let bindings = [
      "n": 1, "c": 4, "h": 7, "w": 6, "o": 6, "cg": 2, "kh": 3, "kw": 2, "s0": 2, "s1": 1,
      "p0": 1, "p1": 0, "p2": 1, "p3": 1, "d0": 1, "d1": 2, "g": 2,
    ]
    #expect(rule.requires.allSatisfy { $0.evaluated(in: bindings) })
    // h: (7 + 2 - 3) / 2 + 1 = 4; w: (6 + 1 - 2 - 1) / 1 + 1 = 5.
    #expect(rule.outputs[0].map { $0.evaluated(in: bindings) } == [1, 6, 4, 5])
    var wrongGroup = bindings
    wrongGroup["g"] = 3
    #expect(!rule.requires.allSatisfy { $0.evaluated(in: wrongGroup) })
  }

  private static func convTransposeAttributes(
    strides: [Int], pads: [Int] = [0, 0, 0, 0], outputPadding: [Int] = [0, 0], group: Int = 1
  ) -> [String: AttributeValue] {
    [
      "strides": .ints(strides), "pads": .ints(pads), "dilations": ints(1, 1),
      "output_padding": .ints(outputPadding), "group": .int(group),
    ]
  }

  @Test func convTranspose2dStride2ReplicatesBlocks() {
    let x = tensor([1, 1, 2, 2], [1, 2, 3, 4])
    let w = tensor([1, 1, 2, 2], [1, 1, 1, 1])
    let y = run("conv_transpose2d", [x, w], Self.convTransposeAttributes(strides: [2, 2]))
    #expect(y.shape == [1, 1, 4, 4])
    #expect(y.storage == [1, 1, 2, 2, 1, 1, 2, 2, 3, 3, 4, 4, 3, 3, 4, 4])
    // output_padding adds a (zero) row at the end: H = (2-1)*2 + 1 + 1 + 1 = 5.
    let y2 = run(
      "conv_transpose2d", [x, w], Self.convTransposeAttributes(strides: [2, 2], outputPadding: [1, 0]))
    #expect(y2.shape == [1, 1, 5, 4])
    #expect(y2.storage == [1, 1, 2, 2, 1, 1, 2, 2, 3, 3, 4, 4, 3, 3, 4, 4, 0, 0, 0, 0])
  }

  @Test func convTranspose2dOverlapPadsAndGroups() {
    // Stride 1: full 3x3 output [[1, 3, 2], [4, 10, 6], [3, 7, 4]]; begin pads crop row 0 and col 0.
    let x = tensor([1, 1, 2, 2], [1, 2, 3, 4])
    let w = tensor([1, 1, 2, 2], [1, 1, 1, 1])
    let full = run("conv_transpose2d", [x, w], Self.convTransposeAttributes(strides: [1, 1]))
    #expect(full.storage == [1, 3, 2, 4, 10, 6, 3, 7, 4])
    let cropped = run(
      "conv_transpose2d", [x, w], Self.convTransposeAttributes(strides: [1, 1], pads: [1, 1, 0, 0]))
    #expect(cropped.shape == [1, 1, 2, 2])
    #expect(cropped.storage == [10, 6, 7, 4])
    // group 2, 1x1 kernels: each channel scaled by its own weight.
    let g = run(
      "conv_transpose2d", [tensor([1, 2, 1, 1], [1, 2]), tensor([2, 1, 1, 1], [3, 5])],
      Self.convTransposeAttributes(strides: [1, 1], group: 2))
    #expect(g.shape == [1, 2, 1, 1])
    #expect(g.storage == [3, 10])
    // output_padding must be < stride or < dilation.
    #expect(
      concreteRule(
        "conv_transpose2d", [[1, 1, 2, 2], [1, 1, 2, 2]],
        Self.convTransposeAttributes(strides: [1, 1], outputPadding: [1, 0]))?.holds == false)
    // Output must be >= 1: (1-1)*1 - 1 - 1 + 0 + 0 + 1 < 1.
    #expect(
      concreteRule(
        "conv_transpose2d", [[1, 1, 1, 1], [1, 1, 1, 1]],
        Self.convTransposeAttributes(strides: [1, 1], pads: [1, 0, 1, 0]))?.holds == false)
  }

  // MARK: - Pooling

  @Test func maxPool2dPaddingNeverWins() {
    // All values negative: a zero padding would win, -inf padding does not.
    let x = tensor([1, 1, 3, 3], [-1, -2, -3, -4, -5, -6, -7, -8, -9])
    let y = run(
      "max_pool2d", [x],
      ["kernel_shape": ints(2, 2), "strides": ints(2, 2), "pads": ints(1, 1, 1, 1), "dilations": ints(1, 1)])
    #expect(y.shape == [1, 1, 2, 2])
    #expect(y.storage == [-1, -2, -4, -5])
  }

  @Test func maxPool1dDilationAndNaN() {
    let attrs: [String: AttributeValue] = [
      "kernel_shape": ints(2), "strides": ints(1), "pads": ints(0, 0), "dilations": ints(2),
    ]
    let y = run("max_pool1d", [tensor([1, 1, 5], [3, 1, 4, 1, 5])], attrs)
    #expect(y.storage == [4, 1, 5])
    let n = run("max_pool1d", [tensor([1, 1, 4], [1, .nan, 2, 0])], attrs)
    #expect(n.storage[0] == 2)
    #expect(n.storage[1].isNaN)
    // pads must be < kernel; with dilation 2 a size-1 input could give an all-padding window.
    #expect(
      concreteRule(
        "max_pool1d", [[1, 1, 3]],
        ["kernel_shape": ints(2), "strides": ints(1), "pads": ints(2, 0), "dilations": ints(1)])?.holds
        == false)
    #expect(
      concreteRule(
        "max_pool1d", [[1, 1, 1]],
        ["kernel_shape": ints(2), "strides": ints(1), "pads": ints(1, 1), "dilations": ints(2)])?.holds
        == false)
  }

  @Test func avgPool2dCountIncludePad() {
    // Windows hold {1}, {2, 3}, {4, 7}, {5, 6, 8, 9}.
    let x = tensor([1, 1, 3, 3], (1...9).map(Double.init))
    var attrs: [String: AttributeValue] = [
      "kernel_shape": ints(2, 2), "strides": ints(2, 2), "pads": ints(1, 1, 1, 1),
      "count_include_pad": .int(1),
    ]
    #expect(run("avg_pool2d", [x], attrs).storage == [0.25, 1.25, 2.75, 7])
    attrs["count_include_pad"] = .int(0)
    let y = run("avg_pool2d", [x], attrs)
    #expect(y.shape == [1, 1, 2, 2])
    #expect(y.storage == [1, 2.5, 5.5, 7])
  }

  @Test func avgPool1dBeginPad() {
    // kernel 3, pad begin 1: windows {1, 2} (+1 pad), {1, 2, 3}, {2, 3, 4}.
    let x = tensor([1, 1, 4], [1, 2, 3, 4])
    var attrs: [String: AttributeValue] = [
      "kernel_shape": ints(3), "strides": ints(1), "pads": ints(1, 0), "count_include_pad": .int(1),
    ]
    #expect(run("avg_pool1d", [x], attrs).storage == [1, 2, 3])
    attrs["count_include_pad"] = .int(0)
    #expect(run("avg_pool1d", [x], attrs).storage == [1.5, 2, 3])
  }

  @Test func maxPool2dRuleIsSymbolic() {
    let spec = Catalogue.spec("max_pool2d")!
    let sym = SymbolicAttributes([
      "kernel_shape": .ints([.symbol("k0"), .symbol("k1")]),
      "strides": .ints([.symbol("s0"), .symbol("s1")]),
      "pads": .ints([.symbol("p0"), .symbol("p1"), .symbol("p2"), .symbol("p3")]),
      "dilations": .ints([.symbol("d0"), .symbol("d1")]),
    ])
    let x: [Dim] = [.symbol("n"), .symbol("c"), .symbol("h"), .symbol("w")]
    let rule = spec.rule(RuleContext(inputs: [x], dtypes: [.f16], attributes: sym))!
    let bindings = [
      "n": 2, "c": 3, "h": 5, "w": 4, "k0": 3, "k1": 2, "s0": 2, "s1": 3, "p0": 1, "p1": 0, "p2": 2, "p3": 1,
      "d0": 1, "d1": 2,
    ]
    #expect(rule.requires.allSatisfy { $0.evaluated(in: bindings) })
    // h: (5 + 3 - 3) / 2 + 1 = 3; w: (4 + 1 - 3) / 3 + 1 = 1.
    #expect(rule.outputs[0].map { $0.evaluated(in: bindings) } == [2, 3, 3, 1])
  }

  @Test func globalAvgPool() {
    let y = run("global_avg_pool", [tensor([1, 2, 2, 2], [1, 2, 3, 4, 5, 6, 7, 8])])
    #expect(y.shape == [1, 2, 1, 1])
    #expect(y.storage == [2.5, 6.5])
    #expect(concreteRule("global_avg_pool", [[2, 3, 4, 5, 6]])?.outputs == [[2, 3, 1, 1, 1]])
  }

  // MARK: - Normalization

  @Test func batchNormFormula() {
    // Channel 0: 2 * (x - 1) / sqrt(4 + eps) + 1; channel 1: 0.5 * (x - 3) / sqrt(0.25 + eps) - 1.
    let eps = 1e-5
    let x = tensor([1, 2, 2], [1, 2, 3, 4])
    let y = run(
      "batch_norm",
      [x, tensor([2], [2, 0.5]), tensor([2], [1, -1]), tensor([2], [1, 3]), tensor([2], [4, 0.25])],
      ["epsilon": .float(eps)])
    let s0 = (4 + eps).squareRoot()
    let s1 = (0.25 + eps).squareRoot()
    #expect(y.shape == [1, 2, 2])
    #expect(close(y.storage, [1, 2 / s0 + 1, -1, 0.5 / s1 - 1]))
    #expect(
      Catalogue.spec("batch_norm")!.domain(ValueContext(shapes: [], dtypes: [], attributes: Attributes()))[4]
        == .nonNegative)
    #expect(
      concreteRule("batch_norm", [[2, 3, 4], [3], [3], [2], [3]], ["epsilon": .float(eps)])?.holds == false)
  }

  @Test func layerNormLastAxisAndLeadingAxis() {
    let eps = 1e-5
    let s = (1 + eps).squareRoot()
    // Row 0 [1, 3]: mean 2, var 1; row 1 [2, 2]: var 0, normalizes to 0 (bias only).
    let x = tensor([2, 2], [1, 3, 2, 2])
    let y = run(
      "layer_norm", [x, tensor([2], [1, 2]), tensor([2], [0, 1])], ["axis": .int(-1), "epsilon": .float(eps)])
    #expect(close(y.storage, [-1 / s, 1 + 2 / s, 0, 1]))
    // axis 0: all four values, mean 2, var 0.5.
    let z = run(
      "layer_norm", [x, tensor([2, 2], [1, 1, 1, 1]), tensor([2, 2], [0, 0, 0, 0])],
      ["axis": .int(0), "epsilon": .float(eps)])
    let t = (0.5 + eps).squareRoot()
    #expect(close(z.storage, [-1 / t, 1 / t, 0, 0]))
    // scale must have shape x.shape[axis...].
    #expect(
      concreteRule("layer_norm", [[2, 3], [3], [3]], ["axis": .int(0), "epsilon": .float(eps)]) == nil)
    #expect(
      concreteRule("layer_norm", [[2, 3], [2], [2]], ["axis": .int(1), "epsilon": .float(eps)])?.holds
        == false)
    // Leading 1s are allowed: scale [1, 2] is the normalized shape [2].
    let w = run(
      "layer_norm", [x, tensor([1, 2], [1, 2]), tensor([1, 2], [0, 1])],
      ["axis": .int(-1), "epsilon": .float(eps)])
    #expect(w.storage == y.storage)
    #expect(
      concreteRule("layer_norm", [[2, 3], [2, 3], [2, 3]], ["axis": .int(1), "epsilon": .float(eps)])?.holds
        == false)
  }

  @Test func softmaxOf123() {
    let y = run("softmax", [tensor([3], [1, 2, 3])], ["axis": .int(0)])
    #expect(close(y.storage, [0.09003057317038046, 0.24472847105479764, 0.6652409557748219]))
    let l = run("log_softmax", [tensor([3], [1, 2, 3])], ["axis": .int(-1)])
    #expect(close(l.storage, [-2.4076059644443806, -1.4076059644443806, -0.4076059644443806]))
  }

  @Test func softmaxAxisStabilityNaNAndRounding() {
    // Axis 0 of [[1, 2], [1, 4]]: columns [1, 1] and [2, 4].
    let y = run("softmax", [tensor([2, 2], [1, 2, 1, 4])], ["axis": .int(0)])
    #expect(close(y.storage, [0.5, 0.11920292202211755, 0.5, 0.8807970779778823]))
    // Large inputs do not overflow.
    #expect(run("softmax", [tensor([2], [1000, 1000])], ["axis": .int(0)]).storage == [0.5, 0.5])
    #expect(
      run("log_softmax", [tensor([2], [1000, 1000])], ["axis": .int(0)]).storage == [-log(2.0), -log(2.0)])
    // NaN poisons its slice only.
    let n = run("softmax", [tensor([2, 2], [.nan, 1, 2, 1])], ["axis": .int(1)])
    #expect(n.storage[0].isNaN && n.storage[1].isNaN)
    #expect(close(Array(n.storage[2...]), [0.7310585786300049, 0.2689414213699951]))
    // The result is rounded once into the dtype.
    let f = run("softmax", [tensor([3], [1, 2, 3], .f32)], ["axis": .int(0)])
    #expect(f.dtype == .f32)
    #expect(
      f.storage == [0.09003057317038046, 0.24472847105479764, 0.6652409557748219].map { Double(Float($0)) })
  }

  // MARK: - Randomized agreement of rules, kernels and ranges

  /// Random shapes and attributes within the declared domains: whenever the rule's requirements
  /// hold, the kernel's shape equals the rule's, values stay in the declared range (checked by
  /// `run`), and max pooling never outputs the -inf of an all-padding window.
  @Test func windowedOpsAgreeWithTheirRules() {
    var g = SplitMix64(seed: 2024)
    var accepted: [String: Int] = [:]
    for _ in 0..<400 {
      let id = g.pick([
        "conv1d", "conv2d", "conv_transpose2d", "max_pool1d", "max_pool2d", "avg_pool1d", "avg_pool2d",
      ])
      let spec = Catalogue.spec(id)!
      let rank = id.hasSuffix("1d") ? 3 : 4
      let sp = rank - 2
      var shapes = [(0..<rank).map { _ in g.int(in: 1...5) }]
      if spec.inputs.count == 2 { shapes.append((0..<rank).map { _ in g.int(in: 1...3) }) }
      var attrs: [String: AttributeValue] = [:]
      for a in spec.attributes {
        switch a.kind {
        // Small groups: with up to 5 channels a group beyond 4 never divides them.
        case .int(let r): attrs[a.name] = .int(g.int(in: r.lowerBound...Swift.min(r.upperBound, 4)))
        case .ints(let len, let r):
          let n = len == .twiceSpatial(of: 0) ? 2 * sp : sp
          attrs[a.name] = .ints((0..<n).map { _ in g.int(in: r) })
        case .flag: attrs[a.name] = .int(g.int(in: 0...1))
        default: Issue.record("unexpected attribute kind for \(a.name)")
        }
      }
      guard concreteRule(id, shapes, attrs)?.holds == true else { continue }
      accepted[id, default: 0] += 1
      let inputs = shapes.map { s in tensor(s, (0..<s.reduce(1, *)).map { _ in g.unit() * 4 - 2 }) }
      let y = run(id, inputs, attrs)
      let finite = y.storage.allSatisfy { $0.isFinite }
      #expect(finite, "\(id) \(shapes) \(attrs)")
    }
    #expect(accepted.count == 7, "\(accepted)")
  }
}
