import Backends
import IR
import ONNX
import Operators
import Tensors

/// One recorded problem of one backend on one model.
public struct Finding: Sendable {
  public var signature: Signature
  public var message: String
  public var actual: [Tensor]?
  /// What the target did (for triage).
  public var outcome: WorkerOutcome?
  /// For value mismatches: where and by how much.
  public var discrepancy: Discrepancy?

  public init(
    signature: Signature, message: String, actual: [Tensor]? = nil, outcome: WorkerOutcome? = nil,
    discrepancy: Discrepancy? = nil
  ) {
    self.signature = signature
    self.message = message
    self.actual = actual
    self.outcome = outcome
    self.discrepancy = discrepancy
  }
}

/// Turns a worker outcome into a finding (or none), with its signature. Shared by `fuzz` and
/// `replay`, so a replayed instance is judged exactly as it was found.
public struct Judge: Sendable {
  public var oracle: Oracle
  public init(oracle: Oracle = Oracle()) { self.oracle = oracle }

  /// This judge for one target (see `Oracle.for(_:)`).
  public func `for`(_ target: BackendTarget) -> Judge {
    var j = self
    j.oracle = oracle.for(target)
    return j
  }

  public func finding(_ outcome: WorkerOutcome, target: String, graph: Graph, values: [ValueID: Tensor])
    -> Finding?
  {
    var f = judged(outcome, target: target, graph: graph, values: values)
    f?.outcome = outcome
    return f
  }

  private func judged(_ outcome: WorkerOutcome, target: String, graph: Graph, values: [ValueID: Tensor])
    -> Finding?
  {
    switch outcome {
    case .outputs(let outs):
      switch oracle.verdict(graph, reference: values, actual: outs) {
      case .mismatch(let d):
        // What the target's known precision explains (ORT's f16 kept in f32 flipping a comparison)
        // is the capability, reported once: unstable, never a bucket.
        let explained = oracle.explainedByPrecision(graph, values, actual: outs)
        return Finding(
          signature: Judge.mismatchSignature(
            graph, d, target: target, kind: explained ? .unstable : .mismatch),
          message: d.description
            + (explained ? " (explained by the target's precision \(oracle.computedAs))" : ""),
          actual: outs, discrepancy: d)
      case .unstable(let d, _):
        return Finding(
          signature: Judge.mismatchSignature(graph, d, target: target, kind: .unstable),
          message: d.description, actual: outs, discrepancy: d)
      default: return nil
      }
    case .unsupported: return nil
    case .error(let stage, let message):
      return Finding(
        signature: Judge.errorSignature(message, stage: stage, target: target, op: nil), message: message)
    case .crash(let stage, let signal):
      let name = Signature.signalName(signal)
      return Finding(
        signature: Signature(kind: .crash, stage: stage, backend: target, state: "sig=\(name)"),
        message: "killed by \(name)")
    case .exit(let stage, let code):
      return Finding(
        signature: Signature(kind: .exit, stage: stage, backend: target, state: "exit=\(code)"),
        message: "exited with status \(code)")
    case .hang(let stage):
      return Finding(
        signature: Signature(kind: .hang, stage: stage, backend: target, state: "timeout"),
        message: "no answer within the \(stage) timeout (confirmed)")
    case .oom(let stage, let rss):
      return Finding(
        signature: Signature(kind: .oom, stage: stage, backend: target, state: "oom"),
        message: "resident memory \(rss) MiB over the limit")
    }
  }

  /// Error state: `op=<operator> <normalized message>`. The operator is the ONNX operator type the
  /// message blames, else `op` (the culprit localization found), else the first ONNX operator
  /// type the message mentions, else `?`.
  public static func errorSignature(_ message: String, stage: String, target: String, op: String?)
    -> Signature
  {
    let blamed =
      Signature.blamedOperator(message) ?? op
      ?? Signature.mentionedOperator(message, among: ONNXExport.operatorTypes) ?? "?"
    return Signature(
      kind: .error, stage: stage, backend: target, state: "op=\(blamed) \(Signature.normalize(message))")
  }

  /// Mismatch state before localization: the operator set of the model, the output dtype and the
  /// discrepancy class (`Triage` replaces the operator set by the culprit, see `Signature`).
  public static func mismatchSignature(_ graph: Graph, _ d: Discrepancy, target: String, kind: FindingKind)
    -> Signature
  {
    let ops = Array(Set(graph.nodes.map(\.op))).sorted().joined(separator: ",")
    return Signature(
      kind: kind, stage: "execute", backend: target,
      state: "ops=\(ops) dtype=\(d.dtype) class=\(d.kind.rawValue)")
  }

  /// Mismatch state of a localized culprit: its operator, the dtype the kernel computes in (for
  /// value classes: a kernel is per dtype; a wrong shape is not) and the class. The dtype is the
  /// output's, or what the target computes it as (`computedAs`: OpenVINO runs f64, f16 and bf16
  /// graphs in f32, so one wrong f32 convolution is one bucket in all four; `Triage` passes only
  /// the mappings the culprit's kernel was confirmed to fail in, `Reducer.failsConverted`).
  public static func culpritSignature(
    op: String, _ d: Discrepancy, target: String, kind: FindingKind, computedAs: [DType: DType] = [:]
  ) -> Signature {
    Signature(
      kind: kind, stage: "execute", backend: target,
      state: "op=\(op)\(dtypeKey(d, computedAs: computedAs)) class=\(d.kind.rawValue)")
  }

  /// Mismatch state of a minimized model no node of which mismatches alone: the operator producing
  /// the wrong output, and what it needs upstream. `consumer`: the cause test (`Reducer.consumer`)
  /// found that it fails behind any computed input (`op=conv1d after=*`: one bucket whatever feeds
  /// it and whatever the class, a wrong shape or wrong values); otherwise the pair matters and the
  /// families of the other nodes it needs are part of the cause (`op=add after=binary`: one wrong
  /// fusion is one bucket whichever binary operator feeds it), except for a node that only moves
  /// elements giving wrong values (`op=expand after=any`: its input's layout is the cause, whatever
  /// led the target to it). Not the dtype: a pass that rewrites
  /// several nodes is one cause in every dtype (a kernel, the culprit of `culpritSignature`, is one
  /// per dtype).
  public static func compositeSignature(
    _ graph: Graph, _ d: Discrepancy, target: String, kind: FindingKind, consumer: Bool,
    constantFolded: Bool = false, operators: OperatorLookup, name: (String) -> String = { $0 }
  ) -> Signature {
    guard let k = graph.nodes.firstIndex(where: { $0.outputs.contains(d.output) }) else {
      return mismatchSignature(graph, d, target: target, kind: kind)
    }
    // A failure that needs its inputs folded from constants (`Reducer.needsConstants`) is the
    // node after constant folding, whatever the folded operators were.
    let families: Set<String> =
      constantFolded
      ? ["const"]
      : Set(
        graph.nodes.indices.filter { $0 != k }.map {
          operators(graph.nodes[$0].op)?.family.rawValue ?? graph.nodes[$0].op
        })
    // A wrong shape at a node that only reshapes is the Reshape's: compilers turn such nodes into
    // Reshapes before their passes run (OpenVINO writes a Transpose that moves unit dims as a
    // Reshape with 0 placeholders, which our reshape cannot write, so `Reducer.canonical` cannot
    // show it with a literal Reshape in its place), and the shape they get wrong is the Reshape's.
    let op =
      d.kind == .shape && onlyReshapes(graph.nodes[k], input: graph.types[graph.nodes[k].inputs.first ?? -1])
      ? "reshape" : graph.nodes[k].op
    // A node that moves elements and computes none (shape and indexing families) giving wrong
    // values reads them from the wrong places: how the target laid its input out. Which producers
    // and which other readers lead the target to that layout varies with the one bug (OpenVINO's
    // Tile and Broadcast read a pool's output in another dim order when an elementwise node also
    // reads the pool, and a padded ConvTranspose's alone): `after=any`, one bucket.
    let family = operators(graph.nodes[k].op)?.family
    let moves = d.kind == .values && !constantFolded && (family == .shape || family == .indexing)
    // A node that fails behind any computed input is one cause whatever the symptom: OpenVINO's
    // StridesOptimization gives a Conv a wrong shape or wrong values depending on the length.
    let after = moves ? "any" : families.sorted().joined(separator: ",")
    let state = consumer ? "op=\(name(op)) after=*" : "op=\(name(op)) after=\(after) class=\(d.kind.rawValue)"
    return Signature(kind: kind, stage: "execute", backend: target, state: state)
  }

  /// Whether `node` only reshapes its one input: its output's elements in row-major order are the
  /// input's (reshape, flatten, squeeze, unsqueeze, and a transpose that moves only dims of size
  /// 1, keeping the other dims in their order).
  static func onlyReshapes(_ node: Node, input: TensorType?) -> Bool {
    guard node.inputs.count == 1, node.outputs.count == 1, let input else { return false }
    switch node.op {
    case "reshape", "flatten", "squeeze", "unsqueeze": return true
    case "transpose":
      guard case .ints(let perm)? = node.attributes["perm"], perm.sorted() == Array(input.shape.indices)
      else {
        return false
      }
      let moved = perm.filter { input.shape[$0] != 1 }
      return moved == moved.sorted()
    default: return false
    }
  }

  static func dtypeKey(_ d: Discrepancy, computedAs: [DType: DType] = [:]) -> String {
    guard d.kind == .values || d.kind == .rounding else { return "" }
    let computed = DType(rawValue: d.dtype).flatMap { computedAs[$0] }?.rawValue ?? d.dtype
    return " dtype=\(computed)"
  }
}
