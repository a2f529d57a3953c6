import Backends
import IR
import Tensors

/// One recorded problem of one backend on one model.
public struct Finding: Sendable {
  public var signature: Signature
  public var message: String
  public var actual: [Tensor]?
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
    switch outcome {
    case .outputs(let outs):
      switch oracle.verdict(graph, reference: values, actual: outs) {
      case .mismatch(let d):
        return Finding(
          signature: Judge.mismatchSignature(graph, d, target: target, kind: .mismatch),
          message: d.description, actual: outs)
      case .unstable(let d, _):
        return Finding(
          signature: Judge.mismatchSignature(graph, d, target: target, kind: .unstable),
          message: d.description, actual: outs)
      default: return nil
      }
    case .unsupported: return nil
    case .error(let stage, let message):
      return Finding(
        signature: Signature(
          kind: .error, stage: stage, backend: target, state: Signature.normalize(message)), message: message)
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

  /// Mismatch state: the operator set of the model, the output dtype and the discrepancy class.
  public static func mismatchSignature(_ graph: Graph, _ d: Discrepancy, target: String, kind: FindingKind)
    -> Signature
  {
    let ops = Array(Set(graph.nodes.map(\.op))).sorted().joined(separator: ",")
    let dtype = d.expectedType.split(separator: " ").last.map(String.init) ?? ""
    return Signature(
      kind: kind, stage: "execute", backend: target,
      state: "ops=\(ops) dtype=\(dtype) class=\(d.kind.rawValue)")
  }
}
