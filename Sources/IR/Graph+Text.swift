import Operators
import Tensors

extension Graph {
  /// The canonical text form, one line per definition:
  ///
  /// ```
  /// %0 = input : [1, 3, 8, 8] f32 in [-1.0, 1.0]
  /// %1 = const seed 12 in [-0.5, 0.5] : [4, 3, 3, 3] f32
  /// %2 = conv2d(%0, %1) {dilations: [1, 1], group: 1, pads: [1, 1, 1, 1], strides: [2, 2]} : [1, 4, 4, 4] f32
  /// return %2
  /// ```
  /// Attributes print in name order; the text is the dedup key of findings.
  public var text: String {
    var lines: [String] = []
    for i in inputs {
      let edges = i.edges.map { " \($0)" } ?? ""
      lines.append("%\(i.id) = input : \(i.type) in \(Graph.format(i.range))\(edges)")
    }
    for c in constants {
      let source = c.data != nil ? "data" : "seed \(c.seed)"
      let edges = c.data == nil ? c.edges.map { " \($0)" } ?? "" : ""
      lines.append("%\(c.id) = const \(source) in \(Graph.format(c.range))\(edges) : \(c.type)")
    }
    for n in nodes {
      let lhs = n.outputs.map { "%\($0)" }.joined(separator: ", ")
      let args = n.inputs.map { "%\($0)" }.joined(separator: ", ")
      let attrs = n.attributes.values.keys.sorted().map { "\($0): \(n.attributes.values[$0]!)" }
      let attrText = attrs.isEmpty ? "" : " {\(attrs.joined(separator: ", "))}"
      lines.append(
        "\(lhs) = \(n.op)(\(args))\(attrText) : \(n.types.map(\.description).joined(separator: ", "))")
    }
    lines.append("return " + outputs.map { "%\($0)" }.joined(separator: ", "))
    return lines.joined(separator: "\n") + "\n"
  }

  static func format(_ r: Interval) -> String { "[\(formatFloat(r.lo)), \(formatFloat(r.hi))]" }
}
