// Int8/int4 affine quantization arithmetic, bit-exact to the public implementations named in
// `semantics.md` §1: TFLite/gemmlowp (double rounding), TFLite single rounding, XNNPACK fp32, ONNX.
//
// Only the Swift standard library is used. Every rounding rule, clamp order and overflow behaviour is
// stated on the symbol that implements it.

/// Namespace for the quantized (int8/int4) arithmetic: multiplier derivation, requantization,
/// float→int quantization, int4 packing, and the integer GEMM/convolution kernels.
public enum Quant {}

/// Which public implementation's requantization (int32 accumulator → quantized output) and
/// quantization (real → quantized) arithmetic to reproduce bit for bit.
///
/// The raw values are the names used in reports and on the command line.
public enum RequantVariant: String, CaseIterable, Sendable, Codable {
  /// TFLite default / gemmlowp ("double rounding"): multiplier from `Quant.quantizeMultiplier`, then
  /// `RDBPOT(SRDHM(x · 2^left, Mq), right)`. Rounds twice: SRDHM ties toward +∞, then RDBPOT
  /// ties away from zero.
  /// Quantize rounds ties away from zero (TFLite's `std::round`).
  case gemmlowp
  /// TFLite with `TFLITE_SINGLE_ROUNDING` (also ruy): `((Int64(x) · Mq + 2^(t−1)) >> t)` with
  /// `t = 31 − shift`, one rounding with ties toward +∞. Quantize rounds ties away from zero.
  case singleRounding = "single-rounding"
  /// XNNPACK fp32: `scale = Float(real)`, `y = Float(x) · scale` in float32, clamp in float to
  /// `[min − zp, max − zp]` *before* rounding, `lrintf` (ties to even), then `+ zp`.
  /// Quantize rounds ties to even.
  case xnnpack
  /// ONNX / exact-real: `y = Double(x) · real` in Double, round half to even, `+ zp`, saturate.
  /// Quantize rounds ties to even (`QuantizeLinear`).
  case onnx
}

// MARK: - Fixed-point multiplier (TFLite QuantizeMultiplier)

extension Quant {
  /// An int32 fixed-point multiplier `mantissa · 2^(shift − 31)` in TFLite's convention:
  /// `shift > 0` is a left shift, `shift < 0` a right shift, and `mantissa` is a Q0.31 value in
  /// `[2^30, 2^31 − 1]` (or 0 for a zero or flushed multiplier).
  public struct Multiplier: Hashable, Sendable {
    /// The Q0.31 mantissa `Mq` (`round(q · 2^31)` with `q ∈ [0.5, 1)`), or 0.
    public var mantissa: Int32
    /// The power-of-two exponent; positive means shift left (TFLite convention).
    public var shift: Int

    /// Creates a multiplier from its parts, taken as given (no normalization).
    public init(mantissa: Int32, shift: Int) {
      self.mantissa = mantissa
      self.shift = shift
    }
  }

  /// TFLite `QuantizeMultiplier` (`tensorflow/lite/kernels/internal/quantization_util.cc`), in Double:
  ///
  /// 1. `real == 0` → `Multiplier(0, 0)`.
  /// 2. `(q, e) = frexp(real)`, so `real = q · 2^e` with `q ∈ [0.5, 1)`.
  /// 3. `Mq = round(q · 2^31)` with ties **away from zero** (`std::round`); the product is exact.
  /// 4. If `Mq == 2^31` (rounding carried out of the mantissa): `Mq = 2^30`, `e += 1`.
  /// 5. Only then, if `e < −31`: flush to `Multiplier(0, 0)`. So `2^-32 = 0.5 · 2^-31` stays
  ///    `(2^30, −31)`, while `2^-33` flushes, and a value just below `2^-32` that rounds up in
  ///    step 4 is rescued from the flush.
  ///
  /// No upper clamp is applied here; `RequantVariant.singleRounding` saturates `shift > 30` itself
  /// (see `Requantizer`).
  ///
  /// - Precondition: `real` is finite and `>= 0`.
  public static func quantizeMultiplier(_ real: Double) -> Multiplier {
    precondition(real.isFinite && real >= 0, "quantizeMultiplier: real multiplier must be finite and >= 0")
    if real == 0 { return Multiplier(mantissa: 0, shift: 0) }
    // Swift's significand is in [1, 2): frexp's q = significand / 2 and e = exponent + 1.
    var e = Int(real.exponent) + 1
    let q = real.significand / 2
    var fixed = Int64((q * 0x1p31).rounded(.toNearestOrAwayFromZero))
    precondition(fixed <= 1 << 31, "quantizeMultiplier: mantissa out of range")
    if fixed == 1 << 31 {
      fixed /= 2
      e += 1
    }
    if e < -31 { return Multiplier(mantissa: 0, shift: 0) }
    return Multiplier(mantissa: Int32(fixed), shift: e)
  }

  /// gemmlowp `SaturatingRoundingDoublingHighMul`: `a·b / 2^31` (the high 32 bits of `2·a·b`),
  /// computed as `ab = Int64(a)·Int64(b)`, `nudge = ab >= 0 ? 2^30 : 1 − 2^30`,
  /// `(ab + nudge) / 2^31` with division truncating toward zero (as C++ `/`).
  ///
  /// Rounding: to nearest with ties toward **+∞** (`floor(ab / 2^31 + 1/2)`, as NEON `vqrdmulh`),
  /// not away from zero: for negative products the `1 − 2^30` nudge plus truncation lands a tie on
  /// the larger value, e.g. `srdhm(−1, 2^30)` (−0.5) is 0 and `srdhm(−3, 2^30)` (−1.5) is −1.
  ///
  /// The one overflowing input, `a == b == Int32.min` (true result 2^31), saturates to `Int32.max`.
  public static func srdhm(_ a: Int32, _ b: Int32) -> Int32 {
    if a == Int32.min && b == Int32.min { return Int32.max }
    let ab = Int64(a) * Int64(b)
    let nudge: Int64 = ab >= 0 ? 1 << 30 : 1 - (1 << 30)
    return Int32(truncatingIfNeeded: (ab + nudge) / (1 << 31))
  }

  /// gemmlowp `RoundingDivideByPOT`: `x / 2^exponent` rounded half **away from zero**, using an
  /// arithmetic shift and a remainder test: `mask = 2^e − 1`, `rem = x & mask`,
  /// `threshold = (mask >> 1) + (x < 0 ? 1 : 0)`, result `(x >> e) + (rem > threshold ? 1 : 0)`.
  /// Never overflows. `exponent == 0` returns `x`.
  ///
  /// - Precondition: `0 <= exponent <= 31`.
  public static func rdbpot(_ x: Int32, _ exponent: Int) -> Int32 {
    precondition((0...31).contains(exponent), "rdbpot: exponent must be in 0...31")
    let mask = Int32(truncatingIfNeeded: (Int64(1) << exponent) - 1)
    let remainder = x & mask
    let threshold = (mask >> 1) + (x < 0 ? 1 : 0)
    return (x >> Int32(exponent)) + (remainder > threshold ? 1 : 0)
  }
}

// MARK: - Requantizer

extension Quant {
  /// One output channel's requantization `acc (int32) → q (in [min, max])`, with the variant's
  /// parameters derived once from the real multiplier (typically `s_in · s_w[c] / s_out`).
  ///
  /// Per variant, for an accumulator `x` (bias already added):
  /// - `.gemmlowp`: `(Mq, s) = quantizeMultiplier(real)`; `left = max(s, 0)`, `right = max(−s, 0)`;
  ///   `x' = x · 2^left` **wrapped** to int32 (C++ UB; two's complement wrap as on x86, and 0 once
  ///   `left >= 32`); `y = rdbpot(srdhm(x', Mq), right)` (SRDHM rounds ties toward +∞, RDBPOT
  ///   away from zero: two roundings); `q = clamp(y &+ zp, min, max)`.
  /// - `.singleRounding`: as TFLite's `QuantizeMultiplier` under `TFLITE_SINGLE_ROUNDING`, a shift
  ///   above 30 saturates the multiplier to `(2^31 − 1, 30)`; `t = 31 − s ∈ [1, 62]`;
  ///   `y = Int32(truncatingIfNeeded: (Int64(x) · Mq + 2^(t−1)) >> t)` (one rounding, ties toward
  ///   +∞, arithmetic shift; the int64 sum cannot overflow, the narrowing wraps);
  ///   `q = clamp(y &+ zp, min, max)`.
  /// - `.xnnpack`: `scale = Float(real)` (round to nearest even); `y = Float(x) · scale` in float32;
  ///   `y = minimum(maximum(y, Float(min − zp)), Float(max − zp))` with IEEE `maximum`/`minimum`
  ///   (as `fmaxf`/`fminf`: a NaN `y`, possible only as `0 · ∞` when `real` overflows Float, becomes
  ///   the lower bound); `q = Int(y.rounded(.toNearestOrEven)) + zp`, clamped to `[min, max]` once
  ///   more (a no-op whenever `min − zp` and `max − zp` are exact in Float, e.g. all 8/16-bit ranges).
  ///   The clamp happens **before** rounding. XNNPACK itself asserts `2^-32 <= scale < 256`.
  /// - `.onnx`: `y = Double(x) · real` (one Double rounding), rounded half to even, `+ zp` in
  ///   Double, saturated to `[min, max]`. No intermediate ever wraps.
  ///
  /// The `&+ zp` of the two TFLite variants is int32 arithmetic that wraps on overflow, as TFLite's
  /// `acc += output_offset` does on real hardware; it can only matter for huge `real · x`.
  public struct Requantizer: Hashable, Sendable {
    /// The real multiplier this requantizer was derived from.
    public let real: Double
    /// The output zero point, added after scaling.
    public let zeroPoint: Int32
    /// Lower bound of the output (quantized type minimum or fused activation minimum).
    public let min: Int32
    /// Upper bound of the output (quantized type maximum or fused activation maximum).
    public let max: Int32
    /// The arithmetic reproduced.
    public let variant: RequantVariant
    /// The fixed-point multiplier used by `.gemmlowp` and `.singleRounding` (for `.singleRounding`
    /// after its `shift <= 30` saturation). For the float variants it is informative only.
    public let multiplier: Multiplier
    /// `Float(real)`, the scale `.xnnpack` multiplies by.
    public let scale32: Float

    /// Derives the parameters for `variant` from `real`.
    ///
    /// - Precondition: `real` is finite and `>= 0`; `min <= max`.
    public init(real: Double, zeroPoint: Int32, min: Int32, max: Int32, variant: RequantVariant) {
      precondition(min <= max, "Requantizer: min must not exceed max")
      var m = Quant.quantizeMultiplier(real)
      if variant == .singleRounding && m.shift > 30 {
        m = Multiplier(mantissa: Int32.max, shift: 30)
      }
      self.real = real
      self.zeroPoint = zeroPoint
      self.min = min
      self.max = max
      self.variant = variant
      self.multiplier = m
      self.scale32 = Float(real)
    }

    /// Requantizes one accumulator; the result is always in `[min, max]`. See the type's
    /// documentation for the exact arithmetic of each variant.
    public func callAsFunction(_ acc: Int32) -> Int32 {
      switch variant {
      case .gemmlowp:
        let left = Swift.max(multiplier.shift, 0)
        let right = Swift.max(-multiplier.shift, 0)
        let shifted = Int32(truncatingIfNeeded: Int64(acc) << left)
        let y = Quant.rdbpot(Quant.srdhm(shifted, multiplier.mantissa), right)
        return clamp(y &+ zeroPoint)
      case .singleRounding:
        let total = 31 - multiplier.shift
        let round = Int64(1) << (total - 1)
        let y = (Int64(acc) * Int64(multiplier.mantissa) + round) >> total
        return clamp(Int32(truncatingIfNeeded: y) &+ zeroPoint)
      case .xnnpack:
        let lo = Float(Int64(min) - Int64(zeroPoint))
        let hi = Float(Int64(max) - Int64(zeroPoint))
        let y = Float.minimum(Float.maximum(Float(acc) * scale32, lo), hi)
        let q = Int64(y.rounded(.toNearestOrEven)) + Int64(zeroPoint)
        return Int32(Swift.min(Swift.max(q, Int64(min)), Int64(max)))
      case .onnx:
        let y = (Double(acc) * real).rounded(.toNearestOrEven) + Double(zeroPoint)
        return Int32(Swift.min(Swift.max(y, Double(min)), Double(max)))
      }
    }

    private func clamp(_ y: Int32) -> Int32 { Swift.min(Swift.max(y, min), max) }
  }
}

// MARK: - Quantize (real → q)

extension Quant {
  /// QuantizeLinear for one value, in Double: `q = saturate(round(x / scale) + zeroPoint)` to
  /// `[min, max]`.
  ///
  /// - Rounding of `x / scale`: ties to **even** for `.onnx` and `.xnnpack` (`QuantizeLinear`,
  ///   `lrintf`); ties **away from zero** for `.gemmlowp` and `.singleRounding` (TFLite's
  ///   `std::round`). So `2.5 / 1` gives 2 under `.onnx` and 3 under `.gemmlowp`.
  /// - The zero point is added after rounding (exact, since both are integers in Double).
  /// - `±inf`, and quotients overflowing to `±inf`, saturate to `max`/`min`.
  /// - NaN maps to the zero point (clamped to `[min, max]`), i.e. to real 0.
  ///
  /// - Precondition: `scale` is finite and `> 0`; `min <= max`.
  public static func quantize(
    _ x: Double, scale: Double, zeroPoint: Int32, min: Int32, max: Int32, variant: RequantVariant
  ) -> Int32 {
    precondition(scale.isFinite && scale > 0, "quantize: scale must be finite and > 0")
    precondition(min <= max, "quantize: min must not exceed max")
    if x.isNaN { return Swift.min(Swift.max(zeroPoint, min), max) }
    let rule: FloatingPointRoundingRule
    switch variant {
    case .onnx, .xnnpack: rule = .toNearestOrEven
    case .gemmlowp, .singleRounding: rule = .toNearestOrAwayFromZero
    }
    let y = (x / scale).rounded(rule) + Double(zeroPoint)
    return Int32(Swift.min(Swift.max(y, Double(min)), Double(max)))
  }
}

// MARK: - Int4 packing

extension Quant {
  /// Packs int4 values two per byte: two's complement nibbles, element `2i` in the **low** nibble of
  /// byte `i`, element `2i + 1` in the high nibble. An odd count leaves the last high nibble 0.
  /// Returns `(values.count + 1) / 2` bytes.
  ///
  /// - Precondition: every value is in `-8...7`.
  public static func packInt4(_ values: [Int32]) -> [UInt8] {
    var bytes = [UInt8](repeating: 0, count: (values.count + 1) / 2)
    for (i, v) in values.enumerated() {
      precondition((-8...7).contains(v), "packInt4: value \(v) at \(i) is outside -8...7")
      let nibble = UInt8(truncatingIfNeeded: v) & 0x0F
      bytes[i >> 1] |= i & 1 == 0 ? nibble : nibble << 4
    }
    return bytes
  }

  /// Unpacks `count` int4 values packed by `packInt4` (low nibble first), sign-extending each
  /// nibble to `-8...7`. Bytes beyond `(count + 1) / 2` are ignored.
  ///
  /// - Precondition: `count >= 0` and `bytes.count >= (count + 1) / 2`.
  public static func unpackInt4(_ bytes: [UInt8], count: Int) -> [Int32] {
    precondition(count >= 0 && bytes.count >= (count + 1) / 2, "unpackInt4: too few bytes for count")
    return (0..<count).map { i in int4(bytes[i >> 1], high: i & 1 == 1) }
  }

  /// The sign-extended nibble of `byte` (high or low).
  @inline(__always)
  static func int4(_ byte: UInt8, high: Bool) -> Int32 {
    let shifted = high ? byte : byte << 4
    return Int32(Int8(bitPattern: shifted) >> 4)
  }
}
