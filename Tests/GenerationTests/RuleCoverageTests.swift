import Backends
import Foundation
import Generation
import Testing

/// Generation with the fast backend's pattern library drives every rewrite rule of its passes
/// (`Pass.allRules`, Docs/FastBackend.md).
@Suite struct RuleCoverageTests {
  static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("Patterns").path

  /// 1,500 models of 10 nodes with `--patterns fast`, compiled (not run): every rule fires in at
  /// least 1% of them, and no pass produces an invalid graph. A rule under 1% is named with its
  /// count; `dlsmith bench rules --patterns fast --count 15000` gives the rates over more models.
  @Test func theFastLibraryDrivesEveryRewriteRule() throws {
    var options = GeneratorOptions()
    options.patterns = try PatternLibrary.select(
      "fast", backends: [], directory: Self.directory, operators: options.operators)
    var generator = Generator(options: options)
    let backend = FastBackend()
    var coverage = RuleCoverage()
    for seed in UInt64(1)...1500 {
      var fired = RuleCounts()
      do {
        _ = try backend.compile(generator.generate(seed: seed), counting: &fired)
      } catch  where !error.isUnsupported {
        Issue.record("seed \(seed): \(error)")
      } catch {}
      coverage.add(fired)
    }
    let rare = coverage.under(0.01).map { "\($0.rule.name) (\($0.models) of \(coverage.models) models)" }
    #expect(rare.isEmpty, "rules that fire in under 1% of the models: \(rare.joined(separator: ", "))")
  }
}
