import IR
import Operators
import Tensors

/// A behaviour that ONNX leaves to the implementation, as an alternative the reference can run
/// with. The reference's own behaviour is IEEE 754 and ONNX's definitions read literally (NaN
/// propagates through every operator, signed zeros as IEEE computes them, subnormals kept, casts
/// of NaN to 0; Docs/SpecialValues.md). Each choice here is what another faithful implementation
/// may do instead. The oracle reruns the reference under every choice when a model holds special
/// values: an output element that changes under some choice is not pinned by the specification,
/// and a target that differs there is `unstable`, never a bug.
public enum ImplementationChoice: String, CaseIterable, Sendable {
  /// NaN operands of `.nanUnspecified` operators (max, min, clip, relu, sign, argmax, max
  /// pooling, piecewise activations) read as -inf: max and relu ignore the NaN, min picks it...
  case nanAsNegativeInfinity
  /// ... and as +inf: the other way round.
  case nanAsPositiveInfinity
  /// Every zero a node computes is +0: the sign of a zero is lost (an `x + 0` eliminated the
  /// other way, a kernel that writes literal zeros).
  case zerosPositive
  /// Every zero a node computes is -0.
  case zerosNegative
  /// Subnormal operands and results of every node are flushed to zero, keeping the sign
  /// (flush-to-zero and denormals-are-zero modes, which ONNX does not forbid).
  case flushSubnormals
  /// Float-to-integer casts of NaN, ±inf or out-of-range values give the integer type's lowest
  /// value (x86's "integer indefinite"); ONNX leaves them undefined...
  case undefinedCastsLowest
  /// ... or the highest (saturation), or 0, or 1 (so that neither an order nor a product downstream
  /// can make two of them agree by chance).
  case undefinedCastsHighest
  case undefinedCastsZero
  case undefinedCastsOne
  /// Infinite operands of approximate operators (transcendentals, reductions, matmul and conv
  /// accumulation) read as the dtype's largest finite value: what such an operator gives at
  /// infinity depends on which of its equivalent formulas an implementation uses (sigmoid as
  /// exp(x) / (1 + exp(x)), GELU through erfc, a padded 0 times an infinite weight).
  case infinitiesFinite
  /// A reduction, pooling or arg-reduction ONNX defines by order (reduce_max, max pooling, argmax)
  /// that reads a NaN may give any element of its window, not only the NaN or the largest other
  /// one (a running `m > x ? m : x` keeps whatever follows the NaN; OpenVINO's TopK-based argmin
  /// gives the last index): under this choice every result of such a node that reads a NaN is a
  /// value no kernel gives (index -1, or -12345.678).
  case nanSelectsAnything
  /// ... with a sentinel above every valid result too (index 2^40, or 12345.678): one sentinel
  /// alone can agree with the reference after a comparison (`argmin(...) <= 7` holds for -1 and for
  /// the reference's index alike).
  case nanSelectsAnythingHigh

  /// The alternatives the oracle reruns the reference with: each choice alone, and the NaN choices
  /// together with `infinitiesFinite` (a model can hold both a NaN and an infinity whose formula
  /// matters: a softmax of several +inf feeding an argmin).
  public static let alternatives: [[ImplementationChoice]] =
    allCases.map { [$0] } + [
      [.nanAsNegativeInfinity, .infinitiesFinite], [.nanAsPositiveInfinity, .infinitiesFinite],
      [.nanSelectsAnything, .infinitiesFinite], [.nanSelectsAnythingHigh, .infinitiesFinite],
    ]

  /// `node`'s results on `args` under `choices` (applied in order), and whether the choices changed
  /// its operands or results.
  static func evaluate(
    _ node: Node, _ spec: OperatorSpec, _ args: [Tensor], under choices: [ImplementationChoice]
  )
    -> (results: [Tensor], changed: Bool)
  {
    let moved = choices.reduce(args) { a, c in c.operands(a, spec) }
    let computed = spec.evaluate(moved, attributes: node.attributes)
    var results = choices.reduce(computed) { r, c in c.results(r, of: node, spec: spec, args: moved) }
    if let nanChoice = choices.first(where: \.readsNaNAsInfinity), spec.traits.contains(.nanUnspecified) {
      // The same with the NaN read as the largest finite value of that sign instead: results that
      // change with the stand-in picked the NaN.
      let standIn = choices.reduce(nanChoice.finiteStandIn(args)) { a, c in c.operands(a, spec) }
      results = keepingPickedNaN(
        results, plain: spec.evaluate(args, attributes: node.attributes),
        standIn: spec.evaluate(standIn, attributes: node.attributes))
    }
    return (results, !Tensor.sameBits(moved, args) || !Tensor.sameBits(results, computed))
  }

  /// The arguments `spec`'s kernel sees under this choice.
  func operands(_ args: [Tensor], _ spec: OperatorSpec) -> [Tensor] {
    switch self {
    case .nanAsNegativeInfinity, .nanAsPositiveInfinity:
      guard spec.traits.contains(.nanUnspecified) else { return args }
      let v: Double = self == .nanAsNegativeInfinity ? -.infinity : .infinity
      return args.map { t in t.dtype.isFloat ? t.mapped { $0.isNaN ? v : $0 } : t }
    case .flushSubnormals:
      return args.map(ImplementationChoice.flushed)
    case .infinitiesFinite:
      guard !spec.traits.contains(.exact) else { return args }
      return args.map { t in
        guard t.dtype.isFloat else { return t }
        let m = t.dtype.maxValue
        return t.mapped { $0.isInfinite ? ($0 < 0 ? -m : m) : $0 }
      }
    default: return args
    }
  }

  /// The results of `node` under this choice, from the kernel's `results` on `args`.
  func results(_ results: [Tensor], of node: Node, spec: OperatorSpec, args: [Tensor]) -> [Tensor] {
    switch self {
    case .nanSelectsAnything, .nanSelectsAnythingHigh:
      guard spec.traits.contains(.nanUnspecified), !spec.traits.contains(.elementwise),
        args.contains(where: { $0.dtype.isFloat && $0.storage.contains(where: \.isNaN) })
      else { return results }
      let windows = ImplementationChoice.windowsReadingNaN(node, spec, args)
      return results.map { t in
        let high = self == .nanSelectsAnythingHigh
        let sentinel = t.dtype.isFloat ? t.dtype.rounded(high ? 12345.678 : -12345.678) : (high ? 0x1p40 : -1)
        var storage = t.storage
        for i in storage.indices where windows?[i] ?? true { storage[i] = sentinel }
        return Tensor(dtype: t.dtype, shape: t.shape, storage: storage)
      }
    case .zerosPositive, .zerosNegative:
      let z: Double = self == .zerosPositive ? 0.0 : -0.0
      return results.map { t in t.dtype.isFloat ? t.mapped { $0 == 0 ? z : $0 } : t }
    case .flushSubnormals:
      return results.map(ImplementationChoice.flushed)
    case .undefinedCastsLowest, .undefinedCastsHighest, .undefinedCastsZero, .undefinedCastsOne:
      guard node.op == "cast", let x = args.first, x.dtype.isFloat, let out = results.first,
        out.dtype.isInteger, x.storage.count == out.storage.count
      else { return results }
      let value: Double =
        switch self {
        case .undefinedCastsLowest: out.dtype.minValue
        case .undefinedCastsHighest: out.dtype.maxValue  // i64: the largest double below 2^63
        case .undefinedCastsZero: 0
        default: 1
        }
      var storage = out.storage
      for i in storage.indices where !ImplementationChoice.castDefined(x.storage[i], to: out.dtype) {
        storage[i] = value
      }
      return [Tensor(dtype: out.dtype, shape: out.shape, storage: storage)] + results.dropFirst()
    default: return results
    }
  }

  /// For each result of a reduction, pooling or arg-reduction by order: whether its window holds a
  /// NaN. Found by running a maximum of the same geometry on an indicator (1 for NaN, else 0);
  /// `nil` (every result) for an operator it does not know.
  static func windowsReadingNaN(_ node: Node, _ spec: OperatorSpec, _ args: [Tensor]) -> [Bool]? {
    guard let x = args.first else { return nil }
    let indicator = Tensor(dtype: x.dtype, shape: x.shape, storage: x.storage.map { $0.isNaN ? 1 : 0 })
    var op = spec
    var attributes = node.attributes
    var input = indicator
    switch node.op {
    case "max_pool1d", "max_pool2d", "reduce_max": break
    case "reduce_min":
      input = Tensor(dtype: x.dtype, shape: x.shape, storage: indicator.storage.map { -$0 })
    case "argmax", "argmin":
      guard let reduceMax = Catalogue.spec("reduce_max"),
        let axis = Shape.axis(node.attributes.int("axis"), rank: x.rank)
      else { return nil }
      op = reduceMax
      attributes = Attributes(["axes": .ints([axis]), "keepdims": .int(node.attributes.int("keepdims"))])
    default: return nil
    }
    guard let out = op.evaluate([input] + args.dropFirst(), attributes: attributes).first else { return nil }
    return out.storage.map { $0 != 0 }
  }

  /// The two NaN choices that read a NaN operand as an infinity.
  var readsNaNAsInfinity: Bool { self == .nanAsNegativeInfinity || self == .nanAsPositiveInfinity }

  /// A NaN choice decides only whether an operator ignores a NaN or picks it, and a picked NaN stays
  /// NaN. The operator ran with the NaN read as an infinity (`results`) and as the largest finite
  /// value of the same sign (`standIn`): where the two differ and the real operands give NaN
  /// (`plain`), the result depends on the value put in for the NaN, so the NaN was picked
  /// (`min(NaN, NaN)`, `leaky_relu(NaN)`): NaN again. Where they agree the NaN was ignored
  /// (`min(NaN, -inf)` is the operand's own -inf).
  static func keepingPickedNaN(_ results: [Tensor], plain: [Tensor], standIn: [Tensor]) -> [Tensor] {
    zip(zip(results, plain), standIn).map { pair, f in
      let (r, p) = pair
      guard r.dtype.isFloat, r.storage.count == p.storage.count, f.storage.count == r.storage.count else {
        return r
      }
      var storage = r.storage
      for i in storage.indices where p.storage[i].isNaN && storage[i] != f.storage[i] { storage[i] = .nan }
      return Tensor(dtype: r.dtype, shape: r.shape, storage: storage)
    }
  }

  /// `args` with every NaN read as the largest finite value of this choice's sign.
  func finiteStandIn(_ args: [Tensor]) -> [Tensor] {
    args.map { t in
      guard t.dtype.isFloat else { return t }
      let m = t.dtype.maxValue
      let v = self == .nanAsNegativeInfinity ? -m : m
      return t.mapped { $0.isNaN ? v : $0 }
    }
  }

  /// Whether ONNX defines the cast of float `x` to integer `dtype`: finite and in range after
  /// truncation toward zero.
  public static func castDefined(_ x: Double, to dtype: DType) -> Bool {
    guard x.isFinite else { return false }
    let t = x.rounded(.towardZero)
    return dtype.rounded(t) == t
  }

  static func flushed(_ t: Tensor) -> Tensor {
    guard t.dtype.isFloat else { return t }
    let tiny = t.dtype.smallestNormal
    return t.mapped { $0 != 0 && Swift.abs($0) < tiny ? ($0 < 0 ? -0.0 : 0.0) : $0 }
  }
}

extension Tensor {
  /// Whether two tensor lists hold the same dtypes, shapes and bit patterns (NaN equals NaN, -0
  /// differs from +0).
  static func sameBits(_ a: [Tensor], _ b: [Tensor]) -> Bool {
    guard a.count == b.count else { return false }
    for (x, y) in zip(a, b) {
      guard x.dtype == y.dtype, x.shape == y.shape else { return false }
      for (p, q) in zip(x.storage, y.storage) where p.bitPattern != q.bitPattern && !(p.isNaN && q.isNaN) {
        return false
      }
    }
    return true
  }

  /// This tensor with `f` applied to every element (same dtype and shape, no rounding).
  func mapped(_ f: (Double) -> Double) -> Tensor {
    Tensor(dtype: dtype, shape: shape, storage: storage.map(f))
  }
}
