import Foundation
import Tensors

/// Reference kernels of the linear family (matmul, gemm, convolutions, pooling, normalization,
/// softmax). Plain float64 loops, no BLAS; sums run in the order of the loops as written. Results
/// are raw doubles in the input's dtype; `OperatorSpec.evaluate` rounds them.
extension Reference {
  /// Product of a list of sizes (1 for none).
  fileprivate static func linearProduct(_ xs: [Int]) -> Int { xs.reduce(1, *) }

  /// Output size of a sliding window along one axis: `(size + pb + pe - d*(k-1) - 1) / s + 1`.
  public static func slidingWindowCount(
    size: Int, kernel: Int, stride: Int, padBegin: Int, padEnd: Int, dilation: Int
  ) -> Int {
    (size + padBegin + padEnd - dilation * (kernel - 1) - 1) / stride + 1
  }

  // MARK: - Matrix products

  /// NumPy `matmul` for operands of rank >= 2: batch dims (all but the last two) broadcast,
  /// `a[..., m, k] · b[..., k, n]`.
  public static func matmul(_ a: Tensor, _ b: Tensor) -> Tensor {
    precondition(a.rank >= 2 && b.rank >= 2, "matmul: operands must have rank >= 2")
    let m = a.shape[a.rank - 2]
    let k = a.shape[a.rank - 1]
    let k2 = b.shape[b.rank - 2]
    let n = b.shape[b.rank - 1]
    precondition(k == k2, "matmul: inner dims \(k) and \(k2) differ")
    let aBatch = Array(a.shape.dropLast(2))
    let bBatch = Array(b.shape.dropLast(2))
    guard let batch = Shape.broadcast(aBatch, bBatch) else {
      preconditionFailure("matmul: batch dims \(aBatch) and \(bBatch) do not broadcast")
    }
    let oa = broadcastOffsets(from: aBatch, to: batch)
    let ob = broadcastOffsets(from: bBatch, to: batch)
    var out = [Double](repeating: 0, count: oa.count * m * n)
    for t in 0..<oa.count {
      let aBase = oa[t] * m * k
      let bBase = ob[t] * k * n
      let oBase = t * m * n
      for i in 0..<m {
        for j in 0..<n {
          var s = 0.0
          for p in 0..<k { s += a.storage[aBase + i * k + p] * b.storage[bBase + p * n + j] }
          out[oBase + i * n + j] = s
        }
      }
    }
    return Tensor(dtype: a.dtype, shape: batch + [m, n], storage: out)
  }

  /// ONNX Gemm: `alpha * A' · B' + beta * C`, where `A' = transA ? Aᵀ : A` (`[M, K]`),
  /// `B' = transB ? Bᵀ : B` (`[K, N]`) and `C` broadcasts unidirectionally to `[M, N]`.
  public static func gemm(
    _ a: Tensor, _ b: Tensor, _ c: Tensor, alpha: Double, beta: Double, transA: Bool, transB: Bool
  ) -> Tensor {
    precondition(a.rank == 2 && b.rank == 2, "gemm: A and B must be matrices")
    let m = transA ? a.shape[1] : a.shape[0]
    let k = transA ? a.shape[0] : a.shape[1]
    let kb = transB ? b.shape[1] : b.shape[0]
    let n = transB ? b.shape[0] : b.shape[1]
    precondition(k == kb, "gemm: inner dims \(k) and \(kb) differ")
    let oc = broadcastOffsets(from: c.shape, to: [m, n])
    var out = [Double](repeating: 0, count: m * n)
    for i in 0..<m {
      for j in 0..<n {
        var s = 0.0
        for p in 0..<k {
          let av = transA ? a.storage[p * m + i] : a.storage[i * k + p]
          let bv = transB ? b.storage[j * k + p] : b.storage[p * n + j]
          s += av * bv
        }
        out[i * n + j] = alpha * s + beta * c.storage[oc[i * n + j]]
      }
    }
    return Tensor(dtype: a.dtype, shape: [m, n], storage: out)
  }

  // MARK: - Convolutions

  /// ONNX Conv without bias for any number of spatial dims: `x [N, C, S...]`,
  /// `w [O, C/group, K...]`, `pads = [begin..., end...]`. Padded cells are zeros; they are skipped,
  /// which equals adding `0 * w` for finite weights.
  public static func conv(
    _ x: Tensor, _ w: Tensor, strides: [Int], pads: [Int], dilations: [Int], group: Int
  ) -> Tensor {
    let sp = x.rank - 2
    precondition(sp >= 1 && w.rank == x.rank, "conv: x and w must have the same rank >= 3")
    let n = x.shape[0]
    let c = x.shape[1]
    let o = w.shape[0]
    let cg = w.shape[1]
    precondition(c % group == 0 && cg * group == c && o % group == 0, "conv: bad channels or group")
    let og = o / group
    let inSp = Array(x.shape[2...])
    let kSp = Array(w.shape[2...])
    let outSp = (0..<sp).map {
      slidingWindowCount(
        size: inSp[$0], kernel: kSp[$0], stride: strides[$0], padBegin: pads[$0], padEnd: pads[sp + $0],
        dilation: dilations[$0])
    }
    let xs = x.strides
    let ws = w.strides
    let outCount = linearProduct(outSp)
    let kCount = linearProduct(kSp)
    var out = [Double](repeating: 0, count: n * o * outCount)
    for b in 0..<n {
      for oc in 0..<o {
        let g = oc / og
        for op in 0..<outCount {
          let oIdx = Shape.index(of: op, shape: outSp)
          var s = 0.0
          for icg in 0..<cg {
            let ic = g * cg + icg
            for kp in 0..<kCount {
              let kIdx = Shape.index(of: kp, shape: kSp)
              var xOff = b * xs[0] + ic * xs[1]
              var inside = true
              for d in 0..<sp {
                let pos = oIdx[d] * strides[d] - pads[d] + kIdx[d] * dilations[d]
                if pos < 0 || pos >= inSp[d] {
                  inside = false
                  break
                }
                xOff += pos * xs[2 + d]
              }
              if inside { s += x.storage[xOff] * w.storage[oc * ws[0] + icg * ws[1] + kp] }
            }
          }
          out[(b * o + oc) * outCount + op] = s
        }
      }
    }
    return Tensor(dtype: x.dtype, shape: [n, o] + outSp, storage: out)
  }

  /// ONNX ConvTranspose without bias: `x [N, C, S...]`, `w [C, O/group, K...]`. Every input cell
  /// scatters `x * w` to output position `i*s - pb + k*d`; positions outside
  /// `(S-1)*s - pb - pe + d*(K-1) + output_padding + 1` are dropped (cropped by the pads).
  public static func convTranspose(
    _ x: Tensor, _ w: Tensor, strides: [Int], pads: [Int], dilations: [Int], outputPadding: [Int],
    group: Int
  ) -> Tensor {
    let sp = x.rank - 2
    precondition(sp >= 1 && w.rank == x.rank, "conv_transpose: x and w must have the same rank >= 3")
    let n = x.shape[0]
    let c = x.shape[1]
    let og = w.shape[1]
    precondition(w.shape[0] == c && c % group == 0, "conv_transpose: bad channels or group")
    let cg = c / group
    let o = og * group
    let inSp = Array(x.shape[2...])
    let kSp = Array(w.shape[2...])
    var outSp: [Int] = []
    for d in 0..<sp {
      let full: Int = (inSp[d] - 1) * strides[d] + dilations[d] * (kSp[d] - 1) + outputPadding[d] + 1
      outSp.append(full - pads[d] - pads[sp + d])
    }
    let outStrides = Shape.strides(outSp)
    let inCount = linearProduct(inSp)
    let kCount = linearProduct(kSp)
    let outCount = linearProduct(outSp)
    var out = [Double](repeating: 0, count: n * o * outCount)
    for b in 0..<n {
      for ic in 0..<c {
        let g = ic / cg
        for ip in 0..<inCount {
          let iIdx = Shape.index(of: ip, shape: inSp)
          let xv = x.storage[(b * c + ic) * inCount + ip]
          for ocg in 0..<og {
            let oc = g * og + ocg
            for kp in 0..<kCount {
              let kIdx = Shape.index(of: kp, shape: kSp)
              var oOff = 0
              var inside = true
              for d in 0..<sp {
                let pos = iIdx[d] * strides[d] - pads[d] + kIdx[d] * dilations[d]
                if pos < 0 || pos >= outSp[d] {
                  inside = false
                  break
                }
                oOff += pos * outStrides[d]
              }
              if inside {
                let wv: Double = w.storage[(ic * og + ocg) * kCount + kp]
                let target: Int = (b * o + oc) * outCount + oOff
                out[target] += xv * wv
              }
            }
          }
        }
      }
    }
    return Tensor(dtype: x.dtype, shape: [n, o] + outSp, storage: out)
  }

  // MARK: - Pooling

  /// Sliding-window pooling over the spatial dims of `x [N, C, S...]`: `reduce` receives the real
  /// (non-padded) cells of each window, in row-major window order.
  fileprivate static func slidingPool(
    _ x: Tensor, kernel: [Int], strides: [Int], pads: [Int], dilations: [Int],
    _ reduce: ([Double]) -> Double
  ) -> Tensor {
    let sp = x.rank - 2
    precondition(sp >= 1 && kernel.count == sp, "pool: kernel_shape must have one entry per spatial dim")
    let n = x.shape[0]
    let c = x.shape[1]
    let inSp = Array(x.shape[2...])
    let outSp = (0..<sp).map {
      slidingWindowCount(
        size: inSp[$0], kernel: kernel[$0], stride: strides[$0], padBegin: pads[$0], padEnd: pads[sp + $0],
        dilation: dilations[$0])
    }
    let inStrides = Shape.strides(inSp)
    let inCount = linearProduct(inSp)
    let outCount = linearProduct(outSp)
    let kCount = linearProduct(kernel)
    var out = [Double](repeating: 0, count: n * c * outCount)
    for plane in 0..<(n * c) {
      for op in 0..<outCount {
        let oIdx = Shape.index(of: op, shape: outSp)
        var cells: [Double] = []
        for kp in 0..<kCount {
          let kIdx = Shape.index(of: kp, shape: kernel)
          var off = 0
          var inside = true
          for d in 0..<sp {
            let pos = oIdx[d] * strides[d] - pads[d] + kIdx[d] * dilations[d]
            if pos < 0 || pos >= inSp[d] {
              inside = false
              break
            }
            off += pos * inStrides[d]
          }
          if inside { cells.append(x.storage[plane * inCount + off]) }
        }
        out[plane * outCount + op] = reduce(cells)
      }
    }
    return Tensor(dtype: x.dtype, shape: [n, c] + outSp, storage: out)
  }

  /// Max pooling; padded cells are -inf (never win). NaN in a window gives NaN. A window with no
  /// real cell would give -inf (shape rules exclude it).
  public static func maxPool(_ x: Tensor, kernel: [Int], strides: [Int], pads: [Int], dilations: [Int])
    -> Tensor
  {
    slidingPool(x, kernel: kernel, strides: strides, pads: pads, dilations: dilations) { cells in
      var m = -Double.infinity
      for v in cells {
        if v.isNaN { return .nan }
        if v > m { m = v }
      }
      return m
    }
  }

  /// Average pooling (no dilation): the sum of the real cells divided by the kernel size when
  /// `countIncludePad` (padded cells count as zeros), else by the number of real cells.
  public static func avgPool(_ x: Tensor, kernel: [Int], strides: [Int], pads: [Int], countIncludePad: Bool)
    -> Tensor
  {
    let kCount = linearProduct(kernel)
    let ones = [Int](repeating: 1, count: kernel.count)
    return slidingPool(x, kernel: kernel, strides: strides, pads: pads, dilations: ones) { cells in
      var s = 0.0
      for v in cells { s += v }
      return s / Double(countIncludePad ? kCount : cells.count)
    }
  }

  /// Mean over all spatial dims: `[N, C, S...] -> [N, C, 1...]`.
  public static func globalAvgPool(_ x: Tensor) -> Tensor {
    precondition(x.rank >= 3, "global_avg_pool: rank must be >= 3")
    let planes = x.shape[0] * x.shape[1]
    let inner = linearProduct(Array(x.shape[2...]))
    var out = [Double](repeating: 0, count: planes)
    for p in 0..<planes {
      var s = 0.0
      for i in 0..<inner { s += x.storage[p * inner + i] }
      out[p] = s / Double(inner)
    }
    return Tensor(
      dtype: x.dtype, shape: [x.shape[0], x.shape[1]] + [Int](repeating: 1, count: x.rank - 2), storage: out)
  }

  // MARK: - Normalization

  /// Inference batch normalization over channel dim 1:
  /// `scale[c] * (x - mean[c]) / sqrt(var[c] + epsilon) + bias[c]`.
  public static func batchNorm(
    _ x: Tensor, scale: Tensor, bias: Tensor, mean: Tensor, variance: Tensor, epsilon: Double
  ) -> Tensor {
    precondition(x.rank >= 2, "batch_norm: rank must be >= 2")
    let n = x.shape[0]
    let c = x.shape[1]
    let inner = linearProduct(Array(x.shape[2...]))
    var out = [Double](repeating: 0, count: x.count)
    for b in 0..<n {
      for ch in 0..<c {
        let denominator = (variance.storage[ch] + epsilon).squareRoot()
        for i in 0..<inner {
          let off = (b * c + ch) * inner + i
          out[off] = scale.storage[ch] * (x.storage[off] - mean.storage[ch]) / denominator + bias.storage[ch]
        }
      }
    }
    return Tensor(dtype: x.dtype, shape: x.shape, storage: out)
  }

  /// Layer normalization over dims `axis...`: mean and population variance (two passes) per
  /// leading index, `(x - mean) / sqrt(var + epsilon) * scale + bias` with scale and bias of shape
  /// `x.shape[axis...]` (leading 1s allowed: they hold the same row-major elements).
  public static func layerNorm(_ x: Tensor, scale: Tensor, bias: Tensor, axis: Int, epsilon: Double) -> Tensor
  {
    precondition((0..<x.rank).contains(axis), "layer_norm: axis out of range")
    let outer = linearProduct(Array(x.shape[..<axis]))
    let inner = linearProduct(Array(x.shape[axis...]))
    precondition(
      scale.count == inner && bias.count == inner, "layer_norm: scale and bias must match x.shape[axis...]")
    var out = [Double](repeating: 0, count: x.count)
    for r in 0..<outer {
      let base = r * inner
      var sum = 0.0
      for i in 0..<inner { sum += x.storage[base + i] }
      let mean = sum / Double(inner)
      var sq = 0.0
      for i in 0..<inner { sq += (x.storage[base + i] - mean) * (x.storage[base + i] - mean) }
      let denominator = (sq / Double(inner) + epsilon).squareRoot()
      for i in 0..<inner {
        out[base + i] = (x.storage[base + i] - mean) / denominator * scale.storage[i] + bias.storage[i]
      }
    }
    return Tensor(dtype: x.dtype, shape: x.shape, storage: out)
  }

  /// Softmax (or log-softmax) along `axis`, stabilized by subtracting the slice maximum:
  /// `exp(x - m) / sum exp(x - m)`, log form `(x - m) - log(sum exp(x - m))`. A NaN makes its
  /// whole slice NaN.
  public static func softmax(_ x: Tensor, axis: Int, log logarithm: Bool) -> Tensor {
    precondition((0..<x.rank).contains(axis), "softmax: axis out of range")
    let outer = linearProduct(Array(x.shape[..<axis]))
    let n = x.shape[axis]
    let inner = linearProduct(Array(x.shape[(axis + 1)...]))
    var out = [Double](repeating: 0, count: x.count)
    for r in 0..<outer {
      for i in 0..<inner {
        func at(_ j: Int) -> Int { (r * n + j) * inner + i }
        var m = -Double.infinity
        var nan = false
        for j in 0..<n {
          let v = x.storage[at(j)]
          if v.isNaN { nan = true }
          if v > m { m = v }
        }
        var s = 0.0
        for j in 0..<n { s += exp(x.storage[at(j)] - m) }
        for j in 0..<n {
          let shifted = x.storage[at(j)] - m
          out[at(j)] = nan ? .nan : (logarithm ? shifted - Foundation.log(s) : exp(shifted) / s)
        }
      }
    }
    return Tensor(dtype: x.dtype, shape: x.shape, storage: out)
  }
}
