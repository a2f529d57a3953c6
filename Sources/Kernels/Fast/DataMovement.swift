import Tensors

// MARK: - Generic data movement

extension Fast {
  /// Builds a row-major tensor of `shape` from `src`: output element `(j_0, ..., j_{r-1})` reads
  /// `src[offsets[0][j_0] + ... + offsets[r-1][j_{r-1}]]`, or is `fill` if any of those entries is
  /// negative. Every data-movement kernel (transpose, slice, pad, expand, tile, gather, resize)
  /// reduces to per-axis offset tables. Runs of consecutive offsets along the last axis are copied
  /// as blocks.
  static func tabulate<T: BitwiseCopyable>(
    _ src: [T], shape: [Int], offsets: [[Int]], fill: T
  ) -> [T] {
    precondition(offsets.count == shape.count && zip(offsets, shape).allSatisfy { $0.count == $1 })
    let total = shape.reduce(1, *)
    if total == 0 { return [] }
    let r = shape.count
    if r == 0 { return [src[0]] }
    let last = offsets[r - 1]
    let inner = shape[r - 1]
    let contiguous = last[0] >= 0 && (0..<inner).allSatisfy { last[$0] == last[0] + $0 }
    let outerDims = Array(shape[..<(r - 1)])
    return [T](unsafeUninitializedCapacity: total) { buffer, initialized in
      src.withUnsafeBufferPointer { ps in
        last.withUnsafeBufferPointer { pl in
          let ps = ps.baseAddress!
          let pl = pl.baseAddress!
          var dst = buffer.baseAddress!
          var idx = [Int](repeating: 0, count: r - 1)
          for _ in 0..<(total / inner) {
            var base = 0
            var hole = false
            for d in 0..<(r - 1) {
              let o = offsets[d][idx[d]]
              if o < 0 { hole = true }
              base += o
            }
            if hole {
              dst.initialize(repeating: fill, count: inner)
            } else if contiguous {
              dst.initialize(from: ps + base + pl[0], count: inner)
            } else {
              for j in 0..<inner {
                let o = pl[j]
                (dst + j).initialize(to: o < 0 ? fill : ps[base + o])
              }
            }
            dst += inner
            var d = r - 2
            while d >= 0 {
              idx[d] += 1
              if idx[d] < outerDims[d] { break }
              idx[d] = 0
              d -= 1
            }
          }
        }
      }
      initialized = total
    }
  }

  /// `tabulate` over whichever storage `x` uses; `fill` is already rounded to `x.dtype`.
  static func tabulated(_ x: FastTensor, shape: [Int], offsets: [[Int]], fill: Double = 0) -> FastTensor {
    var out = x
    out.shape = shape
    if x.isFloat {
      out.floats = tabulate(x.floats, shape: shape, offsets: offsets, fill: Float(fill))
    } else {
      out.ints = tabulate(x.ints, shape: shape, offsets: offsets, fill: Int64(fill))
    }
    return out
  }

  /// Row-major strides of `shape`.
  static func rowMajorStrides(_ shape: [Int]) -> [Int] {
    var s = [Int](repeating: 1, count: shape.count)
    var acc = 1
    for d in stride(from: shape.count - 1, through: 0, by: -1) {
      s[d] = acc
      acc *= shape[d]
    }
    return s
  }

  /// Offset table `j * stride` for `0..<n`.
  static func linearOffsets(_ n: Int, stride: Int) -> [Int] { (0..<n).map { $0 * stride } }
}

// MARK: - Views (no data movement)

extension Fast {
  /// The same row-major elements with a new shape (reshape, flatten, squeeze, unsqueeze): no copy.
  public static func reshape(_ x: FastTensor, to shape: [Int]) -> FastTensor {
    precondition(shape.reduce(1, *) == x.count, "reshape: \(x.shape) has \(x.count) elements, not \(shape)")
    var out = x
    out.shape = shape
    return out
  }

  /// ONNX Flatten at `axis` (normalized, `0...rank`): `[prod(dims[..<axis]), prod(dims[axis...])]`.
  public static func flatten(_ x: FastTensor, axis: Int) -> FastTensor {
    precondition((0...x.shape.count).contains(axis), "flatten: axis out of range")
    return reshape(x, to: [x.shape[..<axis].reduce(1, *), x.shape[axis...].reduce(1, *)])
  }

  /// Removes the listed axes (0-based, each of size 1).
  public static func squeeze(_ x: FastTensor, axes: [Int]) -> FastTensor {
    precondition(axes.allSatisfy { x.shape.indices.contains($0) && x.shape[$0] == 1 }, "squeeze: bad axes")
    return reshape(x, to: x.shape.indices.filter { !axes.contains($0) }.map { x.shape[$0] })
  }

  /// Inserts a size-1 axis so that it is output axis `axis` (normalized, `0...rank`).
  public static func unsqueeze(_ x: FastTensor, axis: Int) -> FastTensor {
    precondition((0...x.shape.count).contains(axis), "unsqueeze: axis out of range")
    var shape = x.shape
    shape.insert(1, at: axis)
    return reshape(x, to: shape)
  }
}

// MARK: - Copies

extension Fast {
  /// Axis permutation: output dim `k` is input dim `perm[k]`.
  public static func transpose(_ x: FastTensor, perm: [Int]) -> FastTensor {
    precondition(perm.sorted() == Array(0..<x.shape.count), "transpose: \(perm) is not a permutation")
    let s = rowMajorStrides(x.shape)
    let shape = perm.map { x.shape[$0] }
    return tabulated(x, shape: shape, offsets: perm.map { linearOffsets(x.shape[$0], stride: s[$0]) })
  }

  /// Concatenation along `axis` (0-based); all other dims must agree and dtypes must match.
  public static func concat(_ xs: [FastTensor], axis: Int) -> FastTensor {
    precondition(!xs.isEmpty, "concat: no inputs")
    let first = xs[0]
    precondition(
      xs.allSatisfy { t in
        t.dtype == first.dtype && t.shape.count == first.shape.count
          && t.shape.indices.allSatisfy { $0 == axis || t.shape[$0] == first.shape[$0] }
      } && first.shape.indices.contains(axis), "concat: shapes or dtypes do not match")
    var shape = first.shape
    shape[axis] = xs.reduce(0) { $0 + $1.shape[axis] }
    let outer = shape[..<axis].reduce(1, *)
    func join<T: BitwiseCopyable>(_ parts: [[T]], blocks: [Int]) -> [T] {
      var out: [T] = []
      out.reserveCapacity(shape.reduce(1, *))
      for o in 0..<outer {
        for (p, block) in zip(parts, blocks) { out += p[(o * block)..<((o + 1) * block)] }
      }
      return out
    }
    let blocks = xs.map { $0.shape[axis...].reduce(1, *) }
    var out = first
    out.shape = shape
    if first.isFloat {
      out.floats = join(xs.map(\.floats), blocks: blocks)
    } else {
      out.ints = join(xs.map(\.ints), blocks: blocks)
    }
    return out
  }

  /// Splits along `axis` (0-based) into `parts` consecutive pieces of equal size.
  public static func split(_ x: FastTensor, axis: Int, parts: Int) -> [FastTensor] {
    precondition(x.shape.indices.contains(axis), "split: axis out of range")
    precondition(parts > 0 && x.shape[axis] % parts == 0, "split: dim not divisible by parts")
    let size = x.shape[axis] / parts
    let outer = x.shape[..<axis].reduce(1, *)
    let inner = x.shape[(axis + 1)...].reduce(1, *)
    var shape = x.shape
    shape[axis] = size
    func piece<T>(_ s: [T], _ p: Int) -> [T] {
      var out: [T] = []
      out.reserveCapacity(outer * size * inner)
      for o in 0..<outer {
        let start = (o * x.shape[axis] + p * size) * inner
        out += s[start..<(start + size * inner)]
      }
      return out
    }
    return (0..<parts).map { p in
      var t = x
      t.shape = shape
      if x.isFloat { t.floats = piece(x.floats, p) } else { t.ints = piece(x.ints, p) }
      return t
    }
  }

  /// NumPy basic slicing `x[..., start:end:step, ...]` along `axis` (0-based) with `step >= 1`:
  /// negative `start`/`end` count from the end, then both are clamped to `[0, d]`.
  public static func slice(_ x: FastTensor, axis: Int, start: Int, end: Int, step: Int) -> FastTensor {
    precondition(step > 0 && x.shape.indices.contains(axis), "slice: bad axis or step")
    let d = x.shape[axis]
    let s = Swift.min(Swift.max(start < 0 ? start + d : start, 0), d)
    let e = Swift.min(Swift.max(end < 0 ? end + d : end, 0), d)
    var shape = x.shape
    shape[axis] = e > s ? (e - s + step - 1) / step : 0
    let st = rowMajorStrides(x.shape)
    let offsets = shape.indices.map { i in
      i == axis
        ? (0..<shape[i]).map { (s + $0 * step) * st[i] } : linearOffsets(shape[i], stride: st[i])
    }
    return tabulated(x, shape: shape, offsets: offsets)
  }

  /// Pads every axis `i` with `begin[i]` elements before and `end[i]` after. `constant` fills with
  /// `value` rounded to the dtype (nearest float32; truncated toward zero for integers; nonzero is
  /// 1 for bool); `reflect` mirrors without the edge (pads < dim); `edge` repeats the edge.
  public static func pad(
    _ x: FastTensor, begin: [Int], end: [Int], mode: Reference.PadMode, value: Double
  ) -> FastTensor {
    let r = x.shape.count
    precondition(begin.count == r && end.count == r, "pad: one begin and end pad per axis")
    let st = rowMajorStrides(x.shape)
    let shape = (0..<r).map { x.shape[$0] + begin[$0] + end[$0] }
    let offsets = (0..<r).map { i in
      let d = x.shape[i]
      return (0..<shape[i]).map { o -> Int in
        var j = o - begin[i]
        if j < 0 || j >= d {
          switch mode {
          case .constant: return -1
          case .edge: j = j < 0 ? 0 : d - 1
          case .reflect:
            precondition(begin[i] < d && end[i] < d, "pad: reflect needs pads smaller than the dim")
            j = j < 0 ? -j : 2 * (d - 1) - j
          }
        }
        return j * st[i]
      }
    }
    return tabulated(x, shape: shape, offsets: offsets, fill: x.dtype.rounded(value))
  }

  /// NumPy broadcast of `x` to `shape` (ONNX Expand): the result has the broadcast of both shapes.
  public static func expand(_ x: FastTensor, to shape: [Int]) -> FastTensor {
    guard let out = Shape.broadcast(x.shape, shape) else {
      preconditionFailure("expand: \(x.shape) does not broadcast with \(shape)")
    }
    let padded = [Int](repeating: 1, count: out.count - x.shape.count) + x.shape
    let st = rowMajorStrides(padded)
    let offsets = out.indices.map { i in
      padded[i] == 1 ? [Int](repeating: 0, count: out[i]) : linearOffsets(out[i], stride: st[i])
    }
    return tabulated(x, shape: out, offsets: offsets)
  }

  /// Repeats `x` `repeats[i]` times along every axis `i` (ONNX Tile).
  public static func tile(_ x: FastTensor, repeats: [Int]) -> FastTensor {
    precondition(repeats.count == x.shape.count, "tile: one repeat count per axis")
    let st = rowMajorStrides(x.shape)
    let shape = x.shape.indices.map { x.shape[$0] * repeats[$0] }
    let offsets = shape.indices.map { i in (0..<shape[i]).map { ($0 % x.shape[i]) * st[i] } }
    return tabulated(x, shape: shape, offsets: offsets)
  }

  /// ONNX Gather along `axis` (0-based): `out[i.., j.., k..] = data[i.., indices[j..], k..]`;
  /// negative indices count from the end and must lie in `[-d, d-1]`.
  public static func gather(_ data: FastTensor, _ indices: FastTensor, axis: Int) -> FastTensor {
    precondition(data.shape.indices.contains(axis), "gather: axis out of range")
    precondition(!indices.isFloat, "gather: indices must be integers")
    let d = data.shape[axis]
    let st = rowMajorStrides(data.shape)
    let picks = indices.ints.map { v -> Int in
      precondition(v >= Int64(-d) && v < Int64(d), "gather: index \(v) out of range for dim \(d)")
      return (v < 0 ? Int(v) + d : Int(v)) * st[axis]
    }
    // Gather on the flattened indices, then restore their shape.
    var flat = data.shape
    flat[axis] = picks.count
    let offsets = flat.indices.map { i in i == axis ? picks : linearOffsets(flat[i], stride: st[i]) }
    let shape = Array(data.shape[..<axis]) + indices.shape + Array(data.shape[(axis + 1)...])
    return reshape(tabulated(data, shape: flat, offsets: offsets), to: shape)
  }

  /// Nearest-neighbour resize of the spatial dims (all but the first two) to `sizes`: output
  /// position `o` of a dim resized from `n` to `m` reads input `(o * n) / m` (exact integers; ONNX
  /// Resize nearest / asymmetric / floor).
  public static func resizeNearest(_ x: FastTensor, sizes: [Int]) -> FastTensor {
    precondition(x.shape.count >= 2 && sizes.count == x.shape.count - 2, "resize: one size per spatial dim")
    let shape = Array(x.shape[..<2]) + sizes
    let st = rowMajorStrides(x.shape)
    let offsets = shape.indices.map { i in
      i < 2
        ? linearOffsets(shape[i], stride: st[i])
        : (0..<shape[i]).map { ($0 * x.shape[i]) / shape[i] * st[i] }
    }
    return tabulated(x, shape: shape, offsets: offsets)
  }
}
