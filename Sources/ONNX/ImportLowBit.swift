import IR
import Operators
import Tensors

/// Imports the quantized ONNX operators (standard and `com.microsoft`) and the `ai.dlsmith` custom
/// operators, the inverse of `ExportLowBit.swift`. Quantized nodes get `requant: onnx` (ONNX's
/// rounding: half to even of the exact real value); an absent zero point is the uint8 0 ONNX
/// defaults to; an absent int32 bias is zeros.
extension Importer {
  /// Imports `n` if it is a low-bit operator; `nil` if it is not one.
  mutating func importLowBit(_ n: Onnx_NodeProto) -> Bool? {
    let onnx: [String: AttributeValue] = ["requant": .string("onnx")]
    func data(_ i: Int) -> ValueID? {
      guard let name = input(n, i) else {
        problem("input \(i) is missing")
        return nil
      }
      return tensorValue(name)
    }
    /// Input `i`, or a synthesized constant when the optional input is absent.
    func optional(_ i: Int, default t: Tensor) -> ValueID? {
      if input(n, i) != nil { return data(i) }
      return synthesized(t)
    }
    func dtype(_ v: ValueID) -> DType { types[v]!.dtype }
    func shape(_ v: ValueID) -> [Int] { types[v]!.shape }
    func zeroPoint(_ i: Int, like scale: ValueID) -> ValueID? {
      optional(i, default: Tensor(filled: 0, dtype: .u8, shape: shape(scale)))
    }
    if n.domain == ONNXExport.custom {
      return importCustom(n)
    }
    switch n.opType {
    case "QuantizeLinear", "DequantizeLinear":
      guard let x = data(0), let s = data(1), let z = zeroPoint(2, like: s) else { return false }
      if int(n, "block_size", 0) != 0 {
        problem("blocked quantization (block_size) is not supported")
        return false
      }
      let axis = int(n, "axis", 1)
      if n.opType == "QuantizeLinear" {
        return bind(n, add("quantize_linear", [x, s, z], ["axis": .int(axis)].merging(onnx) { a, _ in a }))
      }
      return bind(n, add("dequantize_linear", [x, s, z], ["axis": .int(axis)]))
    case "QLinearConv":
      guard let x = data(0), let xs = data(1), let xz = data(2), let w = data(3), let ws = data(4),
        let wz = data(5), let ys = data(6), let yz = data(7)
      else { return false }
      guard shape(x).count == 4 else {
        problem("QLinearConv over \(shape(x).count - 2) spatial dims is not supported")
        return false
      }
      guard padsOK(n) else { return false }
      let o = shape(w)[0]
      guard let b = optional(8, default: Tensor(filled: 0, dtype: .i32, shape: [o])) else { return false }
      var attrs: [String: AttributeValue] = [
        "strides": .ints(ints(n, "strides") ?? [1, 1]), "pads": .ints(ints(n, "pads") ?? [0, 0, 0, 0]),
        "dilations": .ints(ints(n, "dilations") ?? [1, 1]), "group": .int(int(n, "group", 1)),
        "weight_bits": .string("8"),
      ]
      attrs.merge(onnx) { a, _ in a }
      return bind(n, add("qlinear_conv2d", [x, xs, xz, w, ws, wz, ys, yz, b], attrs))
    case "QLinearMatMul":
      guard let a = data(0), let aScale = data(1), let az = data(2), let b = data(3), let bs = data(4),
        let bz = data(5), let ys = data(6), let yz = data(7)
      else { return false }
      return bind(n, add("qlinear_matmul", [a, aScale, az, b, bs, bz, ys, yz], onnx))
    case "QGemm":
      guard float(n, "alpha", 1) == 1, int(n, "transA", 0) == 0 else {
        problem("QGemm with alpha != 1 or transA is not supported")
        return false
      }
      guard let a = data(0), let aScale = data(1), let az = data(2), let b = data(3), let bs = data(4),
        let bz = data(5)
      else { return false }
      let tb = int(n, "transB", 0)
      let cols = shape(b)[tb == 1 ? 0 : 1]
      guard input(n, 7) != nil else {
        problem("QGemm with a float output (no y_scale) is not supported")
        return false
      }
      guard let c = optional(6, default: Tensor(filled: 0, dtype: .i32, shape: [cols])), let ys = data(7),
        let yz = zeroPoint(8, like: ys)
      else { return false }
      return bind(
        n,
        add(
          "qgemm", [a, aScale, az, b, bs, bz, c, ys, yz], ["trans_b": .int(tb)].merging(onnx) { a, _ in a }))
    case "QLinearAdd", "QLinearMul":
      guard let a = data(0), let aScale = data(1), let az = data(2), let b = data(3), let bs = data(4),
        let bz = data(5), let ys = data(6), let yz = data(7)
      else { return false }
      let (l, r) =
        shape(a).count >= shape(b).count ? ((a, aScale, az), (b, bs, bz)) : ((b, bs, bz), (a, aScale, az))
      let inputs = [l.0, l.1, l.2, r.0, r.1, r.2, ys, yz]
      return n.opType == "QLinearAdd"
        ? bind(n, add("qlinear_add", inputs)) : bind(n, add("qlinear_mul", inputs, onnx))
    case "QLinearAveragePool":
      guard let x = data(0), let xs = data(1), let xz = data(2), let ys = data(3), let yz = data(4),
        let kernel = ints(n, "kernel_shape"), kernel.count == 2
      else {
        problem("QLinearAveragePool needs 2-D kernel_shape and five inputs")
        return false
      }
      guard padsOK(n) else { return false }
      var attrs: [String: AttributeValue] = [
        "kernel_shape": .ints(kernel), "strides": .ints(ints(n, "strides") ?? [1, 1]),
        "pads": .ints(ints(n, "pads") ?? [0, 0, 0, 0]),
        "count_include_pad": .int(int(n, "count_include_pad", 0)),
      ]
      attrs.merge(onnx) { a, _ in a }
      return bind(n, add("qavg_pool2d", [x, xs, xz, ys, yz], attrs))
    case "Clip":
      // Clip on int8/uint8 is the quantized clip with constant bounds.
      guard let name = input(n, 0), let x = tensorValue(name), dtype(x).isQuantized else { return nil }
      guard let lo = data(1), let hi = data(2) else {
        problem("Clip on \(dtype(x).rawValue) needs both bounds")
        return false
      }
      return bind(n, add("qclip", [x, lo, hi]))
    default:
      return nil
    }
  }

  /// An `ai.dlsmith` node: our operator under its own name, attributes as exported.
  mutating func importCustom(_ n: Onnx_NodeProto) -> Bool {
    guard let spec = Catalogue.spec(n.opType) else {
      unsupported.insert("\(n.domain).\(n.opType)")
      return false
    }
    var attrs: [String: AttributeValue] = [:]
    for a in n.attribute {
      switch a.type {
      case .int: attrs[a.name] = .int(Int(a.i))
      case .ints: attrs[a.name] = .ints(a.ints.map(Int.init))
      case .float: attrs[a.name] = .float(Double(a.f))
      case .string: attrs[a.name] = .string(String(decoding: a.s, as: UTF8.self))
      default:
        problem("attribute \(a.name) has an unsupported type")
        return false
      }
    }
    var inputs: [ValueID] = []
    for i in 0..<spec.inputs.count {
      guard let name = input(n, i), let v = tensorValue(name) else {
        problem("input \(i) is missing")
        return false
      }
      inputs.append(v)
    }
    return bind(n, add(spec.id, inputs, attrs))
  }

  /// A constant that the ONNX model leaves implicit (a default zero point or bias).
  mutating func synthesized(_ t: Tensor) -> ValueID {
    let id = fresh()
    let type = TensorType(t.dtype, t.shape)
    let v = t.storage.first ?? 0
    g.constants.append(Constant(id: id, type: type, range: Interval(v, v), seed: 0, data: t.storage))
    types[id] = type
    return id
  }
}
