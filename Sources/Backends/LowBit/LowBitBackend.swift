import IR
import Kernels
import Operators
import Tensors

/// The low-bit targets: `int8`, `binary` and `spiking` run the optimized integer kernels (blocked
/// int16 GEMM with int32 accumulation, word-level XOR-popcount, event-driven LIF); `int8-ref`,
/// `binary-ref` and `spiking-ref` run the plain-loop reference kernels. Both run every other node
/// (quantize/dequantize, float glue ops, the other low-bit families) with the float64 reference, so
/// a difference between a pair can only come from the optimized kernels, and must be zero: integer
/// outputs agree bit for bit, and float outputs of these kernels are computed by the same float64
/// operations in the same order.
public struct LowBitBackend: Backend {
  public enum Kind: String, Sendable, CaseIterable {
    case int8, binary, spiking

    /// The operator family this kind owns.
    public var family: OperatorSpec.Family {
      switch self {
      case .int8: return .quantized
      case .binary: return .binarized
      case .spiking: return .spiking
      }
    }
  }

  public let kind: Kind
  public let optimized: Bool
  private let interpreter: ReferenceBackend

  public init(kind: Kind, optimized: Bool) {
    self.kind = kind
    self.optimized = optimized
    let family = kind.family
    let table = Dictionary(
      Catalogue.everything.map { ($0.id, optimized && $0.family == family ? $0.optimizedVariant : $0) },
      uniquingKeysWith: { a, _ in a })
    interpreter = ReferenceBackend(operators: { table[$0] })
  }

  /// `int8`, `int8-ref`, `binary`, ... or `nil` for another name.
  public init?(name: String) {
    let base = name.hasSuffix("-ref") ? String(name.dropLast(4)) : name
    guard let kind = Kind(rawValue: base) else { return nil }
    self.init(kind: kind, optimized: !name.hasSuffix("-ref"))
  }

  public static let names: [String] = Kind.allCases.flatMap { [$0.rawValue, $0.rawValue + "-ref"] }

  public var name: String { optimized ? kind.rawValue : kind.rawValue + "-ref" }

  /// Every catalogue operator (mixed models run on each low-bit backend; only the backend's own
  /// family uses optimized kernels).
  public func supports(_ op: OperatorSpec.ID, _ dtype: DType) -> Bool { Catalogue.spec(op) != nil }

  public func run(_ graph: Graph, inputs: [Tensor]) throws(BackendError) -> [Tensor] {
    try interpreter.run(graph, inputs: inputs)
  }
}
