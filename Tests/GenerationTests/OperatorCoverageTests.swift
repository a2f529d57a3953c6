import Generation
import IR
import Operators
import Testing

/// Every operator of the low-bit families is reachable by generation: over a modest number of
/// models of `--kind int8|binary|spiking` (options as `dlsmith generate --kind K` sets them), each
/// operator of the kind's families appears in at least 1% of them (issue 15). int8 models also have int4 weights.
@Suite struct OperatorCoverageTests {
  /// Models per kind (seeds 1...200, so the counts are deterministic): 1% is 2 models.
  static let models = 200

  static func coverage(_ kind: ModelKind, count: Int) -> OperatorCoverage {
    var o = GeneratorOptions()
    o.kind = kind
    o.operators = kind.operators
    // As the CLI: spiking conv blocks are [T, N, C, H, W].
    if kind == .spiking || kind == .mixed { o.maxRank = 5 }
    var g = Generator(options: o)
    var c = OperatorCoverage(kind: kind)
    for seed in 1...count { c.add(g.generate(seed: UInt64(seed))) }
    return c
  }

  @Test(arguments: [ModelKind.int8, .binary, .spiking])
  func everyOperatorOfTheKindIsGenerated(_ kind: ModelKind) {
    let c = Self.coverage(kind, count: Self.models)
    #expect(c.total == Self.models)
    #expect(!c.rows.isEmpty)
    let table = c.lines.joined(separator: "\n")
    for row in c.rows {
      #expect(row.models > 0, "--kind \(kind.rawValue): \(row.op) is never generated\n\(table)")
      // Seeds are fixed, so the counts are too: at least 1% of the models (2 of 200).
      #expect(c.percent(row) >= 1, "--kind \(kind.rawValue): \(row.op) below 1%\n\(table)")
    }
    if kind == .int8 {
      #expect(c.int4Models > 0, "no int4 weights in \(Self.models) int8 models\n\(table)")
    }
  }
}
