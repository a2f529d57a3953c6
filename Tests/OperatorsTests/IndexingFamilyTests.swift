import Operators
import Symbolic
import Tensors
import Testing

/// A tensor from a shape and row-major values.
private func tensor(_ shape: [Int], _ values: [Double], _ dtype: DType = .f64) -> Tensor {
  Tensor(dtype: dtype, shape: shape, storage: values)
}

/// Runs `id` on `inputs`, checks its shape rule against the result (concretely and with every input
/// dim and symbolic attribute turned into a symbol), and returns the output.
private func run(
  _ id: String, _ inputs: [Tensor], _ attributes: [String: AttributeValue]
) throws -> Tensor {
  let spec = try #require(Catalogue.spec(id))
  let attrs = Attributes(attributes)
  let out = spec.evaluate(inputs, attributes: attrs)
  #expect(out.count == 1)
  let expected: [Int?] = out[0].shape.map { $0 }

  // Concrete rule.
  let concrete = try #require(
    spec.rule(
      RuleContext(
        inputs: inputs.map { $0.shape.map(Dim.constant) }, dtypes: inputs.map(\.dtype),
        attributes: attrs.symbolic)))
  #expect(concrete.requires.allSatisfy { $0.evaluated(in: [:]) }, "\(id): requires \(concrete.requires)")
  #expect(concrete.outputs.count == 1)
  #expect(concrete.outputs.first?.map { $0.evaluated(in: [:]) } == expected, "\(id): outputs")

  // Symbolic rule, evaluated with the concrete values bound.
  var bindings: [String: Int] = [:]
  var dims: [[Dim]] = []
  for (i, t) in inputs.enumerated() {
    var row: [Dim] = []
    for (j, n) in t.shape.enumerated() {
      bindings["x\(i)_\(j)"] = n
      row.append(.symbol("x\(i)_\(j)"))
    }
    dims.append(row)
  }
  var symbolic = attrs.symbolic
  for a in spec.attributes where a.isSymbolic {
    switch attrs[a.name] {
    case .int(let v)?:
      bindings[a.name] = v
      symbolic.values[a.name] = .int(.symbol(a.name))
    case .ints(let vs)?:
      var list: [Dim] = []
      for (k, v) in vs.enumerated() {
        bindings["\(a.name)_\(k)"] = v
        list.append(.symbol("\(a.name)_\(k)"))
      }
      symbolic.values[a.name] = .ints(list)
    default: break
    }
  }
  let rule = try #require(
    spec.rule(RuleContext(inputs: dims, dtypes: inputs.map(\.dtype), attributes: symbolic)))
  #expect(rule.requires.allSatisfy { $0.evaluated(in: bindings) }, "\(id): symbolic requires")
  #expect(rule.outputs.first?.map { $0.evaluated(in: bindings) } == expected, "\(id): symbolic outputs")
  return out[0]
}

/// Whether the concrete rule holds for these shapes and attributes.
private func ruleHolds(
  _ id: String, _ shapes: [[Int]], _ dtypes: [DType], _ attributes: [String: AttributeValue]
) -> Bool {
  guard let spec = Catalogue.spec(id),
    let rule = spec.rule(
      RuleContext(
        inputs: shapes.map { $0.map(Dim.constant) }, dtypes: dtypes,
        attributes: Attributes(attributes).symbolic))
  else { return false }
  return rule.requires.allSatisfy { $0.evaluated(in: [:]) }
}

@Suite struct IndexingFamilyTests {
  @Test func familyIsComplete() {
    for id in ["slice", "pad", "expand", "tile", "gather", "resize", "cumsum"] {
      let spec = Catalogue.spec(id)
      #expect(spec != nil, "\(id) missing")
      #expect(spec?.doc.isEmpty == false)
    }
    #expect(Catalogue.spec("cumsum")?.family == .reduction)
    #expect(Catalogue.spec("gather")?.family == .indexing)
  }

  // MARK: slice

  @Test func sliceNegativeStartStepTwo() throws {
    let x = tensor([8], (0..<8).map(Double.init))
    // start -6 -> 2, end -1 -> 7, step 2: elements 2, 4, 6.
    let y = try run("slice", [x], ["axis": .int(0), "start": .int(-6), "end": .int(-1), "step": .int(2)])
    #expect(y.shape == [3])
    #expect(y.storage == [2, 4, 6])
  }

  @Test func sliceNegativeAxis2D() throws {
    let x = tensor([2, 5], [0, 1, 2, 3, 4, 10, 11, 12, 13, 14], .i32)
    // axis -1, start -4 -> 1, end 5, step 2: columns 1, 3.
    let y = try run("slice", [x], ["axis": .int(-1), "start": .int(-4), "end": .int(5), "step": .int(2)])
    #expect(y.shape == [2, 2])
    #expect(y.storage == [1, 3, 11, 13])
    #expect(y.dtype == .i32)
  }

  @Test func sliceRuleRejects() {
    let base: [String: AttributeValue] = ["axis": .int(0), "step": .int(1)]
    func holds(_ s: Int, _ e: Int) -> Bool {
      ruleHolds("slice", [[8]], [.f32], base.merging(["start": .int(s), "end": .int(e)]) { $1 })
    }
    #expect(holds(0, 8))
    #expect(holds(-8, -7))
    #expect(!holds(0, 0))  // end 0 excluded
    #expect(!holds(-9, 3))  // start below -d
    #expect(!holds(8, 8))  // start above d - 1
    #expect(!holds(0, -8))  // end below -d + 1
    #expect(!holds(0, 9))  // end above d
    #expect(!holds(3, -5))  // end' = 3 = start': empty
  }

  /// Exhaustive agreement of the slice rule with NumPy slicing (the kernel) for small dims: the rule
  /// holds exactly when start in [-d, d-1], end in [-d+1, d] \ {0} and the slice is non-empty, and then
  /// its output dim is the kernel's.
  @Test func sliceRuleMatchesKernelExhaustively() throws {
    let spec = try #require(Catalogue.spec("slice"))
    for d in 1...6 {
      let x = tensor([d], (0..<d).map(Double.init))
      for start in -8...8 {
        for end in -8...8 {
          for step in 1...3 {
            let attrs: [String: AttributeValue] = [
              "axis": .int(0), "start": .int(start), "end": .int(end), "step": .int(step),
            ]
            let n = spec.evaluate([x], attributes: Attributes(attrs))[0].shape[0]
            let inRange = (-d...(d - 1)).contains(start) && ((1 - d)...d).contains(end) && end != 0
            let ctx = RuleContext(
              inputs: [[.constant(d)]], dtypes: [.f64], attributes: Attributes(attrs).symbolic)
            let rule = try #require(spec.rule(ctx))
            let holds = rule.requires.allSatisfy { $0.evaluated(in: [:]) }
            #expect(holds == (inRange && n >= 1), "d \(d) \(start):\(end):\(step)")
            if holds { #expect(rule.outputs[0][0].evaluated(in: [:]) == n) }
          }
        }
      }
    }
  }

  // MARK: pad

  @Test func pad1D() throws {
    let x = tensor([3], [1, 2, 3])
    func pad(_ mode: String) throws -> Tensor {
      try run(
        "pad", [x],
        [
          "pads_begin": .ints([2]), "pads_end": .ints([1]), "mode": .string(mode), "value": .float(0.5),
        ])
    }
    #expect(try pad("constant").storage == [0.5, 0.5, 1, 2, 3, 0.5])
    #expect(try pad("reflect").storage == [3, 2, 1, 2, 3, 2])
    #expect(try pad("edge").storage == [1, 1, 1, 2, 3, 3])
    #expect(try pad("edge").shape == [6])
  }

  @Test func pad2D() throws {
    let x = tensor([2, 3], [1, 2, 3, 4, 5, 6])
    func pad(_ mode: String) throws -> Tensor {
      try run(
        "pad", [x],
        [
          "pads_begin": .ints([1, 0]), "pads_end": .ints([0, 2]), "mode": .string(mode), "value": .float(-1),
        ])
    }
    let reflect = try pad("reflect")
    #expect(reflect.shape == [3, 5])
    #expect(reflect.storage == [4, 5, 6, 5, 4, 1, 2, 3, 2, 1, 4, 5, 6, 5, 4])
    #expect(try pad("edge").storage == [1, 2, 3, 3, 3, 1, 2, 3, 3, 3, 4, 5, 6, 6, 6])
    #expect(try pad("constant").storage == [-1, -1, -1, -1, -1, 1, 2, 3, -1, -1, 4, 5, 6, -1, -1])
  }

  @Test func padConstantRoundsValueToDType() throws {
    // 0.75 truncates to 0 in i32.
    let x = tensor([2], [7, 8], .i32)
    let y = try run(
      "pad", [x],
      ["pads_begin": .ints([1]), "pads_end": .ints([1]), "mode": .string("constant"), "value": .float(0.75)])
    #expect(y.storage == [0, 7, 8, 0])
  }

  @Test func padRuleAndRange() throws {
    let attrs: [String: AttributeValue] = [
      "pads_begin": .ints([2, 0]), "pads_end": .ints([0, 0]), "mode": .string("reflect"), "value": .float(0),
    ]
    #expect(!ruleHolds("pad", [[2, 3]], [.f32], attrs))  // reflect pad 2 on a dim of 2
    #expect(ruleHolds("pad", [[3, 3]], [.f32], attrs))
    #expect(ruleHolds("pad", [[2, 3]], [.f32], attrs.merging(["mode": .string("edge")]) { $1 }))

    let spec = try #require(Catalogue.spec("pad"))
    let ctx = ValueContext(
      shapes: [[2]], dtypes: [.bool],
      attributes: Attributes([
        "pads_begin": .ints([1]), "pads_end": .ints([1]), "mode": .string("constant"), "value": .float(-0.5),
      ]))
    // -0.5 becomes true (1) in bool, outside the input range [0, 0]: the range must include it.
    let r = spec.range(ctx, [Interval(0, 0)])[0]
    #expect(r.contains(1) && r.contains(0))
  }

  // MARK: expand, tile

  @Test func expand() throws {
    let x = tensor([3, 1], [1, 2, 3])
    let y = try run("expand", [x], ["shape": .ints([2, 1, 4])])
    #expect(y.shape == [2, 3, 4])
    #expect(y.storage == [1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3])
    let z = try run("expand", [x], ["shape": .ints([1, 1])])
    #expect(z.shape == [3, 1])
    #expect(!ruleHolds("expand", [[3]], [.f32], ["shape": .ints([2])]))
  }

  @Test func tile() throws {
    let x = tensor([2, 2], [1, 2, 3, 4], .i64)
    let y = try run("tile", [x], ["repeats": .ints([1, 2])])
    #expect(y.shape == [2, 4])
    #expect(y.storage == [1, 2, 1, 2, 3, 4, 3, 4])
    let z = try run("tile", [x], ["repeats": .ints([2, 1])])
    #expect(z.storage == [1, 2, 3, 4, 1, 2, 3, 4])
  }

  // MARK: gather

  @Test func gatherNegativeIndexAxis0() throws {
    let data = tensor([3, 2], [1, 2, 3, 4, 5, 6])
    let y = try run("gather", [data, tensor([2], [-1, 0], .i64)], ["axis": .int(0)])
    #expect(y.shape == [2, 2])
    #expect(y.storage == [5, 6, 1, 2])
    let s = try run("gather", [data, tensor([], [-3], .i32)], ["axis": .int(0)])
    #expect(s.shape == [2])
    #expect(s.storage == [1, 2])
  }

  @Test func gatherAxis1MatrixIndices() throws {
    let data = tensor([3, 2], [1, 2, 3, 4, 5, 6])
    // indices [[1, -2], [0, -1]] normalize to [[1, 0], [0, 1]].
    let y = try run("gather", [data, tensor([2, 2], [1, -2, 0, -1], .i64)], ["axis": .int(-1)])
    #expect(y.shape == [3, 2, 2])
    #expect(y.storage == [2, 1, 1, 2, 4, 3, 3, 4, 6, 5, 5, 6])
  }

  @Test func gatherDomainAndRange() throws {
    let spec = try #require(Catalogue.spec("gather"))
    let ctx = ValueContext(
      shapes: [[3, 2], [4]], dtypes: [.f32, .i64], attributes: Attributes(["axis": .int(1)]))
    let domains = spec.domain(ctx)
    #expect(domains.count == 2)
    #expect(domains.first! == nil)
    #expect(domains.last! == .within(-2, 1))
    #expect(spec.range(ctx, [Interval(-1, 1), Interval(-2, 1)]) == [Interval(-1, 1)])
  }

  // MARK: resize

  @Test func resize2x2To3x5() throws {
    let x = tensor([1, 1, 2, 2], [1, 2, 3, 4], .f32)
    // Rows: floor(o * 2 / 3) = 0, 0, 1; columns: floor(o * 2 / 5) = 0, 0, 0, 1, 1.
    let y = try run("resize", [x], ["sizes": .ints([3, 5])])
    #expect(y.shape == [1, 1, 3, 5])
    #expect(y.storage == [1, 1, 1, 2, 2, 1, 1, 1, 2, 2, 3, 3, 3, 4, 4])
  }

  @Test func resizeDownscale1D() throws {
    let x = tensor([1, 2, 5], [10, 20, 30, 40, 50, 1, 2, 3, 4, 5], .f16)
    // floor(o * 5 / 2) = 0, 2.
    let y = try run("resize", [x], ["sizes": .ints([2])])
    #expect(y.shape == [1, 2, 2])
    #expect(y.storage == [10, 30, 1, 3])
  }

  // MARK: cumsum

  @Test func cumsum1D() throws {
    let x = tensor([4], [1, 2, 3, 4])
    func cumsum(_ exclusive: Int, _ reverse: Int) throws -> [Double] {
      try run("cumsum", [x], ["axis": .int(0), "exclusive": .int(exclusive), "reverse": .int(reverse)])
        .storage
    }
    #expect(try cumsum(0, 0) == [1, 3, 6, 10])
    #expect(try cumsum(1, 0) == [0, 1, 3, 6])
    #expect(try cumsum(0, 1) == [10, 9, 7, 4])
    #expect(try cumsum(1, 1) == [9, 7, 4, 0])
  }

  @Test func cumsum2D() throws {
    let x = tensor([3, 2], [1, 2, 3, 4, 5, 6], .i64)
    let a = try run("cumsum", [x], ["axis": .int(-2), "exclusive": .int(1), "reverse": .int(0)])
    #expect(a.storage == [0, 0, 1, 2, 4, 6])
    let b = try run("cumsum", [x], ["axis": .int(1), "exclusive": .int(0), "reverse": .int(1)])
    #expect(b.storage == [3, 2, 7, 4, 11, 6])
  }

  @Test func cumsumRange() throws {
    let spec = try #require(Catalogue.spec("cumsum"))
    func range(_ exclusive: Int, _ input: Interval) -> Interval {
      let ctx = ValueContext(
        shapes: [[2, 3]], dtypes: [.f32],
        attributes: Attributes(["axis": .int(1), "exclusive": .int(exclusive), "reverse": .int(0)]))
      return spec.range(ctx, [input])[0]
    }
    #expect(range(0, Interval(-1, 2)) == Interval(-3, 6))
    #expect(range(0, Interval(1, 2)) == Interval(1, 6))
    #expect(range(1, Interval(1, 2)) == Interval(0, 6))
  }
}
