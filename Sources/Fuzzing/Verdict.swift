import IR
import Tensors

/// Where and by how much one output differs from the reference.
public struct Discrepancy: Hashable, Sendable, Codable, CustomStringConvertible {
  /// `values`: beyond the dtype's tolerance; `rounding`: an exact value (see `Oracle`) that differs
  /// from the one correct bit pattern by less than the tolerance: a skipped, added or double
  /// rounding step.
  public enum Kind: String, Sendable, Codable { case outputCount, shape, dtype, values, rounding }
  public var kind: Kind
  /// The output's value id in the model (`%N`).
  public var output: ValueID
  public var expectedType: String
  public var actualType: String
  /// For `.values`: number of disagreeing elements, worst absolute and relative errors, and the
  /// first disagreeing element.
  public var mismatched = 0
  public var maxAbsoluteError = 0.0
  public var maxRelativeError = 0.0
  public var firstIndex: [Int] = []
  public var expected = 0.0
  public var actual = 0.0

  public init(kind: Kind, output: ValueID, expectedType: String, actualType: String) {
    self.kind = kind
    self.output = output
    self.expectedType = expectedType
    self.actualType = actualType
  }

  /// The expected output's dtype (`f16` from `[2, 3] f16`).
  public var dtype: String { expectedType.split(separator: " ").last.map(String.init) ?? "" }

  public var description: String {
    switch kind {
    case .outputCount: return "output count: expected \(expectedType), got \(actualType)"
    case .shape, .dtype:
      return "%\(output): \(kind.rawValue) differs: expected \(expectedType), got \(actualType)"
    case .values, .rounding:
      let what = kind == .rounding ? " (exact value: must match bit for bit)" : ""
      return
        "%\(output): \(mismatched) element(s) differ, max abs err \(fmt(maxAbsoluteError)), max rel err \(fmt(maxRelativeError)); first at \(firstIndex): expected \(fmt(expected)), got \(fmt(actual))\(what)"
    }
  }

  private func fmt(_ x: Double) -> String { x.isNaN ? "nan" : "\(x)" }
}

/// The outcome of running one backend against the reference. A value, never an exception.
public enum Verdict: Hashable, Sendable {
  case agree
  case mismatch(Discrepancy)
  /// A difference explained by an input within tolerance of a discontinuity (round, floor, sign,
  /// comparisons, argmax, casts to integers) at the listed node indices: not a bug.
  case unstable(Discrepancy, nodes: [Int])
  /// The backend failed to compile or run the model.
  case failed(stage: String, message: String)
  /// The backend does not implement an operator or dtype of the model.
  case unsupported(String)

  public var isFinding: Bool {
    switch self {
    case .mismatch, .failed: return true
    default: return false
    }
  }

  public var label: String {
    switch self {
    case .agree: return "agree"
    case .mismatch: return "mismatch"
    case .unstable: return "unstable"
    case .failed: return "failed"
    case .unsupported: return "unsupported"
    }
  }
}
