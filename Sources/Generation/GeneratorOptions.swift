import Operators
import Tensors

/// How models are generated. Every field is explicit: nothing is read from the environment.
public struct GeneratorOptions: Sendable {
  /// Number of operator nodes per model.
  public var nodes: Int = 10
  /// Operators to draw from, in catalogue order.
  public var operators: [OperatorSpec] = Catalogue.all
  /// The float dtype of a model; `nil` mixes float dtypes (casts connect them).
  public var dtype: DType? = .f32
  /// Largest rank of a generated tensor.
  public var maxRank = 4
  /// Largest size of any dimension.
  public var maxDim = 64
  /// Largest number of elements of any tensor.
  public var maxElements = 4096
  /// Largest total bytes of all tensors in a model.
  public var maxTotalBytes = 1 << 22
  /// Probability of forward insertion (consume existing values); otherwise backward insertion
  /// (produce an existing graph input).
  public var forwardProbability = 0.75
  /// Per-check budget of the Z3 fallback.
  public var solverTimeoutMilliseconds = 20

  public init() {}

  /// Keeps only `include` (if non-empty) minus `exclude`; unknown names are returned as errors.
  public static func selectOperators(
    include: [String], exclude: [String], from all: [OperatorSpec] = Catalogue.all
  ) -> Result<[OperatorSpec], UnknownOperators> {
    let known = Set(all.map(\.id))
    let unknown = (include + exclude).filter { !known.contains($0) }
    if !unknown.isEmpty { return .failure(UnknownOperators(names: unknown)) }
    let kept = all.filter { (include.isEmpty || include.contains($0.id)) && !exclude.contains($0.id) }
    return .success(kept)
  }
}

public struct UnknownOperators: Error, CustomStringConvertible {
  public let names: [String]
  public var description: String {
    "unknown operator(s): \(names.joined(separator: ", ")) (see `dlsmith ops`)"
  }
}
