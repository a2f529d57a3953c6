import Operators
import Symbolic
import Tensors

/// Builds graphs by hand (tests, seed models); each node's output types come from its rule.
public struct GraphBuilder {
  public private(set) var graph = Graph()
  public let operators: OperatorLookup

  public init(operators: @escaping OperatorLookup = Catalogue.spec) { self.operators = operators }

  public mutating func input(_ shape: [Int], _ dtype: DType = .f32, range: Interval = .unit) -> ValueID {
    let id = graph.nextValueID
    graph.inputs.append(GraphInput(id: id, type: TensorType(dtype, shape), range: range))
    return id
  }

  public mutating func constant(
    _ shape: [Int], _ dtype: DType = .f32, seed: UInt64 = 1, range: Interval = Interval(-0.5, 0.5),
    data: [Double]? = nil
  ) -> ValueID {
    let id = graph.nextValueID
    graph.constants.append(
      Constant(id: id, type: TensorType(dtype, shape), range: range, seed: seed, data: data))
    return id
  }

  /// Appends a node; returns its output ids.
  @discardableResult
  public mutating func node(_ op: String, _ inputs: [ValueID], _ attributes: [String: AttributeValue] = [:])
    -> [ValueID]
  {
    guard let spec = operators(op) else { preconditionFailure("unknown op \(op)") }
    let types = graph.types
    let ins = inputs.map { types[$0]! }
    let attrs = Attributes(attributes)
    let ctx = RuleContext(
      inputs: ins.map { $0.shape.map(Dim.constant) }, dtypes: ins.map(\.dtype), attributes: attrs.symbolic)
    guard let rule = spec.rule(ctx), rule.requires.allSatisfy({ $0.evaluated(in: [:]) }) else {
      preconditionFailure("\(op): rule rejects \(ins)")
    }
    let dtypes = spec.outputDTypes(inputs: ins.map(\.dtype), attributes: attrs, count: rule.outputs.count)!
    let first = graph.nextValueID
    let outs = (0..<rule.outputs.count).map { first + $0 }
    let outTypes = zip(rule.outputs, dtypes).map { dims, d in
      TensorType(d, dims.map { $0.evaluated(in: [:])! })
    }
    graph.nodes.append(Node(op: op, inputs: inputs, outputs: outs, attributes: attrs, types: outTypes))
    return outs
  }

  /// Appends a single-output node; returns its output id.
  public mutating func callAsFunction(
    _ op: String, _ inputs: ValueID..., attributes: [String: AttributeValue] = [:]
  ) -> ValueID {
    node(op, inputs, attributes)[0]
  }

  public func build(outputs: [ValueID]) -> Graph {
    var g = graph
    g.outputs = outputs
    return g
  }
}
