import Tensors

/// Reference kernels of the indexing family (slice, pad, expand, tile, gather, resize, cumsum).
///
/// Each kernel computes every output element from its multi-index with plain float64 loops; the
/// result keeps the input's dtype and is rounded by the caller (`OperatorSpec.evaluate`).
extension Reference {
  /// Builds a tensor of `shape` whose element at each row-major multi-index is `f(index)`.
  fileprivate static func tabulate(shape: [Int], dtype: DType, _ f: ([Int]) -> Double) -> Tensor {
    let total = shape.reduce(1, *)
    var out = [Double](repeating: 0, count: total)
    var idx = [Int](repeating: 0, count: shape.count)
    for o in 0..<total {
      out[o] = f(idx)
      var d = shape.count - 1
      while d >= 0 {
        idx[d] += 1
        if idx[d] < shape[d] { break }
        idx[d] = 0
        d -= 1
      }
    }
    return Tensor(dtype: dtype, shape: shape, storage: out)
  }

  /// NumPy basic slicing `x[..., start:end:step, ...]` along `axis` (already normalized, in
  /// `0..<rank`) with a positive `step`: negative `start`/`end` count from the end, then both are
  /// clamped to `[0, d]`; the result may be empty.
  public static func slice(_ x: Tensor, axis: Int, start: Int, end: Int, step: Int) -> Tensor {
    precondition(step > 0, "slice: step must be positive")
    let d = x.shape[axis]
    let s = Swift.min(Swift.max(start < 0 ? start + d : start, 0), d)
    let e = Swift.min(Swift.max(end < 0 ? end + d : end, 0), d)
    var shape = x.shape
    shape[axis] = e > s ? (e - s + step - 1) / step : 0
    return tabulate(shape: shape, dtype: x.dtype) { idx in
      var src = idx
      src[axis] = s + idx[axis] * step
      return x[src]
    }
  }

  /// Padding modes of `pad` (the ONNX Pad modes, equal to NumPy's `constant`, `reflect`, `edge`).
  public enum PadMode: String, Sendable, CaseIterable {
    /// Out-of-range elements take the constant value.
    case constant
    /// Mirror without repeating the edge element: `[a b c]` padded by 2 gives `c b [a b c] b a`.
    case reflect
    /// Repeat the edge element: `[a b c]` padded by 2 gives `a a [a b c] c c`.
    case edge
  }

  /// Pads every axis `i` with `begin[i]` elements before and `end[i]` after. In `reflect` mode every
  /// pad must be smaller than its dim.
  public static func pad(
    _ x: Tensor, begin: [Int], end: [Int], mode: PadMode, value: Double
  ) -> Tensor {
    precondition(begin.count == x.rank && end.count == x.rank, "pad: one begin and end pad per axis")
    let shape = (0..<x.rank).map { x.shape[$0] + begin[$0] + end[$0] }
    return tabulate(shape: shape, dtype: x.dtype) { idx in
      var src = idx
      for i in 0..<x.rank {
        let d = x.shape[i]
        let j = idx[i] - begin[i]
        if j >= 0 && j < d {
          src[i] = j
          continue
        }
        switch mode {
        case .constant: return value
        case .edge: src[i] = j < 0 ? 0 : d - 1
        case .reflect:
          precondition(begin[i] < d && end[i] < d, "pad: reflect needs pads smaller than the dim")
          src[i] = j < 0 ? -j : 2 * (d - 1) - j
        }
      }
      return x[src]
    }
  }

  /// NumPy broadcast of `x` to `shape` (ONNX Expand): the result has the broadcast of both shapes.
  public static func expand(_ x: Tensor, to shape: [Int]) -> Tensor {
    guard let out = Shape.broadcast(x.shape, shape) else {
      preconditionFailure("expand: \(x.shape) does not broadcast with \(shape)")
    }
    let offsets = broadcastOffsets(from: x.shape, to: out)
    return Tensor(dtype: x.dtype, shape: out, storage: offsets.map { x.storage[$0] })
  }

  /// Repeats `x` `repeats[i]` times along every axis `i` (ONNX Tile, `numpy.tile` at equal rank).
  public static func tile(_ x: Tensor, repeats: [Int]) -> Tensor {
    precondition(repeats.count == x.rank, "tile: one repeat count per axis")
    let shape = (0..<x.rank).map { x.shape[$0] * repeats[$0] }
    return tabulate(shape: shape, dtype: x.dtype) { idx in
      x[(0..<x.rank).map { idx[$0] % x.shape[$0] }]
    }
  }

  /// ONNX Gather along `axis` (normalized): `out[i.., j.., k..] = data[i.., indices[j..], k..]`;
  /// a negative index counts from the end. Indices must lie in `[-d, d-1]`.
  public static func gather(_ data: Tensor, _ indices: Tensor, axis: Int) -> Tensor {
    let d = data.shape[axis]
    let r = indices.rank
    let shape = Array(data.shape[..<axis]) + indices.shape + Array(data.shape[(axis + 1)...])
    return tabulate(shape: shape, dtype: data.dtype) { idx in
      var k = Int(indices[Array(idx[axis..<(axis + r)])])
      precondition(k >= -d && k < d, "gather: index \(k) out of range for dim \(d)")
      if k < 0 { k += d }
      return data[Array(idx[..<axis]) + [k] + Array(idx[(axis + r)...])]
    }
  }

  /// Nearest-neighbour resize of the spatial dims (all but the first two) of an `N, C, ...` tensor
  /// to `sizes`: output position `o` of a dim resized from `n` to `m` reads input position
  /// `floor(o * n / m)`, computed exactly in integers.
  public static func resizeNearest(_ x: Tensor, sizes: [Int]) -> Tensor {
    precondition(x.rank >= 2 && sizes.count == x.rank - 2, "resize: one size per spatial dim")
    let shape = Array(x.shape[..<2]) + sizes
    return tabulate(shape: shape, dtype: x.dtype) { idx in
      var src = idx
      for i in 2..<x.rank { src[i] = (idx[i] * x.shape[i]) / shape[i] }
      return x[src]
    }
  }

  /// Cumulative sum along `axis` (normalized), accumulated in float64. `exclusive`: each element
  /// sums the elements strictly before it (the first is 0); `reverse`: "before" means "after".
  public static func cumsum(_ x: Tensor, axis: Int, exclusive: Bool, reverse: Bool) -> Tensor {
    let n = x.shape[axis]
    let inner = x.shape[(axis + 1)...].reduce(1, *)
    let outer = x.shape[..<axis].reduce(1, *)
    var out = [Double](repeating: 0, count: x.count)
    for o in 0..<outer {
      for i in 0..<inner {
        var acc = 0.0
        for step in 0..<n {
          let k = reverse ? n - 1 - step : step
          let off = (o * n + k) * inner + i
          if exclusive {
            out[off] = acc
            acc += x.storage[off]
          } else {
            acc += x.storage[off]
            out[off] = acc
          }
        }
      }
    }
    return Tensor(dtype: x.dtype, shape: x.shape, storage: out)
  }
}
