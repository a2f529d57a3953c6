// Two-operand elementwise operators (the `binary` family: add, mul, comparisons, ...) and cast.
// Not the 1-bit ("binarized") networks: those are BinarizedFamily.swift and Kernels/LowBit/Binary*.

import Foundation
import Kernels
import Symbolic
import Tensors

extension OperatorSpec {
  /// The NumPy broadcasting rule for two shapes: trailing dims align; each pair must be equal or
  /// contain a 1; the output takes the larger.
  public static func broadcastRule(_ a: [Dim], _ b: [Dim]) -> Rule {
    let r = Swift.max(a.count, b.count)
    var requires: [Constraint] = []
    var out: [Dim] = []
    for i in 0..<r {
      let x: Dim = i < r - a.count ? 1 : a[i - (r - a.count)]
      let y: Dim = i < r - b.count ? 1 : b[i - (r - b.count)]
      if x == y || y == 1 {
        out.append(x)
      } else if x == 1 {
        out.append(y)
      } else {
        requires.append(.any([x .== y, x .== 1, y .== 1]))
        out.append(.maximum(x, y))
      }
    }
    return Rule(requires: requires, outputs: [out])
  }

  /// An elementwise binary operator with NumPy broadcasting from its scalar function.
  static func binary(
    _ id: String, _ doc: String, dtypes: TypeConstraint = .numeric, output: OutputType = .same("T"),
    domains: [ValueDomain?] = [], traits: Set<Trait> = [],
    domain: (@Sendable (ValueContext) -> [ValueDomain?])? = nil,
    range: (@Sendable (Interval, Interval) -> Interval)? = nil,
    _ scalar: @escaping @Sendable (Double, Double) -> Double
  ) -> OperatorSpec {
    OperatorSpec(
      id: id, family: .binary, doc: doc,
      inputs: [InputSpec("a", ranks: .range(0...6), dtypes), InputSpec("b", ranks: .range(0...6), dtypes)],
      outputTypes: [output], traits: traits.union([.elementwise]),
      rule: { c in broadcastRule(c[0], c[1]) },
      domain: domain ?? { _ in domains },
      range: { _, ins in [range?(ins[0], ins[1]) ?? ins[0].image(ins[1], scalar)] },
      reference: { _, t in
        let dtype: DType
        switch output {
        case .fixed(let d): dtype = d
        default: dtype = t[0].dtype
        }
        return [Reference.broadcast(t[0], t[1], to: dtype, scalar)]
      })
  }

  /// `pow`'s base must be positive, unless the exponent is a splat integer in 0...3.
  @Sendable static func powDomain(_ c: ValueContext) -> [ValueDomain?] {
    let integer = c.splats[1].map { $0.rounded() == $0 && (0...3).contains($0) } ?? false
    return [integer ? .within(-10, 10) : .within(0.1, 10), .within(-3, 3)]
  }

  /// `pow`'s range: exact for a point integer exponent in 0...3, else sampled.
  @Sendable static func powRange(_ a: Interval, _ b: Interval) -> Interval {
    guard b.lo == b.hi, b.lo.rounded() == b.lo, (0...3).contains(b.lo), a.isFinite else {
      return a.image(b, Foundation.pow)
    }
    return a.integerPower(Int(b.lo))
  }

  static func comparison(_ id: String, _ symbol: String, _ f: @escaping @Sendable (Double, Double) -> Bool)
    -> OperatorSpec
  {
    binary(
      id,
      "a \(symbol) b elementwise with broadcasting, as bool; any comparison with NaN is false (except != which is true).",
      dtypes: .any, output: .fixed(.bool), traits: [.discontinuous, .exact], range: { _, _ in .boolean },
      { f($0, $1) ? 1 : 0 })
  }

  static func logical(_ id: String, _ doc: String, _ f: @escaping @Sendable (Bool, Bool) -> Bool)
    -> OperatorSpec
  {
    binary(
      id, doc, dtypes: .bool, output: .fixed(.bool), traits: [.commutative, .exact],
      range: { _, _ in .boolean }, { f($0 != 0, $1 != 0) ? 1 : 0 })
  }
}

/// NaN-propagating minimum / maximum (NumPy `minimum` / `maximum`, ONNX Min / Max).
@inlinable func nanMin(_ a: Double, _ b: Double) -> Double { a.isNaN || b.isNaN ? .nan : Swift.min(a, b) }
@inlinable func nanMax(_ a: Double, _ b: Double) -> Double { a.isNaN || b.isNaN ? .nan : Swift.max(a, b) }

/// Division: float division for floats; for integers, truncation toward zero (C, ONNX Runtime).
/// Integer division by zero does not occur in generated models (divisor domain excludes zero).
@inlinable func divide(_ a: Double, _ b: Double, integer: Bool) -> Double {
  integer ? (a / b).rounded(.towardZero) : a / b
}

extension OperatorSpec {
  static let binaryFamily: [OperatorSpec] = [
    binary(
      "add", "a + b with NumPy broadcasting.", traits: [.commutative, .exact], range: { $0 + $1 }, { $0 + $1 }
    ),
    binary("sub", "a - b with NumPy broadcasting.", traits: [.exact], range: { $0 - $1 }, { $0 - $1 }),
    binary(
      "mul", "a * b with NumPy broadcasting.", traits: [.commutative, .exact], range: { $0 * $1 }, { $0 * $1 }
    ),
    OperatorSpec(
      id: "div", family: .binary,
      doc:
        "a / b with NumPy broadcasting. Floats: IEEE division. Integers: truncation toward zero. Generated divisors keep |b| >= 0.1.",
      inputs: [
        InputSpec("a", ranks: .range(0...6), .numeric), InputSpec("b", ranks: .range(0...6), .numeric),
      ],
      traits: [.elementwise, .exact],
      rule: { c in broadcastRule(c[0], c[1]) },
      domain: { _ in [nil, .awayFromZero] },
      range: { _, ins in [ins[0].image(ins[1], /)] },
      reference: { _, t in
        let integer = t[0].dtype.isInteger
        return [Reference.broadcast(t[0], t[1]) { divide($0, $1, integer: integer) }]
      }),
    binary(
      "pow",
      "a ^ b (C pow). Generated bases are positive and exponents in [-3, 3]; a splat integer exponent (a grafted x^2, as in LayerNorm) takes any base.",
      dtypes: .float,
      domain: powDomain, range: powRange, { Foundation.pow($0, $1) }),
    binary("min", "NaN-propagating elementwise minimum.", traits: [.commutative, .exact, .nanUnspecified]) {
      nanMin($0, $1)
    },
    binary("max", "NaN-propagating elementwise maximum.", traits: [.commutative, .exact, .nanUnspecified]) {
      nanMax($0, $1)
    },
    comparison("equal", "==") { $0 == $1 },
    comparison("less", "<") { $0 < $1 },
    comparison("less_equal", "<=") { $0 <= $1 },
    comparison("greater", ">") { $0 > $1 },
    comparison("greater_equal", ">=") { $0 >= $1 },
    logical("logical_and", "a AND b on bools, with broadcasting.") { $0 && $1 },
    logical("logical_or", "a OR b on bools, with broadcasting.") { $0 || $1 },
    logical("logical_xor", "a XOR b on bools, with broadcasting.") { $0 != $1 },
    OperatorSpec(
      id: "logical_not", family: .unary, doc: "NOT x on bools.",
      inputs: [InputSpec("x", ranks: .range(0...6), .bool)], outputTypes: [.fixed(.bool)],
      traits: [.elementwise, .exact], rule: { c in Rule(outputs: [c[0]]) },
      range: { _, _ in [.boolean] },
      reference: { _, t in [Reference.map(t[0]) { $0 != 0 ? 0 : 1 }] }),
    OperatorSpec(
      id: "where", family: .binary,
      doc: "cond ? a : b elementwise, with three-way NumPy broadcasting.",
      inputs: [
        InputSpec("cond", ranks: .range(0...6), .bool),
        InputSpec("a", ranks: .range(0...6), .any), InputSpec("b", ranks: .range(0...6), .any),
      ],
      traits: [.elementwise, .exact],
      rule: { c in
        let ab = broadcastRule(c[1], c[2])
        let all = broadcastRule(c[0], ab.outputs[0])
        return Rule(requires: ab.requires + all.requires, outputs: all.outputs)
      },
      range: { _, ins in [ins[1].hull(ins[2])] },
      reference: { _, t in [Reference.broadcast(t[0], t[1], t[2], to: t[1].dtype) { $0 != 0 ? $1 : $2 }] }),
    OperatorSpec(
      id: "cast", family: .cast,
      doc:
        "Converts to dtype `to`: floats round to nearest even; float to integer truncates toward zero then wraps (NaN gives 0, ±inf saturate); to bool: nonzero or NaN is true.",
      inputs: [InputSpec("x", ranks: .range(0...6), .any)], outputTypes: [.attribute("to")],
      attributes: [AttributeSpec("to", .dtype(DType.generated), default: .string("f32"))],
      traits: [.elementwise, .discontinuous, .exact],
      rule: { c in Rule(outputs: [c[0]]) },
      range: { c, ins in
        let to = DType(rawValue: c.attributes.string("to")) ?? .f64
        if to == .bool { return [.boolean] }
        if to.isInteger { return [Interval(ins[0].lo.rounded(.towardZero), ins[0].hi.rounded(.towardZero))] }
        return [ins[0]]
      },
      reference: { a, t in
        let to = DType(rawValue: a.string("to")) ?? .f64
        return [Reference.map(t[0], to: to) { $0 }]
      }),
  ]
}
