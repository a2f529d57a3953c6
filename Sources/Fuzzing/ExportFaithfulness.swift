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
    /// onnx-ref declined (operators it does not implement: com.microsoft, ai.dlsmith) or the export
    /// refused.
    public var unsupported = 0
    /// Disagreements explained by a known bug of the independent implementation.
    public var known = 0
    public var failed = 0
  }

  public struct Disagreement: Sendable {
    public var variant: String
    public var seed: UInt64
    /// The culprit operator (ours) and the dtype, or `composite`.
    public var culprit: String
    public var message: String
    /// The known bug of the independent implementation that explains it (its reproducer), if any.
    public var knownBug: String?
  }

  /// A known bug of onnx.reference 1.23.2, with its standalone reproducer under
  /// `Docs/findings/onnx-reference/` (each exits 1 while the bug is present).
  public struct KnownBug: Sendable {
    public var reproducer: String
    /// Whether the bug explains a disagreement whose first failing node alone is `node` (on `inputs`),
    /// or, when no node fails alone, in which `node` alone deviates from the reference at all.
    public var explains: @Sendable (_ node: Node, _ inputs: [TensorType], _ message: String) -> Bool
  }

  /// The known bugs of the independent implementation `name` (onnx-ref's; none for others).
  public static func knownBugs(of name: String) -> [KnownBug] { name == "onnx-ref" ? onnxReferenceBugs : [] }

  /// The reproducer of a known bug of `implementation` that a node of `graph` meets, if any: that
  /// implementation cannot vouch for either side on this model.
  public static func knownBug(of implementation: String, in graph: Graph) -> String? {
    let types = graph.types
    for n in graph.nodes {
      if let bug = knownBugs(of: implementation).first(where: {
        $0.explains(n, n.inputs.compactMap { types[$0] }, "")
      }) {
        return bug.reproducer
      }
    }
    return nil
  }

  /// onnx.reference 1.23.2's bugs that generated models reach (onnxruntime and a hand computation
  /// agree with our reference on every one).
  public static let onnxReferenceBugs: [KnownBug] = [
    // Softsign of a 0-d tensor: np.abs returns a NumPy scalar and np.divide(out=) refuses it.
    KnownBug(reproducer: "Docs/findings/onnx-reference/softsign_scalar.py") { n, ins, _ in
      n.op == "softsign" && ins.first?.shape.isEmpty == true
    },
    // Erf (and Gelu, defined through Erf) of doubles computed as float32: np.vectorize(otypes "f").
    KnownBug(reproducer: "Docs/findings/onnx-reference/erf_double_in_float32.py") { n, ins, _ in
      ["erf", "gelu"].contains(n.op) && ins.first?.dtype == .f64
    },
    // MaxPool with unit strides and dilations: 2-D pads read in the wrong order, 1-D pads ignored.
    KnownBug(reproducer: "Docs/findings/onnx-reference/maxpool_pads_unit_stride.py") { n, _, _ in
      guard n.op == "max_pool1d" || n.op == "max_pool2d", case .ints(let s)? = n.attributes["strides"],
        case .ints(let p)? = n.attributes["pads"]
      else { return false }
      return s.allSatisfy { $0 == 1 } && p.contains { $0 != 0 }
    },
    // Grouped ConvTranspose: weights sliced by M/group, one channel written per group.
    KnownBug(reproducer: "Docs/findings/onnx-reference/convtranspose_group.py") { n, _, _ in
      guard n.op == "conv_transpose2d", case .int(let g)? = n.attributes["group"] else { return false }
      return g > 1
    },
    // LayerNormalization of bf16: statistics in bf16, ignoring stash_type (float32 by default).
    KnownBug(reproducer: "Docs/findings/onnx-reference/layernorm_bf16_stash_type.py") { n, ins, _ in
      n.op == "layer_norm" && ins.first?.dtype == .bf16
    },
    // The same in f16; and BatchNormalization of f16 rounds `x - mean` and `scale * (x - mean)`
    // to f16 (1 ulp off, within tolerance alone, added up with the former downstream).
    KnownBug(reproducer: "Docs/findings/onnx-reference/batchnorm_layernorm_f16.py") { n, ins, _ in
      ["layer_norm", "batch_norm"].contains(n.op) && ins.first?.dtype == .f16
    },
    // Sums of bf16 accumulated one by one in bf16 (the spec leaves the accumulation precision
    // open; a quality difference, not a spec violation): ReduceSum, ReduceMean, CumSum, Softmax's
    // denominator.
    KnownBug(reproducer: "Docs/findings/onnx-reference/reduce_bf16_accumulation.py") { n, ins, _ in
      ["reduce_sum", "reduce_mean", "cumsum"].contains(n.op) && ins.first?.dtype == .bf16
    },
    KnownBug(reproducer: "Docs/findings/onnx-reference/logsoftmax_bf16_accumulation.py") { n, ins, _ in
      ["log_softmax", "softmax"].contains(n.op) && ins.first?.dtype == .bf16
    },
    // LogSoftmax as log(Softmax(x)): -inf where the softmax underflows.
    KnownBug(reproducer: "Docs/findings/onnx-reference/logsoftmax_underflow.py") { n, _, message in
      n.op == "log_softmax" && (message.contains("inf") || message.contains("nan"))
    },
    // Resize nearest/floor: where o / (m / n) lands a rounding error above an integer, the
    // window is recomputed without it and the previous pixel is read.
    KnownBug(reproducer: "Docs/findings/onnx-reference/resize_nearest_floor_padding.py") { n, ins, _ in
      guard n.op == "resize", let input = ins.first?.shape, let output = n.types.first?.shape,
        input.count == output.count
      else { return false }
      return zip(input, output).dropFirst(2).contains { from, to in
        (0..<to).contains { o in
          o * from % to == 0 && Double(o) / (Double(to) / Double(from)) > Double(o * from / to)
        }
      }
    },
  ]

  public var target: BackendTarget
  public var limits = WorkerLimits()
  public var logPath: String
  /// f64 values: within 1e-12 relative (atol 1e-12 at the operating scale).
  public var tolerances = Tolerances(overrides: [.f64: Tolerance(rtol: 1e-12, atol: 1e-12)])

  /// Bugs of the independent implementation that explain disagreements (`onnxReferenceBugs` for
  /// onnx-ref).
  public var knownBugs: [KnownBug]

  public init(target: BackendTarget, logPath: String) {
    self.target = target
    self.logPath = logPath
    knownBugs = ExportFaithfulness.knownBugs(of: target.name)
  }

  /// The first node that, alone on its recorded inputs, `matches`: given the node's outcome on the
  /// target, the isolated model and its reference values, a note, or `nil` to go on. The node, its
  /// input types and the note.
  func firstNode(
    _ g: Graph, inputs: [Tensor], worker: WorkerProcess,
    where matches: (WorkerOutcome, Graph, [ValueID: Tensor], Node, [TensorType]) -> String?
  ) -> (node: Node, inputs: [TensorType], note: String)? {
    guard let values = try? ReferenceBackend().run(g, inputs: inputs, keepAll: true).values else {
      return nil
    }
    let types = g.types
    let unpinned = Oracle.unpinnedValues(g, inputs: inputs, values: values)
    for (k, node) in g.nodes.enumerated() {
      guard let (isolated, y) = Minimizer.isolated(k, in: g, inputs, values: values, unpinned: unpinned),
        (try? isolated.verify()) != nil,
        let hv = try? ReferenceBackend().run(isolated, inputs: y, keepAll: true).values
      else { continue }
      let outcome = target.run(on: worker, graph: isolated, model: isolated.encoded(), inputs: y)
      let nodeInputs = node.inputs.compactMap { types[$0] }
      if let note = matches(outcome, isolated, hv, node, nodeInputs) { return (node, nodeInputs, note) }
    }
    return nil
  }

  /// Where a disagreement comes from: the first node that alone, on its recorded inputs, gives any
  /// finding but `unstable` (`op dtype`, else `composite`), and the known bug of the independent
  /// implementation that explains it, if any. When no node fails alone (deviations of several
  /// nodes, each within tolerance alone, add up downstream), the known bug of the first node that
  /// alone deviates from the reference in any bit and that a known bug matches.
  public func explain(_ f: Finding, graph g: Graph, inputs: [Tensor], worker: WorkerProcess, judge: Judge)
    -> (culprit: String, knownBug: String?)
  {
    if let (node, types, message) = firstNode(
      g, inputs: inputs, worker: worker,
      where: { outcome, isolated, values, _, _ in
        judge.finding(outcome, target: target.name, graph: isolated, values: values)
          .flatMap { $0.signature.kind == .unstable ? nil : $0.message }
      })
    {
      return (
        "\(node.op) \(node.types.first?.dtype.rawValue ?? "")",
        knownBugs.first { $0.explains(node, types, message) }?.reproducer
      )
    }
    let known = firstNode(
      g, inputs: inputs, worker: worker,
      where: { outcome, isolated, values, node, types in
        let expected = isolated.outputs.compactMap { values[$0] }
        if case .outputs(let actual) = outcome, actual.count == expected.count,
          zip(actual, expected).allSatisfy({ a, e in
            a.shape == e.shape && zip(a.storage, e.storage).allSatisfy { $0 == $1 || ($0.isNaN && $1.isNaN) }
          })
        {
          return nil
        }
        return knownBugs.first { $0.explains(node, types, f.message) }?.reproducer
      })
    return ("composite", known?.note)
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
    int8.operators = ModelKind.int8.operators
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
      if i > 0 { progress(i) }
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
      let (culprit, known) = explain(f, graph: g, inputs: inputs, worker: worker, judge: judge)
      if known != nil {
        rows[v].known += 1
        if f.signature.kind == .mismatch { rows[v].disagree -= 1 }
        if f.discrepancy?.kind == .rounding { rows[v].rounding -= 1 }
        if case .outputs = outcome {} else { rows[v].failed -= 1 }
      }
      disagreements.append(
        Disagreement(
          variant: variants[v].name, seed: s, culprit: culprit, message: f.message, knownBug: known))
    }
    progress(count)
    return (rows, disagreements)
  }
}
