import Kernels
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
  /// Per-check budget of the Z3 fallback in Z3's deterministic resource units ("rlimit"), so that
  /// the same seed gives the same model on any machine load. 12,000 units take about 18 ms here
  /// (about 650 units per millisecond, measured on generation's Z3 calls).
  public var solverResourceLimit: UInt32 = 12_000
  /// Per-check wall-time backstop of the Z3 fallback, far above what `solverResourceLimit` allows.
  public var solverTimeoutMilliseconds = 2_000
  /// Which kind of model: float, or low-bit (`int8` quantizes a generated float graph, `binary`
  /// and `spiking` draw from their families plus float glue, `mixed` combines them).
  public var kind: ModelKind = .float
  /// Requantization variants quantized models draw from (one per node); `[.onnx]` for models that
  /// export to ONNX exactly.
  public var requantVariants: [RequantVariant] = RequantVariant.allCases
  /// Optimizer patterns to graft (`Pattern`); empty grafts none and draws exactly what a generator
  /// without patterns draws.
  public var patterns: [Pattern] = []
  /// Probability that a growth step grafts a pattern (when `patterns` is not empty).
  public var patternRate = 0.3
  /// Probability that a graft is one of the pattern's near misses rather than the pattern itself.
  public var nearMissRate = 0.3
  /// Share of models whose inputs and constants mix in special values (`EdgeValuePlan`): ±0,
  /// ±inf, NaN, subnormals, ties. 0 draws exactly what a generator without them draws.
  public var edgeRate = 0.0

  public init() {}

  /// Keeps only `include` (if non-empty) minus `exclude`; unknown names are returned as errors.
  public static func selectOperators(
    include: [String], exclude: [String], from all: [OperatorSpec] = Catalogue.everything
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

/// The kinds of model `dlsmith generate --kind` and `fuzz --kind` synthesize.
public enum ModelKind: String, Sendable, CaseIterable, Codable {
  case float, int8, binary, spiking, mixed

  /// Float operators that connect low-bit blocks (same order as the catalogue).
  static let glue = ["relu", "add", "mul", "reshape", "transpose", "concat", "max_pool2d"]

  /// The generator draws operators uniformly from its list; a low-bit family appears four times so
  /// that it, not the glue, makes up most of a model.
  static func weighted(_ family: [OperatorSpec]) -> [OperatorSpec] {
    Array([[OperatorSpec]](repeating: family, count: 4).joined())
  }

  /// The operators a model of this kind draws from (before `--ops`/`--exclude-ops`).
  public var operators: [OperatorSpec] {
    func pick(_ ids: [String]) -> [OperatorSpec] { Catalogue.all.filter { ids.contains($0.id) } }
    switch self {
    case .float: return Catalogue.all
    case .int8: return pick(Quantizer.quantizable)
    case .binary: return pick(ModelKind.glue) + ModelKind.weighted(OperatorSpec.binarizedFamily)
    case .spiking: return pick(ModelKind.glue) + ModelKind.weighted(OperatorSpec.spikingFamily)
    case .mixed:
      return Catalogue.all + ModelKind.weighted(OperatorSpec.binarizedFamily)
        + ModelKind.weighted(OperatorSpec.spikingFamily)
    }
  }
}
