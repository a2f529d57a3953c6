import Backends
import Foundation
import Generation
import IR
import ONNX
import Tensors

/// Export faithfulness: the model the reference evaluates must be exactly the ONNX model a target
/// receives. Generated models of every dtype and kind are exported and run on an independent ONNX
/// implementation (`onnx-ref`, onnx.reference); its outputs must agree with the reference at the
/// dtype's precision: exact values bit for bit (`Oracle`), approximate ones within the dtype's
/// tolerance, f64 within 1e-12 relative. Every disagreement is localized to its culprit operator.
public struct ExportFaithfulness {
  /// One group of generated models: a dtype and a kind.
  public struct Variant: Sendable {
    public var name: String
    public var options: GeneratorOptions
    public init(name: String, options: GeneratorOptions) {
      self.name = name
      self.options = options
    }
  }

  public struct Row: Sendable {
    public var variant: String
    public var models = 0
    public var agree = 0
    /// Beyond tolerance, and exact values off by less than the tolerance.
    public var disagree = 0
    public var rounding = 0
    public var unstable = 0
    /// onnx-ref declined (bf16 without a NumPy dtype, ai.dlsmith operators) or the export refused.
    public var unsupported = 0
    public var failed = 0
  }

  public struct Disagreement: Sendable {
    public var variant: String
    public var seed: UInt64
    /// The culprit operator (ours) and the dtype, or `composite`.
    public var culprit: String
    public var message: String
  }

  public var target: BackendTarget
  public var limits = WorkerLimits()
  public var logPath: String
  /// f64 values: within 1e-12 relative (atol 1e-12 at the operating scale).
  public var tolerances = Tolerances(overrides: [.f64: Tolerance(rtol: 1e-12, atol: 1e-12)])

  public init(target: BackendTarget, logPath: String) {
    self.target = target
    self.logPath = logPath
  }

  /// The variants `dlsmith bench export` cycles through: every float dtype, mixed, and int8 models
  /// quantized with ONNX's requantization (the ONNX quantized operators).
  public static func variants(nodes: Int) -> [Variant] {
    var out: [Variant] = []
    for d in [DType.f16, .bf16, .f32, .f64] {
      var o = GeneratorOptions()
      o.nodes = nodes
      o.dtype = d
      out.append(Variant(name: d.rawValue, options: o))
    }
    var mixed = GeneratorOptions()
    mixed.nodes = nodes
    mixed.dtype = nil
    out.append(Variant(name: "mixed", options: mixed))
    var int8 = GeneratorOptions()
    int8.nodes = nodes
    int8.kind = .int8
    int8.requantVariants = [.onnx]
    out.append(Variant(name: "int8", options: int8))
    return out
  }

  /// Runs `count` models (round-robin over `variants`, seeds `seed`, `seed + 1`, ...).
  public func run(
    variants: [Variant], count: Int, seed: UInt64, progress: (Int) -> Void = { _ in }
  ) -> (rows: [Row], disagreements: [Disagreement]) {
    var rows = variants.map { Row(variant: $0.name) }
    var disagreements: [Disagreement] = []
    var generators = variants.map { Generator(options: $0.options) }
    let worker = WorkerProcess(command: target.command, limits: limits, logPath: logPath)
    defer { worker.stop() }
    let judge = Judge(oracle: Oracle(tolerances: tolerances)).for(target)
    for i in 0..<count {
      let v = i % variants.count
      let s = seed &+ UInt64(i)
      let g = generators[v].generate(seed: s)
      let inputs = g.sampleInputs(seed: s)
      guard let values = try? ReferenceBackend().run(g, inputs: inputs, keepAll: true).values else {
        continue
      }
      rows[v].models += 1
      let outcome = target.run(on: worker, graph: g, model: g.encoded(), inputs: inputs)
      switch outcome {
      case .unsupported:
        rows[v].unsupported += 1
        continue
      case .outputs: break
      default:
        rows[v].failed += 1
      }
      guard let f = judge.finding(outcome, target: target.name, graph: g, values: values) else {
        rows[v].agree += 1
        continue
      }
      if f.signature.kind == .unstable {
        rows[v].unstable += 1
        continue
      }
      if f.signature.kind == .mismatch {
        rows[v].disagree += 1
        if f.discrepancy?.kind == .rounding { rows[v].rounding += 1 }
      }
      var reducer = Reducer(target: target, logPath: logPath + ".localize")
      reducer.judge = judge
      reducer.limits = limits
      var culprit = "composite"
      if case .culprit(let cg, _, let cf) = reducer.localize(g, inputs: inputs, keeping: f.signature) {
        culprit = "\(cg.nodes.last?.op ?? "?") \(cf.discrepancy?.dtype ?? "")"
      }
      disagreements.append(
        Disagreement(variant: variants[v].name, seed: s, culprit: culprit, message: f.message))
      progress(i)
    }
    return (rows, disagreements)
  }
}
