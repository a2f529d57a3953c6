import ArgumentParser
import Foundation
import Fuzzing
import Generation
import IR
import Kernels
import ONNX
import Operators
import Rulebook
import Tensors

/// `given` when it exists; the default `Patterns` is also looked up next to the checkout that built
/// this executable (as python/ is), so campaigns run from any folder.
func patternsDirectory(_ given: String) -> String {
  if FileManager.default.fileExists(atPath: given) || given != "Patterns" { return given }
  var dir = URL(fileURLWithPath: selfExecutable()).deletingLastPathComponent()
  for _ in 0..<5 {
    let candidate = dir.appendingPathComponent("Patterns").path
    if FileManager.default.fileExists(atPath: candidate) { return candidate }
    dir = dir.deletingLastPathComponent()
  }
  return given
}

/// Options shared by every command that generates models.
struct GenerationOptions: ParsableArguments {
  @Option(help: "Operator nodes per model.") var nodes: Int = 10
  @Option(help: "Comma-separated operators to use (default: the whole catalogue).") var ops: String?
  @Option(help: "Comma-separated operators to leave out.") var excludeOps: String?
  @Option(help: "Float dtype of the model: f16, bf16, f32, f64 or mixed.") var dtype: String = "f32"
  @Option(help: "Largest number of elements of a tensor.") var maxElements: Int = 4096
  @Option(help: "Largest rank of a tensor.") var maxRank: Int = 4
  @Option(
    help:
      "Model kind: float, int8 (post-training quantized float graph), binary (bitpacked XNOR-popcount), spiking (LIF over time), mixed."
  ) var kind: String = "float"
  @Option(
    help:
      "Requantization variants of quantized models (comma-separated): gemmlowp, single-rounding, xnnpack, onnx; 'onnx' alone makes every model exportable to ONNX exactly."
  ) var requant: String = "all"
  @Option(
    help:
      "Where shape rules come from: spec (hand-written), rules (inferred, Rules/<target>/), records (recorded valid calls, Rules/records/<target>/) or hybrid (all three)."
  ) var method: String = "spec"
  @Option(help: "Rules directory for --method rules|records|hybrid.") var rulesDir = "Rules"
  @Option(help: "Target whose learned rules --method uses.") var rulesTarget = "reference"
  @Option(
    help:
      "Optimizer patterns to graft: none, all (every library in --patterns-dir), target (the libraries of a campaign's --backends) or library names (comma-separated: ort, openvino, tvm, fast)."
  ) var patterns = "none"
  @Option(help: "Directory of the pattern libraries (<target>.json).") var patternsDir = "Patterns"
  @Option(
    help:
      "Share of models (0...1) whose inputs and constants mix in special values: ±0, ±inf, NaN, subnormals, ties (default: 0.2 for fuzz, 0 otherwise; Docs/SpecialValues.md)."
  ) var edgeValues: Double?

  func validate() throws {
    guard let m = GenerationMethod(rawValue: method) else {
      throw ValidationError(
        "--method must be one of \(GenerationMethod.allCases.map(\.rawValue).joined(separator: ", "))")
    }
    if m != .spec {
      do { _ = try learnedOperators(m, from: Catalogue.everything) } catch {
        throw ValidationError("\(error)")
      }
    }
    guard (1...1000).contains(nodes) else { throw ValidationError("--nodes must be in 1...1000") }
    guard dtype == "mixed" || DType.floats.map(\.rawValue).contains(dtype) else {
      throw ValidationError("--dtype must be one of f16, bf16, f32, f64, mixed")
    }
    guard (1...(1 << 24)).contains(maxElements) else {
      throw ValidationError("--max-elements must be in 1...16777216")
    }
    guard (0...6).contains(maxRank) else { throw ValidationError("--max-rank must be in 0...6") }
    guard let k = ModelKind(rawValue: kind) else {
      throw ValidationError(
        "--kind must be one of \(ModelKind.allCases.map(\.rawValue).joined(separator: ", "))")
    }
    let variants = splitList(requant).filter { $0 != "all" }
    if let bad = variants.first(where: { RequantVariant(rawValue: $0) == nil }) {
      throw ValidationError(
        "--requant: unknown variant '\(bad)' (use \(RequantVariant.allCases.map(\.rawValue).joined(separator: ", ")))"
      )
    }
    guard k == .float || dtype == "f32" else {
      throw ValidationError("--kind \(kind) models are f32 (--dtype f32)")
    }
    if case .failure(let e) = GeneratorOptions.selectOperators(
      include: splitList(ops), exclude: splitList(excludeOps))
    {
      throw ValidationError(e.description)
    }
    if let e = edgeValues, !(0...1).contains(e) { throw ValidationError("--edge-values must be in 0...1") }
    if patterns != "target" {
      do { _ = try generatorOptions() } catch { throw ValidationError("\(error)") }
    }
  }

  var resolvedPatternsDir: String { patternsDirectory(patternsDir) }

  /// The generator's options with the patterns `--patterns` selects (`backends` resolve `target`).
  func generatorOptions(backends: [String] = []) throws -> GeneratorOptions {
    var o = baseOptions
    o.patterns = try PatternLibrary.select(
      patterns, backends: backends, directory: resolvedPatternsDir, operators: o.operators)
    return o
  }

  /// The operators of `pool` with their shape rules from `--method`.
  func learnedOperators(_ m: GenerationMethod, from pool: [OperatorSpec]) throws -> [OperatorSpec] {
    if !["reference", "fast"].contains(rulesTarget) {
      // An external target: its rules give the ONNX operators our catalogue lacks.
      let files = try RulesFile.readAll("\(rulesDir)/\(rulesTarget)")
      let lacking = files.filter { !ONNXImport.coveredOperators.contains($0.op) }
      let onnx = lacking.flatMap(LearnedSpecs.onnxSpecs)
      guard !onnx.isEmpty else {
        throw RulebookError("\(rulesDir)/\(rulesTarget): no usable rule for an operator the catalogue lacks")
      }
      switch m {
      case .rules: return onnx
      case .hybrid: return pool + onnx
      case .records, .spec:
        throw RulebookError("--method \(m.rawValue) with --rules-target \(rulesTarget): use rules or hybrid")
      }
    }
    let rules = m == .records ? [] : try RulesFile.readAll("\(rulesDir)/\(rulesTarget)")
    var records: [String: [TracedPartial]] = [:]
    if m == .records || m == .hybrid {
      let dir = "\(rulesDir)/records/\(rulesTarget)"
      for spec in pool where FileManager.default.fileExists(atPath: "\(dir)/\(spec.id)") {
        records[spec.id] = try RecordFiles.read(op: spec.id, directory: dir)
      }
      guard !records.isEmpty || m == .hybrid else {
        throw RulebookError("\(dir): no records (run `dlsmith infer-rules`)")
      }
    }
    let specs = LearnedSpecs.specs(m, base: pool, rules: rules, records: records)
    guard !specs.isEmpty else {
      throw RulebookError("\(rulesDir)/\(rulesTarget): no usable learned rule for the selected operators")
    }
    return specs
  }

  /// Operators by id: the generator's (learned specs included), then the catalogue's.
  static func operatorLookup(_ options: GeneratorOptions) -> OperatorLookup {
    let table = Dictionary(options.operators.map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a })
    return { table[$0] ?? Catalogue.spec($0) }
  }

  private var baseOptions: GeneratorOptions {
    var o = GeneratorOptions()
    o.nodes = nodes
    o.dtype = dtype == "mixed" ? nil : DType(rawValue: dtype)
    o.maxElements = maxElements
    o.maxRank = maxRank
    o.kind = ModelKind(rawValue: kind) ?? .float
    o.edgeRate = edgeValues ?? 0
    let variants = splitList(requant).compactMap(RequantVariant.init(rawValue:))
    if !variants.isEmpty { o.requantVariants = variants }
    // Spiking conv blocks are [T, N, C, H, W].
    if o.kind == .spiking || o.kind == .mixed { o.maxRank = Swift.max(maxRank, 5) }
    let pool = splitList(ops).isEmpty ? o.kind.operators : Catalogue.everything
    if case .success(let specs) = GeneratorOptions.selectOperators(
      include: splitList(ops), exclude: splitList(excludeOps), from: pool)
    {
      o.operators = specs
    }
    if let m = GenerationMethod(rawValue: method), m != .spec,
      let learned = try? learnedOperators(m, from: o.operators)
    {
      o.operators = learned
    }
    return o
  }
}

struct Generate: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Generate one model from a seed.",
    discussion: "The same seed and options give the same file bytes in any process.")

  @Option(help: "Model seed.") var seed: UInt64 = 0
  @OptionGroup var generation: GenerationOptions
  @Option(name: .shortAndLong, help: "Write the model (.dlsmith.json) here; default: stdout.") var output:
    String?
  @Flag(help: "Print the canonical text form to stdout.") var print = false
  @Option(help: "Grow this model by --nodes operators instead of generating from scratch (mutation).")
  var from: String?
  @Option(help: "Write a hand-written seed model instead: \(SeedModels.names.joined(separator: ", ")).")
  var seedModel: String?

  func validate() throws {
    if let seedModel, SeedModels.model(named: seedModel) == nil {
      throw ValidationError(
        "unknown seed model '\(seedModel)' (available: \(SeedModels.names.joined(separator: ", ")))")
    }
  }

  func run() throws {
    try reportingErrors {
      let options = try generation.generatorOptions()
      var generator = Generator(options: options)
      let graph: Graph
      if let seedModel, let model = SeedModels.model(named: seedModel) {
        graph = model
      } else if let from {
        let base = try Graph(contentsOf: from)
        guard let grown = generator.extend(base, seed: seed) else {
          throw ToolError("\(from): cannot grow this model")
        }
        graph = grown
      } else {
        graph = generator.generate(seed: seed)
      }
      try graph.verify(operators: GenerationOptions.operatorLookup(options))
      if let output {
        do { try graph.write(to: output) } catch {
          throw ToolError("\(output): cannot write: \(error.localizedDescription)")
        }
        log(
          "wrote \(output): \(graph.nodes.count) nodes, \(graph.inputs.count) inputs, \(graph.constants.count) constants"
        )
      } else if !print {
        FileHandle.standardOutput.write(graph.encoded())
      }
      if print { Swift.print(graph.text, terminator: "") }
    }
  }
}
