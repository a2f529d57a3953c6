import Foundation
import Tensors

// MARK: - Unary

extension Fast {
  /// The elementwise unary operators of the fast backend. Float math is float32 throughout;
  /// attribute constants are rounded to `Float` once.
  public enum UnaryOp: Sendable, Hashable {
    case relu, selu, sigmoid, hardSigmoid, hardSwish, tanh, gelu, erf, exp, log, sqrt
    case reciprocal, abs, neg, sin, cos, atan, asin, sinh, floor, ceil, round, sign
    case softplus, softsign
    case leakyRelu(alpha: Float)
    case elu(alpha: Float)
    /// `min` is applied first, then `max` (ONNX Clip); NaN propagates.
    case clip(min: Float, max: Float)

    /// Whether the operator also accepts integer tensors (abs, neg, sign).
    public var acceptsIntegers: Bool {
      switch self {
      case .abs, .neg, .sign: return true
      default: return false
      }
    }
  }

  /// A unary operator on float32 values.
  public static func unary(_ op: UnaryOp, _ x: [Float]) -> [Float] {
    switch op {
    case .relu: return map(x) { $0.isNaN ? $0 : ($0 > 0 ? $0 : 0) }
    case .leakyRelu(let alpha): return map(x) { $0 >= 0 ? $0 : alpha * $0 }
    case .elu(let alpha): return map(x) { $0 > 0 ? $0 : alpha * Foundation.expm1($0) }
    case .selu:
      let alpha: Float = 1.6732632423543772
      let gamma: Float = 1.0507009873554805
      return map(x) { gamma * ($0 > 0 ? $0 : alpha * Foundation.expm1($0)) }
    case .sigmoid: return map(x) { 1 / (1 + Foundation.exp(-$0)) }
    case .hardSigmoid: return map(x) { clamp(0.2 * $0 + 0.5, 0, 1) }
    case .hardSwish: return map(x) { $0 * clamp($0 / 6 + 0.5, 0, 1) }
    case .tanh: return map(x) { Foundation.tanh($0) }
    case .gelu:
      let invSqrt2: Float = 0.70710678118654752
      // 1 + erf(z) = erfc(-z), accurate in the negative tail where 1 + erf(z) cancels to 0 in float32.
      return map(x) { $0 * Foundation.erfc(-$0 * invSqrt2) / 2 }
    case .erf: return map(x) { Foundation.erf($0) }
    case .exp: return map(x) { Foundation.exp($0) }
    case .log: return map(x) { Foundation.log($0) }
    case .sqrt: return map(x) { $0.squareRoot() }
    case .reciprocal: return map(x) { 1 / $0 }
    case .abs: return map(x) { Swift.abs($0) }
    case .neg: return map(x) { -$0 }
    case .sin: return map(x) { Foundation.sin($0) }
    case .cos: return map(x) { Foundation.cos($0) }
    case .atan: return map(x) { Foundation.atan($0) }
    case .asin: return map(x) { Foundation.asin($0) }
    case .sinh: return map(x) { Foundation.sinh($0) }
    case .floor: return map(x) { $0.rounded(.down) }
    case .ceil: return map(x) { $0.rounded(.up) }
    case .round: return map(x) { $0.rounded(.toNearestOrEven) }
    case .sign: return map(x) { $0.isNaN ? $0 : ($0 > 0 ? 1 : ($0 < 0 ? -1 : 0)) }
    case .softplus: return map(x) { Swift.max($0, 0) + Foundation.log1p(Foundation.exp(-Swift.abs($0))) }
    case .softsign: return map(x) { $0 / (1 + Swift.abs($0)) }
    case .clip(let lo, let hi): return map(x) { clamp($0, lo, hi) }
    }
  }

  /// A unary operator on integer values (abs, neg and sign; wrapping: -INT_MIN = INT_MIN). The
  /// caller wraps `i32` results (the `FastTensor` initializer does).
  public static func unary(_ op: UnaryOp, _ x: [Int64]) -> [Int64] {
    switch op {
    case .abs: return map(x) { $0 < 0 ? 0 &- $0 : $0 }
    case .neg: return map(x) { 0 &- $0 }
    case .sign: return map(x) { $0 > 0 ? 1 : ($0 < 0 ? -1 : 0) }
    default: preconditionFailure("\(op) is not defined on integers")
    }
  }

  /// A unary operator on a tensor of its own dtype.
  public static func unary(_ op: UnaryOp, _ x: FastTensor) -> FastTensor {
    if x.isFloat { return FastTensor(floats: unary(op, x.floats), shape: x.shape) }
    return FastTensor(ints: unary(op, x.ints), dtype: x.dtype, shape: x.shape)
  }

  /// NaN-propagating clamp, `lo` first then `hi`.
  @inline(__always) static func clamp(_ x: Float, _ lo: Float, _ hi: Float) -> Float {
    x.isNaN ? x : Swift.min(Swift.max(x, lo), hi)
  }
}

// MARK: - Binary arithmetic

extension Fast {
  public enum BinaryOp: Sendable, Hashable {
    case add, sub, mul, div, pow, min, max
  }

  /// Arithmetic with NumPy broadcasting on two tensors of the same dtype; the result has that
  /// dtype. Floats: float32 IEEE arithmetic, NaN-propagating min/max. Integers: wrapping
  /// arithmetic, division truncating toward zero (a zero divisor, which valid models never have,
  /// gives 0 for 0 / 0 and saturates otherwise, like the reference's ±inf rounded to the dtype).
  public static func binary(_ op: BinaryOp, _ a: FastTensor, _ b: FastTensor) -> FastTensor {
    precondition(a.dtype == b.dtype, "\(op): dtypes \(a.dtype) and \(b.dtype) differ")
    if a.isFloat {
      let r = binary(op, a.floats, a.shape, b.floats, b.shape)
      return FastTensor(floats: r.values, shape: r.shape)
    }
    let r = binary(op, a.ints, a.shape, b.ints, b.shape, dtype: a.dtype)
    return FastTensor(ints: r.values, dtype: a.dtype, shape: r.shape)
  }

  /// Float32 arithmetic with broadcasting.
  public static func binary(
    _ op: BinaryOp, _ a: [Float], _ aShape: [Int], _ b: [Float], _ bShape: [Int]
  ) -> (values: [Float], shape: [Int]) {
    switch op {
    case .add: return broadcast2(a, aShape, b, bShape) { $0 + $1 }
    case .sub: return broadcast2(a, aShape, b, bShape) { $0 - $1 }
    case .mul: return broadcast2(a, aShape, b, bShape) { $0 * $1 }
    case .div: return broadcast2(a, aShape, b, bShape) { $0 / $1 }
    case .pow: return broadcast2(a, aShape, b, bShape) { Foundation.pow($0, $1) }
    case .min: return broadcast2(a, aShape, b, bShape) { $0.isNaN || $1.isNaN ? .nan : Swift.min($0, $1) }
    case .max: return broadcast2(a, aShape, b, bShape) { $0.isNaN || $1.isNaN ? .nan : Swift.max($0, $1) }
    }
  }

  /// Wrapping integer arithmetic with broadcasting; `dtype` (i32 or i64) only matters for the
  /// saturation of a division by zero. `i32` results still need wrapping (the `FastTensor`
  /// initializer does it).
  public static func binary(
    _ op: BinaryOp, _ a: [Int64], _ aShape: [Int], _ b: [Int64], _ bShape: [Int], dtype: DType = .i64
  ) -> (values: [Int64], shape: [Int]) {
    switch op {
    case .add: return broadcast2(a, aShape, b, bShape) { $0 &+ $1 }
    case .sub: return broadcast2(a, aShape, b, bShape) { $0 &- $1 }
    case .mul: return broadcast2(a, aShape, b, bShape) { $0 &* $1 }
    case .div:
      let hi: Int64 = dtype == .i32 ? Int64(Int32.max) : .max
      let lo: Int64 = dtype == .i32 ? Int64(Int32.min) : .min
      return broadcast2(a, aShape, b, bShape) { x, y in
        y != 0 ? x.dividedReportingOverflow(by: y).partialValue : (x > 0 ? hi : (x < 0 ? lo : 0))
      }
    case .min: return broadcast2(a, aShape, b, bShape) { Swift.min($0, $1) }
    case .max: return broadcast2(a, aShape, b, bShape) { Swift.max($0, $1) }
    case .pow: preconditionFailure("pow is defined on floats only")
    }
  }
}

// MARK: - Comparisons, logic, where

extension Fast {
  public enum CompareOp: Sendable, Hashable {
    case equal, less, lessEqual, greater, greaterEqual
  }

  /// Comparison with broadcasting, as a bool tensor; any comparison with NaN is false.
  public static func compare(_ op: CompareOp, _ a: FastTensor, _ b: FastTensor) -> FastTensor {
    precondition(a.isFloat == b.isFloat, "\(op): dtypes \(a.dtype) and \(b.dtype) differ")
    let r =
      a.isFloat
      ? compare(op, a.floats, a.shape, b.floats, b.shape) : compare(op, a.ints, a.shape, b.ints, b.shape)
    return FastTensor(ints: r.values, dtype: .bool, shape: r.shape)
  }

  /// Comparison of two broadcast operands, as 0/1.
  public static func compare<T: Comparable>(
    _ op: CompareOp, _ a: [T], _ aShape: [Int], _ b: [T], _ bShape: [Int]
  ) -> (values: [Int64], shape: [Int]) {
    switch op {
    case .equal: return broadcast2(a, aShape, b, bShape) { $0 == $1 ? 1 : 0 }
    case .less: return broadcast2(a, aShape, b, bShape) { $0 < $1 ? 1 : 0 }
    case .lessEqual: return broadcast2(a, aShape, b, bShape) { $0 <= $1 ? 1 : 0 }
    case .greater: return broadcast2(a, aShape, b, bShape) { $0 > $1 ? 1 : 0 }
    case .greaterEqual: return broadcast2(a, aShape, b, bShape) { $0 >= $1 ? 1 : 0 }
    }
  }

  public enum LogicalOp: Sendable, Hashable {
    case and, or, xor
  }

  /// Logical operator on bool tensors (any nonzero is true) with broadcasting.
  public static func logical(_ op: LogicalOp, _ a: FastTensor, _ b: FastTensor) -> FastTensor {
    let r: (values: [Int64], shape: [Int])
    switch op {
    case .and: r = broadcast2(a.ints, a.shape, b.ints, b.shape) { $0 != 0 && $1 != 0 ? 1 : 0 }
    case .or: r = broadcast2(a.ints, a.shape, b.ints, b.shape) { $0 != 0 || $1 != 0 ? 1 : 0 }
    case .xor: r = broadcast2(a.ints, a.shape, b.ints, b.shape) { ($0 != 0) != ($1 != 0) ? 1 : 0 }
    }
    return FastTensor(ints: r.values, dtype: .bool, shape: r.shape)
  }

  public static func logicalNot(_ x: FastTensor) -> FastTensor {
    FastTensor(ints: map(x.ints) { $0 != 0 ? 0 : 1 }, dtype: .bool, shape: x.shape)
  }

  /// `cond ? a : b` with three-way broadcasting; the result has the dtype of `a` and `b`.
  public static func select(_ cond: FastTensor, _ a: FastTensor, _ b: FastTensor) -> FastTensor {
    precondition(a.dtype == b.dtype, "where: dtypes \(a.dtype) and \(b.dtype) differ")
    if a.isFloat {
      let r = broadcast3(cond.ints, cond.shape, a.floats, a.shape, b.floats, b.shape) { $0 != 0 ? $1 : $2 }
      return FastTensor(floats: r.values, shape: r.shape)
    }
    let r = broadcast3(cond.ints, cond.shape, a.ints, a.shape, b.ints, b.shape) { $0 != 0 ? $1 : $2 }
    return FastTensor(ints: r.values, dtype: a.dtype, shape: r.shape)
  }
}

// MARK: - Cast

extension Fast {
  /// Converts to `dtype` (f32, i32, i64 or bool), as `DType.rounded` documents: int to f32 rounds
  /// to nearest even; f32 to integer truncates toward zero then wraps (NaN gives 0, ±inf saturate
  /// to the integer type's extremes); to bool, nonzero or NaN is true.
  public static func cast(_ x: FastTensor, to dtype: DType) -> FastTensor {
    precondition(FastTensor.supported.contains(dtype), "fast backend does not support \(dtype)")
    switch (x.isFloat, dtype) {
    case (true, .f32): return x
    case (true, .bool):
      return FastTensor(ints: map(x.floats) { $0 != 0 || $0.isNaN ? 1 : 0 }, dtype: .bool, shape: x.shape)
    case (true, _):
      let narrow = dtype == .i32
      return FastTensor(
        ints: map(x.floats) { truncatingWrap($0, narrow: narrow) }, dtype: dtype, shape: x.shape)
    case (false, .f32): return FastTensor(floats: map(x.ints) { Float($0) }, shape: x.shape)
    case (false, .bool):
      return FastTensor(ints: map(x.ints) { $0 != 0 ? 1 : 0 }, dtype: .bool, shape: x.shape)
    case (false, _): return FastTensor(ints: x.ints, dtype: dtype, shape: x.shape)
    }
  }

  /// Float to integer: truncation toward zero, then the low 64 bits of the two's complement value
  /// (the caller wraps to 32 bits for `i32`). NaN gives 0; ±inf saturate to the extremes of
  /// `Int32` (`narrow`) or `Int64`.
  @inline(__always) public static func truncatingWrap(_ x: Float, narrow: Bool) -> Int64 {
    if x.isNaN { return 0 }
    if x.isInfinite {
      if narrow { return x < 0 ? Int64(Int32.min) : Int64(Int32.max) }
      return x < 0 ? .min : .max
    }
    let t = x.rounded(.towardZero)
    if Swift.abs(t) < 0x1p63 { return Int64(t) }
    // |t| >= 2^63: an integer significand times 2^(exponent - 23) with exponent - 23 >= 40; its
    // low 64 bits (a shift of 64 or more gives 0).
    let magnitude = UInt64(t.significandBitPattern | (1 << 23)) << UInt64(Int(t.exponent) - 23)
    return Int64(bitPattern: t < 0 ? 0 &- magnitude : magnitude)
  }
}
