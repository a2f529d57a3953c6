import Tensors

/// A tensor of the fast backend: `Float` storage for `f32`, `Int64` storage for `i32`, `i64` and
/// `bool` (0 or 1). Row-major, contiguous.
///
/// Fast kernels compute in the tensor's own type: float32 arithmetic in the kernel's natural order
/// (sgemm for matmul and convolution), integer arithmetic wrapping in two's complement (`&+`, then
/// wrapped to 32 bits for `i32`). They never round through float64, so their results differ from the
/// reference exactly where a real float32 compiler's would.
public struct FastTensor: Sendable, Equatable {
  public var dtype: DType
  public var shape: [Int]
  public var floats: [Float]
  public var ints: [Int64]

  /// The dtypes the fast backend implements.
  public static let supported: Set<DType> = [.f32, .i32, .i64, .bool]

  public init(floats: [Float], shape: [Int]) {
    precondition(floats.count == shape.reduce(1, *), "storage \(floats.count) ≠ shape \(shape)")
    self.dtype = .f32
    self.shape = shape
    self.floats = floats
    self.ints = []
  }

  public init(ints: [Int64], dtype: DType, shape: [Int]) {
    precondition(dtype == .i32 || dtype == .i64 || dtype == .bool, "integer storage for \(dtype)")
    precondition(ints.count == shape.reduce(1, *), "storage \(ints.count) ≠ shape \(shape)")
    self.dtype = dtype
    self.shape = shape
    self.floats = []
    self.ints = dtype == .i32 ? ints.map(wrap32) : ints
  }

  /// Converts a reference tensor (exact: f32 values are floats, integers fit in Int64).
  public init(_ t: Tensor) {
    precondition(FastTensor.supported.contains(t.dtype), "fast backend does not support \(t.dtype)")
    if t.dtype == .f32 {
      self.init(floats: t.storage.map { Float($0) }, shape: t.shape)
    } else {
      // 2^63 (the reference's saturated +inf for i64) is not an Int64: saturate.
      self.init(
        ints: t.storage.map { $0 >= 0x1p63 ? .max : $0 <= -0x1p63 ? .min : Int64($0) }, dtype: t.dtype,
        shape: t.shape)
    }
  }

  /// The reference representation (exact).
  public var tensor: Tensor {
    Tensor(
      dtype: dtype, shape: shape, storage: dtype == .f32 ? floats.map(Double.init) : ints.map(Double.init))
  }

  public var count: Int { shape.reduce(1, *) }
  public var isFloat: Bool { dtype == .f32 }
}

/// Wraps to a signed 32-bit value (two's complement), kept in an Int64.
@inlinable public func wrap32(_ x: Int64) -> Int64 { Int64(Int32(truncatingIfNeeded: x)) }
