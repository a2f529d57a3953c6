import Tensors

// MARK: - Window index ranges

extension Fast {
  /// The half-open range of `i` in `0..<count` with `0 <= base + i * step < limit` (`step >= 1`):
  /// the positions of a strided window row that land on real (unpadded) cells.
  @inline(__always)
  static func validRange(base: Int, step: Int, limit: Int, count: Int) -> (lo: Int, hi: Int) {
    // i >= ceil(-base / step) and i <= floor((limit - 1 - base) / step).
    let lo = base >= 0 ? 0 : Swift.min(count, (-base + step - 1) / step)
    let hi = base > limit - 1 ? 0 : Swift.min(count, (limit - 1 - base) / step + 1)
    return (lo, Swift.max(lo, hi))
  }

  /// Geometry of a 2-D sliding window (1-D ops use `H = KH = 1`).
  struct Window2D {
    var h: Int, w: Int
    var kh: Int, kw: Int
    var sh: Int, sw: Int
    var ph: Int, pw: Int
    var dh: Int, dw: Int
    var oh: Int, ow: Int
  }

  /// Maps the ONNX spatial attributes of a 1-D or 2-D op (`pads = [begin..., end...]`) to a 2-D
  /// window; the output extent is `(S + pb + pe - d*(K-1) - 1) / s + 1`.
  static func window(
    spatial: [Int], kernel: [Int], strides: [Int], pads: [Int], dilations: [Int]
  ) -> Window2D {
    let n = spatial.count
    precondition(
      (1...2).contains(n) && kernel.count == n && strides.count == n && pads.count == 2 * n
        && dilations.count == n, "window: attributes do not match \(n) spatial dims")
    precondition(
      strides.allSatisfy { $0 >= 1 } && dilations.allSatisfy { $0 >= 1 }, "window: bad stride/dilation")
    func out(_ i: Int) -> Int {
      (spatial[i] + pads[i] + pads[n + i] - dilations[i] * (kernel[i] - 1) - 1) / strides[i] + 1
    }
    if n == 1 {
      return Window2D(
        h: 1, w: spatial[0], kh: 1, kw: kernel[0], sh: 1, sw: strides[0], ph: 0, pw: pads[0], dh: 1,
        dw: dilations[0], oh: 1, ow: out(0))
    }
    return Window2D(
      h: spatial[0], w: spatial[1], kh: kernel[0], kw: kernel[1], sh: strides[0], sw: strides[1],
      ph: pads[0], pw: pads[1], dh: dilations[0], dw: dilations[1], oh: out(0), ow: out(1))
  }
}

// MARK: - Convolution (im2col + sgemm)

extension Fast {
  /// Scratch budget (floats) of one im2col block: 256 Ki floats (1 MiB) keeps the block in L2
  /// while sgemm packs it. Larger column matrices are processed in bands of output rows.
  public static let defaultIm2colBlock = 1 << 18

  /// Writes rows `oh0 ..< oh0 + rows` of the im2col matrix of `channels` input planes into `col`:
  /// row `(c * KH + kh) * KW + kw`, column `(oh - oh0) * OW + ow` holds
  /// `x[c, oh*sh - ph + kh*dh, ow*sw - pw + kw*dw]`, or 0 in the padding.
  static func im2col(
    _ x: UnsafePointer<Float>, channels: Int, _ g: Window2D, oh0: Int, rows: Int,
    into col: UnsafeMutablePointer<Float>
  ) {
    let plane = g.h * g.w
    let ow = g.ow
    var dst = col
    for c in 0..<channels {
      let src = x + c * plane
      for kh in 0..<g.kh {
        let rowBase = kh * g.dh - g.ph
        for kw in 0..<g.kw {
          let colBase = kw * g.dw - g.pw
          let (lo, hi) = validRange(base: colBase, step: g.sw, limit: g.w, count: ow)
          for oh in oh0..<(oh0 + rows) {
            let ih = oh * g.sh + rowBase
            if ih < 0 || ih >= g.h || lo >= hi {
              dst.update(repeating: 0, count: ow)
            } else {
              if lo > 0 { dst.update(repeating: 0, count: lo) }
              let s = src + ih * g.w + colBase
              if g.sw == 1 {
                (dst + lo).update(from: s + lo, count: hi - lo)
              } else {
                var p = s + lo * g.sw
                for j in lo..<hi {
                  dst[j] = p.pointee
                  p += g.sw
                }
              }
              if hi < ow { (dst + hi).update(repeating: 0, count: ow - hi) }
            }
            dst += ow
          }
        }
      }
    }
  }

  /// ONNX Conv without bias over 1 or 2 spatial dims in float32: `x [N, C, S...]`,
  /// `w [O, C/group, K...]`, `pads = [begin..., end...]`, zero padding.
  ///
  /// Per image and group: im2col (in bands of output rows of at most `blockFloats` scratch floats)
  /// and one sgemm `W_g [O/g, C/g*K] · col [C/g*K, band]` written straight into the output. A 1×1
  /// kernel with unit strides and no padding multiplies the input planes directly. Padded cells
  /// contribute `0 * w` (the reference skips them: equal for finite weights).
  public static func conv(
    _ x: FastTensor, _ w: FastTensor, strides: [Int], pads: [Int], dilations: [Int], group: Int,
    blockFloats: Int = defaultIm2colBlock
  ) -> FastTensor {
    precondition(x.isFloat && w.isFloat, "conv: float32 operands only")
    let r = x.shape.count
    precondition((3...4).contains(r) && w.shape.count == r, "conv: x and w must both have rank 3 or 4")
    let n = x.shape[0]
    let c = x.shape[1]
    let o = w.shape[0]
    let cg = w.shape[1]
    precondition(
      group >= 1 && c % group == 0 && cg * group == c && o % group == 0, "conv: bad channels or group")
    let og = o / group
    let g = window(
      spatial: Array(x.shape[2...]), kernel: Array(w.shape[2...]), strides: strides, pads: pads,
      dilations: dilations)
    precondition(g.oh >= 1 && g.ow >= 1, "conv: empty output")
    let outSpatial = r == 3 ? [g.ow] : [g.oh, g.ow]
    let inPlane = g.h * g.w
    let outPlane = g.oh * g.ow
    let kk = cg * g.kh * g.kw
    var out = [Float](repeating: 0, count: n * o * outPlane)
    if out.isEmpty { return FastTensor(floats: out, shape: [n, o] + outSpatial) }
    let direct =
      g.kh == 1 && g.kw == 1 && g.sh == 1 && g.sw == 1 && g.ph == 0 && g.pw == 0 && g.oh == g.h && g.ow == g.w
    // Output rows per band: as many as fit the block budget, at least one.
    let bandRows = Swift.max(1, Swift.min(g.oh, blockFloats / Swift.max(1, kk * g.ow)))
    x.floats.withUnsafeBufferPointer { px in
      w.floats.withUnsafeBufferPointer { pw in
        out.withUnsafeMutableBufferPointer { po in
          let px = px.baseAddress!
          let pw = pw.baseAddress!
          let po = po.baseAddress!
          if direct {
            for b in 0..<n {
              for gi in 0..<group {
                sgemm(
                  transA: false, transB: false, m: og, n: outPlane, k: cg, alpha: 1, a: pw + gi * og * kk,
                  lda: kk, b: px + (b * c + gi * cg) * inPlane, ldb: inPlane, beta: 0,
                  c: po + (b * o + gi * og) * outPlane, ldc: outPlane)
              }
            }
            return
          }
          withScratch(kk * bandRows * g.ow) { col in
            for b in 0..<n {
              for gi in 0..<group {
                let xg = px + (b * c + gi * cg) * inPlane
                let yg = po + (b * o + gi * og) * outPlane
                var oh0 = 0
                while oh0 < g.oh {
                  let rows = Swift.min(bandRows, g.oh - oh0)
                  let cols = rows * g.ow
                  im2col(xg, channels: cg, g, oh0: oh0, rows: rows, into: col)
                  sgemm(
                    transA: false, transB: false, m: og, n: cols, k: kk, alpha: 1, a: pw + gi * og * kk,
                    lda: kk,
                    b: col, ldb: cols, beta: 0, c: yg + oh0 * g.ow, ldc: outPlane)
                  oh0 += rows
                }
              }
            }
          }
        }
      }
    }
    return FastTensor(floats: out, shape: [n, o] + outSpatial)
  }

  /// ONNX ConvTranspose without bias in float32: `x [N, C, H, W]`, `w [C, O/group, KH, KW]`.
  ///
  /// Per image and group, one sgemm `col [O/g*KH*KW, H*W] = W_gᵀ · x_g`, then col2im scatters
  /// `col` to output position `i*s - pb + k*d` (dropping positions cut off by the pads).
  /// The output extent is `(S-1)*s - pb - pe + d*(K-1) + output_padding + 1`.
  public static func convTranspose2d(
    _ x: FastTensor, _ w: FastTensor, strides: [Int], pads: [Int], dilations: [Int], outputPadding: [Int],
    group: Int
  ) -> FastTensor {
    precondition(x.isFloat && w.isFloat, "conv_transpose2d: float32 operands only")
    precondition(x.shape.count == 4 && w.shape.count == 4, "conv_transpose2d: x and w must have rank 4")
    precondition(
      strides.count == 2 && pads.count == 4 && dilations.count == 2 && outputPadding.count == 2,
      "conv_transpose2d: attributes must describe 2 spatial dims")
    let n = x.shape[0]
    let c = x.shape[1]
    let h = x.shape[2]
    let wd = x.shape[3]
    let og = w.shape[1]
    let kh = w.shape[2]
    let kw = w.shape[3]
    precondition(w.shape[0] == c && group >= 1 && c % group == 0, "conv_transpose2d: bad channels or group")
    let cg = c / group
    let o = og * group
    let (sh, sw) = (strides[0], strides[1])
    let (dh, dw) = (dilations[0], dilations[1])
    let (ph, pw) = (pads[0], pads[1])
    let oh = (h - 1) * sh + dh * (kh - 1) + outputPadding[0] + 1 - pads[0] - pads[2]
    let ow = (wd - 1) * sw + dw * (kw - 1) + outputPadding[1] + 1 - pads[1] - pads[3]
    precondition(oh >= 1 && ow >= 1, "conv_transpose2d: empty output")
    let inPlane = h * wd
    let outPlane = oh * ow
    let kk = kh * kw
    let rowsPerGroup = og * kk
    var out = [Float](repeating: 0, count: n * o * outPlane)
    if out.isEmpty || inPlane == 0 { return FastTensor(floats: out, shape: [n, o, oh, ow]) }
    x.floats.withUnsafeBufferPointer { px in
      w.floats.withUnsafeBufferPointer { pwt in
        out.withUnsafeMutableBufferPointer { po in
          let px = px.baseAddress!
          let pwt = pwt.baseAddress!
          let po = po.baseAddress!
          withScratch(rowsPerGroup * inPlane) { col in
            for b in 0..<n {
              for gi in 0..<group {
                sgemm(
                  transA: true, transB: false, m: rowsPerGroup, n: inPlane, k: cg, alpha: 1,
                  a: pwt + gi * cg * rowsPerGroup, lda: rowsPerGroup, b: px + (b * c + gi * cg) * inPlane,
                  ldb: inPlane, beta: 0, c: col, ldc: inPlane)
                // col2im
                for ocg in 0..<og {
                  let dstPlane = po + (b * o + gi * og + ocg) * outPlane
                  for ki in 0..<kh {
                    let rowBase = ki * dh - ph
                    let (ihLo, ihHi) = validRange(base: rowBase, step: sh, limit: oh, count: h)
                    for kj in 0..<kw {
                      let colBase = kj * dw - pw
                      let (iwLo, iwHi) = validRange(base: colBase, step: sw, limit: ow, count: wd)
                      if iwLo >= iwHi { continue }
                      let src = col + ((ocg * kh + ki) * kw + kj) * inPlane
                      for ih in ihLo..<ihHi {
                        let s = src + ih * wd
                        let d = dstPlane + (ih * sh + rowBase) * ow + colBase
                        if sw == 1 {
                          for iw in iwLo..<iwHi { d[iw] += s[iw] }
                        } else {
                          for iw in iwLo..<iwHi { d[iw * sw] += s[iw] }
                        }
                      }
                    }
                  }
                }
              }
            }
          }
        }
      }
    }
    return FastTensor(floats: out, shape: [n, o, oh, ow])
  }
}
