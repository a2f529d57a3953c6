import Tensors

extension OperatorSpec {
  /// Families whose exact integer or bit arithmetic has no special values (Docs/LowBit.md).
  static let withoutSpecialValues: Set<Family> = [.quantized, .binarized, .spiking, .onnx]

  /// What the reference does with NaN and ±inf, and which of it every faithful implementation must
  /// reproduce (the oracle's reading: `ImplementationChoice` in Backends, Docs/SpecialValues.md).
  /// The same holds for every operator for the rest: a zero's sign is never compared (-0 == +0), and
  /// a later result that depends on it (1 / x) is unstable; subnormals are kept, and results that
  /// change when they are flushed to zero are unstable. `nil` for operators without float operands.
  public var specialValues: String? {
    guard !OperatorSpec.withoutSpecialValues.contains(family),
      inputs.contains(where: { $0.dtypes.allowed.contains(where: \.isFloat) })
    else { return nil }
    let comparison = outputTypes == [.fixed(.bool)]
    let nan: String
    if id == "cast" {
      nan =
        "NaN stays NaN in a float dtype and is true as bool (pinned); to an integer dtype ONNX leaves NaN, ±inf and out-of-range values undefined (the reference gives 0 for NaN and saturates ±inf; unstable)"
    } else if traits.contains(.nanUnspecified) {
      nan =
        "ONNX defines the result by comparisons or cases, which NaN falls outside: the reference propagates NaN, and ignoring or picking it is faithful too (results that depend on it are unstable)"
    } else if comparison {
      nan = "every comparison with NaN is false, != true (IEEE; pinned)"
    } else {
      nan = "NaN propagates to every result that depends on it (IEEE and ONNX's formula; pinned)"
    }
    let inf =
      traits.contains(.exact)
      ? "±inf follow IEEE arithmetic (inf - inf and 0 * inf are NaN; pinned)"
      : "±inf: the formula at infinity; pinned only where the result is the same with the dtype's largest finite value instead (equivalent formulas, sigmoid as exp(x) / (1 + exp(x)) or a padded 0 times inf, differ there)"
    return "NaN: \(nan). \(inf)."
  }
}
