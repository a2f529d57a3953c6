import Tensors

/// How close an actual element must be to the expected one.
///
/// Expected `e` and actual `a` agree when both are NaN, or both are the same infinity, or
/// `|a - e| <= atol * S + rtol * |e|`, where `S = max(1, scale)` and `scale` is the largest magnitude
/// of any reference value the output depends on (its ancestors, the output included). Scaling the
/// absolute term by the operating magnitude keeps cancellation (`1000.001 - 1000`) from reading as a
/// bug, while an output that is wrong by more than `atol` of its inputs' size is still caught.
/// Integer and bool outputs must be equal (`.exact`).
public struct Tolerance: Hashable, Sendable, Codable, CustomStringConvertible {
  public var rtol: Double
  public var atol: Double

  public init(rtol: Double, atol: Double) {
    self.rtol = rtol
    self.atol = atol
  }

  public static let exact = Tolerance(rtol: 0, atol: 0)

  /// Documented defaults per dtype: about 8–10 ulps of accumulated float32 rounding headroom times
  /// the depth of generated graphs, and the same relative slack for the narrower formats.
  public static func `default`(for dtype: DType) -> Tolerance {
    switch dtype {
    case .f16: return Tolerance(rtol: 1e-2, atol: 1e-2)
    case .bf16: return Tolerance(rtol: 5e-2, atol: 5e-2)
    case .f32: return Tolerance(rtol: 1e-3, atol: 1e-4)
    case .f64: return Tolerance(rtol: 1e-9, atol: 1e-12)
    default: return .exact
    }
  }

  /// Whether `actual` agrees with `expected` at operating scale `scale`.
  @inlinable public func agrees(_ expected: Double, _ actual: Double, scale: Double) -> Bool {
    if expected.isNaN || actual.isNaN { return expected.isNaN && actual.isNaN }
    if expected.isInfinite || actual.isInfinite { return expected == actual }
    return abs(actual - expected) <= atol * Swift.max(1, scale) + rtol * abs(expected)
  }

  /// The looser of two tolerances, term by term.
  public func loosened(by other: Tolerance) -> Tolerance {
    Tolerance(rtol: Swift.max(rtol, other.rtol), atol: Swift.max(atol, other.atol))
  }

  public var description: String { rtol == 0 && atol == 0 ? "exact" : "rtol \(rtol), atol \(atol)" }
}

/// Tolerances for every dtype, overridable per dtype.
public struct Tolerances: Sendable, Hashable {
  public var overrides: [DType: Tolerance] = [:]
  public init(overrides: [DType: Tolerance] = [:]) { self.overrides = overrides }
  public subscript(_ d: DType) -> Tolerance { overrides[d] ?? .default(for: d) }
}
