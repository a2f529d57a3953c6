import ArgumentParser
import Backends
import Foundation
import Fuzzing
import Generation
import IR
import Tensors

struct Bench: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Measure DLSmith itself.",
    subcommands: [
      BenchGenerate.self, BenchDiff.self, BenchRules.self, BenchKernels.self, BenchExport.self,
      BenchPatterns.self,
    ])
}

struct BenchGenerate: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "generate",
    abstract:
      "Generate models, then verify and run each on the reference; print throughput, validity, finiteness and diversity.",
    discussion:
      "Throughput counts generation only (one core). Validity: the model verifies and runs on the reference. Finite: every reference output is finite. For a low-bit --kind, one line per operator of the kind's families: how many models contain it, and the share."
  )

  @Option(help: "Number of models.") var count: Int = 500
  @Option(help: "First seed; models use seed, seed+1, ...") var seed: UInt64 = 1
  @OptionGroup var generation: GenerationOptions

  func validate() throws {
    guard count >= 1 else { throw ValidationError("--count must be at least 1") }
  }

  func run() throws {
    var generator = Generator(options: try generation.generatorOptions())
    var times: [Double] = []
    var graphs: [Graph] = []
    let clock = ContinuousClock()
    let start = clock.now
    for i in 0..<count {
      let t0 = clock.now
      let g = generator.generate(seed: seed &+ UInt64(i))
      let dt = clock.now - t0
      times.append(Double(dt.components.seconds) * 1e3 + Double(dt.components.attoseconds) * 1e-15)
      graphs.append(g)
    }
    let total = clock.now - start
    let seconds = Double(total.components.seconds) + Double(total.components.attoseconds) * 1e-18
    var valid = 0
    var finite = 0
    var failures: [String] = []
    let reference = ReferenceBackend()
    var pairs = Set<String>()
    var shapes = Set<String>()
    var opsUsed = Set<String>()
    let kind = generator.options.kind
    var coverage = OperatorCoverage(kind: kind)
    var patternCoverage = PatternCoverage(patterns: generator.options.patterns)
    for (i, g) in graphs.enumerated() {
      coverage.add(g)
      patternCoverage.add(g)
      do {
        try g.verify()
        let outs = try reference.run(g, inputs: g.sampleInputs(seed: 0))
        valid += 1
        if outs.allSatisfy(\.isFinite) { finite += 1 }
      } catch {
        if failures.count < 5 { failures.append("seed \(seed &+ UInt64(i)): \(error)") }
      }
      let producer = Dictionary(uniqueKeysWithValues: g.nodes.flatMap { n in n.outputs.map { ($0, n.op) } })
      for n in g.nodes {
        opsUsed.insert(n.op)
        for v in n.inputs { if let p = producer[v] { pairs.insert("\(p)->\(n.op)") } }
        for t in n.types { shapes.insert("\(t.shape)") }
      }
    }
    times.sort()
    func pct(_ p: Double) -> Double { times[Swift.min(times.count - 1, Int(Double(times.count) * p))] }
    let s = generator.stats
    print("models: \(count) at \(generation.nodes) nodes (dtype \(generation.dtype))")
    print(
      String(
        format: "throughput: %.1f models/s (one core), p50 %.3f ms, p95 %.3f ms, max %.3f ms",
        Double(count) / seconds, pct(0.5), pct(0.95), times.last ?? 0))
    print(
      String(
        format: "valid: %d/%d (%.1f%%), finite outputs: %d/%d (%.1f%%)", valid, count,
        100.0 * Double(valid) / Double(count), finite, count, 100.0 * Double(finite) / Double(count)))
    let per1000 = 1000.0 / Double(count)
    print(
      String(
        format:
          "diversity: %d operators used, %d distinct operator pairs, %d distinct shapes (%.0f pairs and %.0f shapes per 1,000 models)",
        opsUsed.count, pairs.count, shapes.count, Double(pairs.count) * per1000,
        Double(shapes.count) * per1000))
    print(
      "insertions: \(s.forwardInserted) forward, \(s.backwardInserted) backward over \(s.attempts) attempts; residual problems: \(s.fastPathSolved) solved by propagation/sampling, \(s.provedInfeasible) proved infeasible, \(s.solverCalls) by Z3 (\(s.solverSat) sat, \(s.solverUnknown) unknown,  \(s.solverContexts) contexts in \(String(format: "%.2f", s.contextSeconds)) s, \(String(format: "%.2f", s.solverSeconds)) s); rejected: \(s.rejectedSignature) signature, \(s.rejectedUnsolved) unsolved, \(s.rejectedValues) value range"
    )
    if !coverage.rows.isEmpty {
      print("operators of --kind \(kind.rawValue) (models containing each):")
      for line in coverage.lines { print("  \(line)") }
    }
    if !patternCoverage.patterns.isEmpty {
      print("grafts: \(s.grafted) patterns grafted, \(s.graftsFailed) graft attempts failed")
      for line in patternCoverage.lines { print(line) }
    }
    for f in failures { log("invalid: \(f)") }
  }
}

struct BenchDiff: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "diff",
    abstract: "Generate models and differential-test backends against the reference; print verdict counts.",
    discussion: "Exit 77 if any mismatch or failure was found (each is listed with its seed).")

  @Option(help: "Number of models.") var count: Int = 200
  @Option(help: "First seed; models use seed, seed+1, ...") var seed: UInt64 = 1
  @Option(help: "Comma-separated backends to test.") var backends: String = "fast"
  @OptionGroup var passes: PassSelection
  @OptionGroup var generation: GenerationOptions

  func validate() throws {
    guard count >= 1 else { throw ValidationError("--count must be at least 1") }
    for n in splitList(backends) where !backendNames.contains(n) {
      throw ValidationError("unknown backend '\(n)' (available: \(backendNames.joined(separator: ", ")))")
    }
  }

  func run() throws {
    var generator = Generator(options: try generation.generatorOptions())
    let differential = Differential()
    // One backend each (worker-backed ones keep their worker across models).
    let chosen = splitList(backends).map {
      makeBackend($0, passes: passes.selected, passesText: passes.passes)
    }
    var counts: [String: Int] = [:]
    var rewrites: [String: Int] = [:]
    var findings = 0
    let clock = ContinuousClock()
    let start = clock.now
    for i in 0..<count {
      let s = seed &+ UInt64(i)
      let g = generator.generate(seed: s)
      let inputs = g.sampleInputs(seed: 0)
      guard let values = try? differential.referenceValues(g, inputs: inputs) else {
        counts["reference-error", default: 0] += 1
        continue
      }
      var current = g
      for p in passes.selected {
        let next = p.apply(current)
        if next != current { rewrites[p.name, default: 0] += 1 }
        current = next
      }
      for backend in chosen {
        let name = backend.name
        let outcome = differential.judge(backend, g, inputs: inputs, reference: values)
        counts["\(name) \(outcome.verdict.label)", default: 0] += 1
        if outcome.verdict.isFinding {
          findings += 1
          log("seed \(s): \(name) \(outcome.verdict)")
        }
      }
    }
    let seconds = (clock.now - start) / .seconds(1)
    print(
      "models: \(count) at \(generation.nodes) nodes, \(String(format: "%.1f", Double(count) / seconds)) models/s"
    )
    for k in counts.keys.sorted() { print("\(k): \(counts[k]!)") }
    let changed = passes.selected.map { "\($0.name) \(rewrites[$0.name] ?? 0)" }.joined(separator: ", ")
    print("models rewritten per pass: \(changed)")
    if findings > 0 { throw ExitCode(77) }
  }
}

struct BenchRules: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "rules",
    abstract:
      "Generate models and compile each on the fast backend; print, per rewrite rule of its passes, the models it fired in and how often.",
    discussion: """
      Compile only (nothing runs). One row per rule (pass.rule, in pipeline order): models in which it \
      fired, their share of all generated models (those the backend does not support count, and fire \
      nothing), total fires; then how many rules fire in at least 1% of the models, and the others by \
      name. `algebraic` and `dce` rules also count what they rewrite as the cleanup of other passes. \
      --patterns target grafts the fast library. Exit 77 if a pass produced an invalid graph (listed \
      with its seed).
      """)

  @Option(help: "Number of models.") var count: Int = 2000
  @Option(help: "First seed; models use seed, seed+1, ...") var seed: UInt64 = 1
  @OptionGroup var passes: PassSelection
  @OptionGroup var generation: GenerationOptions

  func validate() throws {
    guard count >= 1 else { throw ValidationError("--count must be at least 1") }
  }

  func run() throws {
    var generator = Generator(options: try generation.generatorOptions(backends: ["fast"]))
    let backend = FastBackend(passes: passes.selected)
    var coverage = RuleCoverage()
    var (compiled, unsupported, failed) = (0, 0, 0)
    let clock = ContinuousClock()
    let start = clock.now
    for i in 0..<count {
      let s = seed &+ UInt64(i)
      let g = generator.generate(seed: s)
      var fired = RuleCounts()
      do {
        _ = try backend.compile(g, counting: &fired)
        compiled += 1
      } catch {
        if error.isUnsupported {
          unsupported += 1
        } else {
          failed += 1
          log("seed \(s): \(error.message)")
        }
      }
      coverage.add(fired)
      if (i + 1) % 1000 == 0 && i + 1 < count { log("rules: \(i + 1)/\(count) models") }
    }
    let seconds = (clock.now - start) / .seconds(1)
    print(
      "models: \(count) at \(generation.nodes) nodes, patterns \(generation.patterns), passes \(passes.passes): \(compiled) compiled, \(unsupported) unsupported, \(failed) failed (\(String(format: "%.1f", Double(count) / seconds)) models/s)"
    )
    print("| rule | models | share | fires |")
    print("|---|---|---|---|")
    for r in coverage.rows {
      print("| \(r.rule.name) | \(r.models) | \(String(format: "%.2f%%", 100 * r.share)) | \(r.fires) |")
    }
    let rare = coverage.under(0.01)
    print(
      "rules: \(coverage.rows.count - rare.count)/\(coverage.rows.count) fire in >= 1% of \(count) models")
    if !rare.isEmpty {
      print(
        "under 1%: "
          + rare.map { "\($0.rule.name) (\(String(format: "%.2f%%", 100 * $0.share)))" }.joined(
            separator: ", "))
    }
    if failed > 0 { throw ExitCode(77) }
  }
}

struct BenchPatterns: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "patterns",
    abstract: "Whether each optimizer pattern of a library fires on the installed target.",
    discussion: """
      Each pattern is grafted alone on a fresh input (plus one consumer), run on the target's worker, \
      which reports the nodes its optimizer rewrote; a pattern fires when the target rewrote every node \
      its `rewritten` lists. onnxruntime patterns run at their level (ort-basic, ort-extended, \
      ort-layout), tvm patterns on tvm-opt. One line per pattern, then a summary.
      """)

  @Option(help: "The library: Patterns/<target>.json.") var target: String
  @Option(help: "Directory of the pattern libraries.") var patternsDir = "Patterns"
  @Flag(help: "Also check every near miss (whether the target still rewrites it).") var nearMisses = false
  @Option(
    help:
      "Instead: mine patterns from N random models (seeds 1...N): the node groups the target rewrote, seen twice or more and not in the library, written as a library to --output."
  ) var mine: Int?
  @Option(help: "Where --mine writes its library (e.g. Patterns/ort.mined.json).") var output: String?
  @Option(help: "The backend --mine runs (default: the target).") var backend: String?

  func validate() throws {
    if let mine, mine < 1 { throw ValidationError("--mine must be at least 1") }
    if mine != nil && output == nil { throw ValidationError("--mine needs --output") }
  }

  func run() throws {
    try reportingErrors {
      let library = try PatternLibrary.read("\(patternsDirectory(patternsDir))/\(target).json")
      if let mine, let output {
        let name = backend ?? target
        let t = workerTarget(name, passes: "all")
        let worker = WorkerProcess(
          command: t.command, limits: WorkerLimits(),
          logPath: FileManager.default.temporaryDirectory.path + "/dlsmith-mine-\(name).log")
        defer { worker.stop() }
        var generator = Generator(options: GeneratorOptions())
        var miner = PatternMiner()
        for seed in UInt64(1)...UInt64(mine) {
          let g = generator.generate(seed: seed)
          guard
            case .outputs = t.run(
              on: worker, graph: g, model: g.encoded(), inputs: g.sampleInputs(seed: seed), rewrites: true),
            let rewritten = worker.lastRewritten
          else { continue }
          miner.add(g, rewritten: rewritten)
        }
        let data = miner.library(
          target: target, existing: library.patterns, note: "\(name), \(mine) random models of 10 nodes")
        try data.write(to: URL(fileURLWithPath: output), options: .atomic)
        let mined = try PatternLibrary.read(output)
        print(
          "mined: \(miner.models) models run, \(miner.rewrittenModels) rewritten; \(miner.counts.count) distinct rewritten groups, \(mined.patterns.count) new patterns (seen twice or more) in \(output)"
        )
        for p in mined.patterns.prefix(15) {
          print("  \(p.name): \(p.nodes.map(\.op).joined(separator: " -> ")) (weight \(Int(p.weight)))")
        }
        return
      }
      let rows = PatternCheck().run(library, nearMisses: nearMisses) { workerTarget($0, passes: "all") }
      for r in rows {
        print("\(r.pattern)\(r.variant.map { "~\($0)" } ?? "") [\(r.backend)]: \(r.outcome)")
      }
      let exact = rows.filter { $0.variant == nil }
      let fired = exact.filter { $0.outcome == .fired }.count
      print("summary: \(fired)/\(exact.count) patterns fire on \(target)")
      if nearMisses {
        let misses = rows.filter { $0.variant != nil }
        print(
          "near misses the target still rewrites: \(misses.filter { $0.outcome == .fired }.count)/\(misses.count)"
        )
      }
    }
  }
}

struct BenchExport: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "export",
    abstract:
      "Export faithfulness: generated models of every dtype and kind, exported to ONNX and run on onnx.reference, must agree with the reference.",
    discussion: """
      Models cycle through f16, bf16, f32, f64, mixed and int8 (ONNX requantization). Exact values must \
      match bit for bit, approximate ones within the dtype's tolerance, f64 within 1e-12 relative. \
      Each disagreement is localized to its culprit operator and listed with its seed; exit 77 if there \
      is any.
      """)

  @Option(help: "Number of models.") var count: Int = 10_000
  @Option(help: "First seed; models use seed, seed+1, ...") var seed: UInt64 = 1
  @Option(help: "Operators per model.") var nodes: Int = 10
  @Option(help: "The independent ONNX implementation.") var backend: String = "onnx-ref"

  func validate() throws {
    guard count >= 1 else { throw ValidationError("--count must be at least 1") }
    guard BackendTarget.pythonBackends.contains(backend) else {
      throw ValidationError(
        "--backend must be one of \(BackendTarget.pythonBackends.joined(separator: ", "))")
    }
  }

  func run() throws {
    let bench = ExportFaithfulness(
      target: workerTarget(backend, passes: "all"),
      logPath: FileManager.default.temporaryDirectory.path + "/dlsmith-bench-export.log")
    let clock = ContinuousClock()
    let start = clock.now
    let (rows, disagreements) = bench.run(
      variants: ExportFaithfulness.variants(nodes: nodes), count: count, seed: seed
    ) { done in
      if done % 250 == 0 || done == count {
        let seconds = (clock.now - start) / .seconds(1)
        log("export: \(done)/\(count) models, \(String(format: "%.1f", Double(done) / seconds)) models/s")
      }
    }
    let seconds = (clock.now - start) / .seconds(1)
    let total = rows.map(\.models).reduce(0, +)
    print(
      "export faithfulness: \(total) models at \(nodes) nodes against \(backend), \(String(format: "%.1f", Double(total) / seconds)) models/s"
    )
    print(
      "| models | agree | disagree (rounding) | failed | known \(backend) bug | unstable | unsupported | variant |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for r in rows {
      print(
        "| \(r.models) | \(r.agree) | \(r.disagree) (\(r.rounding)) | \(r.failed) | \(r.known) | \(r.unstable) | \(r.unsupported) | \(r.variant) |"
      )
    }
    let ran = rows.map { $0.models - $0.unsupported }.reduce(0, +)
    let agree = rows.map(\.agree).reduce(0, +)
    let known = rows.map(\.known).reduce(0, +)
    print(
      "agreement: \(agree)/\(ran) models that ran (\(String(format: "%.2f", 100 * Double(agree) / Double(max(ran, 1))))%), \(known) more explained by known \(backend) bugs"
    )
    let byCulprit = Dictionary(grouping: disagreements) { "\($0.culprit)|\($0.knownBug ?? "")" }
    for (_, ds) in byCulprit.sorted(by: { ($0.value.count, $0.key) > ($1.value.count, $1.key) }) {
      let d = ds[0]
      let what = d.knownBug.map { "known \(backend) bug (\($0))" } ?? "disagreement"
      print(
        "\(what): \(d.culprit): \(ds.count) model(s), e.g. \(d.variant) seed \(d.seed): \(d.message.prefix(200))"
      )
    }
    if disagreements.contains(where: { $0.knownBug == nil }) { throw ExitCode(77) }
  }
}
