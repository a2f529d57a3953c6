import Foundation
import Generation
import IR
import ONNX
import Operators

/// Whether each pattern of a library fires on its target: the pattern alone is grafted on a fresh
/// input (`Generator.graftOnly`, the first seed of `seeds` that fits), run on the target's worker
/// with `rewrites`, and judged by `PatternFiring`. What `dlsmith bench patterns` prints and the
/// pattern tests assert; a library written against one version of a target is re-checked against
/// the installed one this way.
public struct PatternCheck {
  public struct Row: Sendable {
    public var pattern: String
    /// The near miss checked, or `nil` for the exact pattern.
    public var variant: String?
    public var backend: String
    public var outcome: Outcome
  }

  public enum Outcome: Sendable, Equatable, CustomStringConvertible {
    case fired
    /// Ran, but the target did not rewrite every node of `rewritten` (the ones it did are listed).
    case notFired(rewrote: [Int])
    /// No seed gave a model the pattern fits.
    case notGrafted
    /// The target failed on the model or cannot say what it rewrote.
    case failed(String)

    public var description: String {
      switch self {
      case .fired: return "fired"
      case .notFired(let r): return "not fired (rewrote nodes \(r.map(String.init).joined(separator: ", ")))"
      case .notGrafted: return "not grafted"
      case .failed(let m): return "failed: \(m)"
      }
    }
  }

  public var options = GeneratorOptions()
  public var seeds: ClosedRange<UInt64> = 1...60
  /// The worker backend a pattern's level runs on (onnxruntime levels: `ort-basic`, ...).
  public var backend: (_ target: String, _ pattern: Pattern) -> String = PatternCheck.defaultBackend
  public var limits = WorkerLimits()

  public init() { options.operators = Catalogue.everything }

  /// onnxruntime runs each pattern at its level's worker; tvm patterns run on `tvm-opt` (the
  /// default Relax pipeline, with fusion); others on the target's own backend.
  public static func defaultBackend(_ target: String, _ pattern: Pattern) -> String {
    switch (target, pattern.level) {
    case ("ort", "basic"?): return "ort-basic"
    case ("ort", "extended"?): return "ort-extended"
    case ("ort", "layout"?): return "ort-layout"
    case ("tvm", _): return "tvm-opt"
    default: return target
    }
  }

  /// Checks every pattern (and with `nearMisses`, every near miss) of `library`; `make` gives the
  /// target of a backend name. Workers are reused per backend.
  public func run(
    _ library: PatternLibrary, nearMisses: Bool = false, log: (String) -> Void = { _ in },
    make: (String) -> BackendTarget
  ) -> [Row] {
    var workers: [String: (BackendTarget, WorkerProcess)] = [:]
    defer { for (_, w) in workers.values { w.stop() } }
    var rows: [Row] = []
    var generator = Generator(options: options)
    for p in library.patterns {
      let variants: [Pattern.NearMiss?] = [nil] + (nearMisses ? p.nearMisses.map { $0 } : [])
      for miss in variants {
        let name = backend(library.target, p)
        if workers[name] == nil {
          let t = make(name)
          let path = FileManager.default.temporaryDirectory.appendingPathComponent(
            "dlsmith-patterns-\(name).log")
          workers[name] = (t, WorkerProcess(command: t.command, limits: limits, logPath: path.path))
        }
        let (target, worker) = workers[name]!
        let outcome = check(p, miss, &generator, target: target, worker: worker)
        log("\(p.name)\(miss.map { "~\($0.name)" } ?? "") on \(name): \(outcome)")
        rows.append(Row(pattern: p.name, variant: miss?.name, backend: name, outcome: outcome))
      }
    }
    return rows
  }

  func check(
    _ p: Pattern, _ miss: Pattern.NearMiss?, _ generator: inout Generator, target: BackendTarget,
    worker: WorkerProcess
  ) -> Outcome {
    var grafted: Graph?
    for seed in seeds where grafted == nil { grafted = generator.graftOnly(p, nearMiss: miss, seed: seed) }
    guard let g = grafted else { return .notGrafted }
    let outcome = target.run(
      on: worker, graph: g, model: g.encoded(), inputs: g.sampleInputs(seed: 1), rewrites: true)
    guard case .outputs = outcome else { return .failed("\(outcome)") }
    guard let rewritten = worker.lastRewritten else { return .failed("the worker does not report rewrites") }
    guard let result = PatternFiring.outcomes(g, rewritten: rewritten, patterns: [p.name: p]).first else {
      return .failed("the grafted instance is not in the model")
    }
    if result.fired { return .fired }
    let names = Set(rewritten)
    let nodes = g.nodes.compactMap { n -> Int? in
      guard let t = n.pattern, let o = n.outputs.first, names.contains(ONNXExport.name(o)) else { return nil }
      return t.node
    }
    return .notFired(rewrote: nodes.sorted())
  }
}
