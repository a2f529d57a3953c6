import Operators
import Symbolic
import Tensors
import Testing

/// A tensor with storage 0, 1, 2, ... (row-major).
private func iota(_ shape: [Int], _ dtype: DType = .f32) -> Tensor {
  Tensor(dtype: dtype, shape: shape, storage: (0..<shape.reduce(1, *)).map(Double.init))
}

/// The concrete rule context for these inputs and attributes.
private func context(_ inputs: [Tensor], _ attributes: Attributes) -> RuleContext {
  RuleContext(
    inputs: inputs.map { $0.shape.map(Dim.constant) }, dtypes: inputs.map(\.dtype),
    attributes: attributes.symbolic)
}

/// Runs `id` and cross-checks it against its own spec: attributes accepted, rule requirements
/// hold and predict the output shapes, output dtypes, inputs inside the domain, outputs inside the
/// predicted range.
private func run(
  _ id: String, _ inputs: [Tensor], _ attrs: [String: AttributeValue],
  sourceLocation: SourceLocation = #_sourceLocation
) -> [Tensor] {
  guard let spec = Catalogue.spec(id) else {
    Issue.record("no spec \(id)", sourceLocation: sourceLocation)
    return []
  }
  let attributes = Attributes(attrs)
  let ranks = inputs.map(\.rank)
  for a in spec.attributes {
    #expect(
      a.accepts(attributes[a.name], ranks: ranks), "attribute \(a.name)", sourceLocation: sourceLocation)
  }
  let outputs = spec.evaluate(inputs, attributes: attributes)
  guard let rule = spec.rule(context(inputs, attributes)) else {
    Issue.record("rule of \(id) returned nil", sourceLocation: sourceLocation)
    return outputs
  }
  for r in rule.requires { #expect(r.evaluated(in: [:]), "\(r)", sourceLocation: sourceLocation) }
  #expect(rule.outputs == outputs.map { $0.shape.map(Dim.constant) }, sourceLocation: sourceLocation)
  #expect(
    spec.outputDTypes(inputs: inputs.map(\.dtype), attributes: attributes, count: outputs.count)
      == outputs.map(\.dtype), sourceLocation: sourceLocation)

  let vc = ValueContext(shapes: inputs.map(\.shape), dtypes: inputs.map(\.dtype), attributes: attributes)
  let ins = inputs.map { t in Interval(t.storage.min() ?? 0, t.storage.max() ?? 0) }
  for (d, iv) in zip(spec.domain(vc), ins) {
    if let d { #expect(d.contains(iv), "input \(iv) outside domain \(d)", sourceLocation: sourceLocation) }
  }
  let ranges = spec.range(vc, ins)
  #expect(ranges.count == outputs.count, sourceLocation: sourceLocation)
  for (r, t) in zip(ranges, outputs) {
    for v in t.storage where !v.isNaN {
      #expect(r.contains(v), "\(v) outside \(r)", sourceLocation: sourceLocation)
    }
  }
  return outputs
}

private func rule(_ id: String, _ inputs: [Tensor], _ attrs: [String: AttributeValue]) -> Rule? {
  Catalogue.spec(id)!.rule(context(inputs, Attributes(attrs)))
}

/// True when every requirement of `rule` holds concretely.
private func holds(_ rule: Rule?) -> Bool { rule?.requires.allSatisfy { $0.evaluated(in: [:]) } ?? false }

private func same(_ a: [Double], _ b: [Double]) -> Bool {
  a.count == b.count && zip(a, b).allSatisfy { $0 == $1 || ($0.isNaN && $1.isNaN) }
}

@Suite struct ShapeFamilyTests {
  @Test func allOperatorsRegistered() {
    for id in [
      "reduce_sum", "reduce_mean", "reduce_max", "reduce_min", "reduce_prod", "argmax", "argmin",
      "reshape", "flatten", "transpose", "squeeze", "unsqueeze", "concat", "split",
    ] {
      #expect(Catalogue.spec(id) != nil, "\(id)")
    }
  }

  // MARK: Reductions

  @Test func reduceSumOverAxes0And2() {
    // x[i][j][k] = 12i + 4j + k, shape [2, 3, 4].
    let x = iota([2, 3, 4])
    // Sum over i and k for j: sum_i sum_k (12i + 4j + k) = 8 * 4j + 4*12 + 2*6 = 32j + 60.
    let kept = run("reduce_sum", [x], ["axes": .ints([0, 2]), "keepdims": .int(1)])[0]
    #expect(kept.shape == [1, 3, 1])
    #expect(kept.storage == [60, 92, 124])
    let dropped = run("reduce_sum", [x], ["axes": .ints([0, 2]), "keepdims": .int(0)])[0]
    #expect(dropped.shape == [3])
    #expect(dropped.storage == [60, 92, 124])
  }

  @Test func reduceSumAllAxesGivesScalar() {
    let x = Tensor(dtype: .i32, shape: [2, 2], storage: [1, -2, 3, 4])
    let y = run("reduce_sum", [x], ["axes": .ints([0, 1]), "keepdims": .int(0)])[0]
    #expect(y.shape == [])
    #expect(y.dtype == .i32)
    #expect(y.storage == [6])
  }

  @Test func reduceSumNaNAndInfinity() {
    let x = Tensor(dtype: .f32, shape: [2, 2], storage: [.infinity, -.infinity, 1, .nan])
    let y = Catalogue.spec("reduce_sum")!.evaluate(
      [x], attributes: Attributes(["axes": .ints([1]), "keepdims": .int(0)]))[0]
    #expect(y.storage.allSatisfy { $0.isNaN })
  }

  @Test func reduceMean() {
    // [[0, 1, 2], [3, 4, 5]]: row means 1 and 4, column means 1.5, 2.5, 3.5.
    let x = iota([2, 3])
    #expect(run("reduce_mean", [x], ["axes": .ints([1]), "keepdims": .int(0)])[0].storage == [1, 4])
    let cols = run("reduce_mean", [x], ["axes": .ints([0]), "keepdims": .int(1)])[0]
    #expect(cols.shape == [1, 3])
    #expect(cols.storage == [1.5, 2.5, 3.5])
    // Rounded to the dtype: 1/3 in f16 is 0.333251953125.
    let h = Tensor(dtype: .f16, shape: [3], storage: [1, 0, 0])
    #expect(
      run("reduce_mean", [h], ["axes": .ints([0]), "keepdims": .int(0)])[0].storage == [0.333251953125])
  }

  @Test func reduceMaxMinPropagateNaN() {
    let x = Tensor(dtype: .f32, shape: [2, 3], storage: [3, -1, 7, 2, .nan, 0])
    let mx = run("reduce_max", [x], ["axes": .ints([1]), "keepdims": .int(0)])[0]
    #expect(same(mx.storage, [7, .nan]))
    let mn = run("reduce_min", [x], ["axes": .ints([1]), "keepdims": .int(1)])[0]
    #expect(mn.shape == [2, 1])
    #expect(same(mn.storage, [-1, .nan]))
    let cols = run("reduce_max", [x], ["axes": .ints([0]), "keepdims": .int(0)])[0]
    #expect(same(cols.storage, [3, .nan, 7]))
  }

  @Test func reduceMaxMinIntegers() {
    let x = Tensor(dtype: .i64, shape: [3, 2], storage: [5, -9, 2, 8, -4, 8])
    #expect(run("reduce_max", [x], ["axes": .ints([0]), "keepdims": .int(0)])[0].storage == [5, 8])
    #expect(run("reduce_min", [x], ["axes": .ints([0, 1]), "keepdims": .int(1)])[0].storage == [-9])
  }

  @Test func reduceProd() {
    let x = Tensor(dtype: .f32, shape: [2, 3], storage: [0.5, -1.5, 1, 1.25, 1, -0.5])
    // Rows: 0.5 * -1.5 * 1 = -0.75; 1.25 * 1 * -0.5 = -0.625.
    #expect(
      run("reduce_prod", [x], ["axes": .ints([1]), "keepdims": .int(0)])[0].storage == [-0.75, -0.625])
    // Columns: 0.625, -1.5, -0.5.
    #expect(
      run("reduce_prod", [x], ["axes": .ints([0]), "keepdims": .int(0)])[0].storage == [0.625, -1.5, -0.5])
  }

  @Test func reduceProdDomainKeepsResultsFinite() {
    let spec = Catalogue.spec("reduce_prod")!
    for shape in [[1], [3], [64], [64, 64], [64, 64, 64, 64]] {
      let attrs = Attributes(["axes": .ints(Array(0..<shape.count)), "keepdims": .int(0)])
      let vc = ValueContext(shapes: [shape], dtypes: [.f16], attributes: attrs)
      let d = spec.domain(vc)[0]!
      #expect(d.allowed.hi <= 1.5 && d.allowed.hi >= 1)
      let r = spec.range(vc, [d.allowed])[0]
      #expect(r.isFinite && r.magnitude <= 1e4 * (1 + 1e-9))
    }
  }

  @Test func reductionRanges() {
    let sum = Catalogue.spec("reduce_sum")!
    let attrs = Attributes(["axes": .ints([0, 2]), "keepdims": .int(0)])
    let vc = ValueContext(shapes: [[2, 5, 3]], dtypes: [.f32], attributes: attrs)
    #expect(sum.range(vc, [Interval(-1, 2)]) == [Interval(-6, 12)])
    let prod = Catalogue.spec("reduce_prod")!
    #expect(prod.range(vc, [Interval(0.5, 1.5)]) == [Interval(0.015625, 11.390625)])
    #expect(prod.range(vc, [Interval(-1.5, 1)]) == [Interval(-11.390625, 11.390625)])
  }

  @Test func reductionRuleRejectsBadAxes() {
    let x = iota([2, 3])
    #expect(rule("reduce_sum", [x], ["axes": .ints([2]), "keepdims": .int(0)]) == nil)
    #expect(rule("reduce_sum", [x], ["axes": .ints([-1]), "keepdims": .int(0)]) == nil)
    #expect(rule("reduce_max", [x], ["axes": .ints([]), "keepdims": .int(0)]) == nil)
  }

  @Test func argmaxArgminFirstIndexOnTies() {
    // [[1, 5, 5, 0], [2, 2, -1, -1]]
    let x = Tensor(dtype: .f32, shape: [2, 4], storage: [1, 5, 5, 0, 2, 2, -1, -1])
    let amax = run("argmax", [x], ["axis": .int(1), "keepdims": .int(0)])[0]
    #expect(amax.dtype == .i64)
    #expect(amax.shape == [2])
    #expect(amax.storage == [1, 0])
    let amin = run("argmin", [x], ["axis": .int(-1), "keepdims": .int(1)])[0]
    #expect(amin.shape == [2, 1])
    #expect(amin.storage == [3, 2])
    let cols = run("argmax", [x], ["axis": .int(0), "keepdims": .int(0)])[0]
    #expect(cols.storage == [1, 0, 0, 0])
    // -0 and +0 tie: first index.
    let z = Tensor(dtype: .f64, shape: [2], storage: [-0.0, 0.0])
    #expect(run("argmax", [z], ["axis": .int(0), "keepdims": .int(0)])[0].storage == [0])
    #expect(run("argmin", [z], ["axis": .int(0), "keepdims": .int(0)])[0].storage == [0])
  }

  @Test func argmaxArgminNaNIsFirstNaN() {
    let x = Tensor(dtype: .f32, shape: [5], storage: [1, .nan, 9, .nan, -3])
    let attrs: [String: AttributeValue] = ["axis": .int(0), "keepdims": .int(0)]
    #expect(run("argmax", [x], attrs)[0].storage == [1])
    #expect(run("argmin", [x], attrs)[0].storage == [1])
    let y = Tensor(dtype: .f32, shape: [3], storage: [.nan, -1, 2])
    #expect(run("argmin", [y], attrs)[0].storage == [0])
  }

  @Test func argmaxRange() {
    let spec = Catalogue.spec("argmax")!
    let vc = ValueContext(
      shapes: [[2, 7, 3]], dtypes: [.f32], attributes: Attributes(["axis": .int(-2), "keepdims": .int(0)]))
    #expect(spec.range(vc, [.everything]) == [Interval(0, 6)])
  }

  // MARK: Shape manipulation

  @Test func reshape() {
    let x = iota([2, 3, 4], .i32)
    let y = run("reshape", [x], ["shape": .ints([4, 6])])[0]
    #expect(y.shape == [4, 6])
    #expect(y.storage == x.storage)
    #expect(y.dtype == .i32)
    #expect(!holds(rule("reshape", [x], ["shape": .ints([5, 5])])))
    let s = run("reshape", [Tensor(dtype: .bool, shape: [], storage: [1])], ["shape": .ints([1, 1])])[0]
    #expect(s.shape == [1, 1])
  }

  @Test func reshapeRuleIsSymbolic() {
    let spec = Catalogue.spec("reshape")!
    let ctx = RuleContext(
      inputs: [[.symbol("a"), .symbol("b")]], dtypes: [.f32],
      attributes: SymbolicAttributes(["shape": .ints([.symbol("s0"), .constant(2)])]))
    let r = spec.rule(ctx)!
    #expect(r.outputs == [[.symbol("s0"), .constant(2)]])
    #expect(r.requires.allSatisfy { $0.evaluated(in: ["a": 3, "b": 4, "s0": 6]) })
    #expect(!r.requires.allSatisfy { $0.evaluated(in: ["a": 3, "b": 4, "s0": 5]) })
  }

  @Test func flatten() {
    let x = iota([2, 3, 4])
    #expect(run("flatten", [x], ["axis": .int(1)])[0].shape == [2, 12])
    #expect(run("flatten", [x], ["axis": .int(0)])[0].shape == [1, 24])
    #expect(run("flatten", [x], ["axis": .int(3)])[0].shape == [24, 1])
    let y = run("flatten", [x], ["axis": .int(-1)])[0]
    #expect(y.shape == [6, 4])
    #expect(y.storage == x.storage)
    #expect(rule("flatten", [x], ["axis": .int(-4)]) == nil)
  }

  @Test func transpose2x3x4() {
    let x = iota([2, 3, 4])  // x[i][j][k] = 12i + 4j + k
    let y = run("transpose", [x], ["perm": .ints([2, 0, 1])])[0]
    #expect(y.shape == [4, 2, 3])
    // y[k][i][j] = x[i][j][k]
    var expected: [Double] = []
    for k in 0..<4 { for i in 0..<2 { for j in 0..<3 { expected.append(Double(12 * i + 4 * j + k)) } } }
    #expect(y.storage == expected)
    #expect(Array(y.storage.prefix(6)) == [0, 4, 8, 12, 16, 20])
    let m = run("transpose", [iota([2, 3])], ["perm": .ints([1, 0])])[0]
    #expect(m.shape == [3, 2])
    #expect(m.storage == [0, 3, 1, 4, 2, 5])
    #expect(rule("transpose", [x], ["perm": .ints([0, 1])]) == nil)
  }

  @Test func squeeze() {
    let x = iota([1, 3, 1, 2])
    let y = run("squeeze", [x], ["axes": .ints([0, 2])])[0]
    #expect(y.shape == [3, 2])
    #expect(y.storage == x.storage)
    #expect(run("squeeze", [x], ["axes": .ints([2])])[0].shape == [1, 3, 2])
    #expect(!holds(rule("squeeze", [x], ["axes": .ints([1])])))
  }

  @Test func unsqueeze() {
    let x = iota([2, 3])
    #expect(run("unsqueeze", [x], ["axis": .int(0)])[0].shape == [1, 2, 3])
    #expect(run("unsqueeze", [x], ["axis": .int(1)])[0].shape == [2, 1, 3])
    #expect(run("unsqueeze", [x], ["axis": .int(2)])[0].shape == [2, 3, 1])
    #expect(run("unsqueeze", [x], ["axis": .int(-1)])[0].shape == [2, 3, 1])
    #expect(run("unsqueeze", [x], ["axis": .int(-3)])[0].shape == [1, 2, 3])
    let s = run("unsqueeze", [Tensor(dtype: .i64, shape: [], storage: [7])], ["axis": .int(0)])[0]
    #expect(s.shape == [1])
    #expect(s.storage == [7])
  }

  @Test func concatOnAxis1() {
    // a = [[0, 1], [2, 3]], b = [[10, 11, 12], [13, 14, 15]]
    let a = iota([2, 2])
    let b = Tensor(dtype: .f32, shape: [2, 3], storage: [10, 11, 12, 13, 14, 15])
    let y = run("concat", [a, b], ["axis": .int(1)])[0]
    #expect(y.shape == [2, 5])
    #expect(y.storage == [0, 1, 10, 11, 12, 2, 3, 13, 14, 15])
    let z = run("concat", [a, iota([1, 2])], ["axis": .int(-2)])[0]
    #expect(z.shape == [3, 2])
    #expect(z.storage == [0, 1, 2, 3, 0, 1])
    #expect(!holds(rule("concat", [a, iota([3, 3])], ["axis": .int(1)])))
    #expect(rule("concat", [a, iota([2])], ["axis": .int(0)]) == nil)
  }

  @Test func concatRange() {
    let spec = Catalogue.spec("concat")!
    let vc = ValueContext(
      shapes: [[2], [2]], dtypes: [.f32, .f32], attributes: Attributes(["axis": .int(0)]))
    #expect(spec.range(vc, [Interval(-1, 1), Interval(0, 5)]) == [Interval(-1, 5)])
  }

  @Test func splitInto3() {
    // x = [[0..5], [6..11]] split along axis 1 into three [2, 2] parts.
    let x = iota([2, 6])
    let parts = run("split", [x], ["axis": .int(1), "num_outputs": .string("3")])
    #expect(parts.count == 3)
    #expect(parts.map(\.shape) == [[2, 2], [2, 2], [2, 2]])
    #expect(parts[0].storage == [0, 1, 6, 7])
    #expect(parts[1].storage == [2, 3, 8, 9])
    #expect(parts[2].storage == [4, 5, 10, 11])
    let rows = run("split", [x], ["axis": .int(-2), "num_outputs": .string("2")])
    #expect(rows.map(\.storage) == [[0, 1, 2, 3, 4, 5], [6, 7, 8, 9, 10, 11]])
    #expect(!holds(rule("split", [iota([5])], ["axis": .int(0), "num_outputs": .string("2")])))
  }

  @Test func rulesWorkWithSymbolicDims() {
    // Every rule must accept symbolic input dims without reading their values.
    let sym: [Dim] = [.symbol("d0"), .symbol("d1"), .symbol("d2")]
    let cases: [(String, Int, [String: SymbolicAttribute])] = [
      ("reduce_sum", 1, ["axes": .ints([0, 2]), "keepdims": .int(1)]),
      ("reduce_prod", 1, ["axes": .ints([1]), "keepdims": .int(0)]),
      ("argmin", 1, ["axis": .int(-1), "keepdims": .int(0)]),
      ("reshape", 1, ["shape": .ints([.symbol("s0")])]),
      ("flatten", 1, ["axis": .int(2)]),
      ("transpose", 1, ["perm": .ints([1, 2, 0])]),
      ("squeeze", 1, ["axes": .ints([1])]),
      ("unsqueeze", 1, ["axis": .int(3)]),
      ("concat", 2, ["axis": .int(1)]),
      ("split", 1, ["axis": .int(0), "num_outputs": .string("3")]),
    ]
    let bindings = ["d0": 6, "d1": 1, "d2": 4, "s0": 24]
    for (id, n, attrs) in cases {
      let ctx = RuleContext(
        inputs: Array(repeating: sym, count: n), dtypes: Array(repeating: .f32, count: n),
        attributes: SymbolicAttributes(attrs))
      let r = Catalogue.spec(id)!.rule(ctx)
      #expect(r != nil, "\(id)")
      #expect(r?.requires.allSatisfy { $0.evaluated(in: bindings) } == true, "\(id)")
      #expect(r?.outputs.allSatisfy { $0.allSatisfy { $0.evaluated(in: bindings) != nil } } == true, "\(id)")
    }
  }
}
