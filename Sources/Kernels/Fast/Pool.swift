import Tensors

// MARK: - Pooling

extension Fast {
  /// Sliding-window pooling over the spatial dims of `x [N, C, S...]` (1 or 2 spatial dims):
  /// `reduce(plane, window)` sees the real cells of one window only, through the valid kernel
  /// ranges, and returns the output value.
  private static func slidingPool(
    _ x: FastTensor, kernel: [Int], strides: [Int], pads: [Int], dilations: [Int],
    _ reduce: (
      _ src: UnsafePointer<Float>, _ rowStride: Int, _ rows: Range<Int>, _ dh: Int,
      _ cols: Range<Int>, _ dw: Int
    ) -> Float
  ) -> FastTensor {
    precondition(x.isFloat, "pool: float32 input only")
    let r = x.shape.count
    precondition((3...4).contains(r), "pool: rank must be 3 or 4")
    let g = window(
      spatial: Array(x.shape[2...]), kernel: kernel, strides: strides, pads: pads, dilations: dilations)
    let planes = x.shape[0] * x.shape[1]
    let inPlane = g.h * g.w
    let outPlane = Swift.max(g.oh, 0) * Swift.max(g.ow, 0)
    var out = [Float](repeating: 0, count: planes * outPlane)
    let outSpatial = r == 3 ? [g.ow] : [g.oh, g.ow]
    if out.isEmpty { return FastTensor(floats: out, shape: [x.shape[0], x.shape[1]] + outSpatial) }
    // Valid kernel ranges per output column, computed once.
    var colRanges: [Range<Int>] = []
    colRanges.reserveCapacity(g.ow)
    for j in 0..<g.ow {
      let base = j * g.sw - g.pw
      let (lo, hi) = validRange(base: base, step: g.dw, limit: g.w, count: g.kw)
      colRanges.append(lo..<hi)
    }
    x.floats.withUnsafeBufferPointer { px in
      out.withUnsafeMutableBufferPointer { po in
        let px = px.baseAddress!
        let po = po.baseAddress!
        for p in 0..<planes {
          let src = px + p * inPlane
          var dst = po + p * outPlane
          for i in 0..<g.oh {
            let rowBase = i * g.sh - g.ph
            let (lo, hi) = validRange(base: rowBase, step: g.dh, limit: g.h, count: g.kh)
            for j in 0..<g.ow {
              // Window origin (kh = kw = 0), possibly in the padding; only valid offsets are read.
              let origin = src + rowBase * g.w + (j * g.sw - g.pw)
              dst[j] = reduce(origin, g.w, lo..<hi, g.dh, colRanges[j], g.dw)
            }
            dst += g.ow
          }
        }
      }
    }
    return FastTensor(floats: out, shape: [x.shape[0], x.shape[1]] + outSpatial)
  }

  /// ONNX MaxPool (1 or 2 spatial dims, with dilations) in float32. Padded cells never win; a NaN
  /// in a window gives NaN; a window without real cells would give -inf (rules exclude it).
  public static func maxPool(
    _ x: FastTensor, kernel: [Int], strides: [Int], pads: [Int], dilations: [Int]
  ) -> FastTensor {
    slidingPool(x, kernel: kernel, strides: strides, pads: pads, dilations: dilations) {
      origin, rowStride, rows, dh, cols, dw in
      var m = -Float.infinity
      var nan = false
      for kh in rows {
        let row = origin + kh * dh * rowStride
        for kw in cols {
          let v = row[kw * dw]
          nan = nan || v.isNaN
          if v > m { m = v }
        }
      }
      return nan ? .nan : m
    }
  }

  /// ONNX AveragePool (1 or 2 spatial dims, no dilation) in float32: the float32 sum of a window's
  /// real cells (row-major window order) divided by the kernel size if `countIncludePad`, else by
  /// the number of real cells.
  public static func avgPool(
    _ x: FastTensor, kernel: [Int], strides: [Int], pads: [Int], countIncludePad: Bool
  ) -> FastTensor {
    let full = Float(kernel.reduce(1, *))
    let ones = [Int](repeating: 1, count: kernel.count)
    return slidingPool(x, kernel: kernel, strides: strides, pads: pads, dilations: ones) {
      origin, rowStride, rows, _, cols, _ in
      var s: Float = 0
      for kh in rows {
        let row = origin + kh * rowStride
        for kw in cols { s += row[kw] }
      }
      return s / (countIncludePad ? full : Float(rows.count * cols.count))
    }
  }

  /// ONNX GlobalAveragePool: `[N, C, S...] -> [N, C, 1...]`, each plane's float32 sum (eight
  /// interleaved partial sums) divided by its size.
  public static func globalAvgPool(_ x: FastTensor) -> FastTensor {
    precondition(x.isFloat && x.shape.count >= 3, "global_avg_pool: float32 input of rank >= 3")
    let planes = x.shape[0] * x.shape[1]
    let inner = x.shape[2...].reduce(1, *)
    var out = [Float](repeating: 0, count: planes)
    x.floats.withUnsafeBufferPointer { px in
      for p in 0..<planes {
        guard inner > 0 else {
          out[p] = .nan
          continue
        }
        let src = px.baseAddress! + p * inner
        var acc = SIMD8<Float>()
        var i = 0
        while i + 8 <= inner {
          acc += UnsafeRawPointer(src + i).loadUnaligned(as: SIMD8<Float>.self)
          i += 8
        }
        var s = acc.sum()
        while i < inner {
          s += src[i]
          i += 1
        }
        out[p] = s / Float(inner)
      }
    }
    return FastTensor(
      floats: out, shape: [x.shape[0], x.shape[1]] + [Int](repeating: 1, count: x.shape.count - 2))
  }
}
