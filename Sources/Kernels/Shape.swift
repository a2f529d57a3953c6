import Tensors

/// Reference kernels of the shape and reduction operators. Plain float64 loops over row-major
/// storage; results are raw doubles, rounded into the output dtype by `OperatorSpec.evaluate`.
extension Reference {
  /// Reduces `x` over `axes` (0-based, distinct): `f` receives the elements of one group in
  /// row-major order (so, for a single axis, in index order along it) and returns the result.
  /// `keepdims` keeps each reduced axis as size 1; otherwise it is removed.
  public static func reduce(
    _ x: Tensor, axes: [Int], keepdims: Bool, to dtype: DType? = nil, _ f: ([Double]) -> Double
  ) -> Tensor {
    let reduced = Set(axes)
    var keptShape = x.shape
    for a in reduced { keptShape[a] = 1 }
    let outStrides = Shape.strides(keptShape)
    var groups = [[Double]](repeating: [], count: keptShape.reduce(1, *))
    for i in 0..<x.count {
      let idx = Shape.index(of: i, shape: x.shape)
      var o = 0
      for d in 0..<idx.count where !reduced.contains(d) { o += idx[d] * outStrides[d] }
      groups[o].append(x.storage[i])
    }
    var shape: [Int] = []
    for d in 0..<x.rank where keepdims || !reduced.contains(d) { shape.append(keptShape[d]) }
    return Tensor(dtype: dtype ?? x.dtype, shape: shape, storage: groups.map(f))
  }

  /// Index (as an i64 tensor) of the largest (`largest`) or smallest element along `axis`.
  /// Ties give the first index. A NaN wins over every number (NumPy): if the group holds a NaN,
  /// the result is the index of its first NaN, for argmax and argmin alike.
  public static func argExtreme(_ x: Tensor, axis: Int, keepdims: Bool, largest: Bool) -> Tensor {
    reduce(x, axes: [axis], keepdims: keepdims, to: .i64) { v in
      var best = 0
      for i in v.indices.dropFirst() {
        if v[best].isNaN { break }
        if v[i].isNaN || (largest ? v[i] > v[best] : v[i] < v[best]) { best = i }
      }
      return Double(best)
    }
  }

  /// The same elements in the same row-major order with a new shape (reshape, flatten, squeeze,
  /// unsqueeze).
  public static func reshape(_ x: Tensor, to shape: [Int]) -> Tensor {
    Tensor(dtype: x.dtype, shape: shape, storage: x.storage)
  }

  /// Axis permutation: output dim `k` is input dim `perm[k]`, and
  /// `out[j] = x[i]` with `i[perm[k]] = j[k]`.
  public static func transpose(_ x: Tensor, perm: [Int]) -> Tensor {
    let outShape = perm.map { x.shape[$0] }
    let inStrides = x.strides
    var out = [Double](repeating: 0, count: x.count)
    for o in 0..<out.count {
      let j = Shape.index(of: o, shape: outShape)
      var off = 0
      for k in 0..<perm.count { off += j[k] * inStrides[perm[k]] }
      out[o] = x.storage[off]
    }
    return Tensor(dtype: x.dtype, shape: outShape, storage: out)
  }

  /// Concatenation along `axis` (0-based); all other dims must agree.
  public static func concat(_ xs: [Tensor], axis: Int) -> Tensor {
    var shape = xs[0].shape
    shape[axis] = xs.reduce(0) { $0 + $1.shape[axis] }
    let outer = shape[..<axis].reduce(1, *)
    var out: [Double] = []
    out.reserveCapacity(shape.reduce(1, *))
    for o in 0..<outer {
      for x in xs {
        // One contiguous block of `x` per outer index: its dims from `axis` on.
        let block = x.shape[axis...].reduce(1, *)
        out += x.storage[(o * block)..<((o + 1) * block)]
      }
    }
    return Tensor(dtype: xs[0].dtype, shape: shape, storage: out)
  }

  /// Splits along `axis` (0-based) into `parts` consecutive pieces of equal size;
  /// `x.shape[axis]` must be divisible by `parts`.
  public static func split(_ x: Tensor, axis: Int, parts: Int) -> [Tensor] {
    precondition(parts > 0 && x.shape[axis] % parts == 0, "split: dim not divisible by parts")
    let size = x.shape[axis] / parts
    let outer = x.shape[..<axis].reduce(1, *)
    let inner = x.shape[(axis + 1)...].reduce(1, *)
    var shape = x.shape
    shape[axis] = size
    return (0..<parts).map { p in
      var s: [Double] = []
      s.reserveCapacity(outer * size * inner)
      for o in 0..<outer {
        let start = (o * x.shape[axis] + p * size) * inner
        s += x.storage[start..<(start + size * inner)]
      }
      return Tensor(dtype: x.dtype, shape: shape, storage: s)
    }
  }
}
