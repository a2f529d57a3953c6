/// The operator catalogue: every hand-written operator, in a fixed order.
///
/// The order is part of determinism: the generator indexes this array with its seeded PRNG.
public enum Catalogue {
  public static let all: [OperatorSpec] =
    OperatorSpec.unaryFamily + OperatorSpec.binaryFamily + OperatorSpec.linearFamily
    + OperatorSpec.shapeFamily + OperatorSpec.indexingFamily

  /// Low-bit operators: int8/uint8 quantized, binary (bitpacked XNOR-popcount) and spiking. Float
  /// generation does not draw from them; `--kind int8|binary|spiking|mixed` does.
  public static let lowBit: [OperatorSpec] =
    OperatorSpec.quantizedFamily + OperatorSpec.binarizedFamily + OperatorSpec.spikingFamily

  /// Every hand-written operator: float first, then low-bit.
  public static let everything: [OperatorSpec] = all + lowBit

  private static let byID: [OperatorSpec.ID: OperatorSpec] = Dictionary(
    everything.map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a })

  /// The operator with this id, if any.
  public static func spec(_ id: OperatorSpec.ID) -> OperatorSpec? { byID[id] }
}
