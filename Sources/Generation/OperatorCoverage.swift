import IR
import Operators

/// How many generated models contain each operator of a kind's low-bit families (`dlsmith bench
/// generate` prints it; a test asserts that no operator of `--kind int8|binary|spiking` is missing).
public struct OperatorCoverage: Sendable {
  /// One operator: the models that contain it at least once.
  public struct Row: Sendable {
    public var op: OperatorSpec.ID
    public var models: Int
  }

  /// Models counted.
  public private(set) var total = 0
  /// The kind's operators in catalogue order (an operator the models never contain stays at 0).
  public private(set) var rows: [Row]
  /// Models with a `qlinear_conv2d` whose `weight_bits` is 4 (int4 weights, packed two per byte by
  /// the optimized `int8` backend).
  public private(set) var int4Models = 0

  /// The operators counted for `kind`: its low-bit families (none for `float`).
  public static func operators(_ kind: ModelKind) -> [OperatorSpec] {
    Catalogue.lowBit.filter { kind.families.contains($0.family) }
  }

  public init(kind: ModelKind) {
    rows = Self.operators(kind).map { Row(op: $0.id, models: 0) }
  }

  /// Counts one model.
  public mutating func add(_ graph: Graph) {
    total += 1
    let ops = Set(graph.nodes.map(\.op))
    for i in rows.indices where ops.contains(rows[i].op) { rows[i].models += 1 }
    if graph.nodes.contains(where: { $0.op == "qlinear_conv2d" && $0.attributes.string("weight_bits") == "4" }
    ) {
      int4Models += 1
    }
  }

  /// The share of models containing `row`'s operator, in percent.
  public func percent(_ row: Row) -> Double { percent(row.models) }

  /// `models` as a share of all models counted, in percent.
  func percent(_ models: Int) -> Double { total == 0 ? 0 : 100 * Double(models) / Double(total) }

  /// `x` with one decimal, without Foundation.
  static func oneDecimal(_ x: Double) -> String {
    let tenths = Int((x * 10).rounded())
    return "\(tenths / 10).\(tenths % 10)"
  }

  /// One line per operator: `  qgemm  123/1000 models (12.3%)`, then the int4 line if the kind
  /// quantizes.
  public var lines: [String] {
    let width = (rows.map(\.op.count).max() ?? 0) + 2
    var out = rows.map { r in
      r.op + String(repeating: " ", count: width - r.op.count)
        + "\(r.models)/\(total) models (\(Self.oneDecimal(percent(r)))%)"
    }
    if rows.contains(where: { $0.op == "qlinear_conv2d" }) {
      out.append(
        "  of which int4 weights (qlinear_conv2d weight_bits 4): \(int4Models)/\(total) models (\(Self.oneDecimal(percent(int4Models))))%)"
      )
    }
    return out
  }
}

extension ModelKind {
  /// The low-bit operator families a model of this kind is built from.
  public var families: [OperatorSpec.Family] {
    switch self {
    case .float: return []
    case .int8: return [.quantized]
    case .binary: return [.binarized]
    case .spiking: return [.spiking]
    case .mixed: return [.quantized, .binarized, .spiking]
    }
  }
}
