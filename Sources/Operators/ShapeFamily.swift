import Foundation
import Kernels
import Symbolic
import Tensors

// MARK: - Reductions

extension OperatorSpec {
  static let reductionAttributes = [
    AttributeSpec("axes", .axes(of: 0), default: .ints([0])),
    AttributeSpec("keepdims", .flag, default: .int(1)),
  ]

  /// Shape rule of the `axes`/`keepdims` reductions: each reduced dim becomes 1 (keepdims) or is
  /// removed. `nil` unless `axes` are distinct and in `0..<rank`.
  static func reductionRule(_ c: RuleContext) -> Rule? {
    let axes = c.concreteInts("axes")
    guard !axes.isEmpty, Set(axes).count == axes.count,
      axes.allSatisfy({ (0..<c.rank(0)).contains($0) })
    else { return nil }
    let keep = c.concreteInt("keepdims") != 0
    var out: [Dim] = []
    for (i, d) in c[0].enumerated() {
      if !axes.contains(i) { out.append(d) } else if keep { out.append(1) }
    }
    return Rule(outputs: [out])
  }

  /// Number of elements combined into one output element.
  static func reducedCount(_ c: ValueContext) -> Double {
    Double(c.attributes.ints("axes").reduce(1) { $0 * c.shapes[0][$1] })
  }

  /// Bound `b` on |x| for reduce_prod over `n` elements: `b^n <= 1e4` (finite in every float
  /// dtype, including f16), and at most 1.5.
  static func prodBound(_ n: Double) -> Double { Swift.min(1.5, Foundation.pow(1e4, 1 / n)) }

  static func reduction(
    _ id: String, _ doc: String, dtypes: TypeConstraint = .numeric,
    domain: (@Sendable (ValueContext) -> [ValueDomain?])? = nil,
    range: (@Sendable (ValueContext, [Interval]) -> [Interval])? = nil,
    _ f: @escaping @Sendable ([Double]) -> Double
  ) -> OperatorSpec {
    OperatorSpec(
      id: id, family: .reduction,
      doc: doc + " Reduces over `axes` (sorted, distinct, 0-based); keepdims = 1 keeps each reduced"
        + " axis as size 1, 0 removes it (reducing every axis gives a rank-0 tensor). Computed in"
        + " float64, then rounded to the dtype.",
      inputs: [InputSpec("x", ranks: .range(1...6), dtypes)],
      attributes: reductionAttributes,
      rule: reductionRule, domain: domain ?? { _ in [] }, range: range,
      reference: { a, t in [Reference.reduce(t[0], axes: a.ints("axes"), keepdims: a.int("keepdims") != 0, f)]
      })
  }

  /// argmax / argmin along one axis, as i64.
  static func argReduction(_ id: String, largest: Bool) -> OperatorSpec {
    let word = largest ? "largest" : "smallest"
    return OperatorSpec(
      id: id, family: .reduction,
      doc: "Index (i64) of the \(word) element along `axis` (negative counts from the back: axis + r);"
        + " keepdims = 1 keeps that axis as size 1, 0 removes it. Ties (including -0 vs +0) give the"
        + " first index. NaN counts as beating every number (NumPy convention, for argmax and argmin"
        + " alike): if the axis holds a NaN, the result is the index of the first NaN.",
      inputs: [InputSpec("x", ranks: .range(1...6), .numeric)], outputTypes: [.fixed(.i64)],
      attributes: [
        AttributeSpec("axis", .axis(of: 0), default: .int(0)),
        AttributeSpec("keepdims", .flag, default: .int(1)),
      ],
      traits: [.discontinuous, .exact, .nanUnspecified],
      rule: { c in
        guard let axis = Shape.axis(c.concreteInt("axis"), rank: c.rank(0)) else { return nil }
        var out = c[0]
        if c.concreteInt("keepdims") != 0 { out[axis] = 1 } else { out.remove(at: axis) }
        return Rule(outputs: [out])
      },
      range: { c, _ in
        let axis = Shape.axis(c.attributes.int("axis"), rank: c.shapes[0].count)!
        return [Interval(0, Double(c.shapes[0][axis] - 1))]
      },
      reference: { a, t in
        let axis = Shape.axis(a.int("axis"), rank: t[0].rank)!
        return [Reference.argExtreme(t[0], axis: axis, keepdims: a.int("keepdims") != 0, largest: largest)]
      })
  }

  static let reductionOps: [OperatorSpec] = [
    reduction(
      "reduce_sum",
      "Sum by sequential float64 addition in row-major order; NaN propagates, inf + -inf = NaN; integers wrap when rounded.",
      range: { c, ins in [ins[0].scaled(by: reducedCount(c))] }, { $0.reduce(0, +) }),
    reduction(
      "reduce_mean",
      "Arithmetic mean: the float64 sum (row-major order) divided by the number of reduced elements; NaN propagates.",
      dtypes: .float
    ) { $0.reduce(0, +) / Double($0.count) },
    reduction(
      "reduce_max",
      "Maximum; NaN if any reduced element is NaN. -0 and +0 compare equal, so a zero result may carry either sign."
    ) {
      $0.reduce(-.infinity, nanMax)
    }.with([.exact, .nanUnspecified]),
    reduction(
      "reduce_min",
      "Minimum; NaN if any reduced element is NaN. -0 and +0 compare equal, so a zero result may carry either sign."
    ) {
      $0.reduce(.infinity, nanMin)
    }.with([.exact, .nanUnspecified]),
    reduction(
      "reduce_prod",
      "Product by sequential float64 multiplication in row-major order; NaN propagates; integers wrap when rounded. Generated inputs over n reduced elements satisfy |x| <= min(1.5, 1e4^(1/n)), so |result| <= 1e4.",
      domain: { c in
        let b = prodBound(reducedCount(c))
        return [.within(-b, b)]
      },
      range: { c, ins in
        let n = reducedCount(c)
        let x = ins[0]
        if x.lo >= 0 { return [Interval(Foundation.pow(x.lo, n), Foundation.pow(x.hi, n))] }
        let m = Foundation.pow(x.magnitude, n)
        return [Interval(-m, m)]
      }, { $0.reduce(1, *) }),
    argReduction("argmax", largest: true),
    argReduction("argmin", largest: false),
  ]
}

// MARK: - Shape manipulation

extension OperatorSpec {
  static let movementOps: [OperatorSpec] = [
    OperatorSpec(
      id: "reshape", family: .shape,
      doc:
        "The same elements in row-major order with the target `shape` (1 to 4 entries, each >= 1; no -1 or 0 placeholders). The product of `shape` must equal the element count of x. Values are unchanged.",
      inputs: [InputSpec("x", ranks: .range(0...6), .movable)],
      attributes: [AttributeSpec("shape", .ints(.chosen(1...4), 1...65536))],
      rule: { c in
        let shape = c.ints("shape")
        guard (1...4).contains(shape.count) else { return nil }
        return Rule(requires: [Dim.product(shape) .== Dim.product(c[0])], outputs: [shape])
      },
      reference: { a, t in [Reference.reshape(t[0], to: a.ints("shape"))] }),
    OperatorSpec(
      id: "flatten", family: .shape,
      doc:
        "2-D view [prod(dims[..<axis]), prod(dims[axis...])] of the row-major elements (ONNX Flatten). axis lies in [-r, r]; a negative axis means axis + r. axis 0 gives [1, N], axis r gives [N, 1]. Values are unchanged.",
      inputs: [InputSpec("x", ranks: .range(1...6), .movable)],
      attributes: [AttributeSpec("axis", .axis(of: 0, extra: 1), default: .int(1))],
      rule: { c in
        let r = c.rank(0)
        let a = c.concreteInt("axis")
        let axis = a < 0 ? a + r : a
        guard (0...r).contains(axis) else { return nil }
        return Rule(outputs: [[Dim.product(c[0][..<axis]), Dim.product(c[0][axis...])]])
      },
      reference: { a, t in
        let r = t[0].rank
        let axis = a.int("axis") < 0 ? a.int("axis") + r : a.int("axis")
        let shape = [t[0].shape[..<axis].reduce(1, *), t[0].shape[axis...].reduce(1, *)]
        return [Reference.reshape(t[0], to: shape)]
      }),
    OperatorSpec(
      id: "transpose", family: .shape,
      doc:
        "Permutes the axes (NumPy transpose(x, perm), ONNX Transpose): output dim k is input dim perm[k], and out[j] = x[i] with i[perm[k]] = j[k]. Values are unchanged.",
      inputs: [InputSpec("x", ranks: .range(1...6), .movable)],
      attributes: [AttributeSpec("perm", .permutation(of: 0))],
      rule: { c in
        let perm = c.concreteInts("perm")
        guard perm.sorted() == Array(0..<c.rank(0)) else { return nil }
        return Rule(outputs: [perm.map { c[0][$0] }])
      },
      reference: { a, t in [Reference.transpose(t[0], perm: a.ints("perm"))] }),
    OperatorSpec(
      id: "squeeze", family: .shape,
      doc:
        "Removes the listed `axes` (sorted, distinct, 0-based), each of which must have size 1. Values are unchanged.",
      inputs: [InputSpec("x", ranks: .range(1...6), .movable)],
      attributes: [AttributeSpec("axes", .axes(of: 0))],
      rule: { c in
        let axes = c.concreteInts("axes")
        guard !axes.isEmpty, Set(axes).count == axes.count,
          axes.allSatisfy({ (0..<c.rank(0)).contains($0) })
        else { return nil }
        let out = c[0].indices.filter { !axes.contains($0) }.map { c[0][$0] }
        return Rule(requires: axes.map { c[0][$0] .== 1 }, outputs: [out])
      },
      reference: { a, t in
        let axes = a.ints("axes")
        let shape = t[0].shape.indices.filter { !axes.contains($0) }.map { t[0].shape[$0] }
        return [Reference.reshape(t[0], to: shape)]
      }),
    OperatorSpec(
      id: "unsqueeze", family: .shape,
      doc:
        "Inserts a size-1 axis so that it is axis `axis` of the output (rank r + 1); a negative axis counts from the back of the output: axis + r + 1 (ONNX Unsqueeze). Values are unchanged.",
      inputs: [InputSpec("x", ranks: .range(0...5), .movable)],
      attributes: [AttributeSpec("axis", .axis(of: 0, extra: 1), default: .int(0))],
      rule: { c in
        guard let axis = Shape.axis(c.concreteInt("axis"), rank: c.rank(0) + 1) else { return nil }
        var out = c[0]
        out.insert(1, at: axis)
        return Rule(outputs: [out])
      },
      reference: { a, t in
        var shape = t[0].shape
        shape.insert(1, at: Shape.axis(a.int("axis"), rank: t[0].rank + 1)!)
        return [Reference.reshape(t[0], to: shape)]
      }),
    OperatorSpec(
      id: "concat", family: .shape,
      doc:
        "Concatenates a and b along `axis` (negative counts from the back: axis + r). Same rank and dtype; every other dim must be equal. Values are unchanged.",
      inputs: [
        InputSpec("a", ranks: .range(1...6), .movable), InputSpec("b", ranks: .same(as: 0), .movable),
      ],
      attributes: [AttributeSpec("axis", .axis(of: 0), default: .int(0))],
      rule: { c in
        guard c.rank(0) == c.rank(1), let axis = Shape.axis(c.concreteInt("axis"), rank: c.rank(0))
        else { return nil }
        var out = c[0]
        out[axis] = c[0][axis] + c[1][axis]
        let requires = c[0].indices.filter { $0 != axis }.map { c[0][$0] .== c[1][$0] }
        return Rule(requires: requires, outputs: [out])
      },
      reference: { a, t in [Reference.concat(t, axis: Shape.axis(a.int("axis"), rank: t[0].rank)!)] }),
    OperatorSpec(
      id: "split", family: .shape,
      doc:
        "Splits x along `axis` (negative counts from the back: axis + r) into `num_outputs` (2 or 3) consecutive parts of equal size (ONNX Split with num_outputs and an evenly divisible dim). The dim must be divisible by num_outputs. Values are unchanged.",
      inputs: [InputSpec("x", ranks: .range(1...6), .any)],
      attributes: [
        AttributeSpec("axis", .axis(of: 0), default: .int(0)),
        AttributeSpec("num_outputs", .choice(["2", "3"]), default: .string("2")),
      ],
      rule: { c in
        guard let axis = Shape.axis(c.concreteInt("axis"), rank: c.rank(0)),
          let n = Int(c.string("num_outputs")), n > 0
        else { return nil }
        var out = c[0]
        out[axis] = c[0][axis] / Dim.constant(n)
        return Rule(requires: [c[0][axis] % Dim.constant(n) .== 0], outputs: Array(repeating: out, count: n))
      },
      range: { c, ins in Array(repeating: ins[0], count: Int(c.attributes.string("num_outputs")) ?? 1) },
      reference: { a, t in
        Reference.split(
          t[0], axis: Shape.axis(a.int("axis"), rank: t[0].rank)!, parts: Int(a.string("num_outputs"))!)
      }),
  ]
}

extension OperatorSpec {
  /// Data movement copies elements: every movement operator is exact.
  static let shapeFamily: [OperatorSpec] = reductionOps + movementOps.map { $0.with([.exact]) }
}
