import Kernels
import Tensors
import Testing

/// Runs `body` with the optimized low-bit kernels forced onto `path`. A path this CPU lacks is
/// reported as not run, as a known issue naming the path (the test output lists it, and the run
/// summary counts it), never passed silently; the portable path and every supported path run.
/// (`Test.cancel` would fit better, but Swift 6.3.1's console output does not show cancelled test
/// cases at all.)
func onPath(_ path: LowBitPath, _ body: () throws -> Void) rethrows {
  guard path.isSupported else {
    withKnownIssue("not run: this CPU lacks the \(path) low-bit path") {
      Issue.record("not run: this CPU lacks the \(path) path (supported: \(LowBitPath.supported))")
    }
    return
  }
  try LowBitPath.withPath(path, body)
}

/// `Quant.Optimized.gemmS16` of `a` [m, k] and `b` [k, n] on the current path (`c` starts as 7s, which
/// the kernel must overwrite), and the kernel that ran.
func gemmS16(_ a: [Int16], _ b: [Int16], m: Int, k: Int, n: Int) -> ([Int32], Quant.Optimized.GEMMKernel) {
  var c = [Int32](repeating: 7, count: m * n)
  let kernel = a.withUnsafeBufferPointer { pa in
    b.withUnsafeBufferPointer { pb in
      c.withUnsafeMutableBufferPointer { pc in
        Quant.Optimized.gemmS16(pa.baseAddress!, pb.baseAddress!, pc.baseAddress!, m: m, k: k, n: n)
      }
    }
  }
  return (c, kernel)
}

/// The int32 product with two's-complement wraparound, one multiply-add at a time.
func naiveS16Product(_ a: [Int16], _ b: [Int16], m: Int, k: Int, n: Int) -> [Int32] {
  var expected = [Int32](repeating: 0, count: m * n)
  for i in 0..<m {
    for j in 0..<n {
      for p in 0..<k { expected[i * n + j] &+= Int32(a[i * k + p]) &* Int32(b[p * n + j]) }
    }
  }
  return expected
}

/// The path machinery itself; the bit-exactness of each path against the reference kernels is checked by
/// the randomized tests of `QuantizedGEMMTests` and `BinaryTests`, which run once per `LowBitPath`.
@Suite struct LowBitPathTests {
  @Test func portableIsAlwaysSupportedAndPathsAreOrdered() {
    #expect(LowBitPath.portable.isSupported)
    #expect(LowBitPath.supported.first == .portable)
    #expect(LowBitPath.supported == LowBitPath.supported.sorted())
    #expect(LowBitPath.best == LowBitPath.supported.last)
    // AVX-512 here implies AVX2 (the avx512 path falls back to the AVX2 GEMM kernel).
    if LowBitPath.avx512.isSupported { #expect(LowBitPath.avx2.isSupported) }
  }

  @Test func namesAndLowering() {
    #expect(LowBitPath.allCases.map(\.description) == ["portable", "avx2", "avx512"])
    #expect(LowBitPath.allCases.map { LowBitPath(name: $0.description) } == LowBitPath.allCases)
    #expect(LowBitPath(name: "sse") == nil)
    #expect(LowBitPath.portable.lowered == .portable)
    #expect(LowBitPath.avx512.lowered == LowBitPath.best)
    for path in LowBitPath.supported { #expect(path.lowered == path) }
  }

  @Test func withPathIsScopedToItsBody() {
    let outside = LowBitPath.current
    #expect(outside == LowBitPath.processDefault)
    for path in LowBitPath.supported {
      LowBitPath.withPath(path) { #expect(LowBitPath.current == path) }
    }
    #expect(LowBitPath.current == outside)
  }

  /// `gemmS16` on each path: which kernel runs (the VNNI kernel exactly when every row of A and column
  /// of B spans at most 256 values) and the exact wrapped product, on operands chosen at the edges:
  /// u8 255 × s8 127 pairs (what `vpmaddubsw` would saturate: 2·255·127 = 64770 > 32767), rows spanning
  /// exactly 256 values, −32768² pairs (wraps to INT32_MIN), and k not a multiple of 2 or 4.
  @Test(arguments: LowBitPath.allCases) func gemmS16KernelsAndEdgeOperands(path: LowBitPath) {
    onPath(path) {
      func product(_ a: [Int16], _ b: [Int16], _ m: Int, _ k: Int, _ n: Int) -> (
        [Int32], Quant.Optimized.GEMMKernel
      ) {
        let (c, kernel) = gemmS16(a, b, m: m, k: k, n: n)
        #expect(c == naiveS16Product(a, b, m: m, k: k, n: n), "\(path) m \(m) k \(k) n \(n)")
        return (c, kernel)
      }
      let eightBit: Quant.Optimized.GEMMKernel =
        switch path {
        case .portable: .swiftS16
        case .avx2: .avx2S16
        case .avx512: .vnniU8S8
        }
      let wide: Quant.Optimized.GEMMKernel = path == .portable ? .swiftS16 : .avx2S16

      // 255 × 127 everywhere: 37 · 255 · 127 per element.
      let (c, kernel) = product(
        [Int16](repeating: 255, count: 3 * 37), [Int16](repeating: 127, count: 37 * 5), 3, 37, 5)
      #expect(kernel == eightBit)
      #expect(c == [Int32](repeating: 37 * 255 * 127, count: 15))

      // Rows and columns spanning exactly 256 values, offset far from zero; random shapes crossing
      // the register tiles and the k blocks of every kernel.
      var rng = SplitMix64(seed: 0x10B1)
      for trial in 0..<24 {
        let (m, k, n) = (
          rng.int(in: 1...40), trial % 6 == 0 ? rng.int(in: 500...1100) : rng.int(in: 1...70),
          rng.int(in: 1...70)
        )
        let aLow = Int16(rng.int(in: -300...300))
        let bLow = Int16(rng.int(in: -300...300))
        var a = (0..<(m * k)).map { _ in aLow + Int16(rng.int(in: 0...255)) }
        var b = (0..<(k * n)).map { _ in bLow + Int16(rng.int(in: 0...255)) }
        a[0] = aLow
        a[a.count - 1] = aLow + 255
        b[0] = bLow
        b[b.count - 1] = bLow + 255
        #expect(product(a, b, m, k, n).1 == eightBit, "trial \(trial)")
        // One row (then one column) spanning 257 values: the VNNI kernel declines.
        if k >= 2 {
          var wider = a
          wider[0] = aLow - 1
          wider[1] = aLow + 255
          #expect(product(wider, b, m, k, n).1 == wide, "trial \(trial)")
        }
        if k >= 2 && n >= 1 {
          var wider = b
          wider[0] = bLow - 1
          wider[n] = bLow + 255
          #expect(product(a, wider, m, k, n).1 == wide, "trial \(trial)")
        }
      }

      // (−32768)·(−32768)·2 = 2^31 wraps to INT32_MIN in every kernel. Both operands span one value,
      // so VNNI runs here too: its correction terms alone must wrap to the same INT32_MIN.
      let (corner, cornerKernel) = product([-32768, -32768], [-32768, -32768], 1, 2, 1)
      #expect(corner == [Int32.min])
      #expect(cornerKernel == eightBit)
    }
  }
}
