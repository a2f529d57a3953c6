import Kernels
import Tensors
import Testing

@Suite struct QuantizedGEMMTests {}

/// `Reference.gemm` and `Optimized.gemm` as plain function values (a, zpA, b, zpB, bias, m, k, n).
private func referenceAndOptimizedGEMMs() -> [([Int32], Int32, [Int32], [Int32], [Int32]?, Int, Int, Int) ->
  [Int32]]
{
  [
    Quant.Reference.gemm(a:zeroPointA:b:zeroPointB:bias:m:k:n:),
    Quant.Optimized.gemm(a:zeroPointA:b:zeroPointB:bias:m:k:n:),
  ]
}

// MARK: - Hand-computed cases

extension QuantizedGEMMTests {
  @Test func gemmHandComputedPerColumnZeroPoints() {
    // A − 1 = [[1, 2, 3], [−1, 0, −2]]; B column 0 − 0 = [1, 2, 0], column 1 − 2 = [1, 2, 3].
    // C[0,0] = 1 + 4 + 0 + 1 = 6;  C[0,1] = 1 + 4 + 9 − 1 = 13;
    // C[1,0] = −1 + 0 + 0 + 1 = 0; C[1,1] = −1 + 0 − 6 − 1 = −8.
    let a: [Int32] = [2, 3, 4, 0, 1, -1]
    let b: [Int32] = [1, 3, 2, 4, 0, 5]
    let expected: [Int32] = [6, 13, 0, -8]
    let ref = Quant.Reference.gemm(
      a: a, zeroPointA: 1, b: b, zeroPointB: [0, 2], bias: [1, -1], m: 2, k: 3, n: 2)
    let opt = Quant.Optimized.gemm(
      a: a, zeroPointA: 1, b: b, zeroPointB: [0, 2], bias: [1, -1], m: 2, k: 3, n: 2)
    #expect(ref == expected)
    #expect(opt == expected)
  }

  @Test func gemmWrapsModulo2To32() {
    // Σ (2^31 − 1)·2 over k = 2 is 2^33 − 4 ≡ −4 (mod 2^32). The operands do not fit in int16,
    // so Optimized takes its wrapping int32 path.
    let a: [Int32] = [Int32.max, Int32.max]
    for gemm in referenceAndOptimizedGEMMs() {
      #expect(gemm(a, 0, [2, 2], [0], nil, 1, 2, 1) == [-4])
    }
    // int16 corner: (−32768)·(−32768)·2 = 2^31 ≡ INT32_MIN, the one pair sum `pmaddwd` wraps.
    for gemm in referenceAndOptimizedGEMMs() {
      #expect(gemm([-32768, -32768], 0, [-32768, -32768], [0], nil, 1, 2, 1) == [Int32.min])
      // Same through offsets: (−128 − 32640)·(127 − 32895)·2.
      #expect(gemm([-128, -128], 32640, [127, 127], [32895], nil, 1, 2, 1) == [Int32.min])
    }
    // Bias addition wraps too: INT32_MAX + 1.
    for gemm in referenceAndOptimizedGEMMs() {
      #expect(gemm([1], 0, [1], [0], [Int32.max], 1, 1, 1) == [Int32.min])
    }
  }

  @Test func gemmDegenerateSizes() {
    for gemm in referenceAndOptimizedGEMMs() {
      // k = 0: C = bias (or 0).
      #expect(gemm([], 3, [], [1], [5, -6], 1, 0, 2) == [5, -6])
      #expect(gemm([], 3, [], [1], nil, 2, 0, 1) == [0, 0])
      #expect(gemm([], 0, [1, 2], [0], nil, 0, 1, 2).isEmpty)
    }
  }

  @Test func convPaddingIsTheInputZeroPoint() {
    // 1×1×2×2 input, zp 3: offsets [[1, 2], [3, 4]]; 2×2 weight, zp 1: offsets [[1, 2], [3, 4]];
    // pad 1 on every side, stride 1 → 3×3 output; out-of-image taps contribute (3 − 3)·w = 0.
    // (0,0): 1·4 = 4;                (0,1): 1·3 + 2·4 = 11;          (0,2): 2·3 = 6
    // (1,0): 1·2 + 3·4 = 14;         (1,1): 1 + 4 + 9 + 16 = 30;     (1,2): 2·1 + 4·3 = 14
    // (2,0): 3·2 = 6;                (2,1): 3·1 + 4·2 = 11;          (2,2): 4·1 = 4
    // plus bias 10.
    let shape = QConv2DShape(
      n: 1, c: 1, h: 2, w: 2, o: 1, kh: 2, kw: 2, padTop: 1, padLeft: 1, padBottom: 1, padRight: 1)
    #expect(shape.outH == 3 && shape.outW == 3)
    let input: [Int32] = [4, 5, 6, 7]
    let weight: [Int32] = [2, 3, 4, 5]
    let expected: [Int32] = [14, 21, 16, 24, 40, 24, 16, 21, 14]
    let ref = Quant.Reference.conv2d(
      input: input, zeroPointInput: 3, weight: weight, zeroPointWeight: [1], bias: [10], shape: shape)
    let opt = Quant.Optimized.conv2d(
      input: input, zeroPointInput: 3, weight: weight, zeroPointWeight: [1], bias: [10], shape: shape)
    #expect(ref == expected)
    #expect(opt == expected)
  }

  @Test func convGroupsStridesDilationAsymmetricPads() {
    // c = o = groups = 2 (one input channel per group), 3×4 input, 2×2 kernel, stride (2, 1),
    // dilation (1, 2), pads top 1 / bottom 0 / left 0 / right 1.
    // outH = (3 + 1 − 1 − 1)/2 + 1 = 2; outW = (4 + 1 − 2 − 1)/1 + 1 = 3.
    // Input zp −1, so offsets = q + 1:
    //   ch0 [[1, 2, 3, 4], [5, 6, 7, 8], [9, 10, 11, 12]]
    //   ch1 [[−1, 0, 1, 2], [3, −2, 0, 1], [2, 2, −3, 4]]
    // Per-channel weight zp [2, −1]: w0 [[3, 2], [2, 4]] → [[1, 0], [0, 2]];
    //                                w1 [[0, −1], [1, 2]] → [[1, 0], [2, 3]]. Bias [100, −50].
    // Tap (i, j) of output (y, x) reads row 2y − 1 + i, column x + 2j.
    // oc0, y = 0 (row −1 is padding, row 0 with kernel row 1):
    //   x=0: 1·0 + 3·2 = 6; x=1: 2·0 + 4·2 = 8; x=2: 3·0 + (column 4 is padding) = 0
    // oc0, y = 1 (rows 1, 2):
    //   x=0: 5·1 + 7·0 + 9·0 + 11·2 = 27; x=1: 6 + 0 + 0 + 24 = 30; x=2: 7·1 + 11·0 = 7
    // oc1, y = 0: x=0: −1·2 + 1·3 = 1; x=1: 0·2 + 2·3 = 6; x=2: 1·2 = 2
    // oc1, y = 1: x=0: 3·1 + 0·0 + 2·2 + (−3)·3 = −2; x=1: −2 + 0 + 4 + 12 = 14;
    //             x=2: 0·1 + (−3)·2 = −6
    let shape = QConv2DShape(
      n: 1, c: 2, h: 3, w: 4, o: 2, kh: 2, kw: 2, strideH: 2, strideW: 1,
      padTop: 1, padLeft: 0, padBottom: 0, padRight: 1, dilationH: 1, dilationW: 2, groups: 2)
    #expect(shape.outH == 2 && shape.outW == 3)
    let offsets: [Int32] = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, -1, 0, 1, 2, 3, -2, 0, 1, 2, 2, -3, 4]
    let input = offsets.map { $0 - 1 }
    let weight: [Int32] = [3, 2, 2, 4, 0, -1, 1, 2]
    let expected: [Int32] = [106, 108, 100, 127, 130, 107, -49, -44, -48, -52, -36, -56]
    let ref = Quant.Reference.conv2d(
      input: input, zeroPointInput: -1, weight: weight, zeroPointWeight: [2, -1], bias: [100, -50],
      shape: shape)
    let opt = Quant.Optimized.conv2d(
      input: input, zeroPointInput: -1, weight: weight, zeroPointWeight: [2, -1], bias: [100, -50],
      shape: shape)
    #expect(ref == expected)
    #expect(opt == expected)
  }

  @Test func convOutputSizes() {
    // (h + pads − d·(kh − 1) − 1)/s + 1, or 0 when the dilated kernel does not fit.
    #expect(QConv2DShape(n: 1, c: 1, h: 7, w: 5, o: 1, kh: 3, kw: 3, strideH: 2, strideW: 3).outH == 3)
    #expect(QConv2DShape(n: 1, c: 1, h: 7, w: 5, o: 1, kh: 3, kw: 3, strideH: 2, strideW: 3).outW == 1)
    #expect(QConv2DShape(n: 1, c: 1, h: 2, w: 2, o: 1, kh: 3, kw: 2, dilationH: 2).outH == 0)
    let empty = QConv2DShape(n: 1, c: 1, h: 2, w: 2, o: 1, kh: 3, kw: 1)
    #expect(
      Quant.Optimized.conv2d(
        input: [1, 2, 3, 4], zeroPointInput: 0, weight: [1, 1, 1], zeroPointWeight: [0], bias: nil,
        shape: empty
      ).isEmpty)
  }

  @Test func int4WeightsHandComputed() {
    // B = [[−8, 7], [1, −1]] packed as 0x78, 0xF1; zpB 0; A = [[2, 3]] with zpA 0.
    // C = [2·(−8) + 3·1, 2·7 + 3·(−1)] = [−13, 11].
    #expect(Quant.packInt4([-8, 7, 1, -1]) == [0x78, 0xF1])
    let c = Quant.Optimized.gemm(
      a: [2, 3], zeroPointA: 0, int4B: [0x78, 0xF1], zeroPointB: [0], bias: nil,
      m: 1, k: 2, n: 2)
    #expect(c == [-13, 11])
  }
}

// MARK: - Randomized reference-vs-optimized bit-exactness

/// Random quantized operand values: mostly int8 or uint8, with a bias toward the range ends.
private func randomQuantValues(_ count: Int, _ rng: inout SplitMix64, lo: Int, hi: Int) -> [Int32] {
  (0..<count).map { _ in
    switch rng.int(in: 0...9) {
    case 0: Int32(lo)
    case 1: Int32(hi)
    case 2: Int32(rng.int(in: lo...(lo + 2)))
    case 3: Int32(rng.int(in: (hi - 2)...hi))
    default: Int32(rng.int(in: lo...hi))
    }
  }
}

/// A random 8-bit-style range (int8, uint8, or int4) and a zero point for it.
private func randomQuantRange(_ rng: inout SplitMix64) -> (lo: Int, hi: Int, zp: Int32) {
  let (lo, hi) = [(-128, 127), (0, 255), (-127, 127)][rng.int(in: 0...2)]
  let zp = rng.int(in: 0...3) == 0 ? [lo, hi][rng.int(in: 0...1)] : rng.int(in: lo...hi)
  return (lo, hi, Int32(zp))
}

extension QuantizedGEMMTests {
  @Test(arguments: LowBitPath.allCases) func randomGEMMsMatchReference(path: LowBitPath) {
    onPath(path) {
      var rng = SplitMix64(seed: 0x5EED_6E33)
      for trial in 0..<160 {
        // Mostly small shapes; a few that cross the k (512), m (24) and n (1024) blocks.
        var (m, k, n) = (rng.int(in: 1...13), rng.int(in: 0...37), rng.int(in: 1...19))
        switch trial % 40 {
        case 1: k = rng.int(in: 513...1100)
        case 2: m = rng.int(in: 25...60)
        case 3: (m, k, n) = (rng.int(in: 1...3), rng.int(in: 1...4), rng.int(in: 1025...1100))
        default: break
        }
        let ra = randomQuantRange(&rng)
        let rb = randomQuantRange(&rng)
        let a = randomQuantValues(m * k, &rng, lo: ra.lo, hi: ra.hi)
        let b = randomQuantValues(k * n, &rng, lo: rb.lo, hi: rb.hi)
        let perColumn = rng.int(in: 0...1) == 1
        let zpB = perColumn ? (0..<n).map { _ in Int32(rng.int(in: rb.lo...rb.hi)) } : [rb.zp]
        let bias: [Int32]? =
          rng.int(in: 0...2) == 0 ? nil : (0..<n).map { _ in Int32(rng.int(in: -70_000...70_000)) }
        let ref = Quant.Reference.gemm(
          a: a, zeroPointA: ra.zp, b: b, zeroPointB: zpB, bias: bias, m: m, k: k, n: n)
        let opt = Quant.Optimized.gemm(
          a: a, zeroPointA: ra.zp, b: b, zeroPointB: zpB, bias: bias, m: m, k: k, n: n)
        #expect(ref == opt, "trial \(trial): m \(m) k \(k) n \(n)")
      }
    }
  }

  @Test(arguments: LowBitPath.allCases) func randomInt4GEMMsMatchReference(path: LowBitPath) {
    onPath(path) {
      var rng = SplitMix64(seed: 44)
      for trial in 0..<40 {
        let (m, k, n) = (rng.int(in: 1...9), rng.int(in: 1...41), rng.int(in: 1...17))
        let ra = randomQuantRange(&rng)
        let a = randomQuantValues(m * k, &rng, lo: ra.lo, hi: ra.hi)
        let b = randomQuantValues(k * n, &rng, lo: -8, hi: 7)
        let zpB = rng.int(in: 0...1) == 1 ? (0..<n).map { _ in Int32(rng.int(in: -8...7)) } : [0]
        let bias: [Int32]? = (0..<n).map { _ in Int32(rng.int(in: -999...999)) }
        let ref = Quant.Reference.gemm(
          a: a, zeroPointA: ra.zp, b: b, zeroPointB: zpB, bias: bias, m: m, k: k, n: n)
        let opt = Quant.Optimized.gemm(
          a: a, zeroPointA: ra.zp, int4B: Quant.packInt4(b), zeroPointB: zpB, bias: bias, m: m, k: k, n: n)
        #expect(ref == opt, "trial \(trial): m \(m) k \(k) n \(n)")
      }
    }
  }

  @Test(arguments: LowBitPath.allCases) func randomConvolutionsMatchReference(path: LowBitPath) {
    onPath(path) {
      var rng = SplitMix64(seed: 2024)
      for trial in 0..<200 {
        let groups = rng.int(in: 1...3)
        let pointwise = trial % 10 == 0
        let kh = pointwise ? 1 : rng.int(in: 1...3)
        let kw = pointwise ? 1 : rng.int(in: 1...3)
        let shape = QConv2DShape(
          n: rng.int(in: 1...2), c: groups * rng.int(in: 1...3), h: rng.int(in: 1...7), w: rng.int(in: 1...7),
          o: groups * rng.int(in: 1...3), kh: kh, kw: kw,
          strideH: pointwise ? 1 : rng.int(in: 1...3), strideW: pointwise ? 1 : rng.int(in: 1...3),
          padTop: pointwise ? 0 : rng.int(in: 0...2), padLeft: pointwise ? 0 : rng.int(in: 0...2),
          padBottom: pointwise ? 0 : rng.int(in: 0...2), padRight: pointwise ? 0 : rng.int(in: 0...2),
          dilationH: rng.int(in: 1...2), dilationW: rng.int(in: 1...2), groups: groups)
        let int4 = trial % 4 == 3
        let ri = randomQuantRange(&rng)
        let (wlo, whi) = int4 ? (-8, 7) : (-127, 127)
        let input = randomQuantValues(shape.n * shape.c * shape.h * shape.w, &rng, lo: ri.lo, hi: ri.hi)
        let weight = randomQuantValues(shape.o * (shape.c / groups) * kh * kw, &rng, lo: wlo, hi: whi)
        let zpW = rng.int(in: 0...1) == 1 ? (0..<shape.o).map { _ in Int32(rng.int(in: wlo...whi)) } : [0]
        let bias: [Int32]? =
          rng.int(in: 0...3) == 0 ? nil : (0..<shape.o).map { _ in Int32(rng.int(in: -5000...5000)) }
        let ref = Quant.Reference.conv2d(
          input: input, zeroPointInput: ri.zp, weight: weight, zeroPointWeight: zpW, bias: bias, shape: shape)
        let opt =
          int4
          ? Quant.Optimized.conv2d(
            input: input, zeroPointInput: ri.zp, int4Weight: Quant.packInt4(weight), zeroPointWeight: zpW,
            bias: bias,
            shape: shape)
          : Quant.Optimized.conv2d(
            input: input, zeroPointInput: ri.zp, weight: weight, zeroPointWeight: zpW, bias: bias,
            shape: shape)
        #expect(ref == opt, "trial \(trial): \(shape)")
      }
    }
  }

  @Test(arguments: LowBitPath.allCases) func randomWideOperandsTakeTheExactInt32Path(path: LowBitPath) {
    onPath(path) {
      // Offsets outside int16 (not 8-bit data): Optimized falls back to wrapping int32 and must still
      // agree with the reference's wrapped Int64 sums, including huge products that overflow.
      var rng = SplitMix64(seed: 77)
      for trial in 0..<20 {
        let (m, k, n) = (rng.int(in: 1...6), rng.int(in: 1...9), rng.int(in: 1...6))
        let big = Int(Int32.max)
        let a = randomQuantValues(m * k, &rng, lo: -big, hi: big)
        let b = randomQuantValues(k * n, &rng, lo: -40_000, hi: 40_000)
        let zpA = Int32(rng.int(in: -big...big))
        let ref = Quant.Reference.gemm(
          a: a, zeroPointA: zpA, b: b, zeroPointB: [7], bias: nil, m: m, k: k, n: n)
        let opt = Quant.Optimized.gemm(
          a: a, zeroPointA: zpA, b: b, zeroPointB: [7], bias: nil, m: m, k: k, n: n)
        #expect(ref == opt, "trial \(trial)")
        let shape = QConv2DShape(n: 1, c: 2, h: 4, w: 3, o: 2, kh: 2, kw: 2, padTop: 1, padRight: 1)
        let input = randomQuantValues(24, &rng, lo: -big, hi: big)
        let weight = randomQuantValues(16, &rng, lo: -70_000, hi: 70_000)
        let refConv = Quant.Reference.conv2d(
          input: input, zeroPointInput: zpA, weight: weight, zeroPointWeight: [1, -1], bias: [3, 4],
          shape: shape)
        let optConv = Quant.Optimized.conv2d(
          input: input, zeroPointInput: zpA, weight: weight, zeroPointWeight: [1, -1], bias: [3, 4],
          shape: shape)
        #expect(refConv == optConv, "conv trial \(trial)")
      }
    }
  }

  @Test(arguments: LowBitPath.allCases) func gemmS16MatchesNaiveProduct(path: LowBitPath) {
    onPath(path) {
      // The raw kernel over pre-offset int16 operands, including full-range values and ragged edges.
      var rng = SplitMix64(seed: 16)
      for _ in 0..<12 {
        let (m, k, n) = (rng.int(in: 1...30), rng.int(in: 1...70), rng.int(in: 1...30))
        let a = (0..<(m * k)).map { _ in Int16(truncatingIfNeeded: rng.next()) }
        let b = (0..<(k * n)).map { _ in Int16(truncatingIfNeeded: rng.next()) }
        let (c, _) = gemmS16(a, b, m: m, k: k, n: n)
        #expect(c == naiveS16Product(a, b, m: m, k: k, n: n), "m \(m) k \(k) n \(n)")
      }
    }
  }
}
