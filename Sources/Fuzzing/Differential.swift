import Backends
import IR
import Operators
import Tensors

/// The result of one backend on one model.
public struct BackendOutcome: Sendable {
  public let backend: String
  public let verdict: Verdict
  public let outputs: [Tensor]?
}

/// Runs a model on the reference and on each backend, and judges each backend with the oracle.
public struct Differential: Sendable {
  public var oracle: Oracle
  public var reference: ReferenceBackend

  public init(oracle: Oracle = Oracle(), reference: ReferenceBackend = ReferenceBackend()) {
    self.oracle = oracle
    self.reference = reference
  }

  /// The reference run (every value) or the reason it failed (a tool-side problem: an invalid model).
  public func referenceValues(_ graph: Graph, inputs: [Tensor]) throws(BackendError) -> [ValueID: Tensor] {
    try reference.run(graph, inputs: inputs, keepAll: true).values
  }

  /// Judges `backend` against precomputed reference values.
  public func judge(
    _ backend: any Backend, _ graph: Graph, inputs: [Tensor], reference values: [ValueID: Tensor]
  ) -> BackendOutcome {
    if let fast = backend as? FastBackend, let reason = fast.unsupportedReason(graph) {
      return BackendOutcome(backend: backend.name, verdict: .unsupported(reason), outputs: nil)
    }
    for n in graph.nodes {
      for t in n.types where !backend.supports(n.op, t.dtype) {
        return BackendOutcome(
          backend: backend.name, verdict: .unsupported("\(n.op) on \(t.dtype.rawValue)"), outputs: nil)
      }
    }
    let oracle = (backend as? WorkerBackend).map { self.oracle.for($0.target) } ?? self.oracle
    do {
      let outputs = try backend.run(graph, inputs: inputs)
      return BackendOutcome(
        backend: backend.name, verdict: oracle.verdict(graph, reference: values, actual: outputs),
        outputs: outputs)
    } catch {
      if error.isUnsupported {
        return BackendOutcome(backend: backend.name, verdict: .unsupported(error.message), outputs: nil)
      }
      return BackendOutcome(
        backend: backend.name, verdict: .failed(stage: error.stage.rawValue, message: error.message),
        outputs: nil)
    }
  }
}
