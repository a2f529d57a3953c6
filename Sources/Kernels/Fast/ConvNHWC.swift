import CBLAS

extension Fast {
  /// 2-D convolution in NHWC layout (group 1): `x` [N, H, W, C], weights `w` [O, C, kh, kw] (the
  /// catalogue layout), zero padding `pads` = [top, left, bottom, right]; result [N, OH, OW, O].
  ///
  /// im2col over contiguous channel runs into a [N·OH·OW, kh·kw·C] matrix, then one float32 sgemm
  /// with the weights repacked as [kh·kw·C, O]; the GEMM's row-major result is already NHWC.
  public static func conv2dNHWC(
    _ x: [Float], n: Int, h: Int, w wIn: Int, c: Int, weights: [Float], o: Int, kh: Int, kw: Int,
    strides: [Int], pads: [Int], dilations: [Int]
  ) -> (values: [Float], oh: Int, ow: Int) {
    let (sh, sw) = (strides[0], strides[1])
    let (dh, dw) = (dilations[0], dilations[1])
    let oh = (h + pads[0] + pads[2] - dh * (kh - 1) - 1) / sh + 1
    let ow = (wIn + pads[1] + pads[3] - dw * (kw - 1) - 1) / sw + 1
    let k = kh * kw * c
    let rows = n * oh * ow
    // Weights [O, C, kh, kw] -> [kh, kw, C, O].
    var packed = [Float](repeating: 0, count: k * o)
    for oc in 0..<o {
      for ci in 0..<c {
        for i in 0..<kh {
          for j in 0..<kw {
            packed[((i * kw + j) * c + ci) * o + oc] = weights[((oc * c + ci) * kh + i) * kw + j]
          }
        }
      }
    }
    var col = [Float](repeating: 0, count: rows * k)
    x.withUnsafeBufferPointer { xp in
      col.withUnsafeMutableBufferPointer { cp in
        var row = 0
        for b in 0..<n {
          for y in 0..<oh {
            for z in 0..<ow {
              var dst = row * k
              for i in 0..<kh {
                let iy = y * sh - pads[0] + i * dh
                for j in 0..<kw {
                  let ix = z * sw - pads[1] + j * dw
                  if iy >= 0 && iy < h && ix >= 0 && ix < wIn {
                    let src = ((b * h + iy) * wIn + ix) * c
                    (cp.baseAddress! + dst).update(from: xp.baseAddress! + src, count: c)
                  }
                  dst += c
                }
              }
              row += 1
            }
          }
        }
      }
    }
    var out = [Float](repeating: 0, count: rows * o)
    if rows > 0 && o > 0 && k > 0 {
      col.withUnsafeBufferPointer { cp in
        packed.withUnsafeBufferPointer { wp in
          out.withUnsafeMutableBufferPointer { op in
            cblas_sgemm(
              CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(rows), Int32(o), Int32(k), 1, cp.baseAddress,
              Int32(k), wp.baseAddress, Int32(o), 0, op.baseAddress, Int32(o))
          }
        }
      }
    }
    return (out, oh, ow)
  }
}
