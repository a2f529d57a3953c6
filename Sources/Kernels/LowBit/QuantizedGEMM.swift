import CLowBit

// Integer GEMM and convolution accumulators for quantized kernels: a plain reference and an
// optimized (zero-point-offset int16, cache-blocked, SIMD) version that agrees with it bit for bit.
//
// Arithmetic contract shared by both: every accumulator is an int32 with two's-complement
// wraparound, i.e. the exact integer sum of `(q − zp)·(w − zpW)` products (+ bias) reduced
// modulo 2^32. For 8-bit operands no wrap ever happens in practice; the contract only pins down
// what out-of-range inputs produce. The int16 GEMM at the core of the optimized version dispatches at
// run time to C SIMD kernels (`CLowBit`, see `LowBitPath`); everything else is plain Swift.

/// Shape and hyper-parameters of a 2-D convolution over NCHW input.
///
/// - Input `[n, c, h, w]`; weight `[o, c / groups, kh, kw]`; output `[n, o, outH, outW]`.
/// - Output channel `oc` belongs to group `oc / (o / groups)` and reads input channels
///   `g · (c / groups) ..< (g + 1) · (c / groups)`.
/// - Output pixel `(y, x)` reads input row `y · strideH − padTop + i · dilationH` for kernel row `i`
///   (columns likewise); rows/columns outside the image are padding.
public struct QConv2DShape: Hashable, Sendable {
  /// Batch size.
  public var n: Int
  /// Input channels (a multiple of `groups`).
  public var c: Int
  /// Input height.
  public var h: Int
  /// Input width.
  public var w: Int
  /// Output channels (a multiple of `groups`).
  public var o: Int
  /// Kernel height.
  public var kh: Int
  /// Kernel width.
  public var kw: Int
  /// Vertical stride (>= 1).
  public var strideH: Int
  /// Horizontal stride (>= 1).
  public var strideW: Int
  /// Padding rows above the image (>= 0).
  public var padTop: Int
  /// Padding columns left of the image (>= 0).
  public var padLeft: Int
  /// Padding rows below the image (>= 0).
  public var padBottom: Int
  /// Padding columns right of the image (>= 0).
  public var padRight: Int
  /// Vertical dilation (>= 1).
  public var dilationH: Int
  /// Horizontal dilation (>= 1).
  public var dilationW: Int
  /// Number of groups (>= 1; `groups == c == o` is a depthwise convolution).
  public var groups: Int

  /// Creates a shape with every field labelled; stride, padding, dilation and groups default to a
  /// plain (1, 0, 1, 1) convolution. Validity is checked by the kernels, not here.
  public init(
    n: Int, c: Int, h: Int, w: Int, o: Int, kh: Int, kw: Int,
    strideH: Int = 1, strideW: Int = 1,
    padTop: Int = 0, padLeft: Int = 0, padBottom: Int = 0, padRight: Int = 0,
    dilationH: Int = 1, dilationW: Int = 1, groups: Int = 1
  ) {
    self.n = n
    self.c = c
    self.h = h
    self.w = w
    self.o = o
    self.kh = kh
    self.kw = kw
    self.strideH = strideH
    self.strideW = strideW
    self.padTop = padTop
    self.padLeft = padLeft
    self.padBottom = padBottom
    self.padRight = padRight
    self.dilationH = dilationH
    self.dilationW = dilationW
    self.groups = groups
  }

  /// Output height `(h + padTop + padBottom − dilationH·(kh − 1) − 1) / strideH + 1` (floor
  /// division), or 0 when the dilated kernel does not fit in the padded input.
  public var outH: Int { Self.outSize(h, padTop + padBottom, kh, dilationH, strideH) }

  /// Output width `(w + padLeft + padRight − dilationW·(kw − 1) − 1) / strideW + 1` (floor
  /// division), or 0 when the dilated kernel does not fit in the padded input.
  public var outW: Int { Self.outSize(w, padLeft + padRight, kw, dilationW, strideW) }

  private static func outSize(_ size: Int, _ pads: Int, _ k: Int, _ d: Int, _ s: Int) -> Int {
    let span = size + pads - d * (k - 1) - 1
    return span < 0 ? 0 : span / s + 1
  }

  /// Checks the invariants the kernels rely on.
  func validate(_ who: String) {
    precondition(
      n >= 0 && c >= 0 && h >= 0 && w >= 0 && o >= 0 && kh >= 1 && kw >= 1,
      "\(who): sizes must be >= 0 and kernel sizes >= 1 (\(self))")
    precondition(
      strideH >= 1 && strideW >= 1 && dilationH >= 1 && dilationW >= 1,
      "\(who): strides and dilations must be >= 1 (\(self))")
    precondition(
      padTop >= 0 && padLeft >= 0 && padBottom >= 0 && padRight >= 0, "\(who): pads must be >= 0 (\(self))")
    precondition(
      groups >= 1 && c % groups == 0 && o % groups == 0,
      "\(who): groups must be >= 1 and divide both c and o (\(self))")
  }
}

// MARK: - Reference

extension Quant {
  /// Obviously-correct integer kernels: plain loops, Int64 wrapping (`&+`, `&*`) accumulation,
  /// truncated to Int32 at the end. Since both steps are arithmetic modulo a power of two, the
  /// result is exactly the int32 two's-complement wraparound of the true sum.
  public enum Reference {
    /// Quantized matrix product accumulators, row-major:
    /// `C[i, j] = Σ_p (A[i, p] − zeroPointA) · (B[p, j] − zpB[j]) + bias[j]`, wrapped to Int32,
    /// where `zpB[j]` is `zeroPointB[j]` (per output column / channel) or `zeroPointB[0]` (per
    /// tensor). `A` is `m×k`, `B` is `k×n`, `C` is `m×n`. `k == 0` gives `C = bias` (or zeros).
    ///
    /// - Precondition: `a.count == m·k`, `b.count == k·n`, `zeroPointB.count` is 1 or `n`,
    ///   `bias` is nil or has `n` elements, and `m, k, n >= 0`.
    public static func gemm(
      a: [Int32], zeroPointA: Int32, b: [Int32], zeroPointB: [Int32], bias: [Int32]?, m: Int, k: Int, n: Int
    ) -> [Int32] {
      Quant.checkGEMM(
        "Reference.gemm", aCount: a.count, bCount: b.count, zeroPointB.count, bias?.count, m, k, n)
      var c = [Int32](repeating: 0, count: m * n)
      for i in 0..<m {
        for j in 0..<n {
          let zb = Int64(zeroPointB.count == 1 ? zeroPointB[0] : zeroPointB[j])
          var acc: Int64 = bias.map { Int64($0[j]) } ?? 0
          for p in 0..<k {
            acc = acc &+ (Int64(a[i * k + p]) - Int64(zeroPointA)) &* (Int64(b[p * n + j]) - zb)
          }
          c[i * n + j] = Int32(truncatingIfNeeded: acc)
        }
      }
      return c
    }

    /// Direct 7-loop convolution accumulators over NCHW input (see `QConv2DShape` for the index
    /// map): `out[b, oc, y, x] = bias[oc] + Σ_{ic ∈ group, i, j} (in[b, ic, iy, ix] − zeroPointInput)
    /// · (w[oc, ic − g·c/groups, i, j] − zpW[oc])`, wrapped to Int32.
    ///
    /// Taps outside the image are skipped: they contribute `(zpIn − zpIn) = 0`, i.e. the input is
    /// padded with its zero point (real 0), as in TFLite's reference conv. `zpW[oc]` is
    /// `zeroPointWeight[oc]` (per output channel) or `zeroPointWeight[0]` (per tensor).
    /// Returns `[n, o, outH, outW]`.
    ///
    /// - Precondition: the shape is valid (sizes >= 0, kernel/stride/dilation/groups >= 1,
    ///   pads >= 0, groups divide c and o); `input.count == n·c·h·w`,
    ///   `weight.count == o·(c/groups)·kh·kw`, `zeroPointWeight.count` is 1 or `o`, `bias` is nil or
    ///   has `o` elements.
    public static func conv2d(
      input: [Int32], zeroPointInput: Int32, weight: [Int32], zeroPointWeight: [Int32], bias: [Int32]?,
      shape s: QConv2DShape
    ) -> [Int32] {
      Quant.checkConv(
        "Reference.conv2d", inputCount: input.count, weightCount: weight.count, zeroPointWeight.count,
        bias?.count, s)
      let (outH, outW) = (s.outH, s.outW)
      let cg = s.c / s.groups
      let og = s.o / s.groups
      var out = [Int32](repeating: 0, count: s.n * s.o * outH * outW)
      for b in 0..<s.n {
        for oc in 0..<s.o {
          let g = oc / og
          let zw = Int64(zeroPointWeight.count == 1 ? zeroPointWeight[0] : zeroPointWeight[oc])
          for y in 0..<outH {
            for x in 0..<outW {
              var acc: Int64 = bias.map { Int64($0[oc]) } ?? 0
              for icg in 0..<cg {
                let ic = g * cg + icg
                for i in 0..<s.kh {
                  let iy = y * s.strideH - s.padTop + i * s.dilationH
                  if iy < 0 || iy >= s.h { continue }
                  for j in 0..<s.kw {
                    let ix = x * s.strideW - s.padLeft + j * s.dilationW
                    if ix < 0 || ix >= s.w { continue }
                    let v = Int64(input[((b * s.c + ic) * s.h + iy) * s.w + ix]) - Int64(zeroPointInput)
                    let wv = Int64(weight[((oc * cg + icg) * s.kh + i) * s.kw + j]) - zw
                    acc = acc &+ v &* wv
                  }
                }
              }
              out[((b * s.o + oc) * outH + y) * outW + x] = Int32(truncatingIfNeeded: acc)
            }
          }
        }
      }
      return out
    }
  }
}

// MARK: - Optimized: public entry points

extension Quant {
  /// Fast integer kernels, bit-identical to `Reference` for every input, on every `LowBitPath`.
  ///
  /// Zero points are subtracted once (int32 wrapping `&-`) while converting the operands to int16
  /// panels; `(q − zp)` fits in 16 bits for any 8-bit `q` and `zp`. The product then runs in
  /// `gemmS16`, a cache-blocked int16×int16→int32 GEMM whose inner kernel is a `pmaddwd`-shaped
  /// pairwise multiply-add on `SIMD8<Int16>` with wrapping int32 accumulation. Because all of it is
  /// arithmetic modulo 2^32, it equals the reference's wrapped Int64 sums exactly. If some offset
  /// operand does not fit in int16 (not 8-bit data), the same products run through a plain
  /// wrapping-int32 GEMM instead, with the same result. Weights may be given int4-packed
  /// (`Quant.packInt4` layout over the row-major element order).
  public enum Optimized {
    /// Same contract and result as `Reference.gemm` (see there), computed by the blocked int16 GEMM.
    public static func gemm(
      a: [Int32], zeroPointA: Int32, b: [Int32], zeroPointB: [Int32], bias: [Int32]?, m: Int, k: Int, n: Int
    ) -> [Int32] {
      Quant.checkGEMM(
        "Optimized.gemm", aCount: a.count, bCount: b.count, zeroPointB.count, bias?.count, m, k, n)
      return b.withUnsafeBufferPointer { pb in
        gemmOffsetting(a: a, zeroPointA: zeroPointA, zeroPointB: zeroPointB, bias: bias, m: m, k: k, n: n) {
          p, j in pb[p * n + j]
        }
      }
    }

    /// `gemm` with `B` given int4-packed: element `B[p, j]` is nibble `p·n + j` of `int4B` (low
    /// nibble first, see `Quant.packInt4`), sign-extended to `-8...7` before `zeroPointB` is
    /// subtracted. Equals `Reference.gemm` on `Quant.unpackInt4(int4B, count: k·n)`.
    ///
    /// - Precondition: `int4B.count >= (k·n + 1) / 2`; otherwise as `Reference.gemm`.
    public static func gemm(
      a: [Int32], zeroPointA: Int32, int4B: [UInt8], zeroPointB: [Int32], bias: [Int32]?, m: Int, k: Int,
      n: Int
    ) -> [Int32] {
      precondition(int4B.count >= (k * n + 1) / 2, "Optimized.gemm: int4B has too few bytes for k·n")
      Quant.checkGEMM(
        "Optimized.gemm", aCount: a.count, bCount: k * n, zeroPointB.count, bias?.count, m, k, n)
      return int4B.withUnsafeBufferPointer { pb in
        gemmOffsetting(a: a, zeroPointA: zeroPointA, zeroPointB: zeroPointB, bias: bias, m: m, k: k, n: n) {
          p, j in
          let e = p * n + j
          return Quant.int4(pb[e >> 1], high: e & 1 == 1)
        }
      }
    }

    /// Same contract and result as `Reference.conv2d` (see there): im2col of the zero-point-offset
    /// input into an int16 `[c/groups·kh·kw, outH·outW]` matrix (padding taps are 0 after the
    /// offset, i.e. padding with the input zero point), then the blocked GEMM
    /// `W_g[o/groups, c/groups·kh·kw] · col` per batch element and group. A 1×1, stride-1, unpadded
    /// convolution skips im2col.
    public static func conv2d(
      input: [Int32], zeroPointInput: Int32, weight: [Int32], zeroPointWeight: [Int32], bias: [Int32]?,
      shape: QConv2DShape
    ) -> [Int32] {
      Quant.checkConv(
        "Optimized.conv2d", inputCount: input.count, weightCount: weight.count, zeroPointWeight.count,
        bias?.count, shape)
      return weight.withUnsafeBufferPointer { pw in
        convOffsetting(
          input: input, zeroPointInput: zeroPointInput, zeroPointWeight: zeroPointWeight,
          bias: bias, shape: shape
        ) { e in pw[e] }
      }
    }

    /// `conv2d` with the weight given int4-packed: element `e` of the `[o, c/groups, kh, kw]` weight
    /// is nibble `e` of `int4Weight` (low nibble first, see `Quant.packInt4`), sign-extended to
    /// `-8...7` before its zero point is subtracted. Equals `Reference.conv2d` on the unpacked weight.
    ///
    /// - Precondition: `int4Weight.count >= (o·(c/groups)·kh·kw + 1) / 2`; otherwise as
    ///   `Reference.conv2d`.
    public static func conv2d(
      input: [Int32], zeroPointInput: Int32, int4Weight: [UInt8], zeroPointWeight: [Int32], bias: [Int32]?,
      shape: QConv2DShape
    ) -> [Int32] {
      shape.validate("Optimized.conv2d")
      let count = shape.o * (shape.c / shape.groups) * shape.kh * shape.kw
      precondition(int4Weight.count >= (count + 1) / 2, "Optimized.conv2d: int4Weight has too few bytes")
      Quant.checkConv(
        "Optimized.conv2d", inputCount: input.count, weightCount: count, zeroPointWeight.count,
        bias?.count, shape)
      return int4Weight.withUnsafeBufferPointer { pw in
        convOffsetting(
          input: input, zeroPointInput: zeroPointInput, zeroPointWeight: zeroPointWeight,
          bias: bias, shape: shape
        ) { e in Quant.int4(pw[e >> 1], high: e & 1 == 1) }
      }
    }

    /// The raw kernel, for benchmarks and for callers holding pre-offset operands:
    /// `C[i, j] = Σ_p A[i, p] · B[p, j]` over row-major int16 `A` (`m×k`) and `B` (`k×n`), written
    /// (not accumulated) into row-major `C` (`m×n`). Products are exact; sums wrap modulo 2^32
    /// (two's complement), as `pmaddwd` + `paddd` do. `k == 0` writes zeros.
    ///
    /// Blocking (BLIS order jc → pc → ic → jr → ir): `B` is packed per `kc×nc` block into 8-column
    /// panels of interleaved row pairs, `A` per `mc×kc` block into 6-row panels whose `(A[i, 2p],
    /// A[i, 2p+1])` pairs are pre-broadcast to 16 bytes; the 6×8 register tile (12 `SIMD4<Int32>`
    /// accumulators) then needs only loads and multiply-adds, which lowers to `pmaddwd`/`paddd` on
    /// the baseline x86-64 (SSE2) target. Packing buffers are allocated per call; nothing is cached
    /// across calls.
    ///
    /// Runs on the path `LowBitPath.current`: this Swift kernel (`portable`), the C AVX2 kernel
    /// (`vpmaddwd` on 256-bit vectors, 6×16 tile), or the C AVX-512 VNNI kernel (`vpdpbusd` on the
    /// operands shifted to u8×s8 per row of `A` and column of `B`, then corrected; it applies when
    /// every row and column spans at most 256 values, as 8-bit data minus zero points does, else the
    /// AVX2 kernel runs). All three give the same result (see `Sources/CLowBit/qgemm.c`).
    ///
    /// - Returns: the kernel that ran.
    /// - Precondition: `m, k, n >= 0`; the pointers address at least `m·k`, `k·n`, `m·n` elements.
    @discardableResult
    public static func gemmS16(
      _ a: UnsafePointer<Int16>, _ b: UnsafePointer<Int16>, _ c: UnsafeMutablePointer<Int32>,
      m: Int, k: Int, n: Int
    ) -> GEMMKernel {
      precondition(m >= 0 && k >= 0 && n >= 0, "gemmS16: sizes must be >= 0")
      switch LowBitPath.current {
      case .avx512:
        if lowbit_gemm_s16_vnni(a, b, c, m, k, n) != 0 { return .vnniU8S8 }
        lowbit_gemm_s16_avx2(a, b, c, m, k, n)
        return .avx2S16
      case .avx2:
        lowbit_gemm_s16_avx2(a, b, c, m, k, n)
        return .avx2S16
      case .portable:
        gemmS16Portable(a, b, c, m: m, k: k, n: n)
        return .swiftS16
      }
    }

    /// The kernels behind `gemmS16`.
    public enum GEMMKernel: String, Sendable {
      /// The Swift `SIMD8<Int16>` kernel (`portable`).
      case swiftS16 = "swift int16"
      /// The C AVX2 `vpmaddwd` kernel.
      case avx2S16 = "avx2 vpmaddwd int16"
      /// The C AVX-512 VNNI `vpdpbusd` kernel on operands shifted to u8×s8.
      case vnniU8S8 = "avx512 vpdpbusd u8s8"
    }

    /// The Swift `gemmS16` kernel (the `portable` path).
    static func gemmS16Portable(
      _ a: UnsafePointer<Int16>, _ b: UnsafePointer<Int16>, _ c: UnsafeMutablePointer<Int32>,
      m: Int, k: Int, n: Int
    ) {
      if m == 0 || n == 0 { return }
      if k == 0 {
        c.update(repeating: 0, count: m * n)
        return
      }
      let kcMax = Swift.min(kcBlock, k + (k & 1))
      let ncMax = Swift.min(ncBlock, roundUp(n, nr))
      let mcMax = Swift.min(mcBlock, roundUp(m, mr))
      let bPack = UnsafeMutablePointer<Int16>.allocate(capacity: kcMax * roundUp(ncMax, nr))
      let aPack = UnsafeMutablePointer<SIMD4<Int32>>.allocate(capacity: (kcMax / 2) * roundUp(mcMax, mr))
      defer {
        bPack.deallocate()
        aPack.deallocate()
      }
      var jc = 0
      while jc < n {
        let nc = Swift.min(ncMax, n - jc)
        var pc = 0
        while pc < k {
          let kc = Swift.min(kcMax, k - pc)
          let kp = (kc + 1) / 2
          packB(b + pc * n + jc, ldb: n, kc: kc, nc: nc, into: bPack)
          var ic = 0
          while ic < m {
            let mc = Swift.min(mcMax, m - ic)
            packA(a + ic * k + pc, lda: k, mc: mc, kc: kc, into: aPack)
            var jr = 0
            while jr < nc {
              let pb = UnsafeRawPointer(bPack + jr * kp * 2)
              var ir = 0
              while ir < mc {
                kernel6x8(
                  aPack + ir * kp, pb, kp: kp, c: c + (ic + ir) * n + jc + jr, ldc: n,
                  rows: Swift.min(mr, mc - ir), cols: Swift.min(nr, nc - jr), accumulate: pc > 0)
                ir += mr
              }
              jr += nr
            }
            ic += mc
          }
          pc += kc
        }
        jc += nc
      }
    }
  }
}

// MARK: - Optimized: blocking parameters and packing

extension Quant.Optimized {
  /// Register tile rows (6 pre-broadcast A row pairs per k-pair).
  static let mr = 6
  /// Register tile columns (two `SIMD8<Int16>` B vectors of 4 interleaved column pairs each).
  static let nr = 8
  /// k block (even). Measured on Zen 3 (32 KiB L1d, 512 KiB L2): 512 beat 128 and 256 slightly;
  /// the `kc×8` B micro-panel (8 KiB) stays in L1 while the 6-row A panels stream from L2.
  static let kcBlock = 512
  /// m block (a multiple of `mr`): the pre-broadcast `mc×kc` A block is 4× the int16 size.
  static let mcBlock = 24
  /// n block: the packed `kc×nc` B block (1 MiB at most) is reused by every m block.
  static let ncBlock = 1024

  @inline(__always)
  static func roundUp(_ x: Int, _ to: Int) -> Int { (x + to - 1) / to * to }

  /// Packs `B[0..<kc, 0..<nc]` (row stride `ldb`) into `nr`-column panels, each `kp = ⌈kc/2⌉` rows
  /// of `2·nr` int16: `(B[2p, j], B[2p+1, j])` for `j` in the panel, zero beyond `kc` and `nc`.
  static func packB(
    _ b: UnsafePointer<Int16>, ldb: Int, kc: Int, nc: Int, into dst: UnsafeMutablePointer<Int16>
  ) {
    let kp = (kc + 1) / 2
    var out = dst
    var jr = 0
    while jr < nc {
      let cols = Swift.min(nr, nc - jr)
      for p in 0..<kp {
        let r0 = b + 2 * p * ldb + jr
        let hasR1 = 2 * p + 1 < kc
        if cols == nr && hasR1 {
          let r1 = r0 + ldb
          for j in 0..<8 {
            out[2 * j] = r0[j]
            out[2 * j + 1] = r1[j]
          }
        } else {
          for j in 0..<nr {
            out[2 * j] = j < cols ? r0[j] : 0
            out[2 * j + 1] = j < cols && hasR1 ? r0[ldb + j] : 0
          }
        }
        out += 2 * nr
      }
      jr += nr
    }
  }

  /// Packs `A[0..<mc, 0..<kc]` (row stride `lda`) into `mr`-row panels of `kp` steps; step `p` of
  /// row `i` is the pair `(A[i, 2p], A[i, 2p+1])` as one 32-bit lane broadcast to a `SIMD4<Int32>`
  /// (little-endian: the even element is the low half). Zero beyond `kc` and `mc`.
  static func packA(
    _ a: UnsafePointer<Int16>, lda: Int, mc: Int, kc: Int, into dst: UnsafeMutablePointer<SIMD4<Int32>>
  ) {
    let kp = (kc + 1) / 2
    let evenK = kc & ~1
    var out = dst
    var ir = 0
    while ir < mc {
      let rows = Swift.min(mr, mc - ir)
      for i in 0..<mr {
        if i >= rows {
          for p in 0..<kp { out[p * mr + i] = SIMD4() }
          continue
        }
        let row = UnsafeRawPointer(a + (ir + i) * lda)
        for p in 0..<(evenK / 2) {
          out[p * mr + i] = SIMD4(repeating: row.loadUnaligned(fromByteOffset: 4 * p, as: Int32.self))
        }
        if kc & 1 == 1 {
          let last = UInt16(bitPattern: a[(ir + i) * lda + kc - 1])
          out[(kp - 1) * mr + i] = SIMD4(repeating: Int32(bitPattern: UInt32(last)))
        }
      }
      out += mr * kp
      ir += mr
    }
  }

  /// `pmaddwd`: the pairwise products of `a` and `b` widened to int32, adjacent pairs summed
  /// (wrapping only for `(−32768)² + (−32768)²`).
  @inline(__always)
  static func madd(_ a: SIMD8<Int16>, _ b: SIMD8<Int16>) -> SIMD4<Int32> {
    let p = SIMD8<Int32>(truncatingIfNeeded: a) &* SIMD8<Int32>(truncatingIfNeeded: b)
    return p.evenHalf &+ p.oddHalf
  }

  /// The 6×8 register-tile micro-kernel over `kp` k-pairs. Writes (or, if `accumulate`, adds with
  /// wraparound into) the top-left `rows×cols` of the tile at `c`.
  @inline(__always)
  static func kernel6x8(
    _ pa: UnsafePointer<SIMD4<Int32>>, _ pb: UnsafeRawPointer, kp: Int, c: UnsafeMutablePointer<Int32>,
    ldc: Int, rows: Int, cols: Int, accumulate: Bool
  ) {
    var c00 = SIMD4<Int32>()
    var c01 = SIMD4<Int32>()
    var c10 = SIMD4<Int32>()
    var c11 = SIMD4<Int32>()
    var c20 = SIMD4<Int32>()
    var c21 = SIMD4<Int32>()
    var c30 = SIMD4<Int32>()
    var c31 = SIMD4<Int32>()
    var c40 = SIMD4<Int32>()
    var c41 = SIMD4<Int32>()
    var c50 = SIMD4<Int32>()
    var c51 = SIMD4<Int32>()
    var a = UnsafeRawPointer(pa)
    var b = pb
    for _ in 0..<kp {
      let b0 = b.loadUnaligned(as: SIMD8<Int16>.self)
      let b1 = b.loadUnaligned(fromByteOffset: 16, as: SIMD8<Int16>.self)
      var x = a.loadUnaligned(as: SIMD8<Int16>.self)
      c00 &+= madd(x, b0)
      c01 &+= madd(x, b1)
      x = a.loadUnaligned(fromByteOffset: 16, as: SIMD8<Int16>.self)
      c10 &+= madd(x, b0)
      c11 &+= madd(x, b1)
      x = a.loadUnaligned(fromByteOffset: 32, as: SIMD8<Int16>.self)
      c20 &+= madd(x, b0)
      c21 &+= madd(x, b1)
      x = a.loadUnaligned(fromByteOffset: 48, as: SIMD8<Int16>.self)
      c30 &+= madd(x, b0)
      c31 &+= madd(x, b1)
      x = a.loadUnaligned(fromByteOffset: 64, as: SIMD8<Int16>.self)
      c40 &+= madd(x, b0)
      c41 &+= madd(x, b1)
      x = a.loadUnaligned(fromByteOffset: 80, as: SIMD8<Int16>.self)
      c50 &+= madd(x, b0)
      c51 &+= madd(x, b1)
      a += 96
      b += 32
    }
    if rows == mr && cols == nr {
      let raw = UnsafeMutableRawPointer(c)
      @inline(__always) func put(_ row: Int, _ lo: SIMD4<Int32>, _ hi: SIMD4<Int32>) {
        let offset = 4 * row * ldc
        if accumulate {
          raw.storeBytes(
            of: lo &+ raw.loadUnaligned(fromByteOffset: offset, as: SIMD4<Int32>.self),
            toByteOffset: offset, as: SIMD4<Int32>.self)
          raw.storeBytes(
            of: hi &+ raw.loadUnaligned(fromByteOffset: offset + 16, as: SIMD4<Int32>.self),
            toByteOffset: offset + 16, as: SIMD4<Int32>.self)
        } else {
          raw.storeBytes(of: lo, toByteOffset: offset, as: SIMD4<Int32>.self)
          raw.storeBytes(of: hi, toByteOffset: offset + 16, as: SIMD4<Int32>.self)
        }
      }
      put(0, c00, c01)
      put(1, c10, c11)
      put(2, c20, c21)
      put(3, c30, c31)
      put(4, c40, c41)
      put(5, c50, c51)
      return
    }
    // Edge tile: spill the accumulators, copy the valid part.
    withUnsafeTemporaryAllocation(of: SIMD4<Int32>.self, capacity: 12) { tile in
      tile[0] = c00
      tile[1] = c01
      tile[2] = c10
      tile[3] = c11
      tile[4] = c20
      tile[5] = c21
      tile[6] = c30
      tile[7] = c31
      tile[8] = c40
      tile[9] = c41
      tile[10] = c50
      tile[11] = c51
      for i in 0..<rows {
        for j in 0..<cols {
          let v = tile[2 * i + j / 4][j % 4]
          c[i * ldc + j] = accumulate ? c[i * ldc + j] &+ v : v
        }
      }
    }
  }
}

// MARK: - Optimized: operand conversion, im2col, fallback

extension Quant.Optimized {
  /// Allocates `count` (at least 1) elements for the duration of `body`.
  @inline(__always)
  static func withScratch<T, R>(_ type: T.Type, _ count: Int, _ body: (UnsafeMutablePointer<T>) -> R) -> R {
    let p = UnsafeMutablePointer<T>.allocate(capacity: Swift.max(count, 1))
    defer { p.deallocate() }
    return body(p)
  }

  /// Writes the `rows×cols` values `value(r, c)` (row-major) to `dst` as `T`, truncating; returns
  /// whether every value fitted in `T` (for `T == Int32`, always true).
  @inline(__always)
  static func fill<T: FixedWidthInteger>(
    _ dst: UnsafeMutablePointer<T>, rows: Int, cols: Int, _ value: (Int, Int) -> Int32
  ) -> Bool {
    // `bad` collects the bits where some value differs from its truncation sign-extended back,
    // an OR reduction that vectorizes with SSE2 (unlike a min/max reduction).
    var bad: Int32 = 0
    for r in 0..<rows {
      let out = dst + r * cols
      for c in 0..<cols {
        let v = value(r, c)
        let t = T(truncatingIfNeeded: v)
        out[c] = t
        bad |= Int32(truncatingIfNeeded: t) ^ v
      }
    }
    return bad == 0
  }

  /// Offsets `A − zeroPointA` and `B − zpB` (wrapping int32 differences), multiplies them through
  /// `gemmS16` when both fit in int16 (else through `gemmWrapping32`), then adds the bias with
  /// wraparound. `bElement(p, j)` reads `B[p, j]`.
  @inline(__always)
  static func gemmOffsetting(
    a: [Int32], zeroPointA: Int32, zeroPointB: [Int32], bias: [Int32]?, m: Int, k: Int, n: Int,
    bElement: (Int, Int) -> Int32
  ) -> [Int32] {
    var c = [Int32](repeating: 0, count: m * n)
    if m == 0 || n == 0 { return c }
    let zb = zeroPointB.count == 1 ? [Int32](repeating: zeroPointB[0], count: n) : zeroPointB
    a.withUnsafeBufferPointer { pa in
      zb.withUnsafeBufferPointer { pz in
        c.withUnsafeMutableBufferPointer { pc in
          guard let out = pc.baseAddress else { return }
          func aValue(_ i: Int, _ p: Int) -> Int32 { pa[i * k + p] &- zeroPointA }
          func bValue(_ p: Int, _ j: Int) -> Int32 { bElement(p, j) &- pz[j] }
          let done = withScratch(Int16.self, m * k) { a16 in
            withScratch(Int16.self, k * n) { b16 in
              guard fill(a16, rows: m, cols: k, aValue) && fill(b16, rows: k, cols: n, bValue) else {
                return false
              }
              gemmS16(a16, b16, out, m: m, k: k, n: n)
              return true
            }
          }
          if done { return }
          withScratch(Int32.self, m * k) { a32 in
            withScratch(Int32.self, k * n) { b32 in
              _ = fill(a32, rows: m, cols: k, aValue)
              _ = fill(b32, rows: k, cols: n, bValue)
              gemmWrapping32(a32, b32, out, m: m, k: k, n: n)
            }
          }
        }
      }
    }
    if let bias {
      for i in 0..<m {
        for j in 0..<n { c[i * n + j] &+= bias[j] }
      }
    }
    return c
  }

  /// Row-major `C = A·B` with wrapping int32 multiply-add: the exact fallback for operands outside
  /// int16 (same modulo-2^32 result as the int16 path and the reference).
  static func gemmWrapping32(
    _ a: UnsafePointer<Int32>, _ b: UnsafePointer<Int32>, _ c: UnsafeMutablePointer<Int32>, m: Int, k: Int,
    n: Int
  ) {
    c.update(repeating: 0, count: m * n)
    for i in 0..<m {
      let row = c + i * n
      for p in 0..<k {
        let av = a[i * k + p]
        let brow = b + p * n
        for j in 0..<n { row[j] = row[j] &+ av &* brow[j] }
      }
    }
  }

  /// Offsets the operands (wrapping int32 differences), then per batch element and group runs
  /// im2col + GEMM (int16 when everything fits, else wrapping int32), then adds the bias.
  /// `weightElement(e)` reads element `e` of the row-major `[o, c/groups, kh, kw]` weight.
  @inline(__always)
  static func convOffsetting(
    input: [Int32], zeroPointInput: Int32, zeroPointWeight: [Int32], bias: [Int32]?, shape s: QConv2DShape,
    weightElement: (Int) -> Int32
  ) -> [Int32] {
    let r = (s.c / s.groups) * s.kh * s.kw
    let positions = s.outH * s.outW
    var out = [Int32](repeating: 0, count: s.n * s.o * positions)
    if out.isEmpty { return out }
    let zw = zeroPointWeight.count == 1 ? [Int32](repeating: zeroPointWeight[0], count: s.o) : zeroPointWeight
    input.withUnsafeBufferPointer { pin in
      zw.withUnsafeBufferPointer { pz in
        out.withUnsafeMutableBufferPointer { po in
          guard let o = po.baseAddress else { return }
          func wValue(_ oc: Int, _ e: Int) -> Int32 { weightElement(oc * r + e) &- pz[oc] }
          func inValue(_: Int, _ e: Int) -> Int32 { pin[e] &- zeroPointInput }
          let done = withScratch(Int16.self, s.o * r) { w16 in
            withScratch(Int16.self, pin.count) { in16 in
              guard fill(w16, rows: s.o, cols: r, wValue) && fill(in16, rows: 1, cols: pin.count, inValue)
              else {
                return false
              }
              convGEMM(in16, w16, o, shape: s) { a, b, c, m, k, n in gemmS16(a, b, c, m: m, k: k, n: n) }
              return true
            }
          }
          if done { return }
          withScratch(Int32.self, s.o * r) { w32 in
            withScratch(Int32.self, pin.count) { in32 in
              _ = fill(w32, rows: s.o, cols: r, wValue)
              _ = fill(in32, rows: 1, cols: pin.count, inValue)
              convGEMM(in32, w32, o, shape: s) { a, b, c, m, k, n in gemmWrapping32(a, b, c, m: m, k: k, n: n)
              }
            }
          }
        }
      }
    }
    if let bias {
      for b in 0..<s.n {
        for oc in 0..<s.o {
          let base = (b * s.o + oc) * positions
          for e in 0..<positions { out[base + e] &+= bias[oc] }
        }
      }
    }
    return out
  }

  /// im2col + GEMM per (batch element, group) over already-offset operands, writing `[n, o, P]`
  /// with `P = outH·outW`: `out[b, g·og ..< (g+1)·og, :] = W_g · col(b, g)`.
  static func convGEMM<T: FixedWidthInteger>(
    _ input: UnsafePointer<T>, _ weight: UnsafePointer<T>, _ out: UnsafeMutablePointer<Int32>,
    shape s: QConv2DShape,
    gemm: (UnsafePointer<T>, UnsafePointer<T>, UnsafeMutablePointer<Int32>, Int, Int, Int) -> Void
  ) {
    let cg = s.c / s.groups
    let og = s.o / s.groups
    let r = cg * s.kh * s.kw
    let positions = s.outH * s.outW
    let plane = s.h * s.w
    let pointwise =
      s.kh == 1 && s.kw == 1 && s.strideH == 1 && s.strideW == 1
      && s.padTop == 0 && s.padLeft == 0 && s.padBottom == 0 && s.padRight == 0
    withScratch(T.self, pointwise ? 1 : r * positions) { col in
      for b in 0..<s.n {
        for g in 0..<s.groups {
          let src = input + (b * s.c + g * cg) * plane
          let dst = out + (b * s.o + g * og) * positions
          if pointwise {
            gemm(weight + g * og * r, src, dst, og, r, positions)
          } else {
            im2col(src, into: col, channels: cg, shape: s)
            gemm(weight + g * og * r, col, dst, og, r, positions)
          }
        }
      }
    }
  }

  /// Writes the `[channels·kh·kw, outH·outW]` patch matrix of one group's (offset) input planes;
  /// taps outside the image are 0 (the zero-point padding after offsetting).
  static func im2col<T: FixedWidthInteger>(
    _ src: UnsafePointer<T>, into col: UnsafeMutablePointer<T>, channels: Int, shape s: QConv2DShape
  ) {
    let (outH, outW) = (s.outH, s.outW)
    var dst = col
    for ch in 0..<channels {
      let plane = src + ch * s.h * s.w
      for i in 0..<s.kh {
        for j in 0..<s.kw {
          let dx = j * s.dilationW - s.padLeft
          // Output columns whose input column x·strideW + dx lies inside the image: x in x0..<x1.
          let x0 = dx >= 0 ? 0 : Swift.min(outW, (-dx + s.strideW - 1) / s.strideW)
          let x1 = s.w - dx <= 0 ? x0 : Swift.max(x0, Swift.min(outW, (s.w - dx + s.strideW - 1) / s.strideW))
          for y in 0..<outH {
            let iy = y * s.strideH - s.padTop + i * s.dilationH
            if iy < 0 || iy >= s.h {
              dst.update(repeating: 0, count: outW)
            } else {
              let line = plane + iy * s.w
              for x in 0..<x0 { dst[x] = 0 }
              if s.strideW == 1 {
                if x1 > x0 { (dst + x0).update(from: line + (x0 + dx), count: x1 - x0) }
              } else {
                for x in x0..<x1 { dst[x] = line[x * s.strideW + dx] }
              }
              for x in x1..<outW { dst[x] = 0 }
            }
            dst += outW
          }
        }
      }
    }
  }
}

// MARK: - Argument checks

extension Quant {
  /// Preconditions shared by the GEMM entry points.
  static func checkGEMM(
    _ who: String, aCount: Int, bCount: Int, _ zpCount: Int, _ biasCount: Int?, _ m: Int, _ k: Int, _ n: Int
  ) {
    precondition(m >= 0 && k >= 0 && n >= 0, "\(who): m, k, n must be >= 0")
    precondition(aCount == m * k, "\(who): a has \(aCount) elements, expected m·k = \(m * k)")
    precondition(bCount == k * n, "\(who): b has \(bCount) elements, expected k·n = \(k * n)")
    precondition(zpCount == 1 || zpCount == n, "\(who): zeroPointB must have 1 or n = \(n) elements")
    precondition(biasCount == nil || biasCount == n, "\(who): bias must have n = \(n) elements")
  }

  /// Preconditions shared by the convolution entry points.
  static func checkConv(
    _ who: String, inputCount: Int, weightCount: Int, _ zpCount: Int, _ biasCount: Int?, _ s: QConv2DShape
  ) {
    s.validate(who)
    precondition(
      inputCount == s.n * s.c * s.h * s.w, "\(who): input has \(inputCount) elements, expected n·c·h·w")
    precondition(
      weightCount == s.o * (s.c / s.groups) * s.kh * s.kw,
      "\(who): weight has \(weightCount) elements, expected o·(c/groups)·kh·kw")
    precondition(zpCount == 1 || zpCount == s.o, "\(who): zeroPointWeight must have 1 or o = \(s.o) elements")
    precondition(biasCount == nil || biasCount == s.o, "\(who): bias must have o = \(s.o) elements")
  }
}
