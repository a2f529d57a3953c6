/// The operator catalogue: every hand-written operator, in a fixed order.
///
/// The order is part of determinism: the generator indexes this array with its seeded PRNG.
public enum Catalogue {
  public static let all: [OperatorSpec] =
    OperatorSpec.unaryFamily + OperatorSpec.binaryFamily + OperatorSpec.linearFamily
    + OperatorSpec.shapeFamily + OperatorSpec.indexingFamily

  private static let byID: [OperatorSpec.ID: OperatorSpec] = Dictionary(
    all.map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a })

  /// The operator with this id, if any.
  public static func spec(_ id: OperatorSpec.ID) -> OperatorSpec? { byID[id] }
}
