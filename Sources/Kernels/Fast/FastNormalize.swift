import Foundation
import Tensors

extension Fast {
  /// Softmax (or log-softmax) along `axis` (negative counts from the back) in float32, stabilized
  /// by subtracting the slice maximum: `exp(x - m) / sum exp(x - m)`, log form
  /// `(x - m) - log(sum exp(x - m))`. A NaN makes its whole slice NaN.
  public static func softmax(_ x: [Float], shape: [Int], axis: Int, log logarithm: Bool) -> [Float] {
    let axis = axis < 0 ? axis + shape.count : axis
    let n = shape[axis]
    let outer = shape[..<axis].reduce(1, *)
    let inner = shape[(axis + 1)...].reduce(1, *)
    var out = [Float](repeating: 0, count: x.count)
    guard !x.isEmpty else { return out }
    x.withUnsafeBufferPointer { px in
      out.withUnsafeMutableBufferPointer { po in
        if inner == 1 {
          for o in 0..<outer {
            let base = o * n
            var m = -Float.infinity
            var nan = false
            for j in 0..<n {
              let v = px[base + j]
              nan = nan || v.isNaN
              m = v > m ? v : m
            }
            if nan {
              for j in 0..<n { po[base + j] = .nan }
              continue
            }
            var s: Float = 0
            for j in 0..<n {
              let e = Foundation.exp(px[base + j] - m)
              po[base + j] = e
              s += e
            }
            if logarithm {
              let ls = Foundation.log(s)
              for j in 0..<n { po[base + j] = (px[base + j] - m) - ls }
            } else {
              let r = 1 / s
              for j in 0..<n { po[base + j] *= r }
            }
          }
          return
        }
        // Strided axis: per-inner-element max, sum and NaN flag, row by row (contiguous rows).
        var m = [Float](repeating: 0, count: inner)
        var s = [Float](repeating: 0, count: inner)
        var nan = [Bool](repeating: false, count: inner)
        for o in 0..<outer {
          let base = o * n * inner
          for i in 0..<inner {
            m[i] = -.infinity
            s[i] = 0
            nan[i] = false
          }
          for j in 0..<n {
            let row = base + j * inner
            for i in 0..<inner {
              let v = px[row + i]
              nan[i] = nan[i] || v.isNaN
              m[i] = v > m[i] ? v : m[i]
            }
          }
          for j in 0..<n {
            let row = base + j * inner
            for i in 0..<inner {
              let e = Foundation.exp(px[row + i] - m[i])
              po[row + i] = e
              s[i] += e
            }
          }
          if logarithm {
            for i in 0..<inner { s[i] = Foundation.log(s[i]) }
            for j in 0..<n {
              let row = base + j * inner
              for i in 0..<inner { po[row + i] = nan[i] ? .nan : (px[row + i] - m[i]) - s[i] }
            }
          } else {
            for i in 0..<inner { s[i] = 1 / s[i] }
            for j in 0..<n {
              let row = base + j * inner
              for i in 0..<inner { po[row + i] = nan[i] ? .nan : po[row + i] * s[i] }
            }
          }
        }
      }
    }
    return out
  }

  /// Layer normalization over dims `axis...` (negative counts from the back) in float32: per
  /// leading index, the mean and the population variance (two passes, blocked sums), then
  /// `(x - mean) / sqrt(var + epsilon) * scale + bias` with `scale` and `bias` holding
  /// `shape[axis...].product` elements (the division as a multiplication by the reciprocal).
  public static func layerNorm(
    _ x: [Float], shape: [Int], scale: [Float], bias: [Float], axis: Int, epsilon: Float
  ) -> [Float] {
    let axis = axis < 0 ? axis + shape.count : axis
    let outer = shape[..<axis].reduce(1, *)
    let inner = shape[axis...].reduce(1, *)
    precondition(
      scale.count == inner && bias.count == inner, "layer_norm: scale and bias must match x.shape[axis...]")
    var out = [Float](repeating: 0, count: x.count)
    guard inner > 0 else { return out }
    x.withUnsafeBufferPointer { px in
      scale.withUnsafeBufferPointer { ps in
        bias.withUnsafeBufferPointer { pb in
          out.withUnsafeMutableBufferPointer { po in
            let count = Float(inner)
            for r in 0..<outer {
              let base = r * inner
              let mean = sumRow(UnsafeBufferPointer(rebasing: px[base..<(base + inner)])) / count
              // Centered values go to the output first, then the blocked sum of their squares.
              for i in 0..<inner { po[base + i] = px[base + i] - mean }
              var q0: Float = 0
              var q1: Float = 0
              var q2: Float = 0
              var q3: Float = 0
              var i = 0
              while i + 4 <= inner {
                q0 += po[base + i] * po[base + i]
                q1 += po[base + i + 1] * po[base + i + 1]
                q2 += po[base + i + 2] * po[base + i + 2]
                q3 += po[base + i + 3] * po[base + i + 3]
                i += 4
              }
              while i < inner {
                q0 += po[base + i] * po[base + i]
                i += 1
              }
              let variance = ((q0 + q1) + (q2 + q3)) / count
              let inv = 1 / (variance + epsilon).squareRoot()
              for i in 0..<inner { po[base + i] = po[base + i] * inv * ps[i] + pb[i] }
            }
          }
        }
      }
    }
    return out
  }

  /// Inference batch normalization over channel dim 1 of `x` [N, C, ...] in float32:
  /// `(x - mean[c]) * (scale[c] / sqrt(var[c] + epsilon)) + bias[c]` (the per-channel factor
  /// folded once, as compilers do).
  public static func batchNorm(
    _ x: [Float], shape: [Int], scale: [Float], bias: [Float], mean: [Float], variance: [Float],
    epsilon: Float
  ) -> [Float] {
    precondition(shape.count >= 2, "batch_norm: rank must be >= 2")
    let n = shape[0]
    let c = shape[1]
    let inner = shape[2...].reduce(1, *)
    var factor = [Float](repeating: 0, count: c)
    for ch in 0..<c { factor[ch] = scale[ch] / (variance[ch] + epsilon).squareRoot() }
    var out = [Float](repeating: 0, count: x.count)
    x.withUnsafeBufferPointer { px in
      out.withUnsafeMutableBufferPointer { po in
        for b in 0..<n {
          for ch in 0..<c {
            let f = factor[ch]
            let m = mean[ch]
            let beta = bias[ch]
            let base = (b * c + ch) * inner
            for i in 0..<inner { po[base + i] = (px[base + i] - m) * f + beta }
          }
        }
      }
    }
    return out
  }
}
