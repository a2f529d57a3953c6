import Foundation
import TestSupport
import Testing

/// End-to-end: runs the built `dlsmith` binary.
@Suite(.serialized) struct CLITests {}

extension CLITests {
  /// Same seed, two processes: identical file bytes (Swift's per-process hash seed must not leak).
  @Test func generateIsDeterministicAcrossProcesses() throws {
    let dir = temporaryDirectory()
    let a = dir.appendingPathComponent("a.dlsmith.json").path
    let b = dir.appendingPathComponent("b.dlsmith.json").path
    for seed in ["7", "12345"] {
      let r1 = try runDLSmith(["generate", "--seed", seed, "--nodes", "10", "-o", a])
      let r2 = try runDLSmith(["generate", "--seed", seed, "--nodes", "10", "-o", b])
      #expect(r1.status == 0 && r2.status == 0, "\(r1.stderr)")
      let da = try Data(contentsOf: URL(fileURLWithPath: a))
      let db = try Data(contentsOf: URL(fileURLWithPath: b))
      #expect(da == db)
      #expect(!da.isEmpty)
    }
  }

  @Test func generateThenRun() throws {
    let path = temporaryDirectory().appendingPathComponent("m.dlsmith.json").path
    #expect(try runDLSmith(["generate", "--seed", "7", "--nodes", "10", "-o", path]).status == 0)
    let run = try runDLSmith(["run", path, "--backend", "reference"])
    #expect(run.status == 0, "\(run.stderr)")
    #expect(String(decoding: run.stdout, as: UTF8.self).contains(" f32 min "))
  }

  @Test func usageErrorsExit64() throws {
    #expect(try runDLSmith(["generate", "--nodes", "0"]).status == 64)
    #expect(try runDLSmith(["generate", "--frobnicate"]).status == 64)
    #expect(try runDLSmith(["generate", "--dtype", "f8"]).status == 64)
    #expect(try runDLSmith(["generate", "--ops", "nope"]).status == 64)
    #expect(try runDLSmith(["run", "x.json", "--backend", "nope"]).status == 64)
  }

  @Test func badModelFilesExit1WithTheFileName() throws {
    let dir = temporaryDirectory()
    let path = dir.appendingPathComponent("bad.dlsmith.json").path
    try Data("{\"format\": \"dlsmith.graph\", \"version\": 1, \"inputs\": [".utf8).write(
      to: URL(fileURLWithPath: path))
    let r = try runDLSmith(["run", path])
    #expect(r.status == 1)
    #expect(r.stderr.contains(path))
    let missing = try runDLSmith(["run", dir.appendingPathComponent("none.json").path])
    #expect(missing.status == 1)
    #expect(missing.stderr.contains("none.json"))
  }

  @Test func opsListsTheCatalogue() throws {
    let r = try runDLSmith(["ops", "--json"])
    #expect(r.status == 0)
    let list = try JSONSerialization.jsonObject(with: r.stdout) as? [[String: Any]]
    #expect((list?.count ?? 0) >= 60)
    let conv = list?.first { $0["id"] as? String == "conv2d" }
    #expect(conv?["rule"] != nil)
  }
}

extension CLITests {
  @Test func diffAgreesAndRunsOnFast() throws {
    let path = temporaryDirectory().appendingPathComponent("m.dlsmith.json").path
    #expect(try runDLSmith(["generate", "--seed", "3", "-o", path]).status == 0)
    let diff = try runDLSmith(["diff", path, "--backends", "reference,fast"])
    #expect(diff.status == 0, "\(diff.stderr)")
    #expect(String(decoding: diff.stdout, as: UTF8.self).contains("fast: agree"))
    let none = try runDLSmith(["diff", path, "--passes", "none"])
    #expect(none.status == 0)
    let run = try runDLSmith(["run", path, "--backend", "fast", "--passes", "fusion,dce"])
    #expect(run.status == 0, "\(run.stderr)")
  }

  @Test func badPassesAreUsageErrorsNamingTheValidOnes() throws {
    let r = try runDLSmith(["diff", "m.json", "--passes", "nosuch"])
    #expect(r.status == 64)
    #expect(r.stderr.contains("nosuch"))
    #expect(r.stderr.contains("constant-folding") && r.stderr.contains("layout"))
  }

  @Test func diffOnABadFileIsAToolError() throws {
    let r = try runDLSmith(["diff", "/nonexistent.dlsmith.json"])
    #expect(r.status == 1)
    #expect(r.stderr.contains("/nonexistent.dlsmith.json"))
  }
}

extension CLITests {
  /// `DLSMITH_LOWBIT_PATH` picks the low-bit kernels' default path; unset, the best supported one; a
  /// bad name warns and keeps the best.
  @Test func lowBitPathEnvironmentVariable() throws {
    func line(_ value: String?) throws -> (supported: [String], chosen: String, stderr: String) {
      let r = try runDLSmith(["bench", "kernels", "--paths"], environment: ["DLSMITH_LOWBIT_PATH": value])
      #expect(r.status == 0, "\(r.stderr)")
      // "low-bit paths: portable, avx2 supported; default avx2 (DLSMITH_LOWBIT_PATH overrides it)"
      let text = String(decoding: r.stdout, as: UTF8.self)
      let list = text.components(separatedBy: "low-bit paths: ").last?.components(separatedBy: " supported;")
      let supported = list?.first?.components(separatedBy: ", ") ?? []
      let chosen = text.components(separatedBy: "; default ").last?.components(separatedBy: " ").first ?? ""
      return (supported, chosen, r.stderr)
    }
    let unset = try line(nil)
    #expect(unset.supported.first == "portable")
    #expect(unset.chosen == unset.supported.last)
    #expect(try line("portable").chosen == "portable")
    let bad = try line("sse9")
    #expect(bad.chosen == unset.supported.last)
    #expect(bad.stderr.contains("DLSMITH_LOWBIT_PATH=sse9 is not portable, avx2 or avx512"))
    if unset.supported.contains("avx2") { #expect(try line("avx2").chosen == "avx2") }
  }

  /// The child mode behind `bench kernels`' AVX2 baseline prints the OpenBLAS core it loaded, the
  /// configuration and a time; with `OPENBLAS_CORETYPE=Haswell`, a DYNAMIC_ARCH OpenBLAS on x86-64
  /// reports core Haswell (timings are not checked).
  @Test func sgemmBaselineChildReportsItsOpenBLASCore() throws {
    let r = try runDLSmith(
      ["bench", "kernels", "--sgemm-baseline", "16", "--seconds", "0.01"],
      environment: ["OPENBLAS_CORETYPE": "Haswell"])
    #expect(r.status == 0, "\(r.stderr)")
    var fields: [String: String] = [:]
    for line in String(decoding: r.stdout, as: UTF8.self).split(separator: "\n") {
      let parts = line.split(separator: " ", maxSplits: 1)
      if parts.count == 2 { fields[String(parts[0])] = String(parts[1]) }
    }
    #expect(fields["core"]?.isEmpty == false)
    #expect((fields["seconds"].flatMap(Double.init) ?? 0) > 0)
    #if arch(x86_64)
      if fields["config"]?.contains("DYNAMIC_ARCH") == true {
        #expect(fields["core"]?.lowercased() == "haswell")
      }
    #endif
    #expect(try runDLSmith(["bench", "kernels", "--sgemm-baseline", "0"]).status != 0)
  }
}

extension CLITests {
  /// `bench rules`: one row per rewrite rule of the fast backend, then the summary line, on stdout.
  @Test func benchRulesPrintsEveryRuleAndASummary() throws {
    let r = try runDLSmith(["bench", "rules", "--count", "40", "--patterns", "fast"])
    #expect(r.status == 0, "\(r.stderr)")
    let lines = String(decoding: r.stdout, as: UTF8.self).split(separator: "\n")
    #expect(
      lines.filter { $0.hasPrefix("| ") && $0.split(separator: "|").first?.contains(".") == true }.count == 28
    )
    #expect(lines.contains { $0.hasPrefix("rules: ") && $0.hasSuffix("/28 fire in >= 1% of 40 models") })
    #expect(try runDLSmith(["bench", "rules", "--count", "0"]).status == 64)
  }
}
