import Foundation
import IR
import Operators
import SwiftProtobuf
import Tensors

/// Why a graph cannot be exported to ONNX, or an ONNX model cannot be imported.
///
/// `unsupportedOperators` lists every operator type that has no mapping (sorted, each once);
/// `problems` lists every other reason (dynamic shapes, attributes outside our domains, ...).
public struct ONNXError: Error, CustomStringConvertible, Sendable, Equatable {
  public var unsupportedOperators: [String]
  public var problems: [String]

  public init(unsupportedOperators: [String] = [], problems: [String] = []) {
    self.unsupportedOperators = unsupportedOperators
    self.problems = problems
  }

  public var description: String {
    var parts: [String] = []
    if !unsupportedOperators.isEmpty {
      parts.append("unsupported operators: " + unsupportedOperators.joined(separator: ", "))
    }
    parts += problems
    return parts.joined(separator: "; ")
  }
}

/// Exports a `Graph` to an ONNX model (default domain, opset 20).
///
/// Value `%N` is named `vN`; graph inputs are typed graph inputs, constants are initializers
/// (little-endian `raw_data` in their dtype), graph outputs are typed. Helper tensors (shape, axes,
/// pads, ... inputs) are initializers named `vN_<what>` after the first output `N` of their node.
public enum ONNXExport {
  public static let opset = 20
  /// IR version 9 is the one released with opset 20 (onnx 1.15); onnx 1.23's checker accepts it.
  public static let irVersion: Int64 = 9

  /// Our operator → the ONNX operator it is exported as (the `ONNXImport` inverse maps back).
  ///
  /// Exact except where noted; every difference between our semantics and ONNX's:
  ///
  /// - `max_pool1d/2d`: a NaN in a window gives NaN here (and in `onnx.reference`, which uses NumPy
  ///   max); ONNX Runtime skips NaN. The ONNX spec leaves NaN unspecified.
  /// - `argmax`/`argmin`: a NaN wins (index of the first NaN, NumPy convention, which
  ///   `onnx.reference` follows); ONNX leaves NaN unspecified and ONNX Runtime differs.
  /// - `reduce_max`/`reduce_min`, `max`/`min`: NaN propagates (NumPy); ONNX Runtime's reductions may
  ///   skip NaN. Unspecified in ONNX.
  /// - `cast`: float → integer out of range wraps here (truncate, then modulo 2^bits); ONNX leaves it
  ///   undefined (NumPy `astype` wraps or saturates by platform). f64 → bf16 rounds once here; an
  ///   implementation going through f32 rounds twice (differs in the last bf16 bit on rare ties).
  /// - `resize`: ours reads `floor(o * n / m)` exactly. ONNX computes `o / (m / n)` in floating
  ///   point, which for some (n, m) lands just below an integer. Exported as ONNX `Resize`
  ///   (nearest, asymmetric, floor, `sizes`) when, for every resized dim, float32 and float64
  ///   evaluation of both `o / (m / n)` and `o * (n / m)` give the exact index; otherwise as an exact
  ///   expansion: one `Gather` per resized axis with constant indices `floor(o * n / m)`.
  /// - `layer_norm`: our scale/bias may carry leading 1s beyond `x.shape[axis...]`; ONNX requires
  ///   them unidirectionally broadcastable to `x.shape[axis...]`, so such a scale/bias is first
  ///   `Reshape`d to `x.shape[axis...]` (same elements). Exported with `stash_type` 1, the only
  ///   one onnxruntime 1.32 implements (11 is refused as NOT_IMPLEMENTED); measured, onnxruntime and
  ///   onnx.reference both compute the statistics of f64 inputs in float64 with it, which is what
  ///   the reference does (f64 results agree within 1e-14 once epsilon is the float32 it is).
  ///   For f32/f16/bf16 inputs the statistics are float32 there and float64 here: layer_norm is an
  ///   approximate operator, judged within the dtype's tolerance.
  /// - bf16 tensors of `elu`, `selu`, `hard_sigmoid`, `hard_swish`, `sin`, `cos`, `atan`, `asin`,
  ///   `sinh`, `round`, `softplus`, `softsign`, `conv*`, `conv_transpose2d`, `*_pool*`,
  ///   `global_avg_pool`: opset 20 has no bf16 kernel for these ONNX ops, so inputs are `Cast` to
  ///   f32 and the result `Cast` back to bf16: exact for round/pooling selection, otherwise a second
  ///   rounding (f32 then bf16) where ours rounds once from float64.
  /// - `less`, `less_equal`, `greater`, `greater_equal` on bool: ONNX comparisons take no bool, so
  ///   both sides are `Cast` to int32 first (exact).
  /// - `conv_transpose2d`: ours allows output_padding < stride or < dilation (the ONNX spec's
  ///   wording); ONNX Runtime rejects output_padding >= stride. Such nodes are exported as the exact
  ///   equivalent ConvTranspose with output_padding 0 and the end pads reduced by it, followed by a
  ///   zero `Pad` for any output_padding beyond the end pad. When that ConvTranspose would have no
  ///   output cell (the begin pad crops every computed cell: no input cell reaches the output, which
  ///   is then all zeros), the node is exported as those zeros (`Expand` of a zero scalar), so no
  ///   exported intermediate ever has a dimension of 0.
  /// - `clip`: `min`/`max` become scalar inputs in the tensor's dtype (rounded); clamping a value of
  ///   the dtype to rounded bounds equals rounding the float64 clamp, so this is exact.
  /// - `pad` (constant mode): `value` becomes `constant_value` rounded to the dtype, which is what our
  ///   evaluation does to padded cells.
  /// - `selu`, `hard_sigmoid`: exported with their float32 constants written explicitly (the same
  ///   values as ONNX's defaults); our kernels use exactly these values.
  /// - float attributes (`alpha`, `beta`, `epsilon`, `min`/`max` of leaky_relu/elu/gemm/...) are
  ///   float32 in ONNX: our float64 values are rounded to float32.
  public static let mapping: [OperatorSpec.ID: String] = {
    var m: [OperatorSpec.ID: String] = [:]
    for (ours, theirs) in unaryOps { m[ours] = theirs }
    for (ours, theirs) in binaryOps { m[ours] = theirs }
    let rest: [OperatorSpec.ID: String] = [
      "leaky_relu": "LeakyRelu", "elu": "Elu", "selu": "Selu", "hard_sigmoid": "HardSigmoid",
      "clip": "Clip", "logical_not": "Not", "where": "Where", "cast": "Cast", "matmul": "MatMul",
      "gemm": "Gemm", "conv1d": "Conv", "conv2d": "Conv", "conv_transpose2d": "ConvTranspose",
      "max_pool1d": "MaxPool", "max_pool2d": "MaxPool", "avg_pool1d": "AveragePool",
      "avg_pool2d": "AveragePool", "global_avg_pool": "GlobalAveragePool",
      "batch_norm": "BatchNormalization", "layer_norm": "LayerNormalization", "softmax": "Softmax",
      "log_softmax": "LogSoftmax", "reduce_sum": "ReduceSum", "reduce_mean": "ReduceMean",
      "reduce_max": "ReduceMax", "reduce_min": "ReduceMin", "reduce_prod": "ReduceProd",
      "argmax": "ArgMax", "argmin": "ArgMin", "reshape": "Reshape", "flatten": "Flatten",
      "transpose": "Transpose", "squeeze": "Squeeze", "unsqueeze": "Unsqueeze", "concat": "Concat",
      "split": "Split", "slice": "Slice", "pad": "Pad", "expand": "Expand", "tile": "Tile",
      "gather": "Gather", "resize": "Resize", "cumsum": "CumSum",
    ]
    m.merge(rest) { a, _ in a }
    return m
  }()

  /// The ONNX operator types our operators export as.
  public static let operatorTypes = Set(mapping.values)

  /// Attribute-free elementwise unary operators.
  static let unaryOps: [OperatorSpec.ID: String] = [
    "relu": "Relu", "sigmoid": "Sigmoid", "hard_swish": "HardSwish", "tanh": "Tanh", "gelu": "Gelu",
    "erf": "Erf", "exp": "Exp", "log": "Log", "sqrt": "Sqrt", "reciprocal": "Reciprocal", "abs": "Abs",
    "neg": "Neg", "sin": "Sin", "cos": "Cos", "atan": "Atan", "asin": "Asin", "sinh": "Sinh",
    "floor": "Floor", "ceil": "Ceil", "round": "Round", "sign": "Sign", "softplus": "Softplus",
    "softsign": "Softsign",
  ]

  /// Broadcasting binary operators.
  static let binaryOps: [OperatorSpec.ID: String] = [
    "add": "Add", "sub": "Sub", "mul": "Mul", "div": "Div", "pow": "Pow", "min": "Min", "max": "Max",
    "equal": "Equal", "less": "Less", "less_equal": "LessOrEqual", "greater": "Greater",
    "greater_equal": "GreaterOrEqual", "logical_and": "And", "logical_or": "Or", "logical_xor": "Xor",
  ]

  /// ONNX operators without a bf16 kernel in opset 20 (computed in f32 between casts).
  static let noBF16: Set<String> = [
    "Elu", "Selu", "HardSigmoid", "HardSwish", "Sin", "Cos", "Atan", "Asin", "Sinh", "Round", "Softplus",
    "Softsign", "Conv", "ConvTranspose", "MaxPool", "AveragePool", "GlobalAveragePool",
  ]

  public static func bytes(_ g: Graph) throws -> Data { try model(g).serializedData() }

  public static func model(_ g: Graph) throws -> Onnx_ModelProto {
    let unknown = Set(
      g.nodes.map(\.op).filter { mapping[$0] == nil && lowBitMapping[$0] == nil && !$0.hasPrefix("onnx.") })
    if !unknown.isEmpty {
      throw ONNXError(
        unsupportedOperators: unknown.sorted(),
        problems: ["no ONNX mapping for operator(s) \(unknown.sorted().joined(separator: ", "))"])
    }
    let lowBit = g.nodes.enumerated().compactMap { i, n in lowBitProblem(n).map { "node \(i): \($0)" } }
    if !lowBit.isEmpty { throw ONNXError(problems: lowBit) }
    let types = g.types
    var e = Emitter()
    for input in g.inputs { e.graph.input.append(valueInfo(name(input.id), input.type)) }
    for c in g.constants { e.graph.initializer.append(tensorProto(name(c.id), c.tensor)) }
    for (index, n) in g.nodes.enumerated() {
      var inTypes: [TensorType] = []
      for v in n.inputs {
        guard let t = types[v] else {
          throw ONNXError(problems: ["node \(index) (\(n.op)): input %\(v) is not defined"])
        }
        inTypes.append(t)
      }
      try emit(n, inTypes, &e)
    }
    for o in g.outputs {
      guard let t = types[o] else { throw ONNXError(problems: ["output %\(o) is not defined"]) }
      e.graph.output.append(valueInfo(name(o), t))
    }
    e.graph.name = "dlsmith"
    var model = Onnx_ModelProto()
    model.irVersion = irVersion
    model.producerName = "dlsmith"
    var op = Onnx_OperatorSetIdProto()
    op.domain = ""
    op.version = Int64(opset)
    model.opsetImport = [op]
    for domain in [microsoft, custom] where e.graph.node.contains(where: { $0.domain == domain }) {
      var d = Onnx_OperatorSetIdProto()
      d.domain = domain
      d.version = 1
      model.opsetImport.append(d)
    }
    model.graph = e.graph
    return model
  }

  /// The ONNX name of value `v`: `vN`.
  public static func name(_ v: ValueID) -> String { "v\(v)" }

  // MARK: - Per-operator emission

  private static func emit(_ n: Node, _ t: [TensorType], _ e: inout Emitter) throws {
    let ins = n.inputs.map(name)
    let outs = n.outputs.map(name)
    let a = n.attributes
    let tag = outs[0]
    let dtype = t.first?.dtype ?? .f32
    func float(_ k: String) -> Double { a.float(k) }
    func int(_ k: String) -> Int { a.int(k) }
    func ints(_ k: String) -> [Int] { a.ints(k) }

    if emitLowBit(n, t, &e) { return }
    if try emitLearned(n, &e) { return }
    if let op = unaryOps[n.op] {
      e.op(op, ins, outs, dtype: dtype)
      return
    }
    if let op = binaryOps[n.op] {
      if dtype == .bool, ["Less", "LessOrEqual", "Greater", "GreaterOrEqual"].contains(op) {
        let casted = ins.enumerated().map { k, v in
          e.node("Cast", [v], ["\(tag)_in\(k)_i32"], [.int("to", Int(ONNX.elementType(.i32)))])
        }
        e.node(op, casted.map { $0[0] }, outs)
      } else {
        e.node(op, ins, outs)
      }
      return
    }
    switch n.op {
    case "leaky_relu": e.op("LeakyRelu", ins, outs, [.float("alpha", float("alpha"))], dtype: dtype)
    case "elu": e.op("Elu", ins, outs, [.float("alpha", float("alpha"))], dtype: dtype)
    case "selu":
      e.op("Selu", ins, outs, [.float("alpha", seluAlpha), .float("gamma", seluGamma)], dtype: dtype)
    case "hard_sigmoid":
      e.op("HardSigmoid", ins, outs, [.float("alpha", hardSigmoidAlpha), .float("beta", 0.5)], dtype: dtype)
    case "clip":
      let lo = e.scalar("\(tag)_min", float("min"), dtype)
      let hi = e.scalar("\(tag)_max", float("max"), dtype)
      e.node("Clip", [ins[0], lo, hi], outs)
    case "logical_not": e.node("Not", ins, outs)
    case "where": e.node("Where", ins, outs)
    case "cast":
      guard let to = DType(rawValue: a.string("to")) else {
        throw ONNXError(problems: ["cast: unknown dtype \(a.string("to"))"])
      }
      e.node("Cast", ins, outs, [.int("to", Int(ONNX.elementType(to)))])
    case "matmul": e.node("MatMul", ins, outs)
    case "gemm":
      e.node(
        "Gemm", ins, outs,
        [
          .float("alpha", float("alpha")), .float("beta", float("beta")), .int("transA", int("trans_a")),
          .int("transB", int("trans_b")),
        ])
    case "conv1d", "conv2d":
      e.op(
        "Conv", ins, outs,
        [
          .ints("kernel_shape", Array(t[1].shape[2...])), .ints("strides", ints("strides")),
          .ints("pads", ints("pads")), .ints("dilations", ints("dilations")), .int("group", int("group")),
        ], dtype: dtype)
    case "conv_transpose2d":
      let strides = ints("strides")
      var pads = ints("pads")
      var outputPadding = ints("output_padding")
      var extra = [0, 0]
      if zip(outputPadding, strides).contains(where: { $0 >= $1 }) {
        // ONNX Runtime requires output_padding < stride (ours: < stride or < dilation). Exact
        // equivalent: output_padding 0 with the end pad reduced by it, then zeros appended for the
        // part of output_padding beyond the end pad (no input cell reaches those positions).
        for i in 0..<2 {
          extra[i] = Swift.max(outputPadding[i] - pads[2 + i], 0)
          pads[2 + i] = Swift.max(pads[2 + i] - outputPadding[i], 0)
        }
        outputPadding = [0, 0]
      }
      let padded = extra.contains { $0 > 0 }
      // Cells the ConvTranspose above computes, per spatial axis; < 1 means every output cell lies
      // in the zero padding.
      let dilations = ints("dilations")
      let computed = (0..<2).map { (i: Int) -> Int in
        let full: Int = (t[0].shape[2 + i] - 1) * strides[i] + dilations[i] * (t[1].shape[2 + i] - 1) + 1
        return full + outputPadding[i] - pads[i] - pads[2 + i]
      }
      if computed.contains(where: { $0 < 1 }) {
        let shape = e.ints("\(tag)_shape", n.types[0].shape)
        e.node("Expand", [e.scalar("\(tag)_zero", 0, dtype), shape], outs)
        break
      }
      e.op(
        "ConvTranspose", ins, padded ? ["\(tag)_unpadded"] : outs,
        [
          .ints("kernel_shape", Array(t[1].shape[2...])), .ints("strides", strides),
          .ints("pads", pads), .ints("dilations", ints("dilations")),
          .ints("output_padding", outputPadding), .int("group", int("group")),
        ], dtype: dtype)
      if padded {
        let p = e.ints("\(tag)_pads", [0, 0, 0, 0, 0, 0] + extra)
        e.node(
          "Pad", ["\(tag)_unpadded", p, e.scalar("\(tag)_zero", 0, dtype)], outs,
          [.string("mode", "constant")])
      }
    case "max_pool1d", "max_pool2d":
      e.op(
        "MaxPool", ins, outs,
        [
          .ints("kernel_shape", ints("kernel_shape")), .ints("strides", ints("strides")),
          .ints("pads", ints("pads")), .ints("dilations", ints("dilations")), .int("ceil_mode", 0),
        ], dtype: dtype)
    case "avg_pool1d", "avg_pool2d":
      e.op(
        "AveragePool", ins, outs,
        [
          .ints("kernel_shape", ints("kernel_shape")), .ints("strides", ints("strides")),
          .ints("pads", ints("pads")), .int("count_include_pad", int("count_include_pad")),
          .int("ceil_mode", 0),
        ], dtype: dtype)
    case "global_avg_pool": e.op("GlobalAveragePool", ins, outs, dtype: dtype)
    case "batch_norm":
      e.node("BatchNormalization", ins, outs, [.float("epsilon", float("epsilon"))])
    case "layer_norm":
      let rank = t[0].shape.count
      let axis = int("axis") < 0 ? int("axis") + rank : int("axis")
      let normalized = Array(t[0].shape[axis...])
      var params = [ins[1], ins[2]]
      var shapeName: String?
      for k in 0..<2 where t[1 + k].shape != normalized {
        let shape = shapeName ?? e.ints("\(tag)_norm_shape", normalized)
        shapeName = shape
        params[k] = e.node("Reshape", [params[k], shape], ["\(tag)_\(k == 0 ? "scale" : "bias")"])[0]
      }
      e.node(
        "LayerNormalization", [ins[0]] + params, outs,
        [.int("axis", int("axis")), .float("epsilon", float("epsilon"))])
    case "softmax": e.node("Softmax", ins, outs, [.int("axis", int("axis"))])
    case "log_softmax": e.node("LogSoftmax", ins, outs, [.int("axis", int("axis"))])
    case "reduce_sum", "reduce_mean", "reduce_max", "reduce_min", "reduce_prod":
      let axes = e.ints("\(tag)_axes", ints("axes"))
      e.node(mapping[n.op]!, [ins[0], axes], outs, [.int("keepdims", int("keepdims"))])
    case "argmax", "argmin":
      e.node(
        mapping[n.op]!, ins, outs,
        [.int("axis", int("axis")), .int("keepdims", int("keepdims")), .int("select_last_index", 0)])
    case "reshape":
      e.node("Reshape", [ins[0], e.ints("\(tag)_shape", ints("shape"))], outs)
    case "flatten": e.node("Flatten", ins, outs, [.int("axis", int("axis"))])
    case "transpose": e.node("Transpose", ins, outs, [.ints("perm", ints("perm"))])
    case "squeeze": e.node("Squeeze", [ins[0], e.ints("\(tag)_axes", ints("axes"))], outs)
    case "unsqueeze": e.node("Unsqueeze", [ins[0], e.ints("\(tag)_axes", [int("axis")])], outs)
    case "concat": e.node("Concat", ins, outs, [.int("axis", int("axis"))])
    case "split":
      e.node(
        "Split", ins, outs,
        [.int("axis", int("axis")), .int("num_outputs", Int(a.string("num_outputs")) ?? 2)])
    case "slice":
      e.node(
        "Slice",
        [
          ins[0], e.ints("\(tag)_starts", [int("start")]), e.ints("\(tag)_ends", [int("end")]),
          e.ints("\(tag)_axes", [int("axis")]), e.ints("\(tag)_steps", [int("step")]),
        ], outs)
    case "pad":
      let mode = a.string("mode")
      var inputs = [ins[0], e.ints("\(tag)_pads", ints("pads_begin") + ints("pads_end"))]
      if mode == "constant" {
        var value = 0.0
        if case .float(let v)? = a["value"] { value = v }
        inputs.append(e.scalar("\(tag)_value", value, dtype))
      }
      e.node("Pad", inputs, outs, [.string("mode", mode)])
    case "expand": e.node("Expand", [ins[0], e.ints("\(tag)_shape", ints("shape"))], outs)
    case "tile": e.node("Tile", [ins[0], e.ints("\(tag)_repeats", ints("repeats"))], outs)
    case "gather": e.node("Gather", ins, outs, [.int("axis", int("axis"))])
    case "resize":
      let shape = t[0].shape
      let sizes = ints("sizes")
      let exact = zip(shape[2...], sizes).allSatisfy { resizeIsExact(from: $0, to: $1) }
      if exact {
        e.node(
          "Resize", [ins[0], "", "", e.ints("\(tag)_sizes", Array(shape[..<2]) + sizes)], outs,
          [
            .string("mode", "nearest"), .string("coordinate_transformation_mode", "asymmetric"),
            .string("nearest_mode", "floor"),
          ])
      } else {
        // Exact expansion: one Gather per resized axis.
        let axes = sizes.indices.filter { shape[2 + $0] != sizes[$0] }
        var current = ins[0]
        for (k, i) in axes.enumerated() {
          let (nIn, m) = (shape[2 + i], sizes[i])
          let indices = e.ints("\(tag)_resize\(i)", (0..<m).map { $0 * nIn / m })
          let out = k == axes.count - 1 ? outs[0] : "\(tag)_resized\(i)"
          current = e.node("Gather", [current, indices], [out], [.int("axis", 2 + i)])[0]
        }
        if axes.isEmpty { e.node("Identity", [ins[0]], outs) }
      }
    case "cumsum":
      e.node(
        "CumSum", [ins[0], e.ints("\(tag)_axis", [int("axis")], scalar: true)], outs,
        [.int("exclusive", int("exclusive")), .int("reverse", int("reverse"))])
    default:
      throw ONNXError(unsupportedOperators: [n.op], problems: ["no ONNX mapping for operator \(n.op)"])
    }
  }

  /// Whether ONNX Resize (nearest, asymmetric, floor) from `n` to `m` picks `floor(o * n / m)` for
  /// every output position under float32 and float64 evaluation of `o / (m / n)` and `o * (n / m)`.
  public static func resizeIsExact(from n: Int, to m: Int) -> Bool {
    if n == m { return true }
    for o in 0..<m {
      let exact = o * n / m
      let candidates: [Double] = [
        Double((Float(o) / (Float(m) / Float(n))).rounded(.down)),
        Double((Float(o) * (Float(n) / Float(m))).rounded(.down)),
        (Double(o) / (Double(m) / Double(n))).rounded(.down),
        (Double(o) * (Double(n) / Double(m))).rounded(.down),
      ]
      if candidates.contains(where: { $0 != Double(exact) }) { return false }
    }
    return true
  }

  // MARK: - Protos

  static func valueInfo(_ name: String, _ t: TensorType) -> Onnx_ValueInfoProto {
    var shape = Onnx_TensorShapeProto()
    shape.dim = t.shape.map { d in
      var dim = Onnx_TensorShapeProto.Dimension()
      dim.dimValue = Int64(d)
      return dim
    }
    var tensor = Onnx_TypeProto.Tensor()
    tensor.elemType = ONNX.elementType(t.dtype)
    tensor.shape = shape
    var type = Onnx_TypeProto()
    type.tensorType = tensor
    var info = Onnx_ValueInfoProto()
    info.name = name
    info.type = type
    return info
  }

  /// An initializer with little-endian `raw_data` in the tensor's dtype.
  public static func tensorProto(_ name: String, _ t: Tensor) -> Onnx_TensorProto {
    var p = Onnx_TensorProto()
    p.name = name
    p.dims = t.shape.map(Int64.init)
    p.dataType = ONNX.elementType(t.dtype)
    p.rawData = TensorBytes.encode(t.storage, t.dtype)
    return p
  }
}

/// Little-endian encoding and decoding of tensor elements in each dtype.
enum TensorBytes {
  static func encode(_ values: [Double], _ dtype: DType) -> Data {
    var d = Data(capacity: values.count * dtype.byteSize)
    func append<T: FixedWidthInteger>(_ v: T) {
      withUnsafeBytes(of: v.littleEndian) { d.append(contentsOf: $0) }
    }
    for x in values {
      let r = dtype.rounded(x)
      switch dtype {
      case .f32: append(Float(r).bitPattern)
      case .f64: append(r.bitPattern)
      case .f16: append(f16Bits(r))
      case .bf16: append(bf16Bits(r))
      case .i32: append(Int32(r))
      case .i64: append(Int64(r))
      case .i8: append(Int8(r))
      case .u8, .bool: append(UInt8(r))
      }
    }
    return d
  }

  /// Decodes `count` elements; `nil` if `data` is too short.
  static func decode(_ data: Data, _ dtype: DType, count: Int) -> [Double]? {
    let bytes = [UInt8](data)
    let size = dtype.byteSize
    guard bytes.count >= count * size else { return nil }
    var out = [Double](repeating: 0, count: count)
    for i in 0..<count {
      var u: UInt64 = 0
      for b in 0..<size { u |= UInt64(bytes[i * size + b]) << (8 * UInt64(b)) }
      switch dtype {
      case .f32: out[i] = Double(Float(bitPattern: UInt32(u)))
      case .f64: out[i] = Double(bitPattern: u)
      case .f16: out[i] = f16Value(UInt16(u))
      case .bf16: out[i] = bf16Value(UInt16(u))
      case .i32: out[i] = Double(Int32(bitPattern: UInt32(u)))
      case .i64: out[i] = Double(Int64(bitPattern: u))
      case .i8: out[i] = Double(Int8(bitPattern: UInt8(u)))
      case .u8: out[i] = Double(u)
      case .bool: out[i] = u != 0 ? 1 : 0
      }
    }
    return out
  }

  /// IEEE binary16 bits of a value already representable in f16.
  static func f16Bits(_ x: Double) -> UInt16 {
    if x.isNaN { return 0x7E00 }
    let sign: UInt16 = x.sign == .minus ? 0x8000 : 0
    let a = abs(DType.f16.rounded(x))
    if a.isInfinite { return sign | 0x7C00 }
    if a == 0 { return sign }
    if a < 0x1p-14 { return sign | UInt16((a * 0x1p24).rounded()) }
    let e = Int(a.exponent)
    let m = Int(((a / Double(sign: .plus, exponent: e, significand: 1)) - 1) * 1024)
    return sign | UInt16(((e + 15) << 10) + m)
  }

  static func f16Value(_ b: UInt16) -> Double {
    let sign: Double = b & 0x8000 != 0 ? -1 : 1
    let e = Int((b >> 10) & 0x1F)
    let m = Double(b & 0x3FF)
    if e == 0 { return sign * m * 0x1p-24 }
    if e == 31 { return m == 0 ? sign * .infinity : .nan }
    return sign * (1024 + m) * Double(sign: .plus, exponent: e - 25, significand: 1)
  }

  /// bfloat16 bits of a value already representable in bf16.
  static func bf16Bits(_ x: Double) -> UInt16 {
    if x.isNaN { return 0x7FC0 }
    return UInt16(Float(DType.bf16.rounded(x)).bitPattern >> 16)
  }

  static func bf16Value(_ b: UInt16) -> Double { Double(Float(bitPattern: UInt32(b) << 16)) }
}

/// An attribute to emit.
enum Attr {
  case int(String, Int)
  case ints(String, [Int])
  case float(String, Double)
  case string(String, String)

  var proto: Onnx_AttributeProto {
    var p = Onnx_AttributeProto()
    switch self {
    case .int(let n, let v):
      p.name = n
      p.type = .int
      p.i = Int64(v)
    case .ints(let n, let v):
      p.name = n
      p.type = .ints
      p.ints = v.map(Int64.init)
    case .float(let n, let v):
      p.name = n
      p.type = .float
      p.f = Float(v)
    case .string(let n, let v):
      p.name = n
      p.type = .string
      p.s = Data(v.utf8)
    }
    return p
  }
}

/// Accumulates nodes and initializers of the exported graph.
struct Emitter {
  var graph = Onnx_GraphProto()

  /// Appends a node; returns its outputs.
  @discardableResult
  mutating func node(
    _ op: String, _ inputs: [String], _ outputs: [String], _ attrs: [Attr] = [], domain: String = ""
  ) -> [String] {
    var n = Onnx_NodeProto()
    n.opType = op
    n.domain = domain
    n.name = "n\(graph.node.count)_\(op)"
    n.input = inputs
    n.output = outputs
    n.attribute = attrs.map(\.proto)
    graph.node.append(n)
    return outputs
  }

  /// A float op; for bf16 when ONNX has no bf16 kernel, runs it in f32 between casts.
  mutating func op(_ op: String, _ inputs: [String], _ outputs: [String], _ attrs: [Attr] = [], dtype: DType)
  {
    guard dtype == .bf16, ONNXExport.noBF16.contains(op) else {
      node(op, inputs, outputs, attrs)
      return
    }
    let f32 = Int(ONNX.elementType(.f32))
    let bf16 = Int(ONNX.elementType(.bf16))
    let tag = outputs[0]
    let casted = inputs.enumerated().map { k, v in
      node("Cast", [v], ["\(tag)_in\(k)_f32"], [.int("to", f32)])[0]
    }
    let temps = outputs.map { "\($0)_f32" }
    node(op, casted, temps, attrs)
    for (t, o) in zip(temps, outputs) { node("Cast", [t], [o], [.int("to", bf16)]) }
  }

  /// An integer initializer (int64 by default; 1-D, or rank 0 when `scalar`); returns its name.
  mutating func ints(_ name: String, _ values: [Int], scalar: Bool = false, dtype: DType = .i64) -> String {
    let t = Tensor(dtype: dtype, shape: scalar ? [] : [values.count], storage: values.map(Double.init))
    graph.initializer.append(ONNXExport.tensorProto(name, t))
    return name
  }

  /// A rank-0 initializer of `dtype` holding `value` rounded to it; returns its name.
  mutating func scalar(_ name: String, _ value: Double, _ dtype: DType) -> String {
    let t = Tensor(rounding: [value], dtype: dtype, shape: [])
    graph.initializer.append(ONNXExport.tensorProto(name, t))
    return name
  }
}
