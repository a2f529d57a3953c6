import IR
import Operators
import Tensors

/// Why a backend could not produce outputs.
public struct BackendError: Error, CustomStringConvertible, Sendable {
  public enum Stage: String, Sendable, Codable { case compile, execute }
  public let stage: Stage
  public let message: String
  /// The backend declines the model (an operator or dtype it does not implement): not a failure.
  /// `message` is then the reason.
  public let isUnsupported: Bool
  public init(_ stage: Stage, _ message: String) {
    self.stage = stage
    self.message = message
    isUnsupported = false
  }

  private init(unsupported reason: String) {
    stage = .compile
    message = reason
    isUnsupported = true
  }

  /// The backend does not implement something the model uses.
  public static func unsupported(_ reason: String) -> BackendError { BackendError(unsupported: reason) }

  public var description: String { isUnsupported ? "unsupported: \(message)" : "\(stage): \(message)" }
}

/// Something that runs graphs: the reference interpreter, the fast backend, external targets.
public protocol Backend: Sendable {
  var name: String { get }
  /// Whether this backend implements `op` for `dtype`.
  func supports(_ op: OperatorSpec.ID, _ dtype: DType) -> Bool
  func run(_ graph: Graph, inputs: [Tensor]) throws(BackendError) -> [Tensor]
}

/// The float64 reference: runs every node's reference kernel and rounds each result to the node's
/// dtype, so a graph has exactly one meaning whatever its dtypes. This is the oracle.
public struct ReferenceBackend: Backend {
  public let operators: OperatorLookup
  public init(operators: @escaping OperatorLookup = Catalogue.spec) { self.operators = operators }

  public var name: String { "reference" }
  public func supports(_ op: OperatorSpec.ID, _ dtype: DType) -> Bool { operators(op) != nil }

  public func run(_ graph: Graph, inputs: [Tensor]) throws(BackendError) -> [Tensor] {
    try run(graph, inputs: inputs, keepAll: false).outputs
  }

  /// Runs and also returns every intermediate value (for minimization and diagnosis).
  public func run(_ graph: Graph, inputs: [Tensor], keepAll: Bool) throws(BackendError) -> (
    outputs: [Tensor], values: [ValueID: Tensor]
  ) {
    let r = try run(graph, inputs: inputs, keepAll: keepAll, choice: nil)
    return (r.outputs, r.values)
  }

  /// Runs with implementation choices ONNX leaves open (`ImplementationChoice`, applied in order),
  /// and also returns the indices of the nodes whose operands or results the choices changed.
  public func run(
    _ graph: Graph, inputs: [Tensor], choices: [ImplementationChoice], keepAll: Bool = false
  ) throws(BackendError) -> (outputs: [Tensor], values: [ValueID: Tensor], changed: [Int]) {
    try run(graph, inputs: inputs, keepAll: keepAll, choice: choices)
  }

  private func run(_ graph: Graph, inputs: [Tensor], keepAll: Bool, choice: [ImplementationChoice]?)
    throws(BackendError) -> (outputs: [Tensor], values: [ValueID: Tensor], changed: [Int])
  {
    var changed: [Int] = []
    guard inputs.count == graph.inputs.count else {
      throw BackendError(.execute, "expected \(graph.inputs.count) inputs, got \(inputs.count)")
    }
    var values: [ValueID: Tensor] = [:]
    for (decl, t) in zip(graph.inputs, inputs) {
      guard t.shape == decl.type.shape, t.dtype == decl.type.dtype else {
        throw BackendError(
          .execute, "input %\(decl.id) is \(t.shape) \(t.dtype.rawValue), expected \(decl.type)")
      }
      values[decl.id] = t
    }
    for c in graph.constants { values[c.id] = c.tensor }
    var remainingUses: [ValueID: Int] = [:]
    if !keepAll {
      for n in graph.nodes { for v in n.inputs { remainingUses[v, default: 0] += 1 } }
      for v in graph.outputs { remainingUses[v, default: 0] += 1 }
    }
    for (index, node) in graph.nodes.enumerated() {
      guard let spec = operators(node.op) else {
        throw BackendError(.compile, "node \(index): unknown operator '\(node.op)'")
      }
      var args: [Tensor] = []
      for v in node.inputs {
        guard let t = values[v] else { throw BackendError(.execute, "node \(index): %\(v) has no value") }
        args.append(t)
      }
      var results: [Tensor]
      if let choice {
        let r = ImplementationChoice.evaluate(node, spec, args, under: choice)
        results = r.results
        if r.changed { changed.append(index) }
      } else {
        results = spec.evaluate(args, attributes: node.attributes)
      }
      guard results.count == node.outputs.count else {
        throw BackendError(
          .execute,
          "node \(index) (\(node.op)): kernel gave \(results.count) outputs, expected \(node.outputs.count)")
      }
      for (k, r) in results.enumerated() {
        guard r.shape == node.types[k].shape, r.dtype == node.types[k].dtype else {
          throw BackendError(
            .execute,
            "node \(index) (\(node.op)): kernel gave \(r.shape) \(r.dtype.rawValue), declared \(node.types[k])"
          )
        }
        values[node.outputs[k]] = r
      }
      if !keepAll {
        for v in node.inputs {
          remainingUses[v, default: 0] -= 1
          if remainingUses[v] == 0 { values[v] = nil }
        }
      }
    }
    var outs: [Tensor] = []
    for v in graph.outputs {
      guard let t = values[v] else { throw BackendError(.execute, "output %\(v) has no value") }
      outs.append(t)
    }
    return (outs, values, changed)
  }
}
