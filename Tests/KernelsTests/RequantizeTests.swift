import Kernels
import Tensors
import Testing

@Suite struct RequantizeTests {}

/// Requantizes `acc` with every variant (int8 output, given zero point), in `RequantVariant.allCases`
/// order: gemmlowp, single-rounding, xnnpack, onnx.
private func requantizeWithEachVariant(
  real: Double, acc: Int32, zp: Int32 = 0, min: Int32 = -128, max: Int32 = 127
)
  -> [Int32]
{
  RequantVariant.allCases.map {
    Quant.Requantizer(real: real, zeroPoint: zp, min: min, max: max, variant: $0)(acc)
  }
}

// MARK: - Multiplier derivation

extension RequantizeTests {
  @Test func quantizeMultiplierBasics() {
    #expect(Quant.quantizeMultiplier(0) == Quant.Multiplier(mantissa: 0, shift: 0))
    // 0.5 = 0.5·2^0: Mq = 0.5·2^31 = 2^30, shift 0.
    #expect(Quant.quantizeMultiplier(0.5) == Quant.Multiplier(mantissa: 1 << 30, shift: 0))
    // 0.25 = 0.5·2^-1.
    #expect(Quant.quantizeMultiplier(0.25) == Quant.Multiplier(mantissa: 1 << 30, shift: -1))
    // 1.0 = 0.5·2^1 (left shift 1).
    #expect(Quant.quantizeMultiplier(1.0) == Quant.Multiplier(mantissa: 1 << 30, shift: 1))
    // 3.0 = 0.75·2^2: Mq = 0.75·2^31 = 1_610_612_736, left shift 2.
    #expect(Quant.quantizeMultiplier(3.0) == Quant.Multiplier(mantissa: 1_610_612_736, shift: 2))
    // 0.1 = 0.8·2^-3: 0.8·2^31 = 1_717_986_918.4 → 1_717_986_918.
    #expect(Quant.quantizeMultiplier(0.1) == Quant.Multiplier(mantissa: 1_717_986_918, shift: -3))
  }

  @Test func quantizeMultiplierNearOne() {
    // 0.99999999997·2^31 = 2_147_483_647.9356 → rounds to 2^31 → halved to 2^30 with shift 0 + 1.
    #expect(Quant.quantizeMultiplier(0.999_999_999_97) == Quant.Multiplier(mantissa: 1 << 30, shift: 1))
    // 0.9999999995·2^31 = 2_147_483_646.93 → 2_147_483_647 = Int32.max, no carry.
    #expect(Quant.quantizeMultiplier(0.999_999_999_5) == Quant.Multiplier(mantissa: Int32.max, shift: 0))
    // Exactly half way: q·2^31 = 2^31 − 0.5 rounds away from zero to 2^31 → carry.
    #expect(Quant.quantizeMultiplier(1 - 0x1p-32) == Quant.Multiplier(mantissa: 1 << 30, shift: 1))
    // Just below the half-way point: 2^31 − 0.5 − 2^-21 rounds down.
    #expect(
      Quant.quantizeMultiplier(1 - 0x1p-32 - 0x1p-52) == Quant.Multiplier(mantissa: Int32.max, shift: 0))
  }

  @Test func quantizeMultiplierFlushNearTwoToMinus31() {
    // The flush tests the exponent *after* the carry fix, with `e < -31` (TFLite). So:
    // 2^-31 = 0.5·2^-30 → (2^30, −30).
    #expect(Quant.quantizeMultiplier(0x1p-31) == Quant.Multiplier(mantissa: 1 << 30, shift: -30))
    // 2^-32 = 0.5·2^-31 → e = −31 is not < −31: kept as (2^30, −31).
    #expect(Quant.quantizeMultiplier(0x1p-32) == Quant.Multiplier(mantissa: 1 << 30, shift: -31))
    // 2^-33 = 0.5·2^-32 → e = −32 < −31: flushed to (0, 0).
    #expect(Quant.quantizeMultiplier(0x1p-33) == Quant.Multiplier(mantissa: 0, shift: 0))
    // 2^-32·(1 − 2^-40): q = 1 − 2^-40, e = −32; q·2^31 = 2^31 − 2^-9 rounds to 2^31, the carry
    // makes e = −31, so it escapes the flush: (2^30, −31).
    #expect(
      Quant.quantizeMultiplier(0x1p-32 * (1 - 0x1p-40)) == Quant.Multiplier(mantissa: 1 << 30, shift: -31))
    // 2^-32·(1 − 2^-30): q·2^31 = 2^31 − 2, no carry, e = −32 → flushed.
    #expect(Quant.quantizeMultiplier(0x1p-32 * (1 - 0x1p-30)) == Quant.Multiplier(mantissa: 0, shift: 0))
    // A flushed multiplier requantizes everything to the zero point.
    let r = Quant.Requantizer(real: 0x1p-33, zeroPoint: 7, min: -128, max: 127, variant: .gemmlowp)
    #expect(r(Int32.max) == 7 && r(Int32.min) == 7)
    // The smallest kept one, 2^-32 = 2^30·2^-62: Int32.min·2^-32 = −0.5 exactly.
    // gemmlowp: SRDHM(−2^31, 2^30) = −2^30 exactly, then RDBPOT(−2^30, 31) = −0.5 → away → −1.
    // single: (−2^31·2^30 + 2^61) >> 62 = 0 >> 62 = 0 (ties toward +∞).
    // xnnpack/onnx: −0.5 → ties to even → −0 = 0.
    #expect(requantizeWithEachVariant(real: 0x1p-32, acc: Int32.min) == [-1, 0, 0, 0])
  }

  @Test func srdhmAndRdbpotCorners() {
    // SRDHM(INT32_MIN, INT32_MIN) would be 2^31: saturates to INT32_MAX.
    #expect(Quant.srdhm(Int32.min, Int32.min) == Int32.max)
    // (−2^31)·(2^31 − 1)/2^31 = −(2^31 − 1) exactly.
    #expect(Quant.srdhm(Int32.min, Int32.max) == -Int32.max)
    // 2·a·b/2^32 with b = 2^30: a/2. Ties go toward +∞ (the 1 − 2^30 nudge and C++ truncation):
    // 1/2 → 1, 3/2 → 2, −1/2 → 0, −3/2 → −1.
    #expect([1, 3, -1, -3].map { Quant.srdhm($0, 1 << 30) } == [1, 2, 0, -1])
    // RDBPOT rounds half away from zero: 1/2 → 1, 3/2 → 2, −1/2 → −1, −3/2 → −2; 5/4 → 1; −5/4 → −1.
    #expect([1, 3, -1, -3].map { Quant.rdbpot($0, 1) } == [1, 2, -1, -2])
    #expect(Quant.rdbpot(5, 2) == 1 && Quant.rdbpot(-5, 2) == -1)
    #expect(Quant.rdbpot(Int32.min, 31) == -1)  // −1 exactly
    #expect(Quant.rdbpot(Int32.max, 31) == 1)  // 0.99999… → 1
    #expect(Quant.rdbpot(-(1 << 30), 31) == -1)  // −0.5 → away → −1
    #expect(Quant.rdbpot(1 << 30, 31) == 1)  // 0.5 → away → 1
    #expect(Quant.rdbpot(17, 0) == 17)
  }
}

// MARK: - Requantization

extension RequantizeTests {
  @Test func tiesAtOneHalf() {
    // real = 0.5 → (Mq, s) = (2^30, 0); acc·0.5 = 0.5, 1.5, −0.5, −1.5.
    // gemmlowp: the only rounding is SRDHM's (RDBPOT by 0 is exact): ties toward +∞ → 1, 2, 0, −1.
    // single-rounding: (x·2^30 + 2^30) >> 31 = floor((x + 1)/2) → 1, 2, 0, −1.
    // xnnpack/onnx: ties to even → 0, 2, 0, −2.
    #expect(requantizeWithEachVariant(real: 0.5, acc: 1) == [1, 1, 0, 0])
    #expect(requantizeWithEachVariant(real: 0.5, acc: 3) == [2, 2, 2, 2])
    #expect(requantizeWithEachVariant(real: 0.5, acc: -1) == [0, 0, 0, 0])
    #expect(requantizeWithEachVariant(real: 0.5, acc: -3) == [-1, -1, -2, -2])
  }

  @Test func tiesAtOneQuarterGoThroughRdbpot() {
    // real = 0.25 → (2^30, −1): SRDHM halves exactly for even acc, RDBPOT(·, 1) rounds the tie
    // away from zero. single: (x·2^30 + 2^31) >> 32 = floor((x + 2)/4), ties toward +∞.
    // acc 2 → 0.5: gemmlowp RDBPOT(1, 1) = 1; single floor(4/4) = 1; even 0.
    #expect(requantizeWithEachVariant(real: 0.25, acc: 2) == [1, 1, 0, 0])
    // acc −2 → −0.5: gemmlowp RDBPOT(−1, 1) = −1 (away); single floor(0/4) = 0; even −0 = 0.
    #expect(requantizeWithEachVariant(real: 0.25, acc: -2) == [-1, 0, 0, 0])
    // acc 6 → 1.5: 2, floor(8/4) = 2, 2 (even).
    #expect(requantizeWithEachVariant(real: 0.25, acc: 6) == [2, 2, 2, 2])
    // acc −6 → −1.5: RDBPOT(−3, 1) = −2; floor(−4/4) = −1; even −2.
    #expect(requantizeWithEachVariant(real: 0.25, acc: -6) == [-2, -1, -2, -2])
  }

  @Test func doubleRoundingDiffersFromSingleRounding() {
    // real = 0.25, acc = 1: exact 0.25 → 0. gemmlowp first rounds SRDHM(1, 2^30) = 0.5 up to 1,
    // then RDBPOT(1, 1) = 0.5 rounds away to 1. single: (2^30 + 2^31) >> 32 = 0.
    #expect(requantizeWithEachVariant(real: 0.25, acc: 1) == [1, 0, 0, 0])
    // Same with a non-power-of-two multiplier: real = 0.375 = 0.75·2^-1 → (1_610_612_736, −1).
    // acc = 2: exact 0.75 → 1 everywhere. acc = 1: exact 0.375 → 0; gemmlowp: SRDHM(1, Mq) =
    // 0.75 → 1, RDBPOT(1, 1) = 0.5 → 1.
    #expect(requantizeWithEachVariant(real: 0.375, acc: 1) == [1, 0, 0, 0])
    #expect(requantizeWithEachVariant(real: 0.375, acc: 2) == [1, 1, 1, 1])
  }

  @Test func realAboveOneShiftsLeft() {
    // real = 2.5 = 0.625·2^2 → (1_342_177_280, 2). acc 5 → 12.5.
    // gemmlowp: x' = 5·4 = 20, SRDHM(20, Mq) = 20·0.625 = 12.5 → 13 (ties toward +∞).
    // single: t = 29, (5·1_342_177_280 + 2^28) >> 29 = 6_979_321_856 >> 29 = 13.
    // xnnpack/onnx: 12.5 → 12 (even).
    let m = Quant.Requantizer(real: 2.5, zeroPoint: 0, min: -128, max: 127, variant: .gemmlowp).multiplier
    #expect(m == Quant.Multiplier(mantissa: 1_342_177_280, shift: 2))
    #expect(requantizeWithEachVariant(real: 2.5, acc: 5) == [13, 13, 12, 12])
    // acc −5 → −12.5: gemmlowp SRDHM(−20, Mq) → −12; single (−6_710_886_400 + 2^28) >> 29 = −12;
    // even → −12.
    #expect(requantizeWithEachVariant(real: 2.5, acc: -5) == [-12, -12, -12, -12])
    // With zero point 10 and a saturating result: 3.0·40 = 120 + 10 = 130 → 127.
    #expect(requantizeWithEachVariant(real: 3.0, acc: 40, zp: 10) == [127, 127, 127, 127])
  }

  @Test func int32ExtremeAccumulators() {
    // real = 0.5, acc = INT32_MIN: SRDHM(−2^31, 2^30) = −2^30 exactly → −128 after clamping.
    #expect(requantizeWithEachVariant(real: 0.5, acc: Int32.min) == [-128, -128, -128, -128])
    #expect(requantizeWithEachVariant(real: 0.5, acc: Int32.max) == [127, 127, 127, 127])
    // real = 1.0 → (2^30, +1): gemmlowp's x·2 wraps (UB in C++, wraps on x86):
    // INT32_MIN·2 → 0 → output = zp = 5; INT32_MAX·2 → −2 → SRDHM(−2, 2^30) = −1 → −1 + 5 = 4.
    // single: (x·2^30 + 2^29) >> 30 = x exactly, then x &+ zp in int32 (TFLite's `acc += offset`):
    // INT32_MIN + 5 stays negative → −128, but INT32_MAX + 5 wraps negative → −128 as well.
    // The float variants saturate without wrapping: −128 and 127.
    #expect(requantizeWithEachVariant(real: 1.0, acc: Int32.min, zp: 5) == [5, -128, -128, -128])
    #expect(requantizeWithEachVariant(real: 1.0, acc: Int32.max, zp: 5) == [4, -128, 127, 127])
    #expect(requantizeWithEachVariant(real: 1.0, acc: Int32.max, zp: 0) == [-1, 127, 127, 127])
    // Wide output range: INT32_MIN·0.5 = −2^30 exactly for every variant.
    let wide = requantizeWithEachVariant(real: 0.5, acc: Int32.min, min: Int32.min, max: Int32.max)
    #expect(wide == [Int32](repeating: -1_073_741_824, count: 4))
  }

  @Test func hugeMultipliers() {
    // real = 2^31 = 0.5·2^32 → (2^30, 32). gemmlowp: 1·2^32 wraps to 0 → 0.
    // single-rounding saturates the multiplier to (2^31 − 1, 30): t = 1,
    // (2^31 − 1 + 1) >> 1 = 2^30.
    let g = Quant.Requantizer(real: 0x1p31, zeroPoint: 0, min: Int32.min, max: Int32.max, variant: .gemmlowp)
    let s = Quant.Requantizer(
      real: 0x1p31, zeroPoint: 0, min: Int32.min, max: Int32.max, variant: .singleRounding)
    #expect(g.multiplier == Quant.Multiplier(mantissa: 1 << 30, shift: 32))
    #expect(s.multiplier == Quant.Multiplier(mantissa: Int32.max, shift: 30))
    #expect(g(1) == 0)
    #expect(s(1) == 1 << 30)
    // onnx saturates in Double: 2^31 > Int32.max.
    let o = Quant.Requantizer(real: 0x1p31, zeroPoint: 0, min: Int32.min, max: Int32.max, variant: .onnx)
    #expect(o(1) == Int32.max)
  }

  @Test func xnnpackClampsInFloatBeforeRounding() {
    // y = Float(acc)·scale is clamped to [min − zp, max − zp] = [−125, 130] before lrintf, so a
    // product far outside int32 (INT32_MAX·200 ≈ 4.3e11) never reaches the float→int conversion.
    // (The TFLite variants instead wrap: (2^31 − 1)·200 ≡ −200 mod 2^32, −200 − 3 → −128.)
    let x200 = Quant.Requantizer(real: 200, zeroPoint: -3, min: -128, max: 127, variant: .xnnpack)
    #expect(x200(Int32.max) == 127)
    #expect(x200(Int32.min) == -128)
    #expect(requantizeWithEachVariant(real: 200, acc: Int32.max, zp: -3) == [-128, -128, 127, 127])
    // Clamp bounds shifted by zp: zp = 100, [min − zp, max − zp] = [−228, 27]; 0.5·60 = 30 → 27 → 127.
    let x = Quant.Requantizer(real: 0.5, zeroPoint: 100, min: -128, max: 127, variant: .xnnpack)
    #expect(x(60) == 127)
    #expect(x(-1000) == -128)
    // Float32 scale: real = 1 + 2^-30 is 1.0f, so 2^24 + 1 (not exact in Float) times it is 2^24
    // after Float(acc); onnx keeps the Double product 16_777_217.0156… → 16_777_217.
    let wideX = Quant.Requantizer(
      real: 1 + 0x1p-30, zeroPoint: 0, min: Int32.min, max: Int32.max, variant: .xnnpack)
    let wideO = Quant.Requantizer(
      real: 1 + 0x1p-30, zeroPoint: 0, min: Int32.min, max: Int32.max, variant: .onnx)
    #expect(wideX.scale32 == 1)
    #expect(wideX(16_777_217) == 16_777_216)
    #expect(wideO(16_777_217) == 16_777_217)
    // real beyond Float range: scale32 = +inf, 0·inf = NaN, fmaxf-style clamp → lower bound.
    let inf = Quant.Requantizer(real: 1e39, zeroPoint: 0, min: -128, max: 127, variant: .xnnpack)
    #expect(inf(0) == -128 && inf(1) == 127 && inf(-1) == -128)
  }

  @Test func activationClampRange() {
    // A fused-activation range narrower than int8, [−128, −20] with zp −128: zp is added first,
    // then the result is clamped (the same for every variant here).
    for variant in RequantVariant.allCases {
      let r = Quant.Requantizer(real: 0.01, zeroPoint: -128, min: -128, max: -20, variant: variant)
      #expect(r(-5000) == -128)  // −50 − 128 → −178 → −128
      #expect(r(5000) == -78)  // 50 − 128
      #expect(r(20_000) == -20)  // 200 − 128 = 72 → −20
    }
  }

  @Test func variantNamesAndCoding() {
    #expect(RequantVariant.allCases.map(\.rawValue) == ["gemmlowp", "single-rounding", "xnnpack", "onnx"])
    #expect(RequantVariant(rawValue: "single-rounding") == .singleRounding)
  }
}

// MARK: - Quantize (real → q)

extension RequantizeTests {
  private func quantizeWithEachVariant(_ x: Double, scale: Double = 1, zp: Int32 = 0) -> [Int32] {
    RequantVariant.allCases.map {
      Quant.quantize(x, scale: scale, zeroPoint: zp, min: -128, max: 127, variant: $0)
    }
  }

  @Test func quantizeTies() {
    // 2.5/1: ties to even (onnx, xnnpack) → 2; ties away (TFLite std::round) → 3.
    #expect(quantizeWithEachVariant(2.5) == [3, 3, 2, 2])
    #expect(quantizeWithEachVariant(-2.5) == [-3, -3, -2, -2])
    #expect(quantizeWithEachVariant(0.5) == [1, 1, 0, 0])
    #expect(quantizeWithEachVariant(-0.5) == [-1, -1, 0, 0])
    // 0.75/0.5 = 1.5 → 2 everywhere; zero point added after rounding: 2 + 10 = 12.
    #expect(quantizeWithEachVariant(0.75, scale: 0.5, zp: 10) == [12, 12, 12, 12])
    // 1.25/0.5 = 2.5 → 3 or 2, then −5.
    #expect(quantizeWithEachVariant(1.25, scale: 0.5, zp: -5) == [-2, -2, -3, -3])
  }

  @Test func quantizeSaturatesAndHandlesNaN() {
    #expect(quantizeWithEachVariant(.infinity) == [127, 127, 127, 127])
    #expect(quantizeWithEachVariant(-.infinity) == [-128, -128, -128, -128])
    // The quotient 1e300 / 1e-300 overflows to +inf.
    #expect(quantizeWithEachVariant(1e300, scale: 1e-300) == [127, 127, 127, 127])
    #expect(quantizeWithEachVariant(1000, zp: -3) == [127, 127, 127, 127])
    // NaN maps to the zero point (real 0) …
    #expect(quantizeWithEachVariant(.nan, zp: 17) == [17, 17, 17, 17])
    // … clamped into the range when the zero point lies outside it.
    let clampedNaN = Quant.quantize(.nan, scale: 1, zeroPoint: 200, min: -128, max: 127, variant: .onnx)
    #expect(clampedNaN == 127)
  }
}

// MARK: - Int4

extension RequantizeTests {
  @Test func int4NibbleOrder() {
    // [1, −1, 7, −8, 3]: byte 0 = 0x1 | 0xF << 4 = 0xF1, byte 1 = 0x7 | 0x8 << 4 = 0x87, byte 2 = 0x03.
    #expect(Quant.packInt4([1, -1, 7, -8, 3]) == [0xF1, 0x87, 0x03])
    #expect(Quant.unpackInt4([0xF1, 0x87, 0x03], count: 5) == [1, -1, 7, -8, 3])
    #expect(Quant.unpackInt4([0x80], count: 2) == [0, -8])
    #expect(Quant.unpackInt4([0x80], count: 1) == [0])
    #expect(Quant.packInt4([]).isEmpty)
  }

  @Test func int4RoundTrip() {
    var rng = SplitMix64(seed: 4)
    for count in 0..<40 {
      let values = (0..<count).map { _ in Int32(rng.int(in: -8...7)) }
      let packed = Quant.packInt4(values)
      #expect(packed.count == (count + 1) / 2)
      #expect(Quant.unpackInt4(packed, count: count) == values)
    }
    let all = (-8...7).map { Int32($0) }
    #expect(Quant.unpackInt4(Quant.packInt4(all), count: 16) == all)
  }
}
