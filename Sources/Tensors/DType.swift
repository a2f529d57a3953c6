/// Element types of tensors.
///
/// Every value is carried as a `Double` (see `Tensor`); a dtype says which values are representable
/// and how an exact result is rounded into it (`DType.rounded(_:)`).
public enum DType: String, CaseIterable, Hashable, Sendable, Codable, Comparable {
  case f16, bf16, f32, f64, i32, i64, bool
  /// Reserved for the quantized kernels.
  case i8, u8

  public static let floats: [DType] = [.f16, .bf16, .f32, .f64]
  public static let integers: [DType] = [.i32, .i64]
  /// Types usable by generated float models (quantized types are not generated here).
  public static let generated: [DType] = [.f16, .bf16, .f32, .f64, .i32, .i64, .bool]
  /// Quantized activation and weight types (int8/uint8), generated only by the quantizer.
  public static let quantized: [DType] = [.i8, .u8]

  public var isFloat: Bool { DType.floats.contains(self) }

  /// Bits of precision of a float dtype (the implicit bit included): 53, 24, 11, 8; nil otherwise.
  public var significandBits: Int? {
    switch self {
    case .f64: return 53
    case .f32: return 24
    case .f16: return 11
    case .bf16: return 8
    default: return nil
    }
  }
  public var isInteger: Bool { [.i32, .i64, .i8, .u8].contains(self) }
  public var isBool: Bool { self == .bool }
  public var isQuantized: Bool { self == .i8 || self == .u8 }

  public var byteSize: Int {
    switch self {
    case .f16, .bf16: return 2
    case .f32, .i32: return 4
    case .f64, .i64: return 8
    case .bool, .i8, .u8: return 1
    }
  }

  /// Largest finite value (floats) or largest value (integers, bool).
  public var maxValue: Double {
    switch self {
    case .f16: return 65504
    case .bf16: return 0x1.FEp127
    case .f32: return Double(Float.greatestFiniteMagnitude)
    case .f64: return Double.greatestFiniteMagnitude
    case .i32: return Double(Int32.max)
    case .i64: return 0x1p63 - 1024  // largest Double below 2^63
    case .i8: return 127
    case .u8: return 255
    case .bool: return 1
    }
  }

  /// The smallest positive normal number of a float dtype (f64's for the others).
  public var smallestNormal: Double {
    switch self {
    case .f16: return 0x1p-14
    case .bf16: return 0x1p-126
    case .f32: return Double(Float.leastNormalMagnitude)
    default: return Double.leastNormalMagnitude
    }
  }

  /// The smallest positive subnormal number of a float dtype (f64's for the others).
  public var smallestSubnormal: Double {
    switch self {
    case .f16: return 0x1p-24
    case .bf16: return 0x1p-133
    case .f32: return Double(Float.leastNonzeroMagnitude)
    default: return Double.leastNonzeroMagnitude
    }
  }

  /// Whether `x` is a special value of this float dtype: NaN, ±inf, a zero, or a subnormal.
  @inlinable public func isSpecial(_ x: Double) -> Bool {
    !x.isFinite || x == 0 || Swift.abs(x) < smallestNormal
  }

  public var minValue: Double {
    switch self {
    case .i32: return Double(Int32.min)
    case .i64: return -0x1p63
    case .i8: return -128
    case .u8, .bool: return 0
    default: return -maxValue
    }
  }

  public static func < (a: DType, b: DType) -> Bool {
    allCases.firstIndex(of: a)! < allCases.firstIndex(of: b)!
  }

  /// Rounds an exact (float64) result into this type.
  ///
  /// - Floats: IEEE 754 round-to-nearest, ties-to-even, directly from the double (no double
  ///   rounding); overflow gives ±inf; NaN stays NaN; the sign of zero is kept.
  /// - Integers: the result is first truncated toward zero, then wrapped modulo 2^bits (two's
  ///   complement), as integer arithmetic in C or ONNX Runtime does. NaN becomes 0. Integer values
  ///   are exact while |x| < 2^53, which generated models respect.
  /// - bool: nonzero (including NaN) is 1, zero is 0.
  @inlinable public func rounded(_ x: Double) -> Double {
    switch self {
    case .f64: return x
    case .f32: return Double(Float(x))
    case .f16: return roundToBinaryFormat(x, significandBits: 11, minExponent: -14, maxExponent: 15)
    case .bf16:
      return roundToBinaryFormat(x, significandBits: 8, minExponent: -126, maxExponent: 127)
    case .i32: return wrapInteger(x, bits: 32, signed: true)
    case .i64: return wrapInteger(x, bits: 64, signed: true)
    case .i8: return wrapInteger(x, bits: 8, signed: true)
    case .u8: return wrapInteger(x, bits: 8, signed: false)
    case .bool: return (x != 0 || x.isNaN) ? 1 : 0
    }
  }
}

/// Rounds `x` to the nearest value of a binary floating-point format with `significandBits` bits of
/// precision (including the implicit bit) and normal exponents in `minExponent...maxExponent`,
/// ties to even. Subnormals are produced, overflow gives infinity.
@inlinable public func roundToBinaryFormat(
  _ x: Double, significandBits p: Int, minExponent emin: Int, maxExponent emax: Int
) -> Double {
  if x.isNaN || x.isInfinite || x == 0 { return x }
  let e = Swift.max(Int(x.exponent), emin)
  let quantum = Double(sign: .plus, exponent: e - (p - 1), significand: 1)
  let r = (x / quantum).rounded(.toNearestOrEven) * quantum
  let maxFinite = Double(
    sign: .plus, exponent: emax, significand: 2 - Double(sign: .plus, exponent: 1 - p, significand: 1))
  if abs(r) > maxFinite { return x < 0 ? -.infinity : .infinity }
  if r == 0 { return x < 0 ? -0.0 : 0.0 }
  return r
}

/// Truncates toward zero and wraps into a `bits`-bit integer; NaN gives 0, ±inf saturate.
@inlinable public func wrapInteger(_ x: Double, bits: Int, signed: Bool) -> Double {
  if x.isNaN { return 0 }
  let t = x.rounded(.towardZero) + 0  // + 0: an integer has no -0
  let lo: Double = signed ? -Double(sign: .plus, exponent: bits - 1, significand: 1) : 0
  let span = Double(sign: .plus, exponent: bits, significand: 1)
  if x.isInfinite { return x < 0 ? lo : lo + span - 1 }
  if t >= lo && t < lo + span { return t }
  if bits == 64 {
    // Only reachable beyond 2^63, where doubles are multiples of 2^11: wrap through UInt64 bits.
    let m = t.truncatingRemainder(dividingBy: span)
    let u = m < 0 ? m + span : m
    return u >= span / 2 ? u - span : u
  }
  // The remainder is exact in binary floating point; shifting afterwards keeps it exact.
  var m = t.truncatingRemainder(dividingBy: span)
  if m < lo { m += span }
  if m >= lo + span { m -= span }
  return m
}
