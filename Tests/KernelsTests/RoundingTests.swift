import Kernels
import Tensors
import TestSupport
import Testing

@Suite struct RoundingTests {}

extension RoundingTests {
  /// Our generic rounding agrees with the hardware conversions (an independent implementation).
  @Test func floatAndHalfMatchHardwareConversions() {
    var rng = SplitMix64(seed: 42)
    var samples: [Double] = [
      0, -0.0, 1, -1, 65504, 65519.99, 65520, 1e-8, 5.96e-8, 2.98e-8, 2.9802322387695312e-8, .infinity,
      -.infinity, 3.4028235677973366e38, 1.401298464324817e-45, 7e-46,
    ]
    for _ in 0..<20_000 {
      let e = rng.int(in: -160...130)
      let m = 1 + rng.unit()
      samples.append((rng.chance(0.5) ? -1 : 1) * m * Double(sign: .plus, exponent: e, significand: 1))
    }
    for x in samples {
      let f32 = DType.f32.rounded(x)
      let generic32 = roundToBinaryFormat(x, significandBits: 24, minExponent: -126, maxExponent: 127)
      #expect(f32.bitPattern == generic32.bitPattern, "f32 \(x)")
      #if arch(x86_64) || arch(arm64)
        let half = Double(Float16(x))
        #expect(DType.f16.rounded(x).bitPattern == half.bitPattern, "f16 \(x)")
      #endif
    }
  }

  @Test func bfloat16HandComputed() {
    // bf16 keeps 8 significant bits: 1 + 2^-7 is representable, 1 + 2^-8 is a tie that goes to even (1).
    #expect(DType.bf16.rounded(1 + 0x1p-8) == 1)
    #expect(DType.bf16.rounded(1 + 0x1p-7 + 0x1p-8) == 1 + 0x1p-6)  // tie, rounds up to even
    #expect(DType.bf16.rounded(1 + 0x1p-8 + 0x1p-30) == 1 + 0x1p-7)  // just above the tie
    #expect(DType.bf16.rounded(0x1.FEp127) == 0x1.FEp127)  // largest finite bf16
    #expect(DType.bf16.rounded(0x1.FEFp127) == 0x1.FEp127)  // below max + half ulp
    #expect(DType.bf16.rounded(0x1.FFp127) == .infinity)  // max + half ulp: ties to even = inf
    #expect(DType.bf16.rounded(-0.0).sign == .minus)
    #expect(DType.bf16.rounded(.nan).isNaN)
    // Smallest bf16 subnormal is 2^-133; half of it ties to zero (even).
    #expect(DType.bf16.rounded(0x1p-133) == 0x1p-133)
    #expect(DType.bf16.rounded(0x1p-134) == 0)
    #expect(DType.bf16.rounded(0x1.8p-134) == 0x1p-133)
  }

  @Test func halfTiesAndOverflow() {
    #expect(DType.f16.rounded(2049) == 2048)  // tie at spacing 2: to even
    #expect(DType.f16.rounded(2051) == 2052)
    #expect(DType.f16.rounded(65519) == 65504)
    #expect(DType.f16.rounded(65520) == .infinity)  // exactly max + half ulp: ties to even = inf
  }

  @Test func integerWrapAndTruncation() {
    #expect(DType.i32.rounded(2.9) == 2)
    #expect(DType.i32.rounded(-2.9) == -2)
    #expect(DType.i32.rounded(2_147_483_648) == -2_147_483_648)
    #expect(DType.i32.rounded(-2_147_483_649) == 2_147_483_647)
    #expect(DType.i32.rounded(.nan) == 0)
    #expect(DType.i32.rounded(.infinity) == 2_147_483_647)
    #expect(DType.i64.rounded(0x1p63) == -0x1p63)
    #expect(DType.bool.rounded(-0.5) == 1)
    #expect(DType.bool.rounded(0) == 0)
    #expect(DType.bool.rounded(.nan) == 1)
    #expect(DType.u8.rounded(-1) == 255)
    #expect(DType.i8.rounded(128) == -128)
  }
}

@Suite struct BLASTests {
  @Test(arguments: [(1, 1, 1), (3, 5, 7), (17, 9, 33)])
  func sgemmMatchesNaiveLoop(_ shape: (Int, Int, Int)) {
    let (m, n, k) = shape
    var rng = SplitMix64(seed: UInt64(m * 100 + n))
    let a = (0..<(m * k)).map { _ in Float(rng.unit() * 2 - 1) }
    let b = (0..<(k * n)).map { _ in Float(rng.unit() * 2 - 1) }
    let c = BLAS.sgemm(a, b, m: m, n: n, k: k)
    for i in 0..<m {
      for j in 0..<n {
        var s = 0.0
        for p in 0..<k { s += Double(a[i * k + p]) * Double(b[p * n + j]) }
        #expect(abs(Double(c[i * n + j]) - s) <= 1e-5 * Double(k))
      }
    }
  }
}

@Suite struct BroadcastKernelTests {
  @Test func broadcastsLikeNumPy() {
    let a = tensor([1, 2, 3], [3, 1])
    let b = tensor([10, 20], [2])
    let c = Reference.broadcast(a, b) { $0 + $1 }
    #expect(c.shape == [3, 2])
    #expect(c.storage == [11, 21, 12, 22, 13, 23])
    #expect(Shape.broadcast([2, 1, 4], [3, 1]) == [2, 3, 4])
    #expect(Shape.broadcast([2, 3], [4, 3]) == nil)
    let s = Reference.broadcast(tensor([5], []), a) { $0 * $1 }
    #expect(s.storage == [5, 10, 15])
  }
}

extension RoundingTests {
  @Test func hugeValuesWrapExactly() {
    // 1e30 = 2^32 * k exactly for some k, so wrapping to 32 bits gives 0.
    #expect(DType.i32.rounded(1e30) == Double(Int32(truncatingIfNeeded: 0)))
    #expect(DType.i32.rounded(-0x1p40 - 5) == -5)
    #expect(DType.i8.rounded(0x1p60 + 0x1p10) == 0)
  }
}
