import Tensors

/// Reference kernels: obviously correct float64 loops. Results are raw doubles; the caller
/// (`OperatorSpec.evaluate`) rounds them into the output dtype.
public enum Reference {}

extension Reference {
  /// Applies `f` to every element.
  public static func map(_ x: Tensor, to dtype: DType? = nil, _ f: (Double) -> Double) -> Tensor {
    Tensor(dtype: dtype ?? x.dtype, shape: x.shape, storage: x.storage.map(f))
  }

  /// Row-major offsets into an input of shape `inShape` for every element of the broadcast output
  /// `outShape` (NumPy rules: align trailing dims, size-1 dims repeat).
  public static func broadcastOffsets(from inShape: [Int], to outShape: [Int]) -> [Int] {
    let r = outShape.count
    let padded = [Int](repeating: 1, count: r - inShape.count) + inShape
    let inStrides = Shape.strides(padded)
    let total = outShape.reduce(1, *)
    var offsets = [Int](repeating: 0, count: total)
    var idx = [Int](repeating: 0, count: r)
    for o in 0..<total {
      var off = 0
      for d in 0..<r where padded[d] != 1 { off += idx[d] * inStrides[d] }
      offsets[o] = off
      var d = r - 1
      while d >= 0 {
        idx[d] += 1
        if idx[d] < outShape[d] { break }
        idx[d] = 0
        d -= 1
      }
    }
    return offsets
  }

  /// Elementwise binary operation with NumPy broadcasting.
  public static func broadcast(
    _ a: Tensor, _ b: Tensor, to dtype: DType? = nil, _ f: (Double, Double) -> Double
  ) -> Tensor {
    guard let shape = Shape.broadcast(a.shape, b.shape) else {
      preconditionFailure("shapes \(a.shape) and \(b.shape) do not broadcast")
    }
    let oa = broadcastOffsets(from: a.shape, to: shape)
    let ob = broadcastOffsets(from: b.shape, to: shape)
    var out = [Double](repeating: 0, count: oa.count)
    for i in 0..<out.count { out[i] = f(a.storage[oa[i]], b.storage[ob[i]]) }
    return Tensor(dtype: dtype ?? a.dtype, shape: shape, storage: out)
  }

  /// Elementwise ternary operation with NumPy broadcasting (used by `where`).
  public static func broadcast(
    _ a: Tensor, _ b: Tensor, _ c: Tensor, to dtype: DType,
    _ f: (Double, Double, Double) -> Double
  ) -> Tensor {
    guard let ab = Shape.broadcast(a.shape, b.shape), let shape = Shape.broadcast(ab, c.shape) else {
      preconditionFailure("shapes \(a.shape), \(b.shape), \(c.shape) do not broadcast")
    }
    let oa = broadcastOffsets(from: a.shape, to: shape)
    let ob = broadcastOffsets(from: b.shape, to: shape)
    let oc = broadcastOffsets(from: c.shape, to: shape)
    var out = [Double](repeating: 0, count: oa.count)
    for i in 0..<out.count { out[i] = f(a.storage[oa[i]], b.storage[ob[i]], c.storage[oc[i]]) }
    return Tensor(dtype: dtype, shape: shape, storage: out)
  }
}
