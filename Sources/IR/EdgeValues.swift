import Operators
import Tensors

/// Special values mixed into a graph input's or constant's generated values: the IEEE edge cases
/// (±0, ±inf, NaN, subnormals) and exact ties (halfway values for round and casts, repeated values
/// for argmax, max and sorting, values exactly at a consumer's clip bounds).
///
/// After the tensor's ordinary draw (`sampleTensor`), the same generator goes on: each element is
/// replaced with probability `share` by a value of one of `kinds`, picked uniformly. So a tensor
/// without `edges` draws exactly what it drew before, and the same seed gives the same special
/// values in any process. Only float tensors get special values.
///
/// What each special value means for each operator, and which results every faithful
/// implementation must reproduce, is in Docs/SpecialValues.md (the reference follows IEEE 754 and
/// ONNX's definitions; what ONNX leaves open is judged `unstable` by the oracle, never a bug).
public struct EdgeValues: Hashable, Sendable, Codable, CustomStringConvertible {
  public enum Kind: String, Hashable, Sendable, Codable, CaseIterable {
    /// -0.0 and +0.0.
    case negativeZero = "-0"
    case zero = "0"
    case nan
    case infinity = "inf"
    case negativeInfinity = "-inf"
    /// A subnormal of the dtype, either sign.
    case subnormal
    /// `k + 0.5` next to the drawn value (a tie for round, to even), or in f32 and f64 the midpoint
    /// of two neighbouring f16 or bf16 numbers (a tie for a narrowing cast).
    case halfway
    /// A copy of another element of the same tensor: a tie for argmax, max, sorting.
    case duplicate
    /// One of `bounds` exactly (a consumer's clip bounds).
    case bound

    /// The kinds whose values are finite (the ones constants get: weights are never NaN or inf).
    public var isFinite: Bool { self != .nan && self != .infinity && self != .negativeInfinity }
  }

  /// Probability that an element is replaced, in 0...1.
  public var share: Double
  /// The kinds replaced elements are drawn from, in `Kind.allCases` order.
  public var kinds: [Kind]
  /// The values `.bound` draws from.
  public var bounds: [Double]

  public init(share: Double, kinds: [Kind], bounds: [Double] = []) {
    self.share = share
    self.kinds = kinds
    self.bounds = bounds
  }

  public var description: String {
    let b = bounds.isEmpty ? "" : " at \(bounds.map(formatFloat).joined(separator: ", "))"
    return "edges \(formatFloat(share)) of \(kinds.map(\.rawValue).joined(separator: ","))\(b)"
  }

  /// Replaces elements of `values` (already drawn and rounded into `dtype`) with special values,
  /// continuing `rng`. Non-float dtypes are left as they are.
  public func apply(to values: inout [Double], _ dtype: DType, _ rng: inout SplitMix64) {
    guard dtype.isFloat, !kinds.isEmpty, share > 0 else { return }
    let n = values.count
    for i in 0..<n where rng.chance(share) {
      let v: Double
      switch rng.pick(kinds) {
      case .negativeZero: v = -0.0
      case .zero: v = 0
      case .nan: v = .nan
      case .infinity: v = .infinity
      case .negativeInfinity: v = -.infinity
      case .subnormal:
        let tiny = dtype.rounded(dtype.smallestNormal * rng.unit())
        let magnitude = tiny == 0 ? dtype.smallestSubnormal : tiny
        v = rng.chance(0.5) ? -magnitude : magnitude
      case .halfway:
        let x = values[i].isFinite ? values[i] : 0
        v = EdgeValues.halfway(near: x, dtype, &rng)
      case .duplicate:
        v = n > 1 ? values[rng.int(in: 0...(n - 1))] : values[i]
      case .bound:
        v = bounds.isEmpty ? 0 : dtype.rounded(rng.pick(bounds))
      }
      values[i] = v
    }
  }

  /// A tie next to `x` that `dtype` holds exactly: `floor(x) + 0.5` (a tie for round), or, for f32
  /// and f64, the midpoint between two neighbouring f16 or bf16 numbers around `x` (a tie for a
  /// narrowing cast, which rounds to even).
  static func halfway(near x: Double, _ dtype: DType, _ rng: inout SplitMix64) -> Double {
    let narrower: [(DType, Int)] = dtype == .f32 || dtype == .f64 ? [(.bf16, 8), (.f16, 11)] : []
    let pick = rng.int(in: 0...narrower.count)
    guard pick > 0, x != 0 else { return dtype.rounded(x.rounded(.down) + 0.5) }
    let (format, p) = narrower[pick - 1]
    let e = Swift.max(Int(x.exponent), format == .f16 ? -14 : -126)
    let quantum = Double(sign: .plus, exponent: e - (p - 1), significand: 1)
    let tie = (x / quantum).rounded(.down) * quantum + quantum / 2
    return dtype.rounded(tie) == tie ? tie : dtype.rounded(x.rounded(.down) + 0.5)
  }
}
