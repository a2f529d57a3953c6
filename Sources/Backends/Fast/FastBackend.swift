import IR
import Kernels
import Operators
import Tensors

/// The built-in compiler under test: optimizes the graph with its passes, then runs float32 kernels
/// (OpenBLAS sgemm for matmul and convolution).
///
/// Supports models whose tensors are f32, i32, i64 or bool; anything else is `unsupported`.
public struct FastBackend: Backend {
  public let passes: [Pass]

  public init(passes: [Pass] = Pass.all) { self.passes = passes }

  public var name: String { "fast" }

  public func supports(_ op: OperatorSpec.ID, _ dtype: DType) -> Bool {
    FastKernels.table[op] != nil && FastTensor.supported.contains(dtype)
  }

  /// Why this backend cannot run `graph`, or `nil`.
  public func unsupportedReason(_ graph: Graph) -> String? {
    for (v, t) in graph.types.sorted(by: { $0.key < $1.key }) where !FastTensor.supported.contains(t.dtype) {
      return "dtype \(t.dtype.rawValue) (%\(v))"
    }
    for n in graph.nodes where FastKernels.table[n.op] == nil { return "operator \(n.op)" }
    return nil
  }

  /// The optimized graph: every pass in order, each result verified.
  public func compile(_ graph: Graph) throws(BackendError) -> Graph {
    var fired = RuleCounts()
    return try compile(graph, counting: &fired)
  }

  /// The optimized graph; adds how many times each rewrite rule fired to `fired` (`Pass.allRules`).
  public func compile(_ graph: Graph, counting fired: inout RuleCounts) throws(BackendError) -> Graph {
    if let reason = unsupportedReason(graph) { throw .unsupported(reason) }
    var g = graph
    for p in passes {
      g = p.apply(g, counting: &fired)
      do {
        try g.verify(operators: FusedOperators.lookup)
      } catch {
        throw BackendError(.compile, "pass \(p.name) produced an invalid graph: \(error)")
      }
    }
    return g
  }

  public func run(_ graph: Graph, inputs: [Tensor]) throws(BackendError) -> [Tensor] {
    try FastBackend.execute(try compile(graph), inputs: inputs).outputs
  }

  /// Runs an already optimized graph; also returns every value (for diagnosis).
  public static func execute(_ g: Graph, inputs: [Tensor]) throws(BackendError) -> (
    outputs: [Tensor], values: [ValueID: FastTensor]
  ) {
    guard inputs.count == g.inputs.count else {
      throw BackendError(.execute, "expected \(g.inputs.count) inputs, got \(inputs.count)")
    }
    var values: [ValueID: FastTensor] = [:]
    for (decl, t) in zip(g.inputs, inputs) {
      guard t.shape == decl.type.shape, t.dtype == decl.type.dtype else {
        throw BackendError(
          .execute, "input %\(decl.id) is \(t.shape) \(t.dtype.rawValue), expected \(decl.type)")
      }
      values[decl.id] = FastTensor(t)
    }
    for c in g.constants { values[c.id] = FastTensor(c.tensor) }
    for (index, node) in g.nodes.enumerated() {
      let args = node.inputs.compactMap { values[$0] }
      guard args.count == node.inputs.count else {
        throw BackendError(.execute, "node \(index): missing input")
      }
      let results = try run(node, args, index: index)
      for (v, r) in zip(node.outputs, results) { values[v] = r }
    }
    var outs: [Tensor] = []
    for v in g.outputs {
      guard let t = values[v] else { throw BackendError(.execute, "output %\(v) has no value") }
      outs.append(t.tensor)
    }
    return (outs, values)
  }

  /// Runs one node's kernel and checks its results against the declared types.
  static func run(_ node: Node, _ args: [FastTensor], index: Int) throws(BackendError) -> [FastTensor] {
    guard let kernel = FastKernels.table[node.op] else {
      throw BackendError(.compile, "node \(index): no fast kernel for \(node.op)")
    }
    let results = kernel(node.attributes, args)
    guard results.count == node.outputs.count else {
      throw BackendError(
        .execute,
        "node \(index) (\(node.op)): kernel gave \(results.count) outputs, expected \(node.outputs.count)")
    }
    for (r, t) in zip(results, node.types) where r.shape != t.shape || r.dtype != t.dtype {
      throw BackendError(
        .execute, "node \(index) (\(node.op)): kernel gave \(r.shape) \(r.dtype.rawValue), declared \(t)")
    }
    return results
  }
}
