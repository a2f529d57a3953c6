import ArgumentParser
import Foundation
import ONNX
import Operators
import Rulebook

struct InferRules: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "infer-rules",
    abstract: "Learn operator shape rules from traces of valid and invalid calls (NeuRI-style).",
    discussion: """
      Calls each operator of the target with random ranks, dtypes, attributes and shapes, records \
      valid calls (output shapes) and invalid ones (the error) under <rules>/records/<target>/, \
      augments them by mutating the integers of valid calls, and infers per partial operator a \
      shape rule and input predicates, written to <rules>/<target>/<op>.json. Regenerate the \
      repository's rules with `./dev rules`.
      """)

  @Option(help: "Target: reference, fast or ort.") var target: String?
  @Option(help: "Comma-separated operators (default: all of the target's).") var ops: String?
  @Option(help: "Rules directory.") var rules = "Rules"
  @Flag(help: "Learn from the records on disk instead of calling the target.") var fromRecords = false
  @Option(help: "Inference budget per operator (shared by its partial operators), seconds.") var budget = 8.0
  @Option(help: "Partial operators traced per operator.") var partials = 4
  @Option(help: "Random calls per partial operator.") var calls = 120
  @Option(help: "Augmented calls per partial operator.") var augment = 800
  @Option(help: "Seed of the traces and the held-out split.") var seed: UInt64 = 1
  @Option(
    help:
      "Python interpreter (default: $DLSMITH_PYTHON, else a .venv in or above the current folder or dlsmith's checkout, else python3)."
  ) var python: String = pythonInterpreter()
  @Flag(help: "Print the per-target report of the rules files instead of inferring.") var report = false
  @Flag(help: "Log every inference stage to stderr.") var verbose = false
  @Flag(help: "With --report: check each complete rule against the hand-written one on 10,000 calls.")
  var checkEquivalence = false

  func validate() throws {
    if let target, !["reference", "fast", "ort"].contains(target) {
      throw ValidationError("unknown target '\(target)' (reference, fast, ort)")
    }
    if checkEquivalence && !report { throw ValidationError("--check-equivalence goes with --report") }
    guard budget > 0, partials > 0, calls > 0, augment >= 0 else {
      throw ValidationError("--budget, --partials and --calls must be positive, --augment non-negative")
    }
  }

  func run() throws {
    try reportingErrors {
      if report {
        try printReport()
        return
      }
      let name = target ?? "reference"
      var trace = TraceOptions()
      trace.partialsPerOperator = partials
      trace.randomCalls = calls
      trace.augmentLimit = augment
      trace.seed = seed
      var learner = Learner(budgetSeconds: budget, seed: seed)
      if verbose { learner.synthesizer.log = { log($0) } }
      let inference = RuleInference(trace: trace, learner: learner, root: rules, fromRecords: fromRecords)
      let files: [RulesFile]
      switch name {
      case "ort":
        let t = try ORTTraceTarget(python: python, script: InferRules.traceScript(), opset: ONNXExport.opset)
        files = try inference.run(try selected(t.operators), on: t, log: log)
      default:
        let t = SpecTarget(name: name)!
        files = try inference.run(try selected(t.operators), on: t, log: log)
      }
      print(RulesReport(target: name, files: files).text)
    }
  }

  func selected(_ all: [String]) throws -> [String] {
    let wanted = splitList(ops)
    guard !wanted.isEmpty else { return all }
    let unknown = wanted.filter { !all.contains($0) }
    guard unknown.isEmpty else {
      throw ToolError("the target has no operator \(unknown.map { "'\($0)'" }.joined(separator: ", "))")
    }
    return wanted
  }

  func printReport() throws {
    let targets: [String]
    if let target {
      targets = [target]
    } else {
      let names = (try? FileManager.default.contentsOfDirectory(atPath: rules)) ?? []
      targets = names.filter { n in
        var dir: ObjCBool = false
        return n != "records" && FileManager.default.fileExists(atPath: "\(rules)/\(n)", isDirectory: &dir)
          && dir.boolValue
      }.sorted()
      guard !targets.isEmpty else { throw ToolError("\(rules): no rules yet (run `dlsmith infer-rules`)") }
    }
    for t in targets {
      let files: [RulesFile]
      do { files = try RulesFile.readAll("\(rules)/\(t)") } catch { throw ToolError(error.description) }
      print(RulesReport(target: t, files: files).text)
      guard checkEquivalence else { continue }
      guard let spec = SpecTarget(name: t) else {
        log("\(t): no hand-written rules to compare with")
        continue
      }
      var total = 0
      var differing = 0
      for f in files {
        let e = Equivalence.check(f, target: spec)
        total += e.instances
        differing += e.disagreements
        if e.disagreements > 0 {
          print(
            "  \(f.op): \(e.disagreements)/\(e.instances) differ (inferred-only \(e.acceptedByInferredOnly), hand-written-only \(e.acceptedByHandWrittenOnly), shapes \(e.differentShapes))"
          )
          for x in e.examples { print("    \(x)") }
        }
      }
      print("  equivalence with the hand-written rules: \(differing) of \(total) calls differ")
    }
  }

  /// `python/dlsmith_trace.py` next to the executable's checkout, or in the current directory.
  static func traceScript() throws -> String {
    let candidates = [
      "python/dlsmith_trace.py",
      URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        .appendingPathComponent("../../python/dlsmith_trace.py").standardized.path,
    ]
    for c in candidates where FileManager.default.fileExists(atPath: c) { return c }
    throw ToolError("cannot find python/dlsmith_trace.py (run from the repository root)")
  }
}
