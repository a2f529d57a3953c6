import ArgumentParser
import Backends
import Foundation
import Fuzzing
import IR
import Tensors

struct Diff: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Run a model on backends and compare each with the float64 reference.",
    discussion: """
      Prints one verdict per backend: agree, mismatch, unstable (a difference explained by a near-tie at \
      a discontinuous operator), failed or unsupported. Exit 0 when nothing was found, 77 on a mismatch \
      or failure, 1 on a tool error. Tolerance: |actual - expected| <= atol * max(1, scale) + rtol * \
      |expected|, scale being the largest reference magnitude the output depends on; defaults per \
      dtype: f32 rtol 1e-3 atol 1e-4, f16 1e-2/1e-2, bf16 5e-2/5e-2, f64 1e-9/1e-12, integers exact.
      """)

  @Argument(help: "Model file (.dlsmith.json).") var model: String
  @Option(help: "Comma-separated backends; the reference is always the baseline.") var backends: String =
    "reference,fast"
  @OptionGroup var passes: PassSelection
  @Option(help: "Seed of the input values.") var inputSeed: UInt64 = 0
  @Option(help: "Override rtol for every float dtype.") var rtol: Double?
  @Option(help: "Override atol for every float dtype.") var atol: Double?

  func validate() throws {
    let names = splitList(backends)
    guard !names.isEmpty else { throw ValidationError("--backends is empty") }
    for n in names where !backendNames.contains(n) {
      throw ValidationError("unknown backend '\(n)' (available: \(backendNames.joined(separator: ", ")))")
    }
    if let rtol, !(rtol >= 0) { throw ValidationError("--rtol must be >= 0") }
    if let atol, !(atol >= 0) { throw ValidationError("--atol must be >= 0") }
  }

  func run() throws {
    var found = false
    try reportingErrors {
      let graph = try loadModel(model)
      let inputs = graph.sampleInputs(seed: inputSeed)
      var tolerances = Tolerances()
      for d in DType.floats {
        var t = tolerances[d]
        if let rtol { t.rtol = rtol }
        if let atol { t.atol = atol }
        tolerances.overrides[d] = t
      }
      let differential = Differential(oracle: Oracle(tolerances: tolerances))
      let values: [ValueID: Tensor]
      do {
        values = try differential.referenceValues(graph, inputs: inputs)
      } catch {
        throw ToolError("\(model): the reference cannot run this model: \(error)")
      }
      for name in splitList(backends) where name != "reference" {
        let outcome = differential.judge(
          makeBackend(name, passes: passes.selected), graph, inputs: inputs, reference: values)
        print("\(name): \(describe(outcome.verdict))")
        if outcome.verdict.isFinding { found = true }
      }
      if splitList(backends) == ["reference"] { print("reference: agree (baseline)") }
    }
    if found { throw ExitCode(77) }
  }

  func describe(_ v: Verdict) -> String {
    switch v {
    case .agree: return "agree"
    case .mismatch(let d): return "mismatch: \(d)"
    case .unstable(let d, let nodes):
      return
        "unstable (near a discontinuity at node(s) \(nodes.map(String.init).joined(separator: ", "))): \(d)"
    case .failed(let stage, let message): return "failed at \(stage): \(message)"
    case .unsupported(let reason): return "unsupported: \(reason)"
    }
  }
}
