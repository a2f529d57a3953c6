/// A dense, row-major tensor whose elements are carried as `Double`.
///
/// Every element is a value of `dtype` (already rounded into it): floats are exactly representable
/// in their format, integers are integral, bools are 0 or 1. Carrying one element type keeps the
/// reference kernels generic; the exact dtype semantics live in `DType.rounded(_:)`.
public struct Tensor: Hashable, Sendable {
  public var dtype: DType
  public var shape: [Int]
  public var storage: [Double]

  /// Creates a tensor; `storage` must hold `shape.product` elements.
  public init(dtype: DType, shape: [Int], storage: [Double]) {
    precondition(storage.count == shape.reduce(1, *), "storage \(storage.count) ≠ shape \(shape)")
    self.dtype = dtype
    self.shape = shape
    self.storage = storage
  }

  /// Creates a tensor, rounding every value into `dtype`.
  public init(rounding values: [Double], dtype: DType, shape: [Int]) {
    self.init(dtype: dtype, shape: shape, storage: values.map(dtype.rounded))
  }

  public init(filled value: Double, dtype: DType, shape: [Int]) {
    self.init(
      dtype: dtype, shape: shape, storage: .init(repeating: dtype.rounded(value), count: shape.reduce(1, *)))
  }

  public var count: Int { storage.count }
  public var rank: Int { shape.count }

  /// Row-major strides in elements.
  public var strides: [Int] { Shape.strides(shape) }

  /// True when every element is finite (integers and bools always are).
  public var isFinite: Bool { storage.allSatisfy(\.isFinite) }
  /// Whether this float tensor holds a value no ordinary draw gives: NaN, ±inf, -0 or a subnormal.
  public var holdsSpecialValues: Bool {
    dtype.isFloat && storage.contains { dtype.isSpecial($0) && !($0 == 0 && $0.sign == .plus) }
  }

  /// Element at a multi-index.
  public subscript(_ index: [Int]) -> Double {
    get { storage[Shape.offset(index, strides: strides)] }
    set { storage[Shape.offset(index, strides: strides)] = newValue }
  }
}

/// Shape arithmetic shared by kernels and rules.
public enum Shape {
  public static func strides(_ shape: [Int]) -> [Int] {
    var s = [Int](repeating: 1, count: shape.count)
    var acc = 1
    for i in stride(from: shape.count - 1, through: 0, by: -1) {
      s[i] = acc
      acc *= shape[i]
    }
    return s
  }

  @inlinable public static func offset(_ index: [Int], strides: [Int]) -> Int {
    var o = 0
    for i in 0..<index.count { o += index[i] * strides[i] }
    return o
  }

  /// Multi-index of a row-major linear offset.
  public static func index(of offset: Int, shape: [Int]) -> [Int] {
    var idx = [Int](repeating: 0, count: shape.count)
    var r = offset
    for i in stride(from: shape.count - 1, through: 0, by: -1) where shape[i] > 0 {
      idx[i] = r % shape[i]
      r /= shape[i]
    }
    return idx
  }

  /// NumPy broadcasting of two shapes; `nil` if incompatible.
  public static func broadcast(_ a: [Int], _ b: [Int]) -> [Int]? {
    let r = Swift.max(a.count, b.count)
    var out = [Int](repeating: 1, count: r)
    for i in 0..<r {
      let x = i < r - a.count ? 1 : a[i - (r - a.count)]
      let y = i < r - b.count ? 1 : b[i - (r - b.count)]
      if x == y || y == 1 {
        out[i] = x
      } else if x == 1 {
        out[i] = y
      } else {
        return nil
      }
    }
    return out
  }

  /// Normalizes a possibly negative axis for `rank`; `nil` if out of range.
  public static func axis(_ a: Int, rank: Int) -> Int? {
    let n = a < 0 ? a + rank : a
    return (0..<Swift.max(rank, 1)).contains(n) ? n : nil
  }
}
