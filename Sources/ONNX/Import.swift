import Foundation
import IR
import Operators
import SwiftProtobuf
import Symbolic
import Tensors

/// Imports the ONNX subset that `ONNXExport` produces (and common variants of it) as a `Graph`.
///
/// Inputs that must be constant (shapes, axes, pads, starts/ends, repeats, sizes, clip bounds, ...)
/// are read from initializers or `Constant` nodes. Graph inputs keep their types (values drawn from
/// [-1, 1]; bools from {0, 1}); initializers used as tensors become `Constant`s with explicit `data`.
/// Variadic or multi-axis ONNX ops become chains of ours (Concat/Sum/Min/Max, Unsqueeze, Slice),
/// Conv/ConvTranspose biases a reshape + add, Identity/Dropout aliases. A model that cannot be
/// imported throws `ONNXError` listing every unsupported operator type and every other problem.
public enum ONNXImport {
  /// ONNX operator types (default domain) the catalogue covers: those import maps to our operators.
  public static var coveredOperators: Set<String> { Importer.coveredOperators }

  public static func graph(contentsOf path: String) throws -> Graph {
    let data = try Data(contentsOf: URL(fileURLWithPath: path))
    return try graph(try Onnx_ModelProto(serializedBytes: data))
  }

  public static func graph(_ model: Onnx_ModelProto) throws -> Graph {
    var s = Importer(model: model)
    s.run()
    let unsupported = s.unsupported.sorted()
    guard unsupported.isEmpty, s.problems.isEmpty else {
      var problems = s.problems
      if !unsupported.isEmpty {
        problems.insert("unsupported operator types: " + unsupported.joined(separator: ", "), at: 0)
      }
      throw ONNXError(unsupportedOperators: unsupported, problems: problems)
    }
    do {
      try s.g.verify()
    } catch {
      throw ONNXError(problems: ["the imported graph does not verify: \(error)"])
    }
    return s.g
  }

  /// A tensor from a `TensorProto` (raw or typed data); `nil` with a reason when unsupported.
  static func tensor(_ p: Onnx_TensorProto) -> Result<Tensor, ONNXError> {
    guard let dtype = ONNX.dtype(elementType: p.dataType) else {
      return .failure(ONNXError(problems: ["tensor '\(p.name)' has unsupported data type \(p.dataType)"]))
    }
    let shape = p.dims.map(Int.init)
    guard shape.allSatisfy({ $0 >= 0 }) else {
      return .failure(ONNXError(problems: ["tensor '\(p.name)' has a negative dimension"]))
    }
    let count = shape.reduce(1, *)
    guard count <= SizeLimits.default.maxElementsPerTensor else {
      return .failure(ONNXError(problems: ["tensor '\(p.name)' is too large"]))
    }
    if p.dataLocation == .external {
      return .failure(ONNXError(problems: ["tensor '\(p.name)' uses external data"]))
    }
    var values: [Double]?
    if !p.rawData.isEmpty || count == 0 {
      values = TensorBytes.decode(p.rawData, dtype, count: count)
    } else {
      switch dtype {
      case .f32: values = p.floatData.map(Double.init)
      case .f64: values = p.doubleData
      case .i64: values = p.int64Data.map(Double.init)
      case .f16: values = p.int32Data.map { TensorBytes.f16Value(UInt16(truncatingIfNeeded: $0)) }
      case .bf16: values = p.int32Data.map { TensorBytes.bf16Value(UInt16(truncatingIfNeeded: $0)) }
      case .bool: values = p.int32Data.map { $0 != 0 ? 1 : 0 }
      case .i32, .i8, .u8: values = p.int32Data.map(Double.init)
      }
    }
    guard let v = values, v.count == count else {
      return .failure(
        ONNXError(problems: ["tensor '\(p.name)' has \(values?.count ?? 0) values for \(shape)"]))
    }
    return .success(Tensor(dtype: dtype, shape: shape, storage: v.map(dtype.rounded)))
  }
}

/// The import state: values defined so far, constants not yet materialized, and problems found.
struct Importer {
  let model: Onnx_ModelProto
  var g = Graph()
  var nextID = 0
  var opset = 1
  /// ONNX name → our value.
  var values: [String: ValueID] = [:]
  var types: [ValueID: TensorType] = [:]
  /// Initializers and Constant-node outputs (materialized as `Constant` on first use as a tensor).
  var constants: [String: Tensor] = [:]
  /// Outputs of nodes that failed: later uses are skipped silently (the failure is reported once).
  var poisoned: Set<String> = []
  var unsupported: Set<String> = []
  var problems: [String] = []
  /// The node being imported, for messages.
  var at = ""

  init(model: Onnx_ModelProto) { self.model = model }

  static let unary: [String: OperatorSpec.ID] = Dictionary(
    uniqueKeysWithValues: ONNXExport.unaryOps.map { ($1, $0) })
  static let binary: [String: OperatorSpec.ID] = Dictionary(
    uniqueKeysWithValues: ONNXExport.binaryOps.map { ($1, $0) })
  static let handled: Set<String> = Set(unary.keys).union(binary.keys).union([
    "LeakyRelu", "Elu", "Selu", "HardSigmoid", "Clip", "Not", "Where", "Cast", "MatMul", "Gemm", "Conv",
    "ConvTranspose", "MaxPool", "AveragePool", "GlobalAveragePool", "BatchNormalization",
    "LayerNormalization", "Softmax", "LogSoftmax", "ReduceSum", "ReduceMean", "ReduceMax", "ReduceMin",
    "ReduceProd", "ArgMax", "ArgMin", "Reshape", "Flatten", "Transpose", "Squeeze", "Unsqueeze", "Concat",
    "Split", "Slice", "Pad", "Expand", "Tile", "Gather", "Resize", "CumSum", "Constant", "Identity",
    "Dropout", "Sum",
  ])

  /// ONNX operator types (default domain) the catalogue covers: those import maps to our operators.
  static var coveredOperators: Set<String> { handled.union(handledQuantized) }

  /// Quantized operators of the default domain and of `com.microsoft` (ImportLowBit.swift).
  static let handledQuantized: Set<String> = [
    "QuantizeLinear", "DequantizeLinear", "QLinearConv", "QLinearMatMul",
  ]
  static let handledMicrosoft: Set<String> = ["QGemm", "QLinearAdd", "QLinearMul", "QLinearAveragePool"]

  mutating func problem(_ s: String) { problems.append(at.isEmpty ? s : "\(at): \(s)") }

  mutating func fresh() -> ValueID {
    defer { nextID += 1 }
    return nextID
  }

  mutating func run() {
    let graph = model.graph
    for o in model.opsetImport where o.domain == "" || o.domain == "ai.onnx" { opset = Int(o.version) }
    for p in graph.initializer {
      switch ONNXImport.tensor(p) {
      case .success(let t): constants[p.name] = t
      case .failure(let e): problems += e.problems
      }
    }
    for input in graph.input where constants[input.name] == nil {
      guard case .tensorType(let tt)? = input.type.value, let dtype = ONNX.dtype(elementType: tt.elemType)
      else {
        problems.append("graph input '\(input.name)' is not a tensor of a supported dtype")
        poisoned.insert(input.name)
        continue
      }
      var shape: [Int] = []
      var dynamic = !tt.hasShape
      for d in tt.shape.dim {
        if case .dimValue(let v)? = d.value, v >= 1 { shape.append(Int(v)) } else { dynamic = true }
      }
      if dynamic {
        problems.append(
          "graph input '\(input.name)' has a dynamic or unknown shape (only static shapes are supported)")
        poisoned.insert(input.name)
        continue
      }
      let id = fresh()
      let range = dtype == .bool ? Interval.boolean : Interval(-1, 1)
      g.inputs.append(GraphInput(id: id, type: TensorType(dtype, shape), range: range))
      values[input.name] = id
      types[id] = TensorType(dtype, shape)
    }
    for (index, node) in graph.node.enumerated() {
      at = "node \(index) (\(node.opType)\(node.name.isEmpty ? "" : " '\(node.name)'"))"
      let lowBit =
        (node.domain == "" && Self.handledQuantized.contains(node.opType))
        || (node.domain == ONNXExport.microsoft && Self.handledMicrosoft.contains(node.opType))
        || (node.domain == ONNXExport.custom && Catalogue.spec(node.opType) != nil)
      if !(node.domain == "" || node.domain == "ai.onnx" || lowBit) {
        unsupported.insert("\(node.domain).\(node.opType)")
        poisoned.formUnion(node.output)
        continue
      }
      if !lowBit && !Self.handled.contains(node.opType) {
        unsupported.insert(node.opType)
        poisoned.formUnion(node.output)
        continue
      }
      if node.input.contains(where: { poisoned.contains($0) }) {
        poisoned.formUnion(node.output)
        continue
      }
      let before = problems.count
      let ok = importNode(node)
      if !ok {
        if problems.count == before { problem("cannot be imported") }
        poisoned.formUnion(node.output)
      }
    }
    at = ""
    for o in graph.output where !poisoned.contains(o.name) {
      guard let id = tensorValue(o.name) else { continue }
      if g.outputs.contains(id) {
        problems.append("graph output '\(o.name)' repeats another output")
      } else {
        g.outputs.append(id)
      }
    }
  }

  // MARK: - Values

  /// The value named `name`, materializing a constant on first use.
  mutating func tensorValue(_ name: String) -> ValueID? {
    if let v = values[name] { return v }
    if let t = constants[name] {
      let id = fresh()
      let finite = t.storage.filter(\.isFinite)
      let range = finite.isEmpty ? Interval(0, 0) : Interval(finite.min()!, finite.max()!)
      let type = TensorType(t.dtype, t.shape)
      g.constants.append(Constant(id: id, type: type, range: range, seed: 0, data: t.storage))
      values[name] = id
      types[id] = type
      return id
    }
    problem("'\(name)' is not defined before use")
    return nil
  }

  /// A constant input (initializer or Constant node), e.g. a shape or axes.
  mutating func constant(_ name: String, _ what: String) -> Tensor? {
    if let t = constants[name] { return t }
    problem("\(what) '\(name)' must be a constant (initializer or Constant node)")
    return nil
  }

  func attr(_ n: Onnx_NodeProto, _ name: String) -> Onnx_AttributeProto? {
    n.attribute.first { $0.name == name }
  }
  func int(_ n: Onnx_NodeProto, _ name: String, _ d: Int) -> Int { attr(n, name).map { Int($0.i) } ?? d }
  func ints(_ n: Onnx_NodeProto, _ name: String) -> [Int]? { attr(n, name).map { $0.ints.map(Int.init) } }
  /// A float attribute read as the shortest decimal of its float32 (0.01 stays 0.01).
  func float(_ n: Onnx_NodeProto, _ name: String, _ d: Double) -> Double {
    attr(n, name).map { Double("\($0.f)") ?? Double($0.f) } ?? d
  }
  func string(_ n: Onnx_NodeProto, _ name: String, _ d: String) -> String {
    attr(n, name).map { String(decoding: $0.s, as: UTF8.self) } ?? d
  }
  func input(_ n: Onnx_NodeProto, _ i: Int) -> String? {
    i < n.input.count && !n.input[i].isEmpty ? n.input[i] : nil
  }

  /// Integers from input `i` (constant) or attribute `attribute` (older opsets); `nil` if neither.
  mutating func intList(_ n: Onnx_NodeProto, input i: Int, attribute: String?, _ what: String) -> [Int]?? {
    if let name = input(n, i) {
      guard let t = constant(name, what) else { return .some(nil) }
      return .some(t.storage.map { Int($0) })
    }
    if let attribute, let v = ints(n, attribute) { return .some(v) }
    return nil
  }

  /// Appends one of our nodes; returns its outputs (types from the operator's rule).
  mutating func add(_ op: String, _ inputs: [ValueID], _ attributes: [String: AttributeValue] = [:])
    -> [ValueID]?
  {
    guard let spec = Catalogue.spec(op) else {
      problem("internal: unknown operator \(op)")
      return nil
    }
    let ins = inputs.map { types[$0]! }
    let attrs = Attributes(attributes)
    for a in spec.attributes where !a.accepts(attrs[a.name], ranks: ins.map(\.shape.count)) {
      problem(
        "\(op): attribute \(a.name) = \(attrs[a.name].map { "\($0)" } ?? "missing") is outside what we support"
      )
      return nil
    }
    let ctx = RuleContext(
      inputs: ins.map { $0.shape.map(Dim.constant) }, dtypes: ins.map(\.dtype), attributes: attrs.symbolic)
    guard let rule = spec.rule(ctx) else {
      problem("\(op) does not apply to inputs \(ins)")
      return nil
    }
    if let failed = rule.requires.first(where: { !$0.evaluated(in: [:]) }) {
      problem("\(op) requires \(failed), which fails for inputs \(ins)")
      return nil
    }
    guard
      let dtypes = spec.outputDTypes(inputs: ins.map(\.dtype), attributes: attrs, count: rule.outputs.count)
    else {
      problem("\(op) does not accept dtypes \(ins.map(\.dtype.rawValue))")
      return nil
    }
    var outs: [ValueID] = []
    var outTypes: [TensorType] = []
    for (dims, d) in zip(rule.outputs, dtypes) {
      let id = fresh()
      let t = TensorType(d, dims.map { $0.evaluated(in: [:])! })
      outs.append(id)
      outTypes.append(t)
      types[id] = t
    }
    g.nodes.append(Node(op: op, inputs: inputs, outputs: outs, attributes: attrs, types: outTypes))
    return outs
  }

  /// Binds ONNX output names to our values.
  mutating func bind(_ n: Onnx_NodeProto, _ outs: [ValueID]?) -> Bool {
    guard let outs else { return false }
    let names = n.output.filter { !$0.isEmpty }
    guard names.count <= outs.count else {
      problem("produces \(names.count) outputs, the mapping gives \(outs.count)")
      return false
    }
    for (k, name) in n.output.enumerated() where !name.isEmpty && k < outs.count { values[name] = outs[k] }
    return true
  }

  func normalize(_ axis: Int, rank: Int) -> Int { axis < 0 ? axis + rank : axis }

  // MARK: - Nodes

  mutating func importNode(_ n: Onnx_NodeProto) -> Bool {
    let op = n.opType
    if op == "Constant" { return importConstant(n) }
    // Data inputs (constant-valued inputs are read by the cases that need them).
    func data(_ i: Int) -> ValueID? {
      guard let name = input(n, i) else {
        problem("input \(i) is missing")
        return nil
      }
      return tensorValue(name)
    }
    func type(_ v: ValueID) -> TensorType { types[v]! }
    func extraOutputs(_ allowed: Int) -> Bool {
      if n.output.dropFirst(allowed).contains(where: { !$0.isEmpty }) {
        problem("only the first \(allowed) output(s) are supported")
        return true
      }
      return false
    }

    if let done = importLowBit(n) { return done }
    if let ours = Self.unary[op] {
      guard let x = data(0) else { return false }
      if op == "Gelu", string(n, "approximate", "none") != "none" {
        problem("Gelu approximate=\(string(n, "approximate", "none")) is not supported")
        return false
      }
      return bind(n, add(ours, [x]))
    }
    if let ours = Self.binary[op] {
      guard n.input.count >= 1 else { return false }
      let variadic = ["Min", "Max"].contains(op)
      guard variadic || n.input.count == 2 else {
        problem("expects 2 inputs")
        return false
      }
      guard var acc = data(0) else { return false }
      for i in 1..<n.input.count {
        guard let b = data(i), let r = add(ours, [acc, b]) else { return false }
        acc = r[0]
      }
      return bind(n, [acc])
    }
    switch op {
    case "Identity", "Dropout":
      if op == "Dropout", extraOutputs(1) { return false }
      guard let x = data(0) else { return false }
      return bind(n, [x])
    case "Sum":
      guard var acc = data(0) else { return false }
      for i in 1..<n.input.count {
        guard let b = data(i), let r = add("add", [acc, b]) else { return false }
        acc = r[0]
      }
      return bind(n, [acc])
    case "LeakyRelu":
      guard let x = data(0) else { return false }
      return bind(n, add("leaky_relu", [x], ["alpha": .float(float(n, "alpha", 0.01))]))
    case "Elu":
      guard let x = data(0) else { return false }
      return bind(n, add("elu", [x], ["alpha": .float(float(n, "alpha", 1))]))
    case "Selu":
      guard let x = data(0) else { return false }
      let alpha = float(n, "alpha", 1.6732632423543772)
      let gamma = float(n, "gamma", 1.0507009873554805)
      guard abs(alpha - 1.6732632423543772) < 1e-6, abs(gamma - 1.0507009873554805) < 1e-6 else {
        problem("Selu with non-default alpha/gamma is not supported")
        return false
      }
      return bind(n, add("selu", [x]))
    case "HardSigmoid":
      guard let x = data(0) else { return false }
      guard abs(float(n, "alpha", 0.2) - 0.2) < 1e-7, abs(float(n, "beta", 0.5) - 0.5) < 1e-7 else {
        problem("HardSigmoid with alpha/beta other than 0.2/0.5 is not supported")
        return false
      }
      return bind(n, add("hard_sigmoid", [x]))
    case "Clip":
      guard let x = data(0) else { return false }
      var bounds: [Double] = []
      for (i, key) in [(1, "min"), (2, "max")] {
        if let name = input(n, i) {
          guard let t = constant(name, "Clip \(key)"), t.count == 1 else { return false }
          bounds.append(t.storage[0])
        } else if opset < 11, attr(n, key) != nil {
          bounds.append(float(n, key, 0))
        } else {
          problem("Clip without a \(key) bound is not supported")
          return false
        }
      }
      return bind(n, add("clip", [x], ["min": .float(bounds[0]), "max": .float(bounds[1])]))
    case "Not":
      guard let x = data(0) else { return false }
      return bind(n, add("logical_not", [x]))
    case "Where":
      guard let c = data(0), let a = data(1), let b = data(2) else { return false }
      return bind(n, add("where", [c, a, b]))
    case "Cast":
      guard let x = data(0) else { return false }
      guard let to = ONNX.dtype(elementType: Int32(int(n, "to", 0))) else {
        problem("Cast to data type \(int(n, "to", 0)) is not supported")
        return false
      }
      return bind(n, add("cast", [x], ["to": .string(to.rawValue)]))
    case "MatMul":
      guard let a = data(0), let b = data(1) else { return false }
      return bind(n, add("matmul", [a, b]))
    case "Gemm":
      guard let a = data(0), let b = data(1) else { return false }
      let c: ValueID
      if input(n, 2) != nil {
        guard let v = data(2) else { return false }
        c = v
      } else {
        c = scalarConstant(0, type(a).dtype)
      }
      return bind(
        n,
        add(
          "gemm", [a, b, c],
          [
            "alpha": .float(float(n, "alpha", 1)), "beta": .float(float(n, "beta", 1)),
            "trans_a": .int(int(n, "transA", 0)), "trans_b": .int(int(n, "transB", 0)),
          ]))
    case "Conv", "ConvTranspose":
      guard let x = data(0), let w = data(1) else { return false }
      let spatial = type(x).shape.count - 2
      let transpose = op == "ConvTranspose"
      guard transpose ? spatial == 2 : (spatial == 1 || spatial == 2) else {
        problem("\(op) over \(spatial) spatial dims is not supported")
        return false
      }
      guard padsOK(n) else { return false }
      if let k = ints(n, "kernel_shape"), k != Array(type(w).shape[2...]) {
        problem("kernel_shape \(k) disagrees with the weight shape")
        return false
      }
      if transpose, attr(n, "output_shape") != nil {
        problem("ConvTranspose output_shape is not supported (give pads and output_padding)")
        return false
      }
      var attrs: [String: AttributeValue] = [
        "strides": .ints(ints(n, "strides") ?? Array(repeating: 1, count: spatial)),
        "pads": .ints(ints(n, "pads") ?? Array(repeating: 0, count: 2 * spatial)),
        "dilations": .ints(ints(n, "dilations") ?? Array(repeating: 1, count: spatial)),
        "group": .int(int(n, "group", 1)),
      ]
      if transpose {
        attrs["output_padding"] = .ints(ints(n, "output_padding") ?? Array(repeating: 0, count: spatial))
      }
      let ours = transpose ? "conv_transpose2d" : (spatial == 1 ? "conv1d" : "conv2d")
      guard var y = add(ours, [x, w], attrs)?[0] else { return false }
      if input(n, 2) != nil {
        guard let b = data(2) else { return false }
        let channels = type(y).shape[1]
        guard type(b).shape == [channels] else {
          problem("\(op) bias must have shape [\(channels)]")
          return false
        }
        let shape = [1, channels] + Array(repeating: 1, count: spatial)
        guard let rb = add("reshape", [b], ["shape": .ints(shape)]), let s = add("add", [y, rb[0]]) else {
          return false
        }
        y = s[0]
      }
      return bind(n, [y])
    case "MaxPool", "AveragePool":
      guard let x = data(0) else { return false }
      let spatial = type(x).shape.count - 2
      guard spatial == 1 || spatial == 2 else {
        problem("\(op) over \(spatial) spatial dims is not supported")
        return false
      }
      guard padsOK(n) else { return false }
      if int(n, "ceil_mode", 0) != 0 || int(n, "storage_order", 0) != 0 {
        problem("ceil_mode / storage_order other than 0 is not supported")
        return false
      }
      if extraOutputs(1) { return false }
      guard let kernel = ints(n, "kernel_shape") else {
        problem("kernel_shape is required")
        return false
      }
      let ones = Array(repeating: 1, count: spatial)
      var attrs: [String: AttributeValue] = [
        "kernel_shape": .ints(kernel), "strides": .ints(ints(n, "strides") ?? ones),
        "pads": .ints(ints(n, "pads") ?? Array(repeating: 0, count: 2 * spatial)),
      ]
      if op == "MaxPool" {
        attrs["dilations"] = .ints(ints(n, "dilations") ?? ones)
      } else {
        if let d = ints(n, "dilations"), d != ones {
          problem("AveragePool with dilations is not supported")
          return false
        }
        attrs["count_include_pad"] = .int(int(n, "count_include_pad", 0))
      }
      let ours = (op == "MaxPool" ? "max_pool" : "avg_pool") + "\(spatial)d"
      return bind(n, add(ours, [x], attrs))
    case "GlobalAveragePool":
      guard let x = data(0) else { return false }
      return bind(n, add("global_avg_pool", [x]))
    case "BatchNormalization":
      if int(n, "training_mode", 0) != 0 || extraOutputs(1) {
        problem("only inference-mode BatchNormalization with one output is supported")
        return false
      }
      guard let x = data(0), let s = data(1), let b = data(2), let m = data(3), let v = data(4) else {
        return false
      }
      return bind(n, add("batch_norm", [x, s, b, m, v], ["epsilon": .float(float(n, "epsilon", 1e-5))]))
    case "LayerNormalization":
      if extraOutputs(1) { return false }
      guard let x = data(0), let s = data(1) else { return false }
      let b: ValueID
      if input(n, 2) != nil {
        guard let v = data(2) else { return false }
        b = v
      } else {
        let t = type(s)
        b = constant(Tensor(filled: 0, dtype: t.dtype, shape: t.shape))
      }
      return bind(
        n,
        add(
          "layer_norm", [x, s, b],
          ["axis": .int(int(n, "axis", -1)), "epsilon": .float(float(n, "epsilon", 1e-5))]))
    case "Softmax", "LogSoftmax":
      guard let x = data(0) else { return false }
      let rank = type(x).shape.count
      let axis = int(n, "axis", opset < 13 ? 1 : -1)
      if opset < 13, normalize(axis, rank: rank) != rank - 1 {
        problem("\(op) before opset 13 (flattening semantics) is supported only on the last axis")
        return false
      }
      return bind(n, add(op == "Softmax" ? "softmax" : "log_softmax", [x], ["axis": .int(axis)]))
    case "ReduceSum", "ReduceMean", "ReduceMax", "ReduceMin", "ReduceProd":
      guard let x = data(0) else { return false }
      let rank = type(x).shape.count
      guard let given = intList(n, input: 1, attribute: "axes", "axes") else {
        if int(n, "noop_with_empty_axes", 0) != 0 { return bind(n, [x]) }
        return reduce(n, x, Array(0..<rank))
      }
      guard let axes = given else { return false }
      if axes.isEmpty && int(n, "noop_with_empty_axes", 0) != 0 { return bind(n, [x]) }
      return reduce(n, x, axes.isEmpty ? Array(0..<rank) : axes)
    case "ArgMax", "ArgMin":
      guard let x = data(0) else { return false }
      if int(n, "select_last_index", 0) != 0 {
        problem("select_last_index = 1 is not supported")
        return false
      }
      return bind(
        n,
        add(
          op == "ArgMax" ? "argmax" : "argmin", [x],
          ["axis": .int(int(n, "axis", 0)), "keepdims": .int(int(n, "keepdims", 1))]))
    case "Reshape":
      guard let x = data(0), let name = input(n, 1), let t = constant(name, "shape") else { return false }
      let shape = t.storage.map { Int($0) }
      let xs = type(x).shape
      var resolved = shape.enumerated().map { k, d in
        d == 0 && int(n, "allowzero", 0) == 0 && k < xs.count ? xs[k] : d
      }
      if let k = resolved.firstIndex(of: -1) {
        let known = resolved.enumerated().filter { $0.offset != k }.reduce(1) { $0 * $1.element }
        if known > 0 { resolved[k] = xs.reduce(1, *) / known }
      }
      return bind(n, add("reshape", [x], ["shape": .ints(resolved)]))
    case "Flatten":
      guard let x = data(0) else { return false }
      return bind(n, add("flatten", [x], ["axis": .int(int(n, "axis", 1))]))
    case "Transpose":
      guard let x = data(0) else { return false }
      let rank = type(x).shape.count
      return bind(n, add("transpose", [x], ["perm": .ints(ints(n, "perm") ?? Array((0..<rank).reversed()))]))
    case "Squeeze":
      guard let x = data(0) else { return false }
      let shape = type(x).shape
      var axes: [Int]
      if let given = intList(n, input: 1, attribute: "axes", "axes") {
        guard let a = given else { return false }
        axes = a
      } else {
        axes = shape.indices.filter { shape[$0] == 1 }
      }
      axes = Array(Set(axes.map { normalize($0, rank: shape.count) })).sorted()
      if axes.isEmpty { return bind(n, [x]) }
      return bind(n, add("squeeze", [x], ["axes": .ints(axes)]))
    case "Unsqueeze":
      guard let x = data(0) else { return false }
      guard let given = intList(n, input: 1, attribute: "axes", "axes"), let axes = given, !axes.isEmpty
      else {
        if !problems.contains(where: { $0.hasPrefix(at) }) { problem("Unsqueeze needs axes") }
        return false
      }
      let outRank = type(x).shape.count + axes.count
      var acc = x
      for a in axes.map({ normalize($0, rank: outRank) }).sorted() {
        guard let r = add("unsqueeze", [acc], ["axis": .int(a)]) else { return false }
        acc = r[0]
      }
      return bind(n, [acc])
    case "Concat":
      guard var acc = data(0) else { return false }
      let axis = int(n, "axis", 0)
      for i in 1..<n.input.count {
        guard let b = data(i), let r = add("concat", [acc, b], ["axis": .int(axis)]) else { return false }
        acc = r[0]
      }
      return bind(n, [acc])
    case "Split":
      guard let x = data(0) else { return false }
      let axis = int(n, "axis", 0)
      let parts = n.output.count
      let dim = type(x).shape[normalize(axis, rank: type(x).shape.count)]
      if let given = intList(n, input: 1, attribute: "split", "split") {
        guard let split = given else { return false }
        guard split.count == parts, Set(split).count == 1 else {
          problem("Split into unequal parts \(split) is not supported")
          return false
        }
      } else if let k = attr(n, "num_outputs").map({ Int($0.i) }), k != parts || dim % k != 0 {
        problem("Split num_outputs = \(k) with \(parts) outputs over a dim of \(dim) is not supported")
        return false
      }
      return bind(n, add("split", [x], ["axis": .int(axis), "num_outputs": .string(String(parts))]))
    case "Slice":
      return importSlice(n)
    case "Pad":
      return importPad(n)
    case "Expand":
      guard let x = data(0), let name = input(n, 1), let t = constant(name, "shape") else { return false }
      var shape = t.storage.map { Int($0) }
      let xs = type(x).shape
      // A target entry equal to x's dim is the same as 1 (keeps large dims inside our domain).
      for k in shape.indices {
        let j = k - (shape.count - xs.count)
        if j >= 0, shape[k] == xs[j], shape[k] > 16 { shape[k] = 1 }
      }
      return bind(n, add("expand", [x], ["shape": .ints(shape)]))
    case "Tile":
      guard let x = data(0), let name = input(n, 1), let t = constant(name, "repeats") else { return false }
      return bind(n, add("tile", [x], ["repeats": .ints(t.storage.map { Int($0) })]))
    case "Gather":
      guard let x = data(0), let i = data(1) else { return false }
      return bind(n, add("gather", [x, i], ["axis": .int(int(n, "axis", 0))]))
    case "Resize":
      return importResize(n)
    case "CumSum":
      guard let x = data(0), let name = input(n, 1), let t = constant(name, "axis"), t.count == 1 else {
        return false
      }
      return bind(
        n,
        add(
          "cumsum", [x],
          [
            "axis": .int(Int(t.storage[0])), "exclusive": .int(int(n, "exclusive", 0)),
            "reverse": .int(int(n, "reverse", 0)),
          ]))
    default:
      unsupported.insert(op)
      return false
    }
  }

  mutating func padsOK(_ n: Onnx_NodeProto) -> Bool {
    let autoPad = string(n, "auto_pad", "NOTSET")
    if autoPad != "NOTSET" && !(autoPad == "VALID" && attr(n, "pads") == nil) {
      problem("auto_pad = \(autoPad) is not supported (give explicit pads)")
      return false
    }
    return true
  }

  mutating func reduce(_ n: Onnx_NodeProto, _ x: ValueID, _ axes: [Int]) -> Bool {
    let ours = [
      "ReduceSum": "reduce_sum", "ReduceMean": "reduce_mean", "ReduceMax": "reduce_max",
      "ReduceMin": "reduce_min", "ReduceProd": "reduce_prod",
    ][n.opType]!
    let rank = types[x]!.shape.count
    let sorted = Array(Set(axes.map { normalize($0, rank: rank) })).sorted()
    return bind(n, add(ours, [x], ["axes": .ints(sorted), "keepdims": .int(int(n, "keepdims", 1))]))
  }

  mutating func importConstant(_ n: Onnx_NodeProto) -> Bool {
    guard let name = n.output.first, let a = n.attribute.first else {
      problem("Constant needs one output and one attribute")
      return false
    }
    let t: Tensor
    switch a.name {
    case "value":
      switch ONNXImport.tensor(a.t) {
      case .success(let v): t = v
      case .failure(let e):
        problems += e.problems.map { "\(at): \($0)" }
        return false
      }
    case "value_float": t = Tensor(dtype: .f32, shape: [], storage: [Double(a.f)])
    case "value_floats": t = Tensor(dtype: .f32, shape: [a.floats.count], storage: a.floats.map(Double.init))
    case "value_int": t = Tensor(dtype: .i64, shape: [], storage: [Double(a.i)])
    case "value_ints": t = Tensor(dtype: .i64, shape: [a.ints.count], storage: a.ints.map(Double.init))
    default:
      problem("Constant attribute '\(a.name)' is not supported")
      return false
    }
    constants[name] = t
    return true
  }

  /// A new constant holding `t`.
  mutating func constant(_ t: Tensor) -> ValueID {
    let id = fresh()
    let type = TensorType(t.dtype, t.shape)
    let finite = t.storage.filter(\.isFinite)
    let range = finite.isEmpty ? Interval(0, 0) : Interval(finite.min()!, finite.max()!)
    g.constants.append(Constant(id: id, type: type, range: range, seed: 0, data: t.storage))
    types[id] = type
    return id
  }

  mutating func scalarConstant(_ v: Double, _ dtype: DType) -> ValueID {
    constant(Tensor(dtype: dtype, shape: [], storage: [dtype.rounded(v)]))
  }

  mutating func importSlice(_ n: Onnx_NodeProto) -> Bool {
    guard let xName = input(n, 0), let x = tensorValue(xName) else { return false }
    let shape = types[x]!.shape
    let starts: [Int]
    let ends: [Int]
    var axes: [Int]?
    var steps: [Int]?
    if opset < 10 {
      guard let s = ints(n, "starts"), let e = ints(n, "ends") else {
        problem("Slice needs starts and ends")
        return false
      }
      (starts, ends, axes) = (s, e, ints(n, "axes"))
    } else {
      guard let sName = input(n, 1), let eName = input(n, 2), let s = constant(sName, "starts"),
        let e = constant(eName, "ends")
      else { return false }
      starts = s.storage.map { Int(clamping: Int64(max(min($0, 9.2e18), -9.2e18))) }
      ends = e.storage.map { Int(clamping: Int64(max(min($0, 9.2e18), -9.2e18))) }
      if let a = input(n, 3) {
        guard let t = constant(a, "axes") else { return false }
        axes = t.storage.map { Int($0) }
      }
      if let st = input(n, 4) {
        guard let t = constant(st, "steps") else { return false }
        steps = t.storage.map { Int(clamping: Int64(max(min($0, 9.2e18), -9.2e18))) }
      }
    }
    let axesList = axes ?? Array(starts.indices)
    let stepList = steps ?? Array(repeating: 1, count: starts.count)
    guard starts.count == ends.count, axesList.count == starts.count, stepList.count == starts.count else {
      problem("Slice starts/ends/axes/steps have different lengths")
      return false
    }
    var acc = x
    for k in starts.indices {
      let axis = normalize(axesList[k], rank: shape.count)
      guard (0..<shape.count).contains(axis) else {
        problem("Slice axis \(axesList[k]) is out of range")
        return false
      }
      let d = shape[axis]
      let step = stepList[k]
      guard step >= 1 else {
        problem("Slice with step \(step) is not supported (only positive steps)")
        return false
      }
      // ONNX clamping for positive steps.
      func clampIndex(_ v: Int) -> Int {
        let w = v < 0 ? (v < -d ? 0 : v + d) : v
        return min(max(w, 0), d)
      }
      let s = clampIndex(starts[k])
      let e = clampIndex(ends[k])
      guard e > s else {
        problem("Slice along axis \(axis) is empty (not supported)")
        return false
      }
      if s == 0, e == d, step == 1 { continue }
      // Our end must be nonzero and within [-64, 64]: use the negative form when needed.
      let end = e > 64 && e < d ? e - d : e
      guard
        let r = add(
          "slice", [acc], ["axis": .int(axis), "start": .int(s), "end": .int(end), "step": .int(step)])
      else { return false }
      acc = r[0]
    }
    return bind(n, [acc])
  }

  mutating func importPad(_ n: Onnx_NodeProto) -> Bool {
    guard let xName = input(n, 0), let x = tensorValue(xName) else { return false }
    let type = types[x]!
    let rank = type.shape.count
    let mode = string(n, "mode", "constant")
    var pads: [Int]
    var value = 0.0
    if opset < 11 {
      guard let p = ints(n, "pads") else {
        problem("Pad needs pads")
        return false
      }
      pads = p
      value = float(n, "value", 0)
    } else {
      guard let pName = input(n, 1), let p = constant(pName, "pads") else { return false }
      pads = p.storage.map { Int($0) }
      if let v = input(n, 2) {
        guard let t = constant(v, "constant_value"), t.count == 1 else { return false }
        value = t.storage[0]
      }
      if let a = input(n, 3) {
        guard let t = constant(a, "axes") else { return false }
        let axes = t.storage.map { normalize(Int($0), rank: rank) }
        guard pads.count == 2 * axes.count else {
          problem("Pad pads and axes disagree")
          return false
        }
        var full = [Int](repeating: 0, count: 2 * rank)
        for (k, a) in axes.enumerated() {
          full[a] = pads[k]
          full[rank + a] = pads[axes.count + k]
        }
        pads = full
      }
    }
    guard pads.count == 2 * rank else {
      problem("Pad has \(pads.count) pads for rank \(rank)")
      return false
    }
    if pads.contains(where: { $0 < 0 }) {
      problem("negative pads (cropping) are not supported")
      return false
    }
    var attrs: [String: AttributeValue] = [
      "pads_begin": .ints(Array(pads[..<rank])), "pads_end": .ints(Array(pads[rank...])),
      "mode": .string(mode),
      "value": .float(0),
    ]
    // Our `value` lies in [-1, 1]; padded cells get it rounded to the dtype, as in ONNX.
    if mode == "constant" { attrs["value"] = .float(value) }
    return bind(n, add("pad", [x], attrs))
  }

  mutating func importResize(_ n: Onnx_NodeProto) -> Bool {
    guard let xName = input(n, 0), let x = tensorValue(xName) else { return false }
    let shape = types[x]!.shape
    let mode = string(n, "mode", "nearest")
    let ctm = string(n, "coordinate_transformation_mode", "half_pixel")
    let nearest = string(n, "nearest_mode", "round_prefer_floor")
    guard mode == "nearest", ctm == "asymmetric", nearest == "floor" else {
      problem(
        "Resize mode=\(mode), coordinate_transformation_mode=\(ctm), nearest_mode=\(nearest) is not supported (only nearest/asymmetric/floor)"
      )
      return false
    }
    if let axes = ints(n, "axes"), axes.map({ normalize($0, rank: shape.count) }) != Array(shape.indices) {
      problem("Resize with axes is not supported")
      return false
    }
    var sizes: [Int]
    if let s = input(n, 3) {
      guard let t = constant(s, "sizes") else { return false }
      sizes = t.storage.map { Int($0) }
    } else if let s = input(n, 2) {
      guard let t = constant(s, "scales") else { return false }
      guard t.count == shape.count else {
        problem("Resize scales must cover every dim")
        return false
      }
      sizes = []
      for (d, scale) in zip(shape, t.storage) {
        let m = Double(d) * scale
        // Ours reads floor(o * n / m): the same as ONNX's o / scale only if scale == m / n exactly.
        guard m == m.rounded(.down), m >= 1, Double(m) / Double(d) == scale else {
          problem("Resize scale \(scale) for a dim of \(d) does not give an exact size")
          return false
        }
        sizes.append(Int(m))
      }
    } else {
      problem("Resize needs sizes or scales")
      return false
    }
    guard sizes.count == shape.count, sizes[..<2] == shape[..<2] else {
      problem("Resize must keep the N and C dims and give one size per dim")
      return false
    }
    return bind(n, add("resize", [x], ["sizes": .ints(Array(sizes[2...]))]))
  }
}
