import IR
import Operators
import Tensors

extension ONNXExport {
  /// Emits a learned ONNX operator (`onnx.<OpType>.<k>`, see `LearnedSpecs.onnxSpecs`): the op type
  /// from the `onnx_op` attribute, the inputs from `onnx_layout` (`x` the next data input, `-`
  /// omitted, `=name:dtype[:scalar]` an integer initializer from attribute `in_name`,
  /// `#name:dtype:v,v` a constant initializer, `@name:v,v` a fixed ints attribute), every other
  /// attribute as itself. Returns false for other operators.
  static func emitLearned(_ n: Node, _ e: inout Emitter) throws -> Bool {
    guard n.op.hasPrefix("onnx."), case .string(let op)? = n.attributes["onnx_op"],
      case .string(let layout)? = n.attributes["onnx_layout"]
    else { return false }
    let tag = name(n.outputs[0])
    var data = n.inputs.map(name).makeIterator()
    var inputs: [String] = []
    var attrs: [Attr] = []
    func integers(_ text: Substring) -> [Int] { text.split(separator: ",").compactMap { Int($0) } }
    for token in layout.split(separator: ";", omittingEmptySubsequences: false) {
      let parts = token.dropFirst().split(separator: ":", omittingEmptySubsequences: false)
      switch token.first {
      case "x":
        guard let v = data.next() else {
          throw ONNXError(problems: ["\(n.op): layout names more data inputs"])
        }
        inputs.append(v)
      case "-": inputs.append("")
      case "=":
        guard parts.count >= 2, let dtype = DType(rawValue: String(parts[1])) else {
          throw ONNXError(problems: ["\(n.op): bad layout entry '\(token)'"])
        }
        let scalar = parts.count > 2 && parts[2] == "scalar"
        let values: [Int]
        switch n.attributes["in_\(parts[0])"] {
        case .int(let v)?: values = [v]
        case .ints(let vs)?: values = vs
        default: throw ONNXError(problems: ["\(n.op): missing attribute in_\(parts[0])"])
        }
        inputs.append(e.ints("\(tag)_\(parts[0])", values, scalar: scalar, dtype: dtype))
      case "#":
        guard parts.count == 3, let dtype = DType(rawValue: String(parts[1])) else {
          throw ONNXError(problems: ["\(n.op): bad layout entry '\(token)'"])
        }
        inputs.append(e.ints("\(tag)_\(parts[0])", integers(parts[2]), dtype: dtype))
      case "@":
        guard parts.count == 2 else { throw ONNXError(problems: ["\(n.op): bad layout entry '\(token)'"]) }
        attrs.append(.ints(String(parts[0]), integers(parts[1])))
      default: throw ONNXError(problems: ["\(n.op): bad layout entry '\(token)'"])
      }
    }
    while inputs.last == "" { inputs.removeLast() }
    for (key, value) in n.attributes.values.sorted(by: { $0.key < $1.key })
    where key != "onnx_op" && key != "onnx_layout" && !key.hasPrefix("in_") {
      switch value {
      case .int(let v): attrs.append(.int(key, v))
      case .ints(let vs): attrs.append(.ints(key, vs))
      case .float(let f): attrs.append(.float(key, f))
      case .string(let s): attrs.append(.string(key, s))
      }
    }
    e.node(op, inputs, n.outputs.map(name), attrs)
    return true
  }

}
