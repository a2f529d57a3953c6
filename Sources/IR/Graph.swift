import Operators
import Tensors

/// A value's type: dtype and concrete shape.
public struct TensorType: Hashable, Sendable, Codable, CustomStringConvertible {
  public var dtype: DType
  public var shape: [Int]

  public init(_ dtype: DType, _ shape: [Int]) {
    self.dtype = dtype
    self.shape = shape
  }

  public var elementCount: Int { shape.reduce(1, *) }
  public var byteCount: Int { elementCount * dtype.byteSize }
  public var description: String { "[\(shape.map(String.init).joined(separator: ", "))] \(dtype.rawValue)" }
}

/// Identifies a value (graph input, constant or node output) within one graph: printed `%N`.
public typealias ValueID = Int

/// A graph input (placeholder). `range` is where generated input values are drawn from.
public struct GraphInput: Hashable, Sendable, Codable {
  public var id: ValueID
  public var type: TensorType
  public var range: Interval
  /// Special values mixed into the drawn values (absent from the file when `nil`).
  public var edges: EdgeValues?

  public init(id: ValueID, type: TensorType, range: Interval, edges: EdgeValues? = nil) {
    self.id = id
    self.type = type
    self.range = range
    self.edges = edges
  }
}

/// A constant (weights). Its values are drawn from `range` with `SplitMix64(seed)` unless `data`
/// gives them explicitly (row-major, already representable in the dtype).
public struct Constant: Hashable, Sendable, Codable {
  public var id: ValueID
  public var type: TensorType
  public var range: Interval
  public var seed: UInt64
  public var data: [Double]?
  /// Special values mixed into the seeded values (absent from the file when `nil`; ignored when
  /// `data` is given).
  public var edges: EdgeValues?

  public init(
    id: ValueID, type: TensorType, range: Interval, seed: UInt64, data: [Double]? = nil,
    edges: EdgeValues? = nil
  ) {
    self.id = id
    self.type = type
    self.range = range
    self.seed = seed
    self.data = data
    self.edges = edges
  }

  /// The one value of a constant whose explicit data repeats a single value (a splat: a grafted
  /// `const:V`); `nil` for seeded or varied data.
  public var splat: Double? { Constant.splat(data) }

  /// The one value `data` repeats, if it is explicit and uniform.
  public static func splat(_ data: [Double]?) -> Double? {
    guard let d = data, let first = d.first, d.allSatisfy({ $0 == first }) else { return nil }
    return first
  }
}

/// One operator application. `types` are the declared output types, checked by `verify()`.
public struct Node: Hashable, Sendable, Codable {
  public var op: OperatorSpec.ID
  public var inputs: [ValueID]
  public var outputs: [ValueID]
  public var attributes: Attributes
  public var types: [TensorType]
  /// The optimizer pattern this node was grafted from, if any (absent from the file otherwise).
  public var pattern: PatternTag?

  public init(
    op: OperatorSpec.ID, inputs: [ValueID], outputs: [ValueID], attributes: Attributes = Attributes(),
    types: [TensorType], pattern: PatternTag? = nil
  ) {
    self.op = op
    self.inputs = inputs
    self.outputs = outputs
    self.attributes = attributes
    self.types = types
    self.pattern = pattern
  }
}

/// Marks a node as node `node` of one grafted instance of a pattern (`Pattern` in Generation), so a
/// campaign can tell whether the target rewrote it, and a reader of the model sees where it came
/// from. `instance` tells two grafts of the same pattern apart within a model.
public struct PatternTag: Hashable, Sendable, Codable {
  public var name: String
  /// The near miss grafted, or `nil` for the exact pattern.
  public var variant: String?
  public var instance: Int
  public var node: Int

  public init(name: String, variant: String?, instance: Int, node: Int) {
    self.name = name
    self.variant = variant
    self.instance = instance
    self.node = node
  }
}

/// A model: inputs, constants, nodes in topological order, outputs.
///
/// A value type: copy, edit, `verify()`. Definition order is structural (inputs, then constants,
/// then node outputs in node order), so def-before-use is a property of the arrays, not of a
/// traversal.
public struct Graph: Hashable, Sendable {
  public var inputs: [GraphInput]
  public var constants: [Constant]
  public var nodes: [Node]
  public var outputs: [ValueID]

  public init(
    inputs: [GraphInput] = [], constants: [Constant] = [], nodes: [Node] = [], outputs: [ValueID] = []
  ) {
    self.inputs = inputs
    self.constants = constants
    self.nodes = nodes
    self.outputs = outputs
  }

  /// The type of every value, by id.
  public var types: [ValueID: TensorType] {
    var t: [ValueID: TensorType] = [:]
    for i in inputs { t[i.id] = i.type }
    for c in constants { t[c.id] = c.type }
    for n in nodes { for (v, ty) in zip(n.outputs, n.types) { t[v] = ty } }
    return t
  }

  /// The next unused value id.
  public var nextValueID: ValueID {
    let all = inputs.map(\.id) + constants.map(\.id) + nodes.flatMap(\.outputs)
    return (all.max() ?? -1) + 1
  }

  /// Operator ids in node order.
  public var operators: [OperatorSpec.ID] { nodes.map(\.op) }

  /// The indices (ascending) of the nodes `output` depends on, its producer included.
  public func ancestors(of output: ValueID) -> [Int] {
    var producer: [ValueID: Int] = [:]
    for (i, n) in nodes.enumerated() { for o in n.outputs { producer[o] = i } }
    var needed = Set<Int>()
    var stack = [output]
    var seen = Set<ValueID>()
    while let v = stack.popLast() {
      guard seen.insert(v).inserted, let p = producer[v] else { continue }
      needed.insert(p)
      stack.append(contentsOf: nodes[p].inputs)
    }
    return needed.sorted()
  }
}
