import Kernels
import Tensors
import Testing

@Suite struct BinaryTests {}

// MARK: - Helpers

extension BinaryTests {
  typealias Shape = Binary.Conv2DShape

  /// `count` random ±1 values.
  static func signs(_ count: Int, _ rng: inout SplitMix64) -> [Double] {
    (0..<count).map { _ in rng.next() & 1 == 0 ? 1 : -1 }
  }

  /// Random packed input and filter for `s` (via `Binary.pack`, so tail bits are 0).
  static func operands(_ s: Shape, _ rng: inout SplitMix64) -> (input: [UInt32], filter: [UInt32]) {
    let cg = s.c / s.groups
    let input = Binary.pack(signs(s.n * s.h * s.w * s.c, &rng), channels: cg, groups: s.groups)
    let filter = Binary.pack(signs(s.o * s.kh * s.kw * cg, &rng), channels: cg)
    return (input, filter)
  }

  /// A random valid convolution shape. `large` asks for at least 64 output pixels (the table path of
  /// `Optimized.conv2d`); otherwise the shapes are mostly small (its vector path).
  static func randomShape(_ rng: inout SplitMix64, large: Bool) -> Shape {
    while true {
      let groups = rng.pick([1, 1, 1, 2, 3, 4])
      var c = rng.chance(0.3) ? rng.pick([31, 32, 33, 63, 64, 65, 95, 96, 97, 100]) : rng.int(in: 1...100)
      c = max(groups, c / groups * groups)
      // More than 32 filters per group exercises several (and partial) 32-filter tables.
      let o = groups * (rng.chance(0.1) ? rng.int(in: 32...70) : rng.int(in: 1...6))
      let kh = rng.int(in: 1...3)
      let kw = rng.int(in: 1...3)
      let side = large ? 8...14 : 1...7
      var s = Shape(
        n: rng.int(in: 1...2), h: rng.int(in: side), w: rng.int(in: side), c: c,
        o: o, kh: kh, kw: kw, strideH: rng.int(in: 1...3), strideW: rng.int(in: 1...3),
        padTop: rng.int(in: 0...2), padLeft: rng.int(in: 0...2), padBottom: rng.int(in: 0...2),
        padRight: rng.int(in: 0...2), dilationH: rng.int(in: 1...2), dilationW: rng.int(in: 1...2),
        groups: groups, padding: rng.pick(Binary.Padding.allCases))
      if large {
        s.strideH = 1
        s.strideW = rng.int(in: 1...2)
        if rng.chance(0.4) {
          // Rows longer than one 30-byte table block: 3×3 taps of 25...40 channels.
          (s.kh, s.kw) = (3, 3)
          s.c = groups * rng.int(in: 25...40)
          s.o = groups * rng.int(in: 1...4)
        } else if rng.chance(0.4) {
          // Several 32-filter tables: 1×1 taps, 33...100 filters per group.
          (s.kh, s.kw) = (1, 1)
          s.c = groups * rng.int(in: 1...40)
          s.o = groups * (rng.chance(0.3) ? rng.pick([64, 96]) : rng.int(in: 33...100))
        }
      }
      let pixels = s.n * s.outH * s.outW
      let work = pixels * s.o * s.kh * s.kw * (s.c / s.groups)
      if pixels == 0 || work > (large ? 800_000 : 300_000) || (large && pixels < 64) { continue }
      return s
    }
  }

  /// Plain float convolution of ±1 values with zero padding (NHWC input, OHWI filter over `c / groups`).
  static func floatConv(_ x: [Double], _ f: [Double], _ s: Shape) -> [Double] {
    let cg = s.c / s.groups
    let og = s.o / s.groups
    var out: [Double] = []
    for b in 0..<s.n {
      for y in 0..<s.outH {
        for xo in 0..<s.outW {
          for oc in 0..<s.o {
            var acc = 0.0
            for ky in 0..<s.kh {
              for kx in 0..<s.kw {
                let iy = y * s.strideH - s.padTop + ky * s.dilationH
                let ix = xo * s.strideW - s.padLeft + kx * s.dilationW
                guard iy >= 0 && iy < s.h && ix >= 0 && ix < s.w else { continue }
                for ci in 0..<cg {
                  let a = x[((b * s.h + iy) * s.w + ix) * s.c + (oc / og) * cg + ci]
                  acc += a * f[((oc * s.kh + ky) * s.kw + kx) * cg + ci]
                }
              }
            }
            out.append(acc)
          }
        }
      }
    }
    return out
  }
}

// MARK: - Sign and BiPer

extension BinaryTests {
  @Test func signFollowsLarq() {
    #expect(Binary.sign(0) == 1)
    #expect(Binary.sign(-0.0) == 1)
    #expect(Binary.sign(.nan) == 1)
    #expect(Binary.sign(-Double.nan) == 1)
    #expect(Binary.sign(.infinity) == 1)
    #expect(Binary.sign(-.infinity) == -1)
    #expect(Binary.sign(-Double.leastNonzeroMagnitude) == -1)
    #expect(Binary.sign(Double.leastNonzeroMagnitude) == 1)
    #expect(Binary.sign(-1e-300) == -1)
    #expect(Binary.sign(-0.75) == -1)
    #expect(Binary.sign(3) == 1)
  }

  @Test func biperIsLarqSignOfSine() {
    #expect(Binary.biper(0, omega: 3) == 1)  // sin(0) = 0
    #expect(Binary.biper(-0.0, omega: 3) == 1)  // sin(−0) = −0
    #expect(Binary.biper(5, omega: 0) == 1)  // omega 0: sin(0)
    #expect(Binary.biper(0.5, omega: 1) == 1)  // sin 0.5 ≈ 0.479
    #expect(Binary.biper(-0.5, omega: 1) == -1)
    #expect(Binary.biper(2, omega: 2) == -1)  // sin 4 ≈ −0.757
    #expect(Binary.biper(1, omega: 5) == -1)  // sin 5 ≈ −0.959
    #expect(Binary.biper(-1, omega: 5) == 1)
    // Double.pi < π, so sin(Double.pi) ≈ +1.2e-16 and sin(2·Double.pi) ≈ −2.4e-16: never exactly 0.
    #expect(Binary.biper(1, omega: .pi) == 1)
    #expect(Binary.biper(-1, omega: .pi) == -1)
    #expect(Binary.biper(2, omega: .pi) == -1)
    #expect(Binary.biper(.nan, omega: 1) == 1)  // sin(NaN) = NaN
    #expect(Binary.biper(.infinity, omega: 1) == 1)  // sin(inf) = NaN
  }
}

// MARK: - Packing

extension BinaryTests {
  @Test func wordCounts() {
    #expect(Binary.wordBits == 32)
    #expect([0, 1, 31, 32, 33, 64, 65].map(Binary.words) == [0, 1, 1, 1, 2, 2, 3])
  }

  @Test func packingTails() {
    let minus = { (c: Int) in [Double](repeating: -1, count: c) }
    #expect(Binary.pack([-1], channels: 1) == [0x1])
    #expect(Binary.pack([1], channels: 1) == [0x0])
    #expect(Binary.pack(minus(31), channels: 31) == [0x7FFF_FFFF])
    #expect(Binary.pack(minus(32), channels: 32) == [0xFFFF_FFFF])
    #expect(Binary.pack(minus(33), channels: 33) == [0xFFFF_FFFF, 0x0000_0001])
    #expect(Binary.pack(minus(65), channels: 65) == [0xFFFF_FFFF, 0xFFFF_FFFF, 0x0000_0001])
    // Channel 32 alone sets bit 0 of word 1; channels 0 and 31 are bits 0 and 31 of word 0.
    var v = [Double](repeating: 1, count: 33)
    v[32] = -1
    #expect(Binary.pack(v, channels: 33) == [0, 1])
    v[32] = 1
    v[0] = -1
    v[31] = -1
    #expect(Binary.pack(v, channels: 33) == [0x8000_0001, 0])
    // Every third channel of 65: bits 0,3,…,30 | 1,4,…,31 | channel 64 is +1 (64 % 3 = 1).
    let third = (0..<65).map { $0 % 3 == 0 ? -1.0 : 0.5 }
    #expect(Binary.pack(third, channels: 65) == [0x4924_9249, 0x9249_2492, 0])
    // Two rows of 33: each row starts a new word.
    #expect(
      Binary.pack(minus(33) + [Double](repeating: 1, count: 32) + [-1], channels: 33) == [
        0xFFFF_FFFF, 1, 0, 1,
      ])
  }

  @Test func packingSignedZeroAndNaN() {
    let values: [Double] = [-0.0, .nan, -Double.nan, 0, -1e-300, .infinity, -.infinity]
    // Only −1e-300 (bit 4) and −inf (bit 6) are < 0.
    #expect(Binary.pack(values, channels: 7) == [0b101_0000])
    #expect(Binary.unpack([0b101_0000], channels: 7, outer: 1) == [1, 1, 1, 1, -1, 1, -1])
  }

  @Test func unpackIgnoresTailBits() {
    #expect(Binary.unpack([0xFFFF_FFFF], channels: 3, outer: 1) == [-1, -1, -1])
    #expect(Binary.unpack([0xFFFF_FFF0, 0xFFFF_FFFE], channels: 33, outer: 1).prefix(5) == [1, 1, 1, 1, -1])
    #expect(Binary.unpack([0xFFFF_FFF0, 0xFFFF_FFFE], channels: 33, outer: 1).last == 1)
  }

  @Test func groupedPackingLayout() {
    // C = 6, G = 2: each group of Cg = 3 channels gets its own word.
    let values: [Double] = [-1, 1, -1, 1, -1, -1, 1, 1, 1, -1, 1, 1]
    let words = Binary.pack(values, channels: 3, groups: 2)
    #expect(words == [0b101, 0b110, 0b000, 0b001])
    #expect(Binary.unpack(words, channels: 3, groups: 2, outer: 2) == values)
    // The same values as one group of 6 channels (one word per row).
    #expect(Binary.pack(values, channels: 6) == [0b11_0101, 0b00_1000])
    // C = 66, G = 2: Cg = 33 channels, 2 words per group, 4 per pixel.
    var wide = [Double](repeating: 1, count: 66)
    wide[32] = -1  // group 0, channel 32
    wide[33] = -1  // group 1, channel 0
    wide[65] = -1  // group 1, channel 32
    #expect(Binary.pack(wide, channels: 33, groups: 2) == [0, 1, 1, 1])
  }

  @Test func packUnpackRoundTrip() {
    var rng = SplitMix64(seed: 7)
    for _ in 0..<50 {
      let groups = rng.int(in: 1...3)
      let channels = rng.int(in: 1...70)
      let outer = rng.int(in: 0...4)
      let values = Self.signs(outer * groups * channels, &rng)
      let words = Binary.pack(values, channels: channels, groups: groups)
      #expect(words.count == outer * groups * Binary.words(channels))
      #expect(Binary.unpack(words, channels: channels, groups: groups, outer: outer) == values)
    }
  }
}

// MARK: - Hand-computed convolutions

extension BinaryTests {
  /// 2×2 image, one channel, 3×3 filter, pad 1 (every output pixel is a border pixel).
  ///
  /// a = [[1, −1], [−1, −1]], w = [[1, −1, 1], [−1, 1, 1], [1, 1, −1]].
  /// Output (y, x): in-image part / Σ w over out-of-image taps:
  /// (0,0): 1−1−1+1 = 0 / w00+w01+w02+w10+w20 = 1;  (0,1): −4 / (1−1+1)+(1−1) = 1;
  /// (1,0): −4 / (1−1+1)+(1−1) = 1;                  (1,1): 1+1+1−1 = 2 / (1+1−1)+(1+1) = 3.
  /// One-padding adds the out-of-image sums, zero padding does not.
  @Test(arguments: Binary.Padding.allCases) func tinyConvWithPadding(_ padding: Binary.Padding) {
    let s = Shape(
      n: 1, h: 2, w: 2, c: 1, o: 1, kh: 3, kw: 3, padTop: 1, padLeft: 1, padBottom: 1, padRight: 1,
      padding: padding)
    #expect(s.outH == 2 && s.outW == 2)
    let input = Binary.pack([1, -1, -1, -1], channels: 1)
    let filter = Binary.pack([1, -1, 1, -1, 1, 1, 1, 1, -1], channels: 1)
    #expect(input == [0, 1, 1, 1])
    let expected: [Int32] = padding == .one ? [1, -3, -3, 5] : [0, -4, -4, 2]
    #expect(Binary.Reference.conv2d(input: input, filter: filter, shape: s) == expected)
    #expect(Binary.Optimized.conv2d(input: input, filter: filter, shape: s) == expected)
  }

  /// Stride 2, 2×2 kernel on a 4×4 image: each output is one 2×2 block times the filter.
  @Test func strideTwo() {
    let a: [Double] = [
      1, -1, 1, 1,
      -1, -1, 1, -1,
      1, 1, -1, -1,
      -1, 1, -1, 1,
    ]
    let w: [Double] = [1, -1, -1, 1]
    let s = Shape(n: 1, h: 4, w: 4, c: 1, o: 1, kh: 2, kw: 2, strideH: 2, strideW: 2)
    // Blocks: [1,−1,−1,−1]·w = 1+1+1−1 = 2; [1,1,1,−1]·w = 1−1−1−1 = −2;
    // [1,1,−1,1]·w = 1−1+1+1 = 2; [−1,−1,−1,1]·w = −1+1+1+1 = 2.
    let expected: [Int32] = [2, -2, 2, 2]
    let input = Binary.pack(a, channels: 1)
    let filter = Binary.pack(w, channels: 1)
    #expect(Binary.Reference.conv2d(input: input, filter: filter, shape: s) == expected)
    #expect(Binary.Optimized.conv2d(input: input, filter: filter, shape: s) == expected)
  }

  /// Dilation 2, 2×2 kernel on a 3×3 image: taps at (0,0), (0,2), (2,0), (2,2); with pad 1 the corner
  /// output (0,0) keeps only tap (1,1) in the image, the other three are padding.
  @Test(arguments: Binary.Padding.allCases) func dilationTwo(_ padding: Binary.Padding) {
    let a: [Double] = [1, -1, 1, -1, -1, -1, -1, 1, 1]
    let w: [Double] = [1, -1, -1, 1]
    let input = Binary.pack(a, channels: 1)
    let filter = Binary.pack(w, channels: 1)
    let plain = Shape(
      n: 1, h: 3, w: 3, c: 1, o: 1, kh: 2, kw: 2, dilationH: 2, dilationW: 2, padding: padding)
    // a00·1 + a02·(−1) + a20·(−1) + a22·1 = 1 − 1 + 1 + 1.
    #expect(Binary.Reference.conv2d(input: input, filter: filter, shape: plain) == [2])
    #expect(Binary.Optimized.conv2d(input: input, filter: filter, shape: plain) == [2])
    let padded = Shape(
      n: 1, h: 3, w: 3, c: 1, o: 1, kh: 2, kw: 2, padTop: 1, padLeft: 1, padBottom: 1, padRight: 1,
      dilationH: 2, dilationW: 2, padding: padding)
    #expect(padded.outH == 3 && padded.outW == 3)
    // Corner (0,0): in-image a11·w11 = −1; out-of-image w00 + w01 + w10 = −1.
    let corner: Int32 = padding == .one ? -2 : -1
    #expect(Binary.Reference.conv2d(input: input, filter: filter, shape: padded)[0] == corner)
    #expect(Binary.Optimized.conv2d(input: input, filter: filter, shape: padded)[0] == corner)
    // Centre (1,1) reads the four corners of the image: the unpadded result.
    #expect(Binary.Reference.conv2d(input: input, filter: filter, shape: padded)[4] == 2)
  }

  /// Two groups of two channels, two filters per group, 1×1 kernel on one pixel.
  @Test func groupsTwo() {
    let s = Shape(n: 1, h: 1, w: 1, c: 4, o: 4, kh: 1, kw: 1, groups: 2)
    let input = Binary.pack([1, -1, -1, -1], channels: 2, groups: 2)
    #expect(input == [0b10, 0b11])
    let filter = Binary.pack([1, 1, -1, 1, 1, 1, -1, -1], channels: 2)
    #expect(filter == [0b00, 0b01, 0b00, 0b11])
    // Group 0 sees [1, −1]: [1,1] → 0, [−1,1] → −2. Group 1 sees [−1, −1]: [1,1] → −2, [−1,−1] → 2.
    let expected: [Int32] = [0, -2, -2, 2]
    #expect(Binary.Reference.conv2d(input: input, filter: filter, shape: s) == expected)
    #expect(Binary.Optimized.conv2d(input: input, filter: filter, shape: s) == expected)
  }

  @Test func denseHandComputed() {
    // c = 33: rows differ in channel 0 and channel 32.
    var a = [Double](repeating: 1, count: 33)
    a[32] = -1
    var w = [Double](repeating: 1, count: 33)
    w[0] = -1
    let input = Binary.pack(a + a, channels: 33)
    let filter = Binary.pack(w + a, channels: 33)
    let expected: [Int32] = [29, 33, 29, 33]
    #expect(Binary.Reference.dense(input: input, filter: filter, n: 2, c: 33, o: 2) == expected)
    #expect(Binary.Optimized.dense(input: input, filter: filter, n: 2, c: 33, o: 2) == expected)
  }

  @Test func outputSizes() {
    let s = Shape(n: 1, h: 5, w: 7, c: 1, o: 1, kh: 3, kw: 2, strideH: 2, strideW: 3, padTop: 1, dilationW: 3)
    #expect(s.outH == 2)  // (5 + 1 − 2 − 1) / 2 + 1
    #expect(s.outW == 2)  // (7 − 3 − 1) / 3 + 1
    let tooSmall = Shape(n: 1, h: 2, w: 2, c: 1, o: 1, kh: 3, kw: 3)
    #expect(tooSmall.outH == 0 && tooSmall.outW == 0)
    let nineZeros = [UInt32](repeating: 0, count: 9)
    #expect(Binary.Optimized.conv2d(input: [0, 0, 0, 0], filter: nineZeros, shape: tooSmall) == [])
    #expect(Binary.Reference.conv2d(input: [0, 0, 0, 0], filter: nineZeros, shape: tooSmall) == [])
  }
}

// MARK: - Output transforms

extension BinaryTests {
  @Test func floatTransform() {
    let t = Binary.OutputTransform.float(multiplier: [0.5, -2], bias: [1, 0.25], clampMin: -4, clampMax: 8)
    // 3·0.5+1; clamp(−5)=−4 → −4·−2+0.25; clamp(10)=8 → 8·0.5+1; 0·−2+0.25.
    #expect(Binary.transform([3, -5, 10, 0], channels: 2, t) == [2.5, 8.25, 5, 0.25])
  }

  @Test func floatTransformRoundsTwice() {
    // 3·0.1 = 0.30000000000000004 (rounded), then − 0.3: not the fused result.
    let t = Binary.OutputTransform.float(multiplier: [0.1], bias: [-0.3], clampMin: -10, clampMax: 10)
    let y = Binary.transform([3], channels: 1, t)[0]
    #expect(y == 5.551115123125783e-17)
    #expect(y != (-0.3).addingProduct(3, 0.1))  // FMA would give 2.7755575615628914e-17
  }

  @Test func int8TransformTiesAndSaturation() {
    let t = Binary.OutputTransform.int8(multiplier: [0.5], bias: [0], clampMin: -1000, clampMax: 1000)
    // 2.5 → 3, −2.5 → −3, 0.5 → 1, −0.5 → −1, 1.5 → 2, 200 → 127, −200 → −128.
    #expect(Binary.transform([5, -5, 1, -1, 3, 400, -400], channels: 1, t) == [3, -3, 1, -1, 2, 127, -128])
    let clamped = Binary.OutputTransform.int8(multiplier: [0.5], bias: [0], clampMin: -2, clampMax: 2)
    #expect(Binary.transform([5, -5], channels: 1, clamped) == [1, -1])
    let biased = Binary.OutputTransform.int8(multiplier: [1], bias: [-0.5], clampMin: -9, clampMax: 9)
    #expect(Binary.transform([3, -2, 0], channels: 1, biased) == [3, -3, -1])  // 2.5, −2.5, −0.5
  }

  @Test func int8TransformNonFinite() {
    let t = Binary.OutputTransform.int8(
      multiplier: [.infinity, .nan], bias: [0, 0], clampMin: -9, clampMax: 9)
    // inf·1 = inf → 127; NaN → 0; inf·0 = NaN → 0; inf·−1 → −128.
    #expect(Binary.transform([1, 1, 0, 0, -1, 5], channels: 2, t) == [127, 0, 0, 0, -128, 0])
  }

  @Test func bitpackedTransformThreshold() {
    let t = Binary.OutputTransform.bitpacked(threshold: [0, 3])
    // dot == threshold → +1; dot < threshold → −1.
    let y = Binary.transform([0, 3, -1, 2, 5, 4], channels: 2, t)
    #expect(y == [1, 1, -1, -1, 1, 1])
    #expect(Binary.pack(y, channels: 2) == [0, 0b11, 0])
  }
}

// MARK: - Randomized: Reference vs Optimized, Reference vs float

extension BinaryTests {
  @Test(arguments: LowBitPath.allCases) func optimizedConvMatchesReference(path: LowBitPath) {
    onPath(path) {
      var rng = SplitMix64(seed: 2024)
      var tablePath = 0
      for i in 0..<320 {
        let s = Self.randomShape(&rng, large: i % 5 == 0)
        if s.n * s.outH * s.outW >= 64 { tablePath += 1 }
        let (input, filter) = Self.operands(s, &rng)
        let reference = Binary.Reference.conv2d(input: input, filter: filter, shape: s)
        let optimized = Binary.Optimized.conv2d(input: input, filter: filter, shape: s)
        #expect(reference.count == s.n * s.outH * s.outW * s.o)
        #expect(optimized == reference, "\(s)")
        if optimized != reference { return }
      }
      #expect(tablePath >= 60)
    }
  }

  @Test(arguments: LowBitPath.allCases) func kernelsIgnoreTailBits(path: LowBitPath) {
    onPath(path) {
      var rng = SplitMix64(seed: 99)
      for large in [false, true] {
        var s = Self.randomShape(&rng, large: large)
        s.c = 37 * s.groups  // 5 tail bits per group
        let (input, filter) = Self.operands(s, &rng)
        let dirty = { (words: [UInt32]) in
          words.enumerated().map { $0.offset % 2 == 1 ? $0.element | 0xFFFF_FFE0 : $0.element }
        }
        let clean = Binary.Reference.conv2d(input: input, filter: filter, shape: s)
        #expect(Binary.Reference.conv2d(input: dirty(input), filter: dirty(filter), shape: s) == clean)
        #expect(Binary.Optimized.conv2d(input: dirty(input), filter: dirty(filter), shape: s) == clean)
      }
    }
  }

  @Test func referenceZeroPaddingIsFloatConv() {
    var rng = SplitMix64(seed: 31)
    for i in 0..<60 {
      var s = Self.randomShape(&rng, large: i % 6 == 0)
      s.padding = .zero
      let cg = s.c / s.groups
      let x = Self.signs(s.n * s.h * s.w * s.c, &rng)
      let f = Self.signs(s.o * s.kh * s.kw * cg, &rng)
      let input = Binary.pack(x, channels: cg, groups: s.groups)
      let dots = Binary.Reference.conv2d(input: input, filter: Binary.pack(f, channels: cg), shape: s)
      #expect(dots.map { Double($0) } == Self.floatConv(x, f, s), "\(s)")
    }
  }

  @Test(arguments: LowBitPath.allCases) func optimizedDenseMatchesReference(path: LowBitPath) {
    onPath(path) {
      var rng = SplitMix64(seed: 5)
      var shapes: [(n: Int, c: Int, o: Int)] = []
      for _ in 0..<40 { shapes.append((rng.int(in: 0...5), rng.int(in: 1...200), rng.int(in: 1...10))) }
      // Larger ones run on byte tables; 2600 channels = 325 row bytes also drain the 16-bit counters twice.
      shapes += [
        (n: 70, c: 100, o: 40), (n: 64, c: 33, o: 32), (n: 100, c: 257, o: 3), (n: 80, c: 2600, o: 64),
        // 9000 channels = 1125 row bytes = 2250 nibbles: the AVX2 byte counters are flushed every 63.
        (n: 5, c: 9000, o: 6),
        // 70001 channels: more than the AVX2 kernel's 16380-nibble segments (its uint16 counters).
        (n: 5, c: 70001, o: 33),
      ]
      for (n, c, o) in shapes {
        let input = Binary.pack(Self.signs(n * c, &rng), channels: c)
        let filter = Binary.pack(Self.signs(o * c, &rng), channels: c)
        let reference = Binary.Reference.dense(input: input, filter: filter, n: n, c: c, o: o)
        #expect(reference.count == n * o)
        #expect(
          Binary.Optimized.dense(input: input, filter: filter, n: n, c: c, o: o) == reference,
          "\(n) \(c) \(o)")
      }
      // Every bit differs: counts of 70001 per pair, beyond uint16, and dots of −70001.
      let allMinus = Binary.pack([Double](repeating: -1, count: 2 * 70001), channels: 70001)
      let allPlus = Binary.pack([Double](repeating: 1, count: 3 * 70001), channels: 70001)
      #expect(
        Binary.Optimized.dense(input: allMinus, filter: allPlus, n: 2, c: 70001, o: 3)
          == [Int32](repeating: -70001, count: 6))
      // Against a plain dot product of the unpacked values.
      let input = Binary.pack(Self.signs(3 * 50, &rng), channels: 50)
      let filter = Binary.pack(Self.signs(2 * 50, &rng), channels: 50)
      let a = Binary.unpack(input, channels: 50, outer: 3)
      let w = Binary.unpack(filter, channels: 50, outer: 2)
      var plain: [Double] = []
      for i in 0..<3 {
        for j in 0..<2 {
          var dot = 0.0
          for k in 0..<50 { dot += a[i * 50 + k] * w[j * 50 + k] }
          plain.append(dot)
        }
      }
      #expect(
        Binary.Reference.dense(input: input, filter: filter, n: 3, c: 50, o: 2).map { Double($0) } == plain)
    }
  }
}
