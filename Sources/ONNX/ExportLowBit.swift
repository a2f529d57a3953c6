import IR
import Operators
import Tensors

/// ONNX forms of the low-bit operators.
///
/// - int8/uint8 operators map to the standard `QuantizeLinear`, `DequantizeLinear`, `QLinearConv`,
///   `QLinearMatMul` and `Clip`, and to ONNX Runtime's contrib domain `com.microsoft` (version 1)
///   for `QGemm`, `QLinearAdd`, `QLinearMul` and `QLinearAveragePool`. ONNX defines one rounding
///   (half to even of the exact real value), which is our `requant: onnx` (and, for QuantizeLinear,
///   also `xnnpack`); a node with another requantization variant has no ONNX form and is reported
///   as a problem rather than exported with different semantics. int4 weights (`weight_bits: 4`)
///   are exported as int8 tensors whose values lie in -8...7 (the same arithmetic).
/// - Binary and spiking operators use the documented custom domain `ai.dlsmith` (version 1) with
///   our operator names and attributes (`Docs/LowBit.md`): ONNX files stay faithful and viewable;
///   targets without these kernels report them as unsupported.
extension ONNXExport {
  /// Our low-bit operator → (domain, ONNX operator).
  public static let lowBitMapping: [OperatorSpec.ID: (domain: String, op: String)] = {
    var m: [OperatorSpec.ID: (domain: String, op: String)] = [
      "quantize_linear": ("", "QuantizeLinear"), "dequantize_linear": ("", "DequantizeLinear"),
      "qlinear_conv2d": ("", "QLinearConv"), "qlinear_matmul": ("", "QLinearMatMul"), "qclip": ("", "Clip"),
      "qgemm": (microsoft, "QGemm"), "qlinear_add": (microsoft, "QLinearAdd"),
      "qlinear_mul": (microsoft, "QLinearMul"), "qavg_pool2d": (microsoft, "QLinearAveragePool"),
    ]
    for spec in OperatorSpec.binarizedFamily + OperatorSpec.spikingFamily { m[spec.id] = (custom, spec.id) }
    return m
  }()

  public static let microsoft = "com.microsoft"
  public static let custom = "ai.dlsmith"

  /// Why a low-bit node has no faithful ONNX form, if it has none.
  static func lowBitProblem(_ n: Node) -> String? {
    guard case .string(let v) = n.attributes["requant"] else { return nil }
    let exact = n.op == "quantize_linear" ? ["onnx", "xnnpack"] : ["onnx"]
    return exact.contains(v)
      ? nil : "\(n.op) with requant \(v): ONNX rounds half to even of the exact value (requant onnx) only"
  }

  /// Emits a low-bit node; `false` if `n` is not low-bit.
  static func emitLowBit(_ n: Node, _ t: [TensorType], _ e: inout Emitter) -> Bool {
    guard let (domain, op) = lowBitMapping[n.op] else { return false }
    let ins = n.inputs.map(name)
    let outs = n.outputs.map(name)
    let a = n.attributes
    var attrs: [Attr] = []
    switch n.op {
    case "quantize_linear", "dequantize_linear": attrs = [.int("axis", a.int("axis"))]
    case "qlinear_conv2d":
      attrs = [
        .ints("kernel_shape", Array(t[3].shape[2...])), .ints("strides", a.ints("strides")),
        .ints("pads", a.ints("pads")), .ints("dilations", a.ints("dilations")), .int("group", a.int("group")),
      ]
    case "qgemm": attrs = [.int("transB", a.int("trans_b")), .float("alpha", 1)]
    case "qavg_pool2d":
      attrs = [
        .ints("kernel_shape", a.ints("kernel_shape")), .ints("strides", a.ints("strides")),
        .ints("pads", a.ints("pads")), .int("count_include_pad", a.int("count_include_pad")),
      ]
    case "qlinear_matmul", "qlinear_add", "qlinear_mul", "qclip": break
    default:
      // ai.dlsmith: every attribute as is, in name order.
      for (k, v) in a.values.sorted(by: { $0.key < $1.key }) {
        switch v {
        case .int(let i): attrs.append(.int(k, i))
        case .ints(let l): attrs.append(.ints(k, l))
        case .float(let f): attrs.append(.float(k, f))
        case .string(let s): attrs.append(.string(k, s))
        }
      }
    }
    e.node(op, ins, outs, attrs, domain: domain)
    return true
  }
}
